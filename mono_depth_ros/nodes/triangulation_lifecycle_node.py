# Copyright 2026 The mono_depth_ros Authors
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""triangulation_lifecycle_node: triangulation_node as a managed node (outputs when active).

Same parameters and topics as triangulation_node; configure starts the tracks afresh and
cleanup drops them (see :mod:`mono_depth_ros.nodes.managed`).
"""

from rclpy.lifecycle import LifecycleNode

from mono_depth_ros.nodes.managed import ManagedTransitions
from mono_depth_ros.nodes.runner import run_node
from mono_depth_ros.nodes.triangulation_node import TriangulationNode


class TriangulationLifecycleNode(ManagedTransitions, TriangulationNode, LifecycleNode):
    """triangulation_node driven by the lifecycle services (change_state, get_state)."""


def main(args: list[str] | None = None) -> int:
    """Run triangulation_lifecycle_node until Ctrl-C or shutdown (unconfigured until told)."""
    return run_node(TriangulationLifecycleNode, args)


if __name__ == '__main__':
    raise SystemExit(main())
