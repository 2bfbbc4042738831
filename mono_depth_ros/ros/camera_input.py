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

"""Camera input shared by the nodes: raw or compressed images plus the latest CameraInfo.

The subscription callback only pairs the image with its CameraInfo and hands it on; the
decoding happens later, on the node's worker thread, so frames dropped by latest-frame-wins are
never decoded. The pair is the CameraInfo with the image's stamp when one of the last few has
it (so a resolution or intrinsics change mid-stream pairs each image with its own), else the
latest.
"""

import collections
from dataclasses import dataclass
import time
from typing import Callable

import numpy as np
from rclpy.node import Node
from rclpy.qos import QoSProfile
from sensor_msgs.msg import CameraInfo, CompressedImage, Image

from mono_depth_ros.core.image_codec import decode_compressed, image_to_rgb8
from mono_depth_ros.ros.messages import stamp_to_ns

TRANSPORT_CHOICES = ('raw', 'compressed')
# How many recent CameraInfo messages are kept to pair an image with the one of its stamp.
RECENT_CAMERA_INFOS = 8


@dataclass
class CameraFrame:
    """One image as received, with the CameraInfo that was current when it arrived."""

    message: Image | CompressedImage
    camera_info: CameraInfo | None
    received_monotonic: float

    @property
    def header(self):
        """Return the stamp and frame_id source: the image message's own header."""
        return self.message.header

    @property
    def stamp_ns(self) -> int:
        """Return the image stamp in nanoseconds."""
        return stamp_to_ns(self.message.header.stamp)

    def rgb(self) -> np.ndarray:
        """Decode the image to (H, W, 3) uint8 RGB; raises BadMessageError when it is malformed."""
        if isinstance(self.message, CompressedImage):
            return decode_compressed(self.message, 'rgb8')
        return image_to_rgb8(self.message)


class CameraInput:
    """Subscribes to ``image`` (or ``image/compressed``) and ``camera_info``."""

    def __init__(self, node: Node, on_frame: Callable[[CameraFrame], None], *,
                 transport: str, qos: QoSProfile) -> None:
        if transport not in TRANSPORT_CHOICES:
            raise ValueError(f'image_transport = {transport!r} (expected raw or compressed)')
        self._on_frame = on_frame
        self._camera_info: CameraInfo | None = None
        self._recent_infos: collections.OrderedDict[int, CameraInfo] = collections.OrderedDict()
        self.camera_info_subscription = node.create_subscription(
            CameraInfo, 'camera_info', self._on_camera_info, qos)
        if transport == 'compressed':
            self.image_subscription = node.create_subscription(
                CompressedImage, 'image/compressed', self._on_image, qos)
        else:
            self.image_subscription = node.create_subscription(Image, 'image', self._on_image, qos)

    @property
    def camera_info(self) -> CameraInfo | None:
        """Return the latest CameraInfo, or None before the first one."""
        return self._camera_info

    def _on_camera_info(self, message: CameraInfo) -> None:
        self._camera_info = message
        self._recent_infos[stamp_to_ns(message.header.stamp)] = message
        while len(self._recent_infos) > RECENT_CAMERA_INFOS:
            self._recent_infos.popitem(last=False)

    def _on_image(self, message) -> None:
        info = self._recent_infos.get(stamp_to_ns(message.header.stamp), self._camera_info)
        self._on_frame(CameraFrame(message, info, time.monotonic()))

    def destroy(self, node: Node) -> None:
        """Remove the subscriptions from ``node``."""
        node.destroy_subscription(self.image_subscription)
        node.destroy_subscription(self.camera_info_subscription)
