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

"""The depth node's link to the triangulation node: triangulation/points in, metric scale out."""

import numpy as np
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import PointCloud2

from mono_depth_ros.core.camera_model import CameraModel
from mono_depth_ros.core.pointcloud import read_cloud
from mono_depth_ros.pipeline.scale_fusion import ScaleFusion
from mono_depth_ros.ros.messages import stamp_to_ns


class TriangulationScale:
    """Subscribes to ``triangulation/points`` and fits the relative model's scale to them.

    The points arrive on the executor thread and the relative maps on the inference worker;
    :class:`ScaleFusion` locks its own state.
    """

    def __init__(self, node: Node) -> None:
        self._node = node
        self._fusion = ScaleFusion()
        self._announced_waiting = False
        # The newest cloud, for models that take the points themselves (a depth prompt).
        self._latest_points: np.ndarray | None = None
        # Reliable and best-effort publishers both match a best-effort subscription.
        qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.BEST_EFFORT)
        self._subscription = node.create_subscription(
            PointCloud2, 'triangulation/points', self._on_points, qos)

    @property
    def topic_name(self) -> str:
        """Return the resolved name of the points subscription."""
        return self._subscription.topic_name

    def destroy(self) -> None:
        """Remove the subscription from the node."""
        self._node.destroy_subscription(self._subscription)

    def _on_points(self, message: PointCloud2) -> None:
        fields = read_cloud(message)
        points = np.stack([fields['x'], fields['y'], fields['z']], axis=-1).reshape(-1, 3)
        self._latest_points = points
        self._fusion.add_points(stamp_to_ns(message.header.stamp), points)

    def latest_points(self) -> np.ndarray | None:
        """Return the newest cloud's (N, 3) optical-frame points, None before the first."""
        return self._latest_points

    def update(self, stamp_ns: int, relative, camera: CameraModel) -> tuple[float, float] | None:
        """Return the (scale, shift) for this frame, or None (said once) while there is none."""
        scale_shift = self._fusion.update(stamp_ns, relative, camera)
        if scale_shift is None and not self._announced_waiting:
            self._node.get_logger().info(
                f'no metric scale yet: waiting for enough points on '
                f'{self._subscription.topic_name}; publishing depth/relative only')
            self._announced_waiting = True
        elif scale_shift is not None and self._announced_waiting:
            self._node.get_logger().info(
                f'metric scale from triangulation: {scale_shift[0]:.4g} '
                f'({self._fusion.fit_summary()[0].inliers} inliers)')
            self._announced_waiting = False
        return scale_shift

    def diagnostics(self) -> dict[str, object]:
        """Return the scale, inlier count and residual for /diagnostics."""
        fit, fits = self._fusion.fit_summary()
        if fit is None:
            return {'scale_fits': fits}
        return {'scale_fits': fits, 'scale': fit.scale, 'scale_shift': fit.shift,
                'scale_inliers': fit.inliers, 'scale_residual': fit.residual}
