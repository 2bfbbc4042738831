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

"""depth_node with odometry: /diagnostics' flicker from its consecutive frames, over DDS."""

import math

from diagnostic_msgs.msg import DiagnosticArray
from sensor_msgs.msg import Image

from mono_depth_ros.nodes.depth_node import DepthNode
from mono_depth_ros.ros.replay import replay_bag
from mono_depth_ros.synth import render_sequence, write_sequence


def _depth_statuses(arrays) -> list[dict[str, str]]:
    """Return the key values of each depth_node status in DiagnosticArrays."""
    return [{value.key: value.value for value in status.values}
            for array in arrays for status in array.status if status.name.endswith(': depth')]


def test_a_metric_depth_node_fed_odometry_reports_the_pixel_flicker(
        tiny_metric_onnx, tmp_path):
    sequence = render_sequence(frames=16, width=160, height=120, seed=0, supersample=1)
    paths = write_sequence(sequence, tmp_path / 'sequence')
    arguments = ['--ros-args', '-r', 'image:=/camera/image_raw', '-r', 'odom:=/odom',
                 '-p', f'model:={tiny_metric_onnx}', '-p', 'input_size:=140',
                 '-p', 'publish_points:=false', '-p', 'publish_colored:=false']

    def make_nodes(context):
        return [DepthNode(context=context, namespace='/camera', cli_args=arguments)]

    result = replay_bag(paths['bag'], {'/camera/depth/image': Image,
                                       '/diagnostics': DiagnosticArray},
                        make_nodes=make_nodes, rate=0.5,
                        lockstep=('/camera/image_raw', ['/camera/depth/image']))
    assert len(result.messages['/camera/depth/image']) >= 0.9 * len(sequence.frames)
    statuses = [status for status in _depth_statuses(result.messages['/diagnostics'])
                if 'flicker_source' in status]
    assert statuses, 'no depth_node status with a flicker'
    last = statuses[-1]
    assert last['flicker_source'] == 'odometry', last
    assert math.isfinite(float(last['flicker'])), last
    assert int(last['flicker_pairs']) > 0, last
    assert 'scale_flicker' not in last  # a metric model: no scale was applied
