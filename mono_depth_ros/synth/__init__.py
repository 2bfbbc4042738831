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

"""Synthetic camera sequences with exact poses and per-pixel depth, for tests and the demo.

``render_sequence`` draws a textured room seen from a camera on a robot driving a smooth path
(or another ``Motion``), optionally with the imperfections a robot sees (late image stamps, yaw
sway, drifting odometry);
``write_sequence`` stores it as a rosbag2 plus TUM-style PNGs and ground truth, and
``load_sequence`` reads that back. rosbags is imported only when a bag is written or read.
"""

from mono_depth_ros.synth.motion import Motion, MOTIONS
from mono_depth_ros.synth.sequence import (BAG_TOPICS, DEFAULT_START_STAMP_NS, FRAME_IDS,
                                           intrinsics, OdometrySample, render_sequence,
                                           SyntheticFrame, SyntheticSequence)
from mono_depth_ros.synth.writer import (DEPTH_SCALE, load_sequence, parse_tum_stamp, tum_stamp,
                                         write_sequence)

__all__ = [
    'BAG_TOPICS', 'DEFAULT_START_STAMP_NS', 'DEPTH_SCALE', 'FRAME_IDS', 'MOTIONS', 'Motion',
    'OdometrySample',
    'SyntheticFrame', 'SyntheticSequence', 'intrinsics', 'load_sequence', 'parse_tum_stamp',
    'render_sequence', 'tum_stamp', 'write_sequence',
]
