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

"""The floor under depth_node's overhead: a node that only takes the image and publishes.

``python bench/output_floor_node.py --ros-args -p points_stride:=1 ...`` starts a node named
``depth_node`` with depth_node's image, camera_info and output topics and its
``points_stride``, ``points_color`` and ``publish_colored`` parameters. For each image
(deserialised by rclpy, as depth_node's is) it publishes, in its subscription callback,
messages of exactly the sizes and layouts depth_node publishes for that image and those
parameters (``depth/image``, ``depth/camera_info``, ``points``, ``depth/colored``), built from
kept arrays through the same message code (``ros.messages.output_message``) and stamped with
the image's header. Nothing is computed, so its end to end in bench_node_overhead is what any
rclpy node receiving that image and publishing those bytes pays on this machine: rclpy's and
Fast DDS's copies and wake-ups.
"""

import numpy as np
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image, PointCloud2

from mono_depth_ros.core.camera_model import CameraModel
from mono_depth_ros.core.pointcloud import pack_organized_cloud
from mono_depth_ros.nodes.runner import run_node
from mono_depth_ros.parameter_tables import DEPTH_PARAMETERS
from mono_depth_ros.pipeline.outputs import image_fields_view
from mono_depth_ros.ros.messages import output_message
from mono_depth_ros.topic_tables import DEPTH_NODE_TOPICS

OUTPUT_TYPES = {'depth/image': Image, 'depth/camera_info': CameraInfo, 'points': PointCloud2,
                'depth/colored': Image}


class OutputFloorNode(Node):
    """Publishes depth_node's outputs, sized for each image, without computing any."""

    NODE_NAME = 'depth_node'
    PARAMETERS = tuple(spec for spec in DEPTH_PARAMETERS
                       if spec.name in ('points_stride', 'points_color', 'publish_colored'))
    TOPICS = DEPTH_NODE_TOPICS

    def __init__(self) -> None:
        super().__init__(self.NODE_NAME)
        self.declare_parameter('points_stride', 2)
        self.declare_parameter('points_color', True)
        self.declare_parameter('publish_colored', True)
        self._publishers = {topic: self.create_publisher(kind, topic, qos_profile_sensor_data)
                            for topic, kind in OUTPUT_TYPES.items()}
        self._fields: dict = {}
        self._key: tuple | None = None
        self.create_subscription(Image, 'image', self._on_image, qos_profile_sensor_data)
        # depth_node takes camera_info too (its intrinsics): the same messages come in here.
        self.create_subscription(CameraInfo, 'camera_info', lambda _: None,
                                 qos_profile_sensor_data)

    def _outputs_for(self, width: int, height: int) -> dict:
        stride = int(self.get_parameter('points_stride').value)
        colour = bool(self.get_parameter('points_color').value)
        colored = bool(self.get_parameter('publish_colored').value)
        key = (width, height, stride, colour, colored)
        if key != self._key:
            rows, cols = -(-height // stride), -(-width // stride)
            camera = CameraModel.from_intrinsics(fx=525.0, fy=525.0, cx=width / 2.0,
                                                 cy=height / 2.0, width=width, height=height)
            self._fields = {
                'depth/image': image_fields_view(np.ones((height, width), np.float32),
                                                 '32FC1'),
                'depth/camera_info': camera.to_camera_info_fields(),
                'points': pack_organized_cloud(
                    np.ones((rows, cols, 3), np.float32),
                    np.zeros((rows, cols, 3), np.uint8) if colour else None),
            }
            if colored:
                self._fields['depth/colored'] = image_fields_view(
                    np.zeros((height, width, 3), np.uint8), 'bgr8')
            self._key = key
        return self._fields

    def _on_image(self, message: Image) -> None:
        for topic, fields in self._outputs_for(message.width, message.height).items():
            self._publishers[topic].publish(output_message(fields, message.header))


def main() -> int:
    """Run the node as depth_node runs (the same runner, Fast DDS profile and executor)."""
    return run_node(OutputFloorNode)


if __name__ == '__main__':
    raise SystemExit(main())
