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
import sys
import time
from typing import Callable, Collection, Mapping, TYPE_CHECKING

import cv2
import numpy as np

from mono_depth_ros.core.camera_model import CameraModel
from mono_depth_ros.core.cloud_filter import filter_points
from mono_depth_ros.core.colorize import colorize_depth, RangeTracker
from mono_depth_ros.core.depth_edges import remove_flying_pixels
from mono_depth_ros.core.image_codec import ImageFields, numpy_to_image
from mono_depth_ros.core.pointcloud import (cloud_bytes, CloudFields, depth_to_organized_cloud,
                                            depth_to_points, organized_cloud_fields,
                                            pack_unorganized_cloud, ray_planes)
from mono_depth_ros.core.triangulation.dense import DenseKeyframeDepth
from mono_depth_ros.core.triangulation.pipeline import (draw_tracks, sparse_depth_image,
                                                        sparse_sigma_image, TriangulationResult)
from mono_depth_ros.pipeline.depth_pipeline import DepthResult

if TYPE_CHECKING:  # torch is imported only with a device stage
    from mono_depth_ros.inference.device_outputs import DeviceOutputs, DeviceOutputStage

DEPTH_TOPICS = ('depth/image', 'depth/camera_info', 'depth/relative', 'depth/colored', 'points',
                'points/filtered', 'depth/sigma')
# The topics made from metric depth after its flying pixels are removed (edge_filter).
EDGE_FILTERED_TOPICS = frozenset({'depth/image', 'points', 'points/filtered', 'depth/sigma'})
TRIANGULATION_TOPICS = ('triangulation/depth', 'triangulation/sigma', 'triangulation/points',
                        'triangulation/tracks')
# With dense_depth: a keyframe's dense depth (its stamp), and the latest one seen from each frame.
DENSE_TOPICS = ('triangulation/dense/depth', 'triangulation/dense/sigma',
                'triangulation/dense/points')
DENSE_REPROJECTED_TOPIC = 'triangulation/dense/reprojected'

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


def image_fields_view(array: np.ndarray, encoding: str) -> ImageFields:
    """Return ``numpy_to_image(array, encoding)`` with ``data`` a view of ``array``, not a copy.

    For a C-contiguous little-endian array the bytes are the same; anything else goes through
    ``numpy_to_image``. The caller must not change ``array`` while the fields are in use.
    """
    array = np.asarray(array)
    if not (array.flags.c_contiguous and array.dtype.byteorder in ('=', '<', '|')
            and sys.byteorder == 'little'):
        return numpy_to_image(array, encoding)
    checked = numpy_to_image(array[:1], encoding)  # validates the encoding, dtype and shape
    return ImageFields(height=array.shape[0], width=checked.width, encoding=encoding,
                       is_bigendian=0, step=checked.step,
                       data=memoryview(array.reshape(-1).view(np.uint8)))


def organized_cloud(depth: np.ndarray, camera: CameraModel, stride: int,
                    bgr: np.ndarray | None = None, *, rgb: np.ndarray | None = None,
                    planes: tuple[np.ndarray, ...] | None = None,
                    payload=None) -> CloudFields:
    """Return the organized cloud of every ``stride``-th pixel of a depth image (optical frame).

    ``rgb`` (or ``bgr``) (H, W, 3), when given, colours the points; ``planes`` are the
    camera's ``ray_planes`` at this stride, when the caller keeps them; ``payload`` a buffer
    of the cloud's size to write it into (``depth_to_organized_cloud``).
    """
    stride = int(stride)
    if rgb is None and bgr is not None:
        rgb = np.asarray(bgr)[:, :, ::-1]
    return depth_to_organized_cloud(depth, camera.pixel_rays(stride), stride, rgb, planes,
                                    payload)


# (topic, bytes) -> a writable buffer of that many bytes, kept by the caller (a message payload).
PayloadBuffers = Callable[[str, int], object]
# (topic, fields): called with each output as soon as it is complete (to publish it at once).
ReadyOutput = Callable[[str, 'OutputFields'], None]


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
    """One camera stream's depth outputs; keeps the display range of relative depth/colored.

    Also keeps the split ray planes of the last camera and stride, so a steady stream splits
    them once. With ``payloads`` (the node's kept message payloads) the cloud is written
    straight into the buffer it returns for ``points``, valid until the next frame: only for
    callers that turn the fields into messages before the next ``fields`` call.
    """

    def __init__(self, payloads: PayloadBuffers | None = None,
                 device_stage: 'DeviceOutputStage | None' = None) -> None:
        self._payloads = payloads
        # With a device stage the edge filter, the organized cloud and the colorized view of
        # metric depth are made on its (GPU) device (inference.device_outputs).
        self.device_stage = device_stage
        self._relative_range = RangeTracker()
        self._rays: np.ndarray | None = None
        self._ray_planes: tuple[np.ndarray, ...] = ()

    def _planes(self, camera: CameraModel, stride: int) -> tuple[np.ndarray, ...]:
        rays = camera.pixel_rays(stride)  # cached by CameraModel: the same array while it holds
        if rays is not self._rays:
            self._rays, self._ray_planes = rays, ray_planes(rays)
        return self._ray_planes

    def fields(self, result: DepthResult, camera: CameraModel, rgb: np.ndarray,
               settings: DepthOutputSettings, wanted: Collection[str],
               timings_ms: dict[str, float] | None = None,
               ready: ReadyOutput | None = None) -> dict[str, OutputFields]:
        """Return the fields of the ``wanted`` depth topics this result and settings give.

        ``depth/relative`` comes from a relative model; ``depth/image``, ``depth/camera_info``,
        ``points`` and ``points/filtered`` once there is metric depth (with ``edge_filter``, its
        flying pixels NaN first); ``depth/sigma`` with a fused scale (the 1-sigma of each pixel
        of depth/image, which also gates points/filtered's ``max_sigma``); ``depth/colored``
        from either (relative depth in a steady range that follows the scene). ``timings_ms``,
        when given, gets the milliseconds of the ``depth_image``, ``cloud`` and ``colorize``
        stages. ``ready(topic, fields)``, when given, gets the depth images and camera_info
        before the clouds are made and the clouds before the colorized view, so a node's
        publishing (and the subscribers' receiving) of one output overlaps making the next;
        its own time is not in the stage times.
        """
        messages: dict[str, OutputFields] = {}
        handed = 0

        def hand_over() -> float:
            """Give ``ready`` the outputs made since the last call; return the time it took."""
            nonlocal handed
            if ready is None:
                return 0.0
            started = time.perf_counter()
            for topic in list(messages)[handed:]:
                ready(topic, messages[topic])
            handed = len(messages)
            return time.perf_counter() - started

        start = time.perf_counter()
        if result.relative is not None and 'depth/relative' in wanted:
            messages['depth/relative'] = image_fields_view(result.relative, '32FC1')
        sigma = None
        on_device = None
        if result.depth is not None:
            depth = result.depth
            filter_edges = settings.edge_filter and not EDGE_FILTERED_TOPICS.isdisjoint(wanted)
            if self.device_stage is not None:
                on_device = self._on_device(result.depth, camera, rgb, settings, wanted,
                                            filter_edges)
                depth = on_device.depth
            elif filter_edges:
                depth, _ = remove_flying_pixels(depth)
            if result.metric_scale is not None and {'depth/sigma', 'points/filtered'} & set(
                    wanted):
                sigma = result.metric_scale.sigma(result.prediction, depth)
            if 'depth/image' in wanted:
                messages['depth/image'] = image_fields_view(depth, '32FC1')
            if 'depth/sigma' in wanted and sigma is not None:
                messages['depth/sigma'] = image_fields_view(sigma, '32FC1')
            if 'depth/camera_info' in wanted:
                messages['depth/camera_info'] = camera.to_camera_info_fields()
        images = time.perf_counter()
        images_ready = images + hand_over()
        if result.depth is not None and settings.publish_points and 'points' in wanted:
            stride = int(settings.points_stride)
            height, width = depth.shape[:2]
            rows, cols = -(-height // stride), -(-width // stride)
            payload = None
            if self._payloads is not None:
                payload = self._payloads('points', cloud_bytes(rows, cols,
                                                               settings.points_color))
            if on_device is not None and on_device.cloud is not None:
                messages['points'] = _device_cloud(on_device.cloud, rows, cols,
                                                   settings.points_color, payload)
            else:
                messages['points'] = organized_cloud(
                    depth, camera, stride, rgb=rgb if settings.points_color else None,
                    planes=self._planes(camera, stride), payload=payload)
        if result.depth is not None and settings.publish_points and 'points/filtered' in wanted:
            bgr = rgb[:, :, ::-1] if settings.points_color else None
            # depth/sigma (None until a scale source or model gives one) gates max_sigma.
            messages['points/filtered'] = costmap_cloud(depth, camera, settings, bgr, sigma)
        cloud = time.perf_counter()
        cloud_ready = cloud + hand_over()
        if settings.publish_colored and 'depth/colored' in wanted:
            colored = (on_device.colored if on_device is not None
                       and on_device.colored is not None else self._colored(result, settings))
            messages['depth/colored'] = image_fields_view(colored, 'bgr8')
        colored = time.perf_counter()
        hand_over()
        if timings_ms is not None:
            timings_ms.update({'depth_image': 1e3 * (images - start),
                               'cloud': 1e3 * (cloud - images_ready),
                               'colorize': 1e3 * (colored - cloud_ready)})
        return messages

    def _on_device(self, depth: np.ndarray, camera: CameraModel, rgb: np.ndarray,
                   settings: DepthOutputSettings, wanted: Collection[str],
                   filter_edges: bool) -> 'DeviceOutputs':
        """Run the device stage for this frame's wanted edge filter, cloud and colorized view."""
        from mono_depth_ros.inference.device_outputs import CloudRequest, ColorRequest

        stride = int(settings.points_stride)
        cloud = (CloudRequest(stride, camera.pixel_rays(stride), bool(settings.points_color))
                 if settings.publish_points and 'points' in wanted else None)
        colored = (ColorRequest(settings.min_depth, settings.max_depth, settings.colormap)
                   if settings.publish_colored and 'depth/colored' in wanted else None)
        return self.device_stage.run(depth, rgb if cloud and cloud.colour else None,
                                     edge_filter=filter_edges, cloud=cloud, colored=colored)

    def _colored(self, result: DepthResult, settings: DepthOutputSettings) -> np.ndarray:
        if result.depth is not None:
            return colorize_depth(result.depth, settings.min_depth, settings.max_depth,
                                  settings.colormap)
        low, high = self._relative_range.update(result.prediction) or (0.0, 1.0)
        return colorize_depth(result.prediction, low, high, settings.colormap, inverse=True)


def _device_cloud(data: np.ndarray, rows: int, cols: int, colored: bool,
                  payload=None) -> CloudFields:
    """Return the fields of a device stage's cloud bytes (copied into ``payload`` when given)."""
    if payload is not None and len(memoryview(payload).cast('B')) == data.size:
        np.copyto(np.frombuffer(payload, dtype=np.uint8), data)
        return organized_cloud_fields(rows, cols, colored, memoryview(payload).cast('B'))
    return organized_cloud_fields(rows, cols, colored, memoryview(data))


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


def dense_fields(dense: DenseKeyframeDepth, wanted: Collection[str]) -> dict[str, OutputFields]:
    """Return the fields of the ``wanted`` dense topics of a keyframe (none if it has no depth).

    ``triangulation/dense/depth`` and ``triangulation/dense/sigma`` are 32FC1 at the image
    size (NaN unknown), ``triangulation/dense/points`` the keyframe's dense points in its
    optical frame (unorganized, x, y, z and the depth's 1-sigma ``sigma``).
    """
    if not dense.ok:
        return {}
    messages: dict[str, OutputFields] = {}
    if {'triangulation/dense/depth', 'triangulation/dense/sigma'} & set(wanted):
        depth, sigma = dense.at_image_size()
        if 'triangulation/dense/depth' in wanted:
            messages['triangulation/dense/depth'] = numpy_to_image(depth, '32FC1')
        if 'triangulation/dense/sigma' in wanted:
            messages['triangulation/dense/sigma'] = numpy_to_image(sigma, '32FC1')
    if 'triangulation/dense/points' in wanted:
        sigma = dense.dense.sigma[np.isfinite(dense.dense.depth)].astype(np.float32)
        messages['triangulation/dense/points'] = pack_unorganized_cloud(
            dense.points(), extra_field=('sigma', sigma))
    return messages
