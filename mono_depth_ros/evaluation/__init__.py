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

"""Depth predictions scored against ground truth (``mono-depth-ros eval``), one module per job.

``sources`` reads depth frames from directories, TUM RGB-D lists and rosbag2 topics;
``scoring`` matches predictions to ground truth, aligns and scores each frame with
:mod:`mono_depth_ros.core.metrics` and combines them; ``report`` formats the results as a
table, CSV rows and JSON.
"""


class EvalError(Exception):
    """A problem with the inputs that the user must fix (exit code 2)."""


class NothingScoredError(Exception):
    """Inputs that were read but gave no frame to score; the text says why (exit code 1)."""
