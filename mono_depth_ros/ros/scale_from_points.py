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

from collections import deque
import math
import re

import numpy as np
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import PointCloud2

from mono_depth_ros.core.camera_model import CameraModel
from mono_depth_ros.core.pointcloud import read_cloud
from mono_depth_ros.pipeline.scale_fusion import MetricScale, ScaleFusion
from mono_depth_ros.ros.messages import stamp_to_ns


class TriangulationScale:
    """Subscribes to ``triangulation/points`` and fits the relative model's scale to them.

    The points arrive on the executor thread and the relative maps on the inference worker;
    :class:`ScaleFusion` locks its own state. Why there is no scale (too few, badly spread or
    inconsistent points) is logged once per reason; a reset after time went back warns once.
    """

    def __init__(self, node: Node) -> None:
        self._node = node
        self._fusion = ScaleFusion()
        self._announced = ''
        self._time_resets = 0
        self._flicker = ScaleFlicker()
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
        sigmas = fields['sigma'].reshape(-1) if 'sigma' in fields else None
        self._latest_points = points
        self._fusion.add_points(stamp_to_ns(message.header.stamp), points, sigmas)

    def latest_points(self) -> np.ndarray | None:
        """Return the newest cloud's (N, 3) optical-frame points, None before the first."""
        return self._latest_points

    def update(self, stamp_ns: int, relative, camera: CameraModel) -> MetricScale | None:
        """Return the scale for this frame, or None (the reason said once) while there is none."""
        scale = self._fusion.update(stamp_ns, relative, camera)
        logger = self._node.get_logger()
        if self._fusion.time_resets != self._time_resets:
            self._time_resets = self._fusion.time_resets
            logger.warning('image stamps went back in time: the metric scale starts over')
        if scale is None:
            refusal = self._fusion.refusal()
            reason = refusal.reason if refusal is not None else 'waiting for enough points'
            # Said once per kind of reason, not again for each new count of points.
            kind = re.sub(r'-?[\d.]+', 'N', reason.split(' (')[0])
            if kind != self._announced:
                logger.info(f'no metric scale yet from {self._subscription.topic_name}: '
                            f'{reason}; publishing depth/relative only')
                self._announced = kind
        else:
            self._flicker.add(stamp_ns, scale.scale)
            if self._announced:
                logger.info(f'metric scale from triangulation: {scale.scale:.4g} +- '
                            f'{scale.scale_sigma:.2g} ({scale.inliers} inliers)')
                self._announced = ''
        return scale

    def diagnostics(self) -> dict[str, object]:
        """Return the scale with its sigma, inliers, residual, refusals and flicker (twice)."""
        fit, fits = self._fusion.fit_summary()
        values: dict[str, object] = {'scale_fits': fits, 'scale_refused': self._fusion.refusals}
        refusal = self._fusion.refusal()
        if refusal is not None:
            values['scale_refusal'] = refusal.reason
        if fit is None:
            return values
        estimate = self._fusion.current(fit.stamp_ns)
        if estimate is not None:
            values.update({'scale': estimate.scale, 'scale_sigma': estimate.scale_sigma,
                           'scale_shift': estimate.shift})
        # 'flicker' is the interface's name; 'scale_flicker' says what it measures: the
        # scale's own frame-to-frame change (the depth node takes no odometry to warp with).
        flicker = self._flicker.value()
        values.update({'scale_inliers': fit.inliers, 'scale_residual': fit.residual,
                       'flicker': flicker, 'scale_flicker': flicker})
        return values


class ScaleFlicker:
    """The applied scale's frame-to-frame change: mean |log(s_t / s_t-1)| over recent frames.

    What the fusion adds to the depth's temporal change beyond the network's own; with a
    steady scene it is the flicker a consumer sees.
    """

    def __init__(self, window: int = 30) -> None:
        self._changes: deque[float] = deque(maxlen=window)
        self._last: tuple[int, float] | None = None

    def add(self, stamp_ns: int, scale: float) -> None:
        """Add the scale applied to the frame stamped ``stamp_ns``."""
        if self._last is not None and stamp_ns > self._last[0]:
            self._changes.append(abs(math.log(scale / self._last[1])))
        if self._last is None or stamp_ns > self._last[0]:
            self._last = (stamp_ns, scale)

    def value(self) -> float:
        """Return the mean change (NaN before two frames)."""
        return float(np.mean(self._changes)) if self._changes else float('nan')
