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

"""The depth node's optional odometry: its metric frames warped into each other, a flicker figure.

``odom`` (nav_msgs/Odometry, as triangulation_node's) fills a :class:`PoseBuffer` on the
executor thread; the output thread hands each frame's metric depth here, and the camera pose at
its stamp (``base pose @ camera_to_base``) lets :class:`OnlineFlicker` score it against the
previous one. A frame whose pose is not there yet (odometry a little behind the image) waits
for the next frame's turn, so the figure trails by one frame. Without odometry nothing happens.
"""

import threading

from nav_msgs.msg import Odometry
import numpy as np
from rclpy.node import Node
from rclpy.qos import QoSProfile

from mono_depth_ros.core.camera_model import CameraModel
from mono_depth_ros.core.errors import BadMessageError
from mono_depth_ros.core.temporal_consistency import OnlineFlicker
from mono_depth_ros.core.transforms import pose_from_xyz_quaternion
from mono_depth_ros.core.triangulation.pose_buffer import PoseBuffer
from mono_depth_ros.ros.messages import stamp_to_ns


class OdometryFlicker:
    """Subscribes to ``odom`` and scores consecutive metric depth frames with its poses."""

    def __init__(self, node: Node, qos: QoSProfile, camera_to_base) -> None:
        self._node = node
        self._lock = threading.Lock()  # the poses: executor thread in, output thread out
        self._poses = PoseBuffer()
        self._resets_seen = 0
        self._bad_odometry = 0
        self._announced_bad = False
        self._figure_lock = threading.Lock()  # the figure: output thread in, timer out
        self._flicker = OnlineFlicker()
        self._pending: tuple[int, np.ndarray, CameraModel] | None = None
        self.camera_to_base = camera_to_base
        self._subscription = node.create_subscription(Odometry, 'odom', self._on_odometry, qos)

    @property
    def topic_name(self) -> str:
        """Return the resolved name of the odometry subscription."""
        return self._subscription.topic_name

    @property
    def camera_to_base(self) -> np.ndarray:
        """Return the 4x4 pose of the camera optical frame in the base frame."""
        return self._camera_to_base

    @camera_to_base.setter
    def camera_to_base(self, values) -> None:
        self._camera_to_base = pose_from_xyz_quaternion(values)

    @property
    def active(self) -> bool:
        """Whether odometry has arrived (and the flicker comes from it)."""
        with self._lock:
            return len(self._poses) > 0

    def destroy(self) -> None:
        """Remove the subscription from the node."""
        self._node.destroy_subscription(self._subscription)

    def _on_odometry(self, message: Odometry) -> None:
        pose = message.pose.pose
        try:
            with self._lock:
                self._poses.add(stamp_to_ns(message.header.stamp),
                                (pose.position.x, pose.position.y, pose.position.z),
                                (pose.orientation.x, pose.orientation.y, pose.orientation.z,
                                 pose.orientation.w))
        except BadMessageError as error:
            self._bad_odometry += 1
            if not self._announced_bad:
                self._node.get_logger().warning(
                    f'ignoring odometry on {self.topic_name} for the flicker figure: {error}')
                self._announced_bad = True

    def add(self, stamp_ns: int, depth: np.ndarray, camera: CameraModel) -> None:
        """Take one frame's metric depth (output thread); score the frames whose pose is known."""
        with self._lock:
            if not len(self._poses):
                return
            resets = self._poses.resets
        if resets != self._resets_seen:  # time went back or the pose jumped: start over
            self._resets_seen = resets
            self._pending = None
            with self._figure_lock:
                self._flicker.reset()
        if self._pending is not None:
            self._score(*self._pending, last_try=True)
            self._pending = None
        if not self._score(stamp_ns, depth, camera, last_try=False):
            self._pending = (stamp_ns, np.array(depth), camera)  # a copy: it waits a frame

    def _score(self, stamp_ns: int, depth: np.ndarray, camera: CameraModel,
               last_try: bool) -> bool:
        """Score a frame if its pose is known (or on its last try); return whether it was."""
        with self._lock:
            lookup = self._poses.lookup(stamp_ns)
        if not lookup and not last_try:
            return False
        pose = None if lookup.pose is None else lookup.pose @ self._camera_to_base
        with self._figure_lock:
            self._flicker.add(stamp_ns, depth, camera, pose)
        return True

    def diagnostics(self) -> dict[str, object]:
        """Return the pixel flicker, its pairs and skips (empty until odometry arrives)."""
        if not self.active:
            return {}
        with self._figure_lock:
            values: dict[str, object] = {'flicker': self._flicker.value(),
                                         'flicker_pairs': self._flicker.pairs,
                                         'flicker_skipped': self._flicker.skipped}
            if self._flicker.last_skip:
                values['flicker_last_skip'] = self._flicker.last_skip
        if self._bad_odometry:
            values['flicker_bad_odometry'] = self._bad_odometry
        return values
