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

"""Two cameras in two namespaces over DDS: each depth_node sees only its own camera.

The namespaces and remappings are the ones the launch helpers give for ``cameras:=front,rear``;
the cameras differ in image size and frame_id, so any crossing shows in the outputs.
"""

import time

import pytest
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image, PointCloud2

from mono_depth_ros import launch_support
from mono_depth_ros.core.image_codec import numpy_to_image
from mono_depth_ros.nodes.depth_node import DepthNode
from mono_depth_ros.ros.collector import TopicCollector
from mono_depth_ros.ros.graph import BackgroundExecutor, ros_context
from mono_depth_ros.ros.messages import camera_info_message, image_message
from ros_harness import header
from synthetic_frames import off_centre_camera, textured_rgb

CAMERA_ARGUMENTS = {'namespace': 'camera', 'image': 'image_raw', 'camera_info': 'camera_info'}
SIZES = {'front': (320, 240), 'rear': (224, 168)}
STRIDE = 4


class Camera(Node):
    """A camera driver in its own namespace: image_raw and camera_info, sensor-data QoS."""

    def __init__(self, context, namespace: str) -> None:
        super().__init__('driver', namespace=namespace, context=context)
        self.frame_id = f'{namespace}_camera_optical_frame'
        self.model = off_centre_camera(*SIZES[namespace])
        self.rgb = textured_rgb(*SIZES[namespace], seed=len(namespace))
        self.image = self.create_publisher(Image, 'image_raw', qos_profile_sensor_data)
        self.info = self.create_publisher(CameraInfo, 'camera_info', qos_profile_sensor_data)

    def publish(self, stamp_ns: int) -> None:
        stamped = header(stamp_ns, self.frame_id)
        self.info.publish(camera_info_message(self.model.to_camera_info_fields(), stamped))
        time.sleep(0.01)
        self.image.publish(image_message(numpy_to_image(self.rgb, 'rgb8'), stamped))


def _depth_node(context, model, arguments: dict) -> DepthNode:
    cli = ['--ros-args']
    for name, topic in launch_support.camera_remappings(arguments['image'],
                                                        arguments['camera_info']):
        cli += ['-r', f'{name}:={topic}']
    for name, value in {'model': str(model), 'backend': 'onnxruntime', 'device': 'cpu',
                        'input_size': 140, 'points_stride': STRIDE}.items():
        cli += ['-p', f'{name}:={value}']
    return DepthNode(context=context, namespace=arguments['namespace'], cli_args=cli)


def test_two_cameras_in_two_namespaces_never_cross():
    pytest.importorskip('onnxruntime')
    import model_fixtures
    model = model_fixtures.make_onnx(depth_type='metric')
    per_camera = launch_support.camera_launch_arguments('front,rear', CAMERA_ARGUMENTS)
    outputs = {f'/{n}/{topic}': kind for n in SIZES
               for topic, kind in (('depth/image', Image), ('points', PointCloud2))}
    with ros_context() as context:
        nodes = [_depth_node(context, model, arguments) for arguments in per_camera]
        cameras = [Camera(context, arguments['namespace']) for arguments in per_camera]
        collector = TopicCollector(outputs, context=context, name='multi_camera_collector')
        with BackgroundExecutor(context, [*nodes, *cameras, collector]):
            deadline = time.monotonic() + 15.0
            while time.monotonic() < deadline and not all(
                    camera.image.get_subscription_count() == 1 for camera in cameras):
                time.sleep(0.05)
            time.sleep(0.3)
            for index in range(40):
                for camera in cameras:
                    camera.publish(1_000_000_000 + index * 100_000_000)
                time.sleep(0.1)
                if all(collector.count(topic) >= 2 for topic in outputs):
                    break
            for topic in outputs:
                assert collector.wait_for(topic, 2, timeout=15.0), f'nothing on {topic}'
            received = {topic: collector.messages(topic) for topic in outputs}
    for namespace, (width, height) in SIZES.items():
        frame_id = f'{namespace}_camera_optical_frame'
        for depth in received[f'/{namespace}/depth/image']:
            assert (depth.header.frame_id, depth.width, depth.height) == (frame_id, width, height)
        for cloud in received[f'/{namespace}/points']:
            assert cloud.header.frame_id == frame_id
            assert (cloud.width, cloud.height) == (-(-width // STRIDE), -(-height // STRIDE))
