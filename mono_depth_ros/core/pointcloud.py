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

"""Depth images to sensor_msgs/PointCloud2 fields and back, vectorised (OpenCV/numpy only).

Conventions follow depth_image_proc: points are in the image's optical frame (z forward), the
principal point and lens model come from the calibration (through the rays), missing points are
NaN, organized clouds keep the image grid and set ``is_dense`` false, and colour is one float32
field ``rgb`` holding the bits of the uint32 ``(r << 16) | (g << 8) | b``. One layout choice
differs: ``rgb`` follows ``z`` directly (offset 12, ``point_step`` 16) instead of
depth_image_proc's offset 16 / ``point_step`` 32; readers find fields by offset, so this only
makes clouds smaller. An unorganized cloud may carry one extra float32 value per point (such
as the triangulation's ``sigma``) right after ``z``; ``rgb`` then follows it.
"""

from dataclasses import dataclass
import sys
import threading

import cv2
import numpy as np

from mono_depth_ros.core.errors import BadMessageError

# sensor_msgs/PointField datatype constants.
INT8 = 1
UINT8 = 2
INT16 = 3
UINT16 = 4
INT32 = 5
UINT32 = 6
FLOAT32 = 7
FLOAT64 = 8

_NUMPY_TYPES = {INT8: 'i1', UINT8: 'u1', INT16: 'i2', UINT16: 'u2',
                INT32: 'i4', UINT32: 'u4', FLOAT32: 'f4', FLOAT64: 'f8'}
# Clears the alpha byte of little-endian BGRA pixels viewed as uint32, whatever the host order.
_RGB_MASK = np.frombuffer(b'\xff\xff\xff\x00', dtype=np.uint32)[0]
_THREAD_SCRATCH = threading.local()


@dataclass
class PointFieldSpec:
    """One sensor_msgs/PointField: a named value at a byte offset of every point."""

    name: str
    offset: int
    datatype: int
    count: int = 1


@dataclass
class CloudFields:
    """The fields the ROS layer copies into a sensor_msgs/PointCloud2 (header aside).

    ``data`` is bytes-like (``bytes`` or a C-contiguous byte ``memoryview``); pass it to
    ``array.array('B').frombytes``. A memoryview may share memory with the points it was built
    from, so copy it before changing those points.
    """

    height: int
    width: int
    fields: list[PointFieldSpec]
    is_bigendian: bool
    point_step: int
    row_step: int
    data: bytes | memoryview
    is_dense: bool


XYZ_FIELDS = (PointFieldSpec('x', 0, FLOAT32, 1), PointFieldSpec('y', 4, FLOAT32, 1),
              PointFieldSpec('z', 8, FLOAT32, 1))
RGB_FIELD = PointFieldSpec('rgb', 12, FLOAT32, 1)


def _checked_depth_and_rays(depth_m: np.ndarray, rays: np.ndarray,
                            stride: int) -> tuple[np.ndarray, np.ndarray]:
    """Return (depth, rays) as arrays after checking their shapes against ``stride``."""
    depth_m = np.asarray(depth_m)
    if depth_m.ndim != 2:
        raise BadMessageError('depth.shape', depth_m.shape, '(H, W)')
    if isinstance(stride, bool) or not isinstance(stride, (int, np.integer)) or stride < 1:
        raise BadMessageError('stride', stride, 'an integer >= 1')
    height, width = depth_m.shape
    rows, cols = -(-height // stride), -(-width // stride)
    rays = np.asarray(rays)
    if rays.shape != (rows, cols, 3):
        raise BadMessageError(
            'rays.shape', rays.shape,
            f'({rows}, {cols}, 3) for a {height}x{width} depth at stride {stride}')
    return depth_m, rays


def _sampled_depth(depth_m: np.ndarray, stride: int) -> np.ndarray:
    """Return every ``stride``-th depth as contiguous float32, NaN where not usable (<= 0, inf)."""
    depth = np.ascontiguousarray(depth_m[::stride, ::stride], dtype=np.float32)
    unusable = depth <= 0
    unusable |= depth == np.inf
    if unusable.any():
        depth = np.where(unusable, np.float32(np.nan), depth)
    return depth


def depth_to_points(depth_m: np.ndarray, rays: np.ndarray, stride: int = 1) -> np.ndarray:
    """Return (ceil(H/stride), ceil(W/stride), 3) float32 optical-frame points of a depth image.

    ``depth_m`` is (H, W) z-depth in metres; ``rays`` is ``CameraModel.pixel_rays(stride)``:
    rays (x, y, 1) through the sampled pixels. A point is ``depth * ray``; it is NaN where the
    depth is NaN, infinite or not positive.
    """
    depth_m, rays = _checked_depth_and_rays(depth_m, rays, stride)
    rows, cols = rays.shape[:2]
    if rows == 0 or cols == 0:
        return np.empty((rows, cols, 3), dtype=np.float32)
    depth = _sampled_depth(depth_m, stride)
    rays = np.ascontiguousarray(rays, dtype=np.float32)
    # OpenCV's SIMD kernels do this ~4x faster than numpy broadcasting over the channel axis;
    # multiplying in place keeps to one large allocation.
    points = cv2.cvtColor(depth, cv2.COLOR_GRAY2BGR)
    return cv2.multiply(points, rays, dst=points)


def ray_planes(rays: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the x, y and z planes of (h, w, 3) rays as contiguous float32 (h, w) arrays."""
    return tuple(cv2.split(np.ascontiguousarray(rays, dtype=np.float32)))


def depth_to_organized_cloud(depth_m: np.ndarray, rays: np.ndarray, stride: int = 1,
                             colors_rgb: np.ndarray | None = None,
                             planes: tuple[np.ndarray, ...] | None = None,
                             payload=None) -> CloudFields:
    """Return the organized cloud of every ``stride``-th pixel of a depth image, in one pass.

    The same bytes as ``pack_organized_cloud(depth_to_points(depth_m, rays, stride), bgr)``
    with ``bgr`` the sampled colours: each coordinate plane is multiplied on its own and the
    planes (and the colour bits) are interleaved once into the cloud's buffer. ``colors_rgb``
    is the full-size (H, W, 3) uint8 RGB image; ``planes`` is ``ray_planes(rays)``, kept by
    callers that see the same camera every frame. ``payload`` (a writable buffer of exactly
    the cloud's bytes, such as a message's kept ``array.array('B')``) receives the cloud, and
    ``data`` is then a memoryview of it: no other buffer is made.
    """
    depth_m, rays = _checked_depth_and_rays(depth_m, rays, stride)
    rows, cols = rays.shape[:2]
    colors = None
    if colors_rgb is not None:
        colors = _checked_colors(np.asarray(colors_rgb)[::stride, ::stride], (rows, cols))
    if rows == 0 or cols == 0:
        return pack_organized_cloud(np.empty((rows, cols, 3), dtype=np.float32),
                                    None if colors is None else colors[:, :, ::-1])
    if sys.byteorder != 'little':
        raise NotImplementedError('packing point clouds needs a little-endian host')
    depth = _sampled_depth(depth_m, stride)
    channels = [cv2.multiply(depth, plane) for plane in (planes or ray_planes(rays))]
    if colors is not None:
        # The alpha-cleared BGRA bytes: uint32 (r<<16)|(g<<8)|b in little-endian order.
        bgra = cv2.cvtColor(colors, cv2.COLOR_RGB2BGRA, dst=_scratch_bgra(rows, cols))
        bgra.view(np.uint32)[...] &= _RGB_MASK
        channels.append(bgra.view(np.float32).reshape(rows, cols))
    data = _merged(channels, payload, (rows, cols, len(channels)))
    return organized_cloud_fields(rows, cols, colors is not None, data)


def organized_cloud_fields(rows: int, cols: int, colored: bool, data) -> CloudFields:
    """Return the fields of an organized x, y, z (and rgb) cloud whose bytes are ``data``."""
    fields = [*XYZ_FIELDS, RGB_FIELD] if colored else list(XYZ_FIELDS)
    point_step = 4 * len(fields)
    return CloudFields(height=rows, width=cols, fields=fields, is_bigendian=False,
                       point_step=point_step, row_step=point_step * cols, data=data,
                       is_dense=False)


def cloud_bytes(height: int, width: int, colored: bool) -> int:
    """Return the bytes of an organized ``depth_to_organized_cloud`` of that size."""
    return height * width * (16 if colored else 12)


def _merged(channels: list[np.ndarray], payload, shape: tuple[int, int, int]) -> memoryview:
    """Interleave float32 planes into ``payload`` (when given and the right size) or anew."""
    if payload is not None:
        target = np.frombuffer(payload, dtype=np.float32)
        if target.size == shape[0] * shape[1] * shape[2]:
            target = target.reshape(shape)
            merged = cv2.merge(channels, dst=target)
            if merged.ctypes.data != target.ctypes.data:  # OpenCV chose not to write there
                np.copyto(target, merged)
            return memoryview(payload).cast('B')
    return memoryview(cv2.merge(channels).reshape(-1).view(np.uint8))


def pack_organized_cloud(points: np.ndarray, colors_bgr: np.ndarray | None = None) -> CloudFields:
    """Pack (h, w, 3) points, and optional (h, w, 3) BGR colours, as an organized cloud.

    Fields x, y, z float32 (``point_step`` 12), plus ``rgb`` at offset 12 (``point_step`` 16)
    with colours. ``is_dense`` is false: invalid points are kept as NaN to keep the grid.
    """
    points = _checked_points(points, 3, '(h, w, 3)')
    colors = None if colors_bgr is None else _checked_colors(colors_bgr, points.shape[:2])
    return _pack(points, colors, is_dense=False)


def pack_unorganized_cloud(points: np.ndarray, colors_bgr: np.ndarray | None = None,
                           drop_invalid: bool = True,
                           extra_field: tuple[str, np.ndarray] | None = None) -> CloudFields:
    """Pack (N, 3) points, and optional (N, 3) BGR colours, as a cloud of height 1.

    With ``drop_invalid`` the points with any non-finite coordinate are left out and the cloud
    is dense; otherwise ``is_dense`` says whether every point is finite. ``extra_field``
    (name, (N,) values) adds one float32 field per point at offset 12, after ``z`` (``rgb``
    then moves to offset 16); without it the layout is x, y, z (and ``rgb``) as before.
    """
    points = _checked_points(points, 2, '(N, 3)')
    colors = None if colors_bgr is None else _checked_colors(colors_bgr, points.shape[:1])
    extra = None if extra_field is None else _checked_extra(extra_field, len(points))
    finite = np.isfinite(points).all(axis=1)
    if drop_invalid and not finite.all():
        points = points[finite]
        colors = None if colors is None else colors[finite]
        extra = None if extra is None else (extra[0], extra[1][finite])
    is_dense = bool(drop_invalid or finite.all())
    if extra is not None:
        return _pack_with_extra(points, colors, extra, is_dense)
    colors = None if colors is None else colors[None]
    return _pack(points[None], colors, is_dense=is_dense)


def read_cloud(msg_or_fields) -> dict[str, np.ndarray]:
    """Return every field of a PointCloud2-like object as (height, width[, count]) arrays.

    Takes anything with the sensor_msgs/PointCloud2 field names (an rclpy or rosbags message,
    or ``CloudFields``); honours ``row_step`` padding, both byte orders and every PointField
    datatype. ``rgb`` / ``rgba`` are unpacked to (height, width, 3 / 4) uint8 RGB / RGBA.
    """
    msg = msg_or_fields
    height, width = _dimension(msg, 'height'), _dimension(msg, 'width')
    point_step, row_step = _dimension(msg, 'point_step'), _dimension(msg, 'row_step')
    order = '>' if msg.is_bigendian else '<'
    names, formats, offsets = [], [], []
    for index, field in enumerate(msg.fields):
        where = f'PointCloud2.fields[{index}]'
        if field.datatype not in _NUMPY_TYPES:
            raise BadMessageError(f'{where}.datatype', field.datatype,
                                  'a sensor_msgs/PointField type 1..8')
        if field.name in names:
            raise BadMessageError(f'{where}.name', field.name, 'a name used once')
        count = max(int(field.count), 1)
        item = np.dtype(order + _NUMPY_TYPES[field.datatype])
        if field.name in ('rgb', 'rgba'):
            item = np.dtype(order + 'u4')
        if field.offset < 0 or field.offset + item.itemsize * count > point_step:
            raise BadMessageError(f'{where}.offset', field.offset,
                                  f'a field that ends within point_step = {point_step}')
        names.append(field.name)
        formats.append(item if count == 1 else (item, (count,)))
        offsets.append(int(field.offset))
    layout = np.dtype({'names': names, 'formats': formats, 'offsets': offsets,
                       'itemsize': point_step})
    if height * width == 0:
        return _unpacked(np.zeros((height, width), dtype=layout))
    if row_step < width * point_step:
        raise BadMessageError('PointCloud2.row_step', row_step,
                              f'at least width * point_step = {width * point_step}')
    data = np.frombuffer(memoryview(msg.data).cast('B'), dtype=np.uint8)
    needed = row_step * (height - 1) + width * point_step
    if data.size < needed:
        raise BadMessageError('len(PointCloud2.data)', data.size,
                              f'at least {needed} for {height}x{width} points')
    return _unpacked(np.ndarray((height, width), dtype=layout, buffer=data,
                                strides=(row_step, point_step)))


def _unpacked(cloud: np.ndarray) -> dict[str, np.ndarray]:
    """Copy each field of a structured (height, width) array out in native byte order."""
    result = {}
    for name in cloud.dtype.names:
        values = cloud[name]
        if name in ('rgb', 'rgba'):
            packed = values.astype(np.uint32)
            shifts = (16, 8, 0) if name == 'rgb' else (16, 8, 0, 24)
            result[name] = np.stack([(packed >> s).astype(np.uint8) for s in shifts], axis=-1)
        else:
            result[name] = values.astype(values.dtype.newbyteorder('='))
    return result


def _pack(points: np.ndarray, colors: np.ndarray | None, is_dense: bool) -> CloudFields:
    """Lay out (h, w, 3) float32 points (+ (h, w, 3) uint8 BGR) as little-endian bytes."""
    if sys.byteorder != 'little':
        raise NotImplementedError('packing point clouds needs a little-endian host')
    height, width = points.shape[:2]
    fields = list(XYZ_FIELDS)
    if colors is None:
        buffer = points
    else:
        fields.append(RGB_FIELD)
        if height * width == 0:
            buffer = np.empty((height, width, 4), dtype=np.float32)
        else:
            # (x, y, z, 1.0) then the alpha-cleared BGRA bytes, i.e. uint32 (r<<16)|(g<<8)|b in
            # little-endian order, copied bit for bit into the fourth float.
            buffer = cv2.cvtColor(points, cv2.COLOR_BGR2BGRA)
            bgra = cv2.cvtColor(colors, cv2.COLOR_BGR2BGRA, dst=_scratch_bgra(height, width))
            bgra.view(np.uint32)[...] &= _RGB_MASK
            cv2.mixChannels([bgra.view(np.float32)], [buffer], [0, 3])
    point_step = 4 * buffer.shape[2]
    return CloudFields(height=height, width=width, fields=fields, is_bigendian=False,
                       point_step=point_step, row_step=point_step * width,
                       data=memoryview(buffer.reshape(-1).view(np.uint8)), is_dense=is_dense)


def _pack_with_extra(points: np.ndarray, colors: np.ndarray | None,
                     extra: tuple[str, np.ndarray], is_dense: bool) -> CloudFields:
    """Lay out (N, 3) points, one extra float32 per point (+ (N, 3) BGR) as a height-1 cloud."""
    if sys.byteorder != 'little':
        raise NotImplementedError('packing point clouds needs a little-endian host')
    name, values = extra
    fields = [*XYZ_FIELDS, PointFieldSpec(name, 12, FLOAT32, 1)]
    buffer = np.empty((len(points), 4 if colors is None else 5), dtype=np.float32)
    buffer[:, :3] = points
    buffer[:, 3] = values
    if colors is not None:
        fields.append(PointFieldSpec(RGB_FIELD.name, 16, FLOAT32, 1))
        blue, green, red = (colors[:, channel].astype(np.uint32) for channel in range(3))
        buffer.view(np.uint32)[:, 4] = (red << 16) | (green << 8) | blue
    point_step = 4 * buffer.shape[1]
    return CloudFields(height=1, width=len(points), fields=fields, is_bigendian=False,
                       point_step=point_step, row_step=point_step * len(points),
                       data=memoryview(buffer.reshape(-1).view(np.uint8)), is_dense=is_dense)


def _checked_extra(extra_field: tuple[str, np.ndarray], count: int) -> tuple[str, np.ndarray]:
    name, values = extra_field
    if not isinstance(name, str) or not name or name in ('x', 'y', 'z', 'rgb', 'rgba'):
        raise BadMessageError('extra_field name', name, 'a new field name')
    values = np.asarray(values)
    if values.shape != (count,):
        raise BadMessageError('extra_field values.shape', values.shape, f'({count},)')
    return name, values.astype(np.float32, copy=False)


def _scratch_bgra(height: int, width: int) -> np.ndarray:
    """Return this thread's reusable (height, width, 4) uint8 colour buffer.

    Reusing it keeps the temporaries of one cloud below glibc's heap trim threshold, which
    otherwise returns the memory to the kernel after every cloud and page-faults it back.
    """
    scratch = getattr(_THREAD_SCRATCH, 'bgra', None)
    if scratch is None or scratch.shape[:2] != (height, width):
        scratch = np.empty((height, width, 4), dtype=np.uint8)
        _THREAD_SCRATCH.bgra = scratch
    return scratch


def _checked_points(points: np.ndarray, ndim: int, expected: str) -> np.ndarray:
    points = np.asarray(points)
    if points.ndim != ndim or points.shape[-1] != 3:
        raise BadMessageError('points.shape', points.shape, expected)
    return np.ascontiguousarray(points, dtype=np.float32)


def _checked_colors(colors: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    colors = np.asarray(colors)
    if colors.shape != (*shape, 3):
        raise BadMessageError('colors_bgr.shape', colors.shape, f'{(*shape, 3)} (BGR)')
    if colors.dtype != np.uint8:
        raise BadMessageError('colors_bgr.dtype', str(colors.dtype), 'uint8')
    return np.ascontiguousarray(colors)


def _dimension(msg, name: str) -> int:
    value = getattr(msg, name)
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise BadMessageError(f'PointCloud2.{name}', value, 'a non-negative integer')
    return int(value)
