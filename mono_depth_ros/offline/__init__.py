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


"""Offline processing of a recording (``mono-depth-ros process-bag``), one module per job.

``topics`` chooses the input topics of a bag; ``sources`` reads a rosbag2 or a TUM RGB-D
directory as one stream of events; ``processor`` runs the frames through the nodes' own
pipelines in recorded order; ``output_bag`` writes the outputs in log-time order; ``run``
builds the processor with the nodes' settings and drives the loop.
"""

import logging

LOGGER = logging.getLogger('mono_depth_ros.process_bag')


class InputError(Exception):
    """A problem with the command line or the input that the user must fix (exit code 2)."""
