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

"""Temporal consistency of depth: one frame's depth warped into the next with a known pose.

The temporal alignment error (TAE) follows Video Depth Anything (Chen et al. 2025): the depth
of frame t is back-projected, moved by the relative camera pose into frame t+1 and projected
there (a z-buffer keeps the nearest surface where several pixels land on one), and the result
is scored with AbsRel against the depth of frame t+1; the same is done from t+1 back to t and
the two are averaged. A depth that is consistent with the camera's motion scores 0 whatever its
accuracy; flicker (a scale that changes from frame to frame) scores its relative change.
"""

from collections import deque
from dataclasses import dataclass
import math

import numpy as np

from mono_depth_ros.core.camera_model import CameraModel
from mono_depth_ros.core.transforms import invert_pose


@dataclass(frozen=True)
class PairError:
    """The alignment error of one ordered pair of frames: mean AbsRel and pixels scored."""

    absrel: float
    count: int


def warp_depth(depth: np.ndarray, camera: CameraModel, target_from_source: np.ndarray,
               stride: int = 1) -> np.ndarray:
    """Return ``depth`` seen from another pose: z-depth in the target frame, NaN where unseen.

    ``depth``: (H, W) z-depth in metres of the source view (NaN or <= 0 unknown), at the
    camera's image size. ``target_from_source``: the 4x4 pose of the source camera's optical
    frame in the target camera's optical frame (``inv(T_world_target) @ T_world_source``).
    Each source pixel lands on the nearest target pixel; the nearest surface wins. With
    ``stride`` s, only every s-th pixel each way is warped, onto the target's grid of every
    s-th pixel: the result is (ceil(H/s), ceil(W/s)), comparable with ``target[::s, ::s]``.
    """
    depth = np.asarray(depth, dtype=np.float32)
    height, width = depth.shape
    if tuple(camera.output_size) != (width, height):
        raise ValueError(f'depth of size {width}x{height} for a camera of '
                         f'{camera.output_size[0]}x{camera.output_size[1]}')
    return _warp_grid(depth[::stride, ::stride], camera, target_from_source, stride)


def _warp_grid(grid: np.ndarray, camera: CameraModel, target_from_source: np.ndarray,
               stride: int) -> np.ndarray:
    """Warp the depth at every ``stride``-th pixel (``depth[::stride, ::stride]``) likewise."""
    rows_out, columns_out = grid.shape
    values = np.asarray(grid, dtype=np.float32).reshape(-1)
    with np.errstate(invalid='ignore'):
        known = np.isfinite(values) & (values > 0)
    if not known.all():  # unknown pixels become NaN points, which land nowhere
        values = np.where(known, values, np.float32(np.nan))
    # Coordinate by coordinate on contiguous arrays: several times faster than (N, 3) rows.
    rays = camera.pixel_rays(stride)
    source = [np.ascontiguousarray(rays[..., axis]).reshape(-1) * values for axis in range(3)]
    transform = np.asarray(target_from_source, dtype=np.float32)
    x, y, z = (transform[axis, 0] * source[0] + transform[axis, 1] * source[1]
               + transform[axis, 2] * source[2] + transform[axis, 3] for axis in range(3))
    with np.errstate(divide='ignore', invalid='ignore'):
        if camera.is_distorted:
            pixels = camera.project(np.stack([x, y, z], axis=-1))
            u, v = pixels[:, 0], pixels[:, 1]
        else:
            u = x / z * np.float32(camera.fx) + np.float32(camera.cx)
            v = y / z * np.float32(camera.fy) + np.float32(camera.cy)
        columns = np.rint(u / stride)
        rows = np.rint(v / stride)
        inside = ((z > 0) & (columns >= 0) & (columns < columns_out) & (rows >= 0)
                  & (rows < rows_out))
    flat = rows[inside].astype(np.int64) * columns_out + columns[inside].astype(np.int64)
    warped = np.full(rows_out * columns_out, np.inf, np.float32)
    np.minimum.at(warped, flat, z[inside])
    warped[np.isinf(warped)] = np.nan
    return warped.reshape(rows_out, columns_out)


def pair_alignment_error(depth_source: np.ndarray, depth_target: np.ndarray,
                         camera: CameraModel, target_from_source: np.ndarray,
                         valid_target: np.ndarray | None = None) -> PairError:
    """Return the AbsRel of ``depth_source`` warped into the target view against ``depth_target``.

    Scored where both are finite and positive (and ``valid_target``, e.g. where the target's
    ground truth is known). ``count`` 0 and NaN when no pixel overlaps.
    """
    warped = warp_depth(depth_source, camera, target_from_source)
    return _scored_error(warped, depth_target, valid_target)


def _scored_error(warped: np.ndarray, depth_target: np.ndarray,
                  valid_target: np.ndarray | None = None) -> PairError:
    """Return the mean AbsRel of ``warped`` against ``depth_target`` where both are known."""
    warped = np.asarray(warped, dtype=np.float64)
    target = np.asarray(depth_target, dtype=np.float64)
    with np.errstate(invalid='ignore'):
        scored = np.isfinite(warped) & np.isfinite(target) & (target > 0)
    if valid_target is not None:
        scored &= np.asarray(valid_target, dtype=bool)
    count = int(scored.sum())
    if count == 0:
        return PairError(float('nan'), 0)
    return PairError(float(np.mean(np.abs(warped[scored] - target[scored]) / target[scored])),
                     count)


def temporal_alignment_error(depth_a: np.ndarray, depth_b: np.ndarray, camera: CameraModel,
                             world_from_a: np.ndarray, world_from_b: np.ndarray,
                             valid_a: np.ndarray | None = None,
                             valid_b: np.ndarray | None = None) -> PairError:
    """Return the TAE of two consecutive frames: the mean of both warp directions.

    ``world_from_a`` and ``world_from_b`` are the 4x4 poses of the two cameras' optical frames.
    ``count`` is the pixels scored over both directions; NaN when neither overlaps.
    """
    b_from_a = invert_pose(world_from_b) @ np.asarray(world_from_a, dtype=np.float64)
    forward = pair_alignment_error(depth_a, depth_b, camera, b_from_a, valid_b)
    backward = pair_alignment_error(depth_b, depth_a, camera, invert_pose(b_from_a), valid_a)
    scored = [error for error in (forward, backward) if error.count]
    if not scored:
        return PairError(float('nan'), 0)
    return PairError(float(np.mean([error.absrel for error in scored])),
                     sum(error.count for error in scored))


class OnlineFlicker:
    """The temporal alignment error of a depth stream as it runs: a node's flicker figure.

    Keeps the previous frame's depth (a copy of every ``stride``-th pixel each way) with its
    camera pose; each new frame is scored against it both ways, as
    :func:`temporal_alignment_error` does, on that coarse grid. ``value`` is the mean of the
    last ``window`` pairs. A frame without a pose is not scored and the next one starts over;
    a pair with another camera, a stamp that did not advance, an overlap under
    ``min_overlap`` of the grid or an error that is not finite is skipped. ``skipped`` counts
    these and ``last_skip`` says why; nothing here raises on bad numbers.
    """

    def __init__(self, window: int = 30, stride: int = 4, min_overlap: float = 0.2) -> None:
        self.stride = max(1, int(stride))
        self.min_overlap = float(min_overlap)
        self._errors: deque[float] = deque(maxlen=max(1, int(window)))
        self.pairs = 0
        self.skipped = 0
        self.last_skip = ''
        self._previous: tuple[int, np.ndarray, CameraModel, np.ndarray] | None = None

    def reset(self) -> None:
        """Forget the previous frame and the running figure."""
        self._previous = None
        self._errors.clear()

    def value(self) -> float:
        """Return the mean error of the recent pairs (NaN before the first)."""
        return float(np.mean(self._errors)) if self._errors else float('nan')

    def add(self, stamp_ns: int, depth: np.ndarray, camera: CameraModel,
            world_from_camera: np.ndarray | None) -> float | None:
        """Score ``depth`` (metres, NaN unknown) against the previous frame; return the error.

        ``world_from_camera``: the 4x4 pose of this frame's optical frame in a fixed frame
        (odometry), or None when there is none. Returns None when the pair was not scored.
        """
        previous, self._previous = self._previous, None
        depth = np.asarray(depth)
        pose = None if world_from_camera is None else np.asarray(world_from_camera, np.float64)
        if pose is None or pose.shape != (4, 4) or not np.isfinite(pose).all():
            return self._skip('no camera pose')
        if depth.ndim != 2 or tuple(camera.output_size) != (depth.shape[1], depth.shape[0]):
            return self._skip('depth and camera sizes differ')
        grid = np.array(depth[::self.stride, ::self.stride], dtype=np.float32)
        self._previous = (int(stamp_ns), grid, camera, pose)
        if previous is None:
            return None
        previous_stamp, previous_grid, previous_camera, previous_pose = previous
        if previous_camera != camera or previous_grid.shape != grid.shape:
            return self._skip('the camera changed')
        if int(stamp_ns) <= previous_stamp:
            return self._skip('the stamp did not advance')
        try:
            new_from_previous = invert_pose(pose) @ previous_pose
            forward = _scored_error(_warp_grid(previous_grid, camera, new_from_previous,
                                               self.stride), grid)
            backward = _scored_error(_warp_grid(grid, camera, invert_pose(new_from_previous),
                                                self.stride), previous_grid)
        except (ValueError, np.linalg.LinAlgError, FloatingPointError) as error:
            return self._skip(f'the warp failed: {error}')
        least = self.min_overlap * grid.size
        if min(forward.count, backward.count) < max(least, 1):
            return self._skip(f'too little overlap ({min(forward.count, backward.count)} of '
                              f'{grid.size} pixels)')
        error = 0.5 * (forward.absrel + backward.absrel)
        if not math.isfinite(error):
            return self._skip('the error is not finite')
        self._errors.append(error)
        self.pairs += 1
        return error

    def _skip(self, reason: str) -> None:
        self.skipped += 1
        self.last_skip = reason
        return None
