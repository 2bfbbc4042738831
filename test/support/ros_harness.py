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

"""Test helpers: a camera publisher, synthetic camera messages, and a node under test over DDS."""

import contextlib
import time
from typing import Iterator

from nav_msgs.msg import Odometry
import numpy as np
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from std_msgs.msg import Header

from mono_depth_ros.core.camera_model import CameraModel
from mono_depth_ros.core.image_codec import encode_compressed, numpy_to_image
from mono_depth_ros.ros.collector import TopicCollector
from mono_depth_ros.ros.graph import BackgroundExecutor, ros_context
from mono_depth_ros.ros.messages import (camera_info_message, compressed_image_message,
                                         image_message, ns_to_stamp)

RELIABLE = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
RELIABLE_ODOMETRY = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)
FRAME_ID = 'test_camera_optical_frame'


def ros_parameter_args(values: dict) -> list[str]:
    """Return ``--ros-args -p name:=value ...`` for a node's parameters (booleans lowercase)."""
    args = ['--ros-args']
    for name, value in values.items():
        text = str(value).lower() if isinstance(value, bool) else str(value)
        args += ['-p', f'{name}:={text}']
    return args


def header(stamp_ns: int, frame_id: str = FRAME_ID) -> Header:
    """Return a header with the given stamp and frame_id."""
    return Header(stamp=ns_to_stamp(stamp_ns), frame_id=frame_id)


class CameraPublisher(Node):
    """Publishes images (raw or compressed) and CameraInfo like a camera driver."""

    def __init__(self, context, *, compressed: bool = False, qos: QoSProfile = RELIABLE) -> None:
        super().__init__('test_camera', context=context)
        self.compressed = compressed
        if compressed:
            self.image = self.create_publisher(CompressedImage, 'image/compressed', qos)
        else:
            self.image = self.create_publisher(Image, 'image', qos)
        self.info = self.create_publisher(CameraInfo, 'camera_info', qos)

    def wait_for_subscribers(self, timeout: float = 10.0, info: bool = True) -> bool:
        """Wait until the node under test subscribes to the image (and camera_info)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.image.get_subscription_count() and (
                    not info or self.info.get_subscription_count()):
                return True
            time.sleep(0.05)
        return False

    def publish_frame(self, rgb: np.ndarray, camera: CameraModel | None, stamp_ns: int,
                      image_message_override: Image | None = None) -> None:
        """Publish CameraInfo (when given) and then the image, both with ``stamp_ns``."""
        stamped = header(stamp_ns)
        if camera is not None:
            self.info.publish(camera_info_message(camera.to_camera_info_fields(), stamped))
            time.sleep(0.02)
        if image_message_override is not None:
            image_message_override.header = stamped
            self.image.publish(image_message_override)
        elif self.compressed:
            format_name, data = encode_compressed(rgb[:, :, ::-1].copy(), 'jpeg', 'bgr8', 95)
            self.image.publish(compressed_image_message(format_name, data, stamped))
        else:
            self.image.publish(image_message(numpy_to_image(rgb, 'rgb8'), stamped))


@contextlib.contextmanager
def node_under_test(make_node, outputs: dict[str, type], *, args: list[str] | None = None,
                    compressed: bool = False,
                    wait_for_subscribers: bool = True) -> Iterator[tuple]:
    """Yield (node, camera publisher, collector), all spinning in one context over DDS.

    ``make_node`` may return None when the node under test runs in another process.
    """
    with ros_context(args) as context:
        node = make_node(context)
        camera = CameraPublisher(context, compressed=compressed)
        collector = TopicCollector(outputs, context=context, name='test_collector')
        nodes = [n for n in (node, camera, collector) if n is not None]
        with BackgroundExecutor(context, nodes):
            if wait_for_subscribers:
                assert camera.wait_for_subscribers(), 'the node never subscribed to the camera'
                time.sleep(0.3)
            yield node, camera, collector


def triangulation_statuses(arrays) -> list[dict[str, str]]:
    """Return the key values of each triangulation_node status in DiagnosticArrays."""
    return [{value.key: value.value for value in status.values}
            for array in arrays for status in array.status
            if status.name.endswith(': triangulation')]


def odometry_message(stamp_ns: int, x: float) -> Odometry:
    """Return an odometry message: the base at (x, 0, 0), unrotated, at ``stamp_ns``."""
    message = Odometry()
    message.header.stamp = ns_to_stamp(stamp_ns)
    message.header.frame_id = 'odom'
    message.child_frame_id = 'base_link'
    message.pose.pose.position.x = x
    message.pose.pose.orientation.w = 1.0
    return message


def odometry_publisher(camera: CameraPublisher, timeout: float = 10.0):
    """Return a reliable odom publisher on the camera's node, once the node subscribed."""
    odometry = camera.create_publisher(Odometry, 'odom', RELIABLE_ODOMETRY)
    deadline = time.monotonic() + timeout
    while not odometry.get_subscription_count() and time.monotonic() < deadline:
        time.sleep(0.05)
    return odometry
