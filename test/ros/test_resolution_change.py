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

"""A camera that changes resolution mid-stream: the nodes' outputs follow without a restart.

Over DDS, CameraInfo and images switch from 320x240 to 256x160 (another aspect, other
intrinsics): depth_node publishes depth, CameraInfo and clouds at the new size with the new
intrinsics; triangulation_node starts its tracks over with one warning and publishes at the new
size.
"""

import math
import time

from nav_msgs.msg import Odometry
import numpy as np
import pytest
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image, PointCloud2

from mono_depth_ros.nodes.depth_node import DepthNode
from mono_depth_ros.nodes.triangulation_node import TriangulationNode
from mono_depth_ros.ros.messages import camera_info_message, ns_to_stamp, stamp_to_ns
from ros_harness import header, node_under_test
from synthetic_frames import off_centre_camera, textured_rgb

FIRST, SECOND = (320, 240), (256, 160)
STRIDE = 4


def _depth_args(model) -> list[str]:
    args = ['--ros-args']
    for name, value in {'model': str(model), 'backend': 'onnxruntime', 'device': 'cpu',
                        'input_size': 140, 'points_stride': STRIDE}.items():
        args += ['-p', f'{name}:={value}']
    return args


def _stream_until(collector, topic: str, size: tuple[int, int], publish, start: int,
                  frames: int = 30) -> int:
    """Publish frames until an output of ``size`` arrives on ``topic``; return the next index."""
    for index in range(start, start + frames):
        publish(index)
        time.sleep(0.1)
        if any((m.width, m.height) == size for m in collector.messages(topic)):
            return index + 1
    raise AssertionError(f'no {size[0]}x{size[1]} output on {topic}')


def test_depth_node_follows_a_resolution_change_without_restart():
    pytest.importorskip('onnxruntime')
    import model_fixtures
    model = model_fixtures.make_onnx(depth_type='metric')
    outputs = {'depth/image': Image, 'depth/camera_info': CameraInfo, 'points': PointCloud2}
    cameras = {size: off_centre_camera(*size) for size in (FIRST, SECOND)}
    with node_under_test(lambda context: DepthNode(context=context), outputs,
                         args=_depth_args(model)) as (node, publisher, collector):
        current = {'size': FIRST}

        def publish(index: int) -> None:
            size = current['size']
            publisher.publish_frame(textured_rgb(*size), cameras[size],
                                    1_000_000_000 + index * 100_000_000)

        index = _stream_until(collector, 'depth/image', FIRST, publish, 0)
        current['size'] = SECOND
        _stream_until(collector, 'depth/image', SECOND, publish, index)
        time.sleep(0.5)
        depth = collector.messages('depth/image')
        infos = collector.messages('depth/camera_info')
        clouds = collector.messages('points')
    sizes = [(message.width, message.height) for message in depth]
    assert set(sizes) == {FIRST, SECOND}
    assert sizes == sorted(sizes, key=lambda size: size == SECOND), 'no old size after the new'
    assert (infos[-1].width, infos[-1].height) == SECOND
    np.testing.assert_allclose(np.reshape(infos[-1].k, (3, 3)),
                               cameras[SECOND].intrinsic_matrix)
    assert (clouds[-1].width, clouds[-1].height) == (math.ceil(SECOND[0] / STRIDE),
                                                     math.ceil(SECOND[1] / STRIDE))


def test_an_image_late_behind_the_new_camera_info_keeps_its_own():
    """At the switch the new CameraInfo may overtake the last image of the old size."""
    pytest.importorskip('onnxruntime')
    import model_fixtures
    model = model_fixtures.make_onnx(depth_type='metric')
    cameras = {size: off_centre_camera(*size) for size in (FIRST, SECOND)}
    with node_under_test(lambda context: DepthNode(context=context),
                         {'depth/camera_info': CameraInfo}, args=_depth_args(model)) as (
                             node, publisher, collector):
        old_stamp, new_stamp = 5_000_000_000, 5_100_000_000
        publisher.publish_frame(textured_rgb(*FIRST), cameras[FIRST], old_stamp - 100_000_000)
        assert collector.wait_for('depth/camera_info', 1, timeout=20.0)
        publisher.info.publish(camera_info_message(cameras[FIRST].to_camera_info_fields(),
                                                   header(old_stamp)))
        publisher.info.publish(camera_info_message(cameras[SECOND].to_camera_info_fields(),
                                                   header(new_stamp)))
        time.sleep(0.1)
        publisher.publish_frame(textured_rgb(*FIRST), None, old_stamp)
        assert collector.wait_for('depth/camera_info', 2, timeout=20.0)
        publisher.publish_frame(textured_rgb(*SECOND), None, new_stamp)
        assert collector.wait_for('depth/camera_info', 3, timeout=20.0)
        infos = {stamp_to_ns(info.header.stamp): info
                 for info in collector.messages('depth/camera_info')}
    for stamp, size in ((old_stamp, FIRST), (new_stamp, SECOND)):
        assert (infos[stamp].width, infos[stamp].height) == size
        np.testing.assert_allclose(np.reshape(infos[stamp].k, (3, 3)),
                                   cameras[size].intrinsic_matrix)


def _odometry(stamp_ns: int, x: float) -> Odometry:
    message = Odometry()
    message.header.stamp = ns_to_stamp(stamp_ns)
    message.header.frame_id, message.child_frame_id = 'odom', 'base_link'
    message.pose.pose.position.x = x
    message.pose.pose.orientation.w = 1.0
    return message


def test_triangulation_node_restarts_its_tracks_on_a_resolution_change_with_one_warning(capfd):
    outputs = {'triangulation/depth': Image, 'triangulation/tracks': Image}
    cameras = {size: off_centre_camera(*size) for size in (FIRST, SECOND)}
    with node_under_test(lambda context: TriangulationNode(context=context), outputs) as (
            node, publisher, collector):
        odometry = publisher.create_publisher(
            Odometry, 'odom', QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE))
        deadline = time.monotonic() + 10.0
        while not odometry.get_subscription_count() and time.monotonic() < deadline:
            time.sleep(0.05)
        current = {'size': FIRST}

        def publish(index: int) -> None:
            stamp = 2_000_000_000 + index * 66_000_000
            odometry.publish(_odometry(stamp - 33_000_000, 0.01 * index))
            odometry.publish(_odometry(stamp + 33_000_000, 0.01 * index))
            size = current['size']
            publisher.publish_frame(textured_rgb(*size), cameras[size], stamp)

        index = _stream_until(collector, 'triangulation/depth', FIRST, publish, 0)
        current['size'] = SECOND
        index = _stream_until(collector, 'triangulation/depth', SECOND, publish, index)
        for extra in range(3):  # it keeps going at the new size
            publish(index + extra)
            time.sleep(0.1)
        time.sleep(0.5)
        depth = collector.messages('triangulation/depth')
        tracks = collector.messages('triangulation/tracks')
        failed = node._loop.health.counts['failed']
    assert (depth[-1].width, depth[-1].height) == SECOND
    assert (tracks[-1].width, tracks[-1].height) == SECOND
    assert failed == 0
    warnings = [line for line in capfd.readouterr().err.splitlines()
                if 'image size changed' in line]
    assert len(warnings) == 1, warnings
    assert '320x240 to 256x160' in warnings[0] and 'tracks start over' in warnings[0]
