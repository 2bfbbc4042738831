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

from dataclasses import dataclass

import numpy as np

from mono_depth_ros.core.camera_model import CameraModel
from mono_depth_ros.core.transforms import invert_pose


@dataclass(frozen=True)
class PairError:
    """The alignment error of one ordered pair of frames: mean AbsRel and pixels scored."""

    absrel: float
    count: int


def warp_depth(depth: np.ndarray, camera: CameraModel, target_from_source: np.ndarray
               ) -> np.ndarray:
    """Return ``depth`` seen from another pose: z-depth in the target frame, NaN where unseen.

    ``depth``: (H, W) z-depth in metres of the source view (NaN or <= 0 unknown), at the
    camera's image size. ``target_from_source``: the 4x4 pose of the source camera's optical
    frame in the target camera's optical frame (``inv(T_world_target) @ T_world_source``).
    Each source pixel lands on the nearest target pixel; the nearest surface wins.
    """
    depth = np.asarray(depth, dtype=np.float32)
    height, width = depth.shape
    if tuple(camera.output_size) != (width, height):
        raise ValueError(f'depth of size {width}x{height} for a camera of '
                         f'{camera.output_size[0]}x{camera.output_size[1]}')
    values = depth.reshape(-1)
    known = np.flatnonzero(np.isfinite(values) & (values > 0))
    points = camera.pixel_rays(1).reshape(-1, 3)[known] * values[known, None]
    transform = np.asarray(target_from_source, dtype=np.float32)
    moved = points @ transform[:3, :3].T + transform[:3, 3]
    if camera.is_distorted:
        pixels = camera.project(moved)
    else:
        with np.errstate(divide='ignore', invalid='ignore'):
            pixels = moved[:, :2] / moved[:, 2:] * np.float32((camera.fx, camera.fy)) \
                + np.float32((camera.cx, camera.cy))
    with np.errstate(invalid='ignore'):
        columns = np.rint(pixels[:, 0])
        rows = np.rint(pixels[:, 1])
        inside = ((moved[:, 2] > 0) & (columns >= 0) & (columns < width) & (rows >= 0)
                  & (rows < height))
    flat = rows[inside].astype(np.int64) * width + columns[inside].astype(np.int64)
    z = moved[inside, 2]
    warped = np.full(height * width, np.inf, np.float32)
    np.minimum.at(warped, flat, z)
    warped[np.isinf(warped)] = np.nan
    return warped.reshape(height, width)


def pair_alignment_error(depth_source: np.ndarray, depth_target: np.ndarray,
                         camera: CameraModel, target_from_source: np.ndarray,
                         valid_target: np.ndarray | None = None) -> PairError:
    """Return the AbsRel of ``depth_source`` warped into the target view against ``depth_target``.

    Scored where both are finite and positive (and ``valid_target``, e.g. where the target's
    ground truth is known). ``count`` 0 and NaN when no pixel overlaps.
    """
    warped = warp_depth(depth_source, camera, target_from_source).astype(np.float64)
    target = np.asarray(depth_target, dtype=np.float64)
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
