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

"""A frame's results as output fields, keyed by relative topic: the one place for both pipelines.

depth_node, triangulation_node and ``OfflineProcessor`` (``process-bag``) all turn their
results into outputs here, so a live node and a processed recording publish the same fields.
Values are ImageFields (images), CloudFields (clouds) or a camera_info fields dict
(``CameraModel.to_camera_info_fields``); only the ``wanted`` topics are computed.
"""

from dataclasses import dataclass, fields
from typing import Collection, Mapping

import cv2
import numpy as np

from mono_depth_ros.core.camera_model import CameraModel
from mono_depth_ros.core.cloud_filter import filter_points
from mono_depth_ros.core.colorize import colorize_depth, RangeTracker
from mono_depth_ros.core.depth_edges import remove_flying_pixels
from mono_depth_ros.core.image_codec import ImageFields, numpy_to_image
from mono_depth_ros.core.pointcloud import (CloudFields, depth_to_points, pack_organized_cloud,
                                            pack_unorganized_cloud)
from mono_depth_ros.core.triangulation.pipeline import (draw_tracks, sparse_depth_image,
                                                        sparse_sigma_image, TriangulationResult)
from mono_depth_ros.pipeline.depth_pipeline import DepthResult

DEPTH_TOPICS = ('depth/image', 'depth/camera_info', 'depth/relative', 'depth/colored', 'points',
                'points/filtered', 'depth/sigma')
# The topics made from metric depth after its flying pixels are removed (edge_filter).
EDGE_FILTERED_TOPICS = frozenset({'depth/image', 'points', 'points/filtered', 'depth/sigma'})
TRIANGULATION_TOPICS = ('triangulation/depth', 'triangulation/sigma', 'triangulation/points',
                        'triangulation/tracks')

OutputFields = ImageFields | CloudFields | dict


@dataclass(frozen=True)
class DepthOutputSettings:
    """What the depth outputs hold (depth_node's parameters of the same names)."""

    min_depth: float = 0.1
    max_depth: float = 20.0
    publish_points: bool = True
    points_stride: int = 2
    points_color: bool = True
    publish_colored: bool = True
    colormap: str = 'turbo'
    edge_filter: bool = True
    voxel_size: float = 0.05
    max_range: float = 5.0
    max_sigma: float = 0.5

    @classmethod
    def from_values(cls, values: Mapping[str, object]) -> 'DepthOutputSettings':
        """Return the settings named in a parameter-values mapping."""
        return cls(**{field.name: values[field.name] for field in fields(cls)})


def organized_cloud(depth: np.ndarray, camera: CameraModel, stride: int,
                    bgr: np.ndarray | None = None) -> CloudFields:
    """Return the organized cloud of every ``stride``-th pixel of a depth image (optical frame).

    ``bgr`` (H, W, 3), when given, colours the points.
    """
    stride = int(stride)
    points = depth_to_points(depth, camera.pixel_rays(stride), stride)
    colors = None if bgr is None else np.ascontiguousarray(bgr[::stride, ::stride])
    return pack_organized_cloud(points, colors)


def costmap_cloud(depth: np.ndarray, camera: CameraModel, settings: 'DepthOutputSettings',
                  bgr: np.ndarray | None = None,
                  sigma: np.ndarray | None = None) -> CloudFields:
    """Return ``points/filtered``: the pixels of ``points``, gated and one per voxel.

    Every ``points_stride``-th pixel within ``max_range`` (m from the optical centre) and, where
    ``sigma`` (H, W) is known, ``max_sigma``, reduced to one point per ``voxel_size`` voxel (the
    centroid): an unorganized, dense cloud with the fields of ``points``.
    """
    stride = int(settings.points_stride)
    points = depth_to_points(depth, camera.pixel_rays(stride), stride)
    kept = filter_points(points, None if bgr is None else bgr[::stride, ::stride],
                         None if sigma is None else sigma[::stride, ::stride],
                         voxel_size=settings.voxel_size, max_range=settings.max_range,
                         max_sigma=settings.max_sigma)
    return pack_unorganized_cloud(kept.points, kept.colors_bgr)


class DepthOutputs:
    """One camera stream's depth outputs; keeps the display range of relative depth/colored."""

    def __init__(self) -> None:
        self._relative_range = RangeTracker()

    def fields(self, result: DepthResult, camera: CameraModel, rgb: np.ndarray,
               settings: DepthOutputSettings,
               wanted: Collection[str]) -> dict[str, OutputFields]:
        """Return the fields of the ``wanted`` depth topics this result and settings give.

        ``depth/relative`` comes from a relative model; ``depth/image``, ``depth/camera_info``,
        ``points`` and ``points/filtered`` once there is metric depth (with ``edge_filter``, its
        flying pixels NaN first); ``depth/sigma`` with a fused scale (the 1-sigma of each pixel
        of depth/image, which also gates points/filtered's ``max_sigma``); ``depth/colored``
        from either (relative depth in a steady range that follows the scene).
        """
        messages: dict[str, OutputFields] = {}
        if result.relative is not None and 'depth/relative' in wanted:
            messages['depth/relative'] = numpy_to_image(result.relative, '32FC1')
        if result.depth is not None:
            depth = result.depth
            if settings.edge_filter and not EDGE_FILTERED_TOPICS.isdisjoint(wanted):
                depth, _ = remove_flying_pixels(depth)
            sigma = None
            if result.metric_scale is not None and {'depth/sigma', 'points/filtered'} & set(
                    wanted):
                sigma = result.metric_scale.sigma(result.prediction, depth)
            if 'depth/image' in wanted:
                messages['depth/image'] = numpy_to_image(depth, '32FC1')
            if 'depth/sigma' in wanted and sigma is not None:
                messages['depth/sigma'] = numpy_to_image(sigma, '32FC1')
            if 'depth/camera_info' in wanted:
                messages['depth/camera_info'] = camera.to_camera_info_fields()
            if settings.publish_points and 'points' in wanted:
                bgr = rgb[:, :, ::-1] if settings.points_color else None
                messages['points'] = organized_cloud(depth, camera,
                                                     settings.points_stride, bgr)
            if settings.publish_points and 'points/filtered' in wanted:
                bgr = rgb[:, :, ::-1] if settings.points_color else None
                # depth/sigma (None until a scale source or model gives one) gates max_sigma.
                messages['points/filtered'] = costmap_cloud(depth, camera, settings, bgr, sigma)
        if settings.publish_colored and 'depth/colored' in wanted:
            messages['depth/colored'] = numpy_to_image(self._colored(result, settings), 'bgr8')
        return messages

    def _colored(self, result: DepthResult, settings: DepthOutputSettings) -> np.ndarray:
        if result.depth is not None:
            return colorize_depth(result.depth, settings.min_depth, settings.max_depth,
                                  settings.colormap)
        low, high = self._relative_range.update(result.prediction) or (0.0, 1.0)
        return colorize_depth(result.prediction, low, high, settings.colormap, inverse=True)


def triangulation_publishes(result: TriangulationResult) -> bool:
    """Return whether a triangulated frame has outputs: it had a pose, or the tracks restarted."""
    return result.ok or result.status.startswith('reset')


def triangulation_fields(result: TriangulationResult, rgb: np.ndarray,
                         wanted: Collection[str]) -> dict[str, OutputFields]:
    """Return the fields of the ``wanted`` triangulation topics (none for a frame without pose).

    ``triangulation/depth`` is the sparse depth image, ``triangulation/sigma`` the 1-sigma (m)
    of each of its depths (NaN elsewhere), ``triangulation/points`` the points in the optical
    frame with their ``sigma`` field, ``triangulation/tracks`` the image with the tracks drawn.
    """
    if not triangulation_publishes(result):
        return {}
    messages: dict[str, OutputFields] = {}
    height, width = rgb.shape[:2]
    if 'triangulation/depth' in wanted:
        messages['triangulation/depth'] = numpy_to_image(
            sparse_depth_image(result, width, height), '32FC1')
    if 'triangulation/sigma' in wanted:
        messages['triangulation/sigma'] = numpy_to_image(
            sparse_sigma_image(result, width, height), '32FC1')
    if 'triangulation/points' in wanted:
        messages['triangulation/points'] = pack_unorganized_cloud(
            result.points_camera, extra_field=('sigma', result.sigmas))
    if 'triangulation/tracks' in wanted:
        messages['triangulation/tracks'] = numpy_to_image(
            draw_tracks(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), result), 'bgr8')
    return messages
