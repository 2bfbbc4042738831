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

"""Bad input never takes a node down: a throttled error names it, and the next frame works.

The matrix (also in the README): malformed images, calibrations and odometry, oversized and
degenerate frames, corrupt compressed data and stamps that jump backwards.
"""

import time

from nav_msgs.msg import Odometry
import numpy as np
import pytest
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image

from mono_depth_ros.core.image_codec import numpy_to_image
from mono_depth_ros.nodes.depth_node import DepthNode
from mono_depth_ros.nodes.triangulation_node import TriangulationNode
from mono_depth_ros.ros.messages import camera_info_message, image_message, ns_to_stamp
from ros_harness import header, node_under_test
from synthetic_frames import off_centre_camera, textured_rgb

CAMERA = off_centre_camera()
START_NS = 100_000_000_000   # 100 s
LOOP_NS = 60_000_000_000     # a bag loop jumps back to 60 s
GOOD_RGB = textured_rgb()


def _image(**changes) -> Image:
    message = image_message(numpy_to_image(GOOD_RGB, 'rgb8'), header(0))
    for name, value in changes.items():
        setattr(message, name, value)
    return message


def _info(**changes) -> CameraInfo:
    message = camera_info_message(CAMERA.to_camera_info_fields(), header(0))
    for name, value in changes.items():
        setattr(message, name, value)
    return message


# case -> (bad image or None for the good one, bad camera_info or None, text the error names)
IMAGE_CASES = {
    'data shorter than height x step': (_image(height=300), None, 'Image.data'),
    'step smaller than width x 3': (_image(step=320), None, 'Image.step'),
    'unknown encoding': (_image(encoding='rgb10_magic'), None, 'Image.encoding'),
    'zero size': (_image(height=0, width=0, step=0), None, 'Image.height'),
    'one pixel': (image_message(numpy_to_image(GOOD_RGB[:1, :1].copy(), 'rgb8'), header(0)),
                  None, 'CameraInfo.width x height'),
    'NaN in K': (None, _info(k=[float('nan')] + list(_info().k)[1:]), 'k'),
    'zero focal length': (None, _info(k=[0.0] + list(_info().k)[1:]), 'fx > 0'),
    'D of the wrong length': (None, _info(d=[0.1, 0.2, 0.3]), 'd'),
    'calibration for another aspect ratio': (None, _info(width=500, height=100),
                                             'CameraInfo.width x height'),
}


def _depth_node(context):
    return DepthNode(context=context)


@pytest.fixture(scope='module')
def metric_model():
    import model_fixtures
    return model_fixtures.make_onnx(depth_type='metric')


def _send(publisher, image: Image | None, info: CameraInfo | None, stamp_ns: int) -> None:
    stamped = header(stamp_ns)
    info_message = info if info is not None else _info()
    info_message.header = stamped
    publisher.info.publish(info_message)
    time.sleep(0.05)
    image_message_ = image if image is not None else _image()
    image_message_.header = stamped
    publisher.image.publish(image_message_)


def _run_matrix(publisher, collector, topic: str) -> None:
    stamp = START_NS
    for name, (image, info, _) in IMAGE_CASES.items():
        stamp += 100_000_000
        before = collector.count(topic)
        _send(publisher, image, info, stamp)
        time.sleep(0.4)
        assert collector.count(topic) == before, f'{name}: a bad frame produced output'
        stamp += 100_000_000
        _send(publisher, None, None, stamp)
        assert collector.wait_for(topic, before + 1, timeout=20.0), (
            f'{name}: the next good frame was not processed')


def test_depth_node_survives_the_bad_input_matrix(metric_model, capfd):
    args = ['--ros-args', '-p', f'model:={metric_model}', '-p', 'backend:=onnxruntime',
            '-p', 'input_size:=140', '-p', 'max_pixels:=100000']
    with node_under_test(_depth_node, {'depth/image': Image}, args=args) as (
            node, publisher, collector):
        _run_matrix(publisher, collector, 'depth/image')
        big = image_message(numpy_to_image(np.zeros((400, 400, 3), np.uint8), 'rgb8'), header(0))
        before = collector.count('depth/image')
        _send(publisher, big, _info(width=400, height=400), 5_000_000_000)
        time.sleep(0.4)
        assert collector.count('depth/image') == before, 'an image over max_pixels was refused'
    log = capfd.readouterr().err
    for name, (_, _, field) in IMAGE_CASES.items():
        assert field in log, f'{name}: the error does not name {field}'
    assert 'max_pixels' in log


def _triangulation_node(context):
    return TriangulationNode(context=context)


def _odometry(stamp_ns: int, x: float = 0.0, quaternion=(0.0, 0.0, 0.0, 1.0)) -> Odometry:
    message = Odometry()
    message.header.stamp = ns_to_stamp(stamp_ns)
    message.pose.pose.position.x = x
    (message.pose.pose.orientation.x, message.pose.pose.orientation.y,
     message.pose.pose.orientation.z, message.pose.pose.orientation.w) = quaternion
    return message


def test_triangulation_node_survives_bad_images_odometry_and_time_jumps(capfd):
    reliable = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
    with node_under_test(_triangulation_node, {'triangulation/depth': Image}) as (
            node, publisher, collector):
        odometry = publisher.create_publisher(Odometry, 'odom', reliable)
        deadline = time.monotonic() + 10.0
        while not odometry.get_subscription_count() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        for stamp in range(START_NS, START_NS + 3_000_000_001, 50_000_000):
            odometry.publish(_odometry(stamp, x=stamp * 1e-10))
            time.sleep(0.002)
        time.sleep(0.5)
        _run_matrix(publisher, collector, 'triangulation/depth')

        odometry.publish(_odometry(START_NS + 3_100_000_000, x=float('nan')))
        odometry.publish(_odometry(START_NS + 3_100_000_000, quaternion=(0.0, 0.0, 0.5, 0.5)))
        # A bag loop: time goes back to the start, far past the odometry history.
        for stamp in range(LOOP_NS, LOOP_NS + 2_000_000_001, 50_000_000):
            odometry.publish(_odometry(stamp, x=stamp * 1e-10))
            time.sleep(0.002)
        time.sleep(0.3)
        before = collector.count('triangulation/depth')
        _send(publisher, None, None, LOOP_NS + 1_000_000_000)
        assert collector.wait_for('triangulation/depth', before + 1, timeout=20.0)
        _send(publisher, None, None, LOOP_NS + 1_000_000_000)   # a duplicate stamp
        _send(publisher, None, None, LOOP_NS + 1_100_000_000)
        assert collector.wait_for('triangulation/depth', before + 2, timeout=20.0)
    log = capfd.readouterr().err
    for name, (_, _, field) in IMAGE_CASES.items():
        assert field in log, f'{name}: the error does not name {field}'
    assert 'ignoring odometry' in log and 'position' in log and 'orientation' in log
    assert 'went backwards' in log
