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

"""Clouds for costmaps: range and sigma gating, then one point per voxel (numpy only).

``filter_points`` takes any points (an organized (h, w, 3) grid or an (N, 3) list) with optional
colours and sigmas, and returns arrays: the points within ``max_range`` of the sensor origin
(Euclidean, as Nav2's obstacle and raytrace ranges), whose sigma, where it is known (finite), is
at most ``max_sigma``, reduced to the centroid of each occupied ``voxel_size`` cube. A voxel's
colour is that of its first point (in input order: a real colour, not a blend), its sigma the
mean of its points' known sigmas (not divided by sqrt(n): the errors of neighbouring pixels are
correlated). Voxels are found by packing the three integer cell indices and the point index
into one int64 and sorting that, so the cost is one numpy sort of N values. The same function
serves any cloud: depth_node's ``points/filtered`` and, later, triangulation's dense output.
"""

from dataclasses import dataclass
import math

import numpy as np

from mono_depth_ros.core.errors import BadMessageError

# Bits kept for the point index beside the voxel key in one sortable int64.
_INDEX_BITS = 24
_MAX_POINTS = 1 << _INDEX_BITS
# Points farther than this (m) are dropped whatever max_range says: no camera sees them, and
# their voxel indices would overflow.
FARTHEST_POINT = 1e5


@dataclass
class FilteredPoints:
    """One point per occupied voxel: (M, 3) float32 centroids, and their colours and sigmas."""

    points: np.ndarray
    colors_bgr: np.ndarray | None = None  # (M, 3) uint8, the colour of the voxel's first point
    sigma: np.ndarray | None = None  # (M,) float32, the mean sigma (NaN where none was known)
    # Points in, and those left after the range and sigma gates (before voxels).
    input_points: int = 0
    gated_points: int = 0

    def __len__(self) -> int:
        return len(self.points)


def filter_points(points: np.ndarray, colors_bgr: np.ndarray | None = None,
                  sigma: np.ndarray | None = None, *, voxel_size: float = 0.05,
                  max_range: float = math.inf, max_sigma: float = math.inf) -> FilteredPoints:
    """Return the points within ``max_range`` and ``max_sigma``, one per ``voxel_size`` voxel.

    ``points`` is (..., 3) in metres (NaN or infinite points are dropped); ``colors_bgr``
    (..., 3) uint8 and ``sigma`` (...) match it. ``voxel_size`` 0 keeps every gated point.
    """
    flat = _checked(points, 'points', (-1, 3))
    count = len(flat)
    colors = None if colors_bgr is None else _checked_colors(colors_bgr, np.shape(points))
    sigmas = None if sigma is None else _checked(sigma, 'sigma', (count,))
    if not (voxel_size >= 0 and math.isfinite(voxel_size)):
        raise BadMessageError('voxel_size', voxel_size, 'a finite number >= 0 (m)')
    if not max_range > 0 or not max_sigma >= 0:
        raise BadMessageError('max_range, max_sigma', (max_range, max_sigma),
                              'max_range > 0 and max_sigma >= 0')

    # Rows x, y, z: every step below reads contiguous rows rather than a strided column.
    xyz = np.ascontiguousarray(flat.T, dtype=np.float32)
    with np.errstate(over='ignore', invalid='ignore'):  # huge or infinite points: dropped below
        squared_range = np.square(xyz[0])
        squared_range += np.square(xyz[1])
        squared_range += np.square(xyz[2])
    # NaN and infinity fail the comparison, so non-finite points drop out here.
    limit = min(float(max_range), FARTHEST_POINT)
    keep = squared_range <= np.float32(limit * limit)
    if sigmas is not None:
        sigmas = sigmas.astype(np.float32, copy=False)
        keep &= ~(sigmas > max_sigma)  # unknown (NaN) sigma keeps the point
    kept = np.flatnonzero(keep)
    if voxel_size > 0 and len(kept):
        # float32 holds whole numbers exactly up to 2**24: beyond, index the voxels in float64.
        exact = np.float32 if limit / voxel_size < 2 ** 23 else np.float64
        return _voxel_centroids(xyz, colors, sigmas, kept, voxel_size, count, exact)
    return FilteredPoints(np.ascontiguousarray(np.take(xyz, kept, axis=1).T),
                          None if colors is None else _gather(colors, kept),
                          None if sigmas is None else np.take(sigmas, kept), count, len(kept))


def _voxel_centroids(xyz: np.ndarray, colors: np.ndarray | None, sigmas: np.ndarray | None,
                     kept: np.ndarray, voxel_size: float, count: int,
                     index_type: type = np.float32) -> FilteredPoints:
    """Reduce the ``kept`` columns of (3, N) finite points to the centroid of each voxel."""
    gated = len(kept)
    scaled = np.take(xyz, kept, axis=1).astype(index_type, copy=False)
    scaled /= index_type(voxel_size)
    np.floor(scaled, out=scaled)
    low = scaled.min(axis=1)
    sizes = [int(size) for size in scaled.max(axis=1) - low + 1]
    scaled -= low[:, None]
    cells = scaled.astype(np.int64)
    key = cells[2] * sizes[1]
    key += cells[1]
    key *= sizes[0]
    key += cells[0]
    if (sizes[0] * sizes[1] * sizes[2] - 1).bit_length() + _INDEX_BITS <= 63 and (
            gated <= _MAX_POINTS):
        # Sorting (key << index bits | index) sorts by voxel and gives the order for free;
        # a plain sort is about twice as fast as an argsort.
        key <<= _INDEX_BITS
        key |= np.arange(gated, dtype=np.int64)
        key.sort()
        order = key & (_MAX_POINTS - 1)
        key >>= _INDEX_BITS
        changes = key[1:] != key[:-1]
    else:  # a huge extent at a tiny voxel size: slower, still exact
        order = np.lexsort(cells[::-1])
        sorted_cells = np.take(cells, order, axis=1)
        changes = (sorted_cells[:, 1:] != sorted_cells[:, :-1]).any(axis=0)
    voxel = np.zeros(gated, dtype=np.intp)
    np.cumsum(changes, out=voxel[1:])
    voxels = int(voxel[-1]) + 1
    source = kept[order]
    members = np.bincount(voxel, minlength=voxels)

    def means(rows: np.ndarray, weights: np.ndarray = members) -> list[np.ndarray]:
        return [np.bincount(voxel, weights=row, minlength=voxels) / weights
                for row in np.take(rows, source, axis=-1).reshape(-1, gated)]

    centroids = np.empty((voxels, 3), dtype=np.float32)
    for axis, mean in enumerate(means(xyz)):
        centroids[:, axis] = mean
    # A voxel's colour is its first point's (in input order): a real colour, at one gather.
    first_colors = None
    if colors is not None:
        firsts = np.flatnonzero(changes) + 1
        first_colors = _gather(colors, np.take(source, np.r_[0, firsts]))
    mean_sigma = None
    if sigmas is not None:
        known = np.isfinite(sigmas)
        with np.errstate(invalid='ignore', divide='ignore'):
            known_members = np.bincount(voxel, weights=np.take(known, source),
                                        minlength=voxels)
            mean_sigma = means(np.where(known, sigmas, 0), known_members)[0].astype(np.float32)
    return FilteredPoints(centroids, first_colors, mean_sigma, count, gated)


def _checked_colors(colors: np.ndarray, points_shape: tuple[int, ...]) -> np.ndarray:
    """Return the colours unchanged (a strided view stays a view: only the kept are copied)."""
    colors = np.asarray(colors)
    if colors.shape != tuple(points_shape):
        raise BadMessageError('colors_bgr.shape', colors.shape, f'{tuple(points_shape)} (BGR)')
    if colors.dtype != np.uint8:
        raise BadMessageError('colors_bgr.dtype', str(colors.dtype), 'uint8')
    return colors


def _gather(colors: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """Return the (M, 3) colours of the points at flat ``indices`` of (..., 3) ``colors``."""
    if colors.ndim == 2:
        return np.take(colors, indices, axis=0)
    return colors[np.unravel_index(indices, colors.shape[:-1])]


def _checked(values: np.ndarray, name: str, shape: tuple[int, ...]) -> np.ndarray:
    values = np.asarray(values)
    if shape[0] == -1:
        if values.ndim < 2 or values.shape[-1] != 3:
            raise BadMessageError(f'{name}.shape', values.shape, '(N, 3) or (h, w, 3)')
        return values.reshape(-1, 3)
    flat = values.reshape(-1, *shape[1:]) if values.size == math.prod(shape) else None
    if flat is None or flat.shape != shape:
        raise BadMessageError(f'{name}.shape', values.shape, f'{shape[0]} values as the points')
    return flat
