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

"""Relative pose of a window keyframe against the stereo reference, from the sparse tracks.

Odometry that drifts in rotation (0.5 deg over the path), with sway and a time offset, leaves
0.05-0.25 deg of relative rotation error between the keyframes of a window: up to a pixel of
misregistration at the stereo resolution, more than the sweep's plane step. The sparse
pipeline's tracks correct it: the same track's image positions in the reference keyframe and
in the other one. ``align_relative_pose`` moves the odometry's relative pose (reference camera
-> other camera) onto the epipolar geometry of those tracks: Gauss-Newton on their Sampson
distances (no depths needed, so the sparse points' own pose errors do not come back) over the
rotation (3) and the direction of the translation (2), with Huber weights, far-off tracks
dropped once the pose is close, and weak priors that keep it near the odometry. The length of
the translation, the baseline, stays the odometry's: the metric scale. An alignment with too
few tracks, a large residual or a large change is not applied.
"""

from dataclasses import dataclass
import math

import cv2
import numpy as np

MIN_POINTS = 25  # fewer common tracks give no alignment
PIXEL_SIGMA = 0.5  # px of the delivered image: a track's position error
HUBER_SIGMAS = 2.0  # residuals beyond this many PIXEL_SIGMA are downweighted
OUTLIER_SIGMAS = 6.0  # from the third iteration on, residuals beyond this count for nothing
ROTATION_PRIOR_DEG = 0.5  # how far the odometry's relative rotation may be off (1-sigma)
DIRECTION_PRIOR_DEG = 1.0  # and the direction of its translation
ITERATIONS = 8
JACOBIAN_AT = (0, 2)  # iterations that evaluate the Jacobian (numerically) again
CONVERGED_RAD = 2e-6  # a step below this (rad, or rad of direction) ends the iterations
MAX_ROTATION_DEG = 2.0  # a larger correction is taken for a failure
MAX_DIRECTION_DEG = 10.0
MAX_RESIDUAL_PX = 2.0  # robust RMS residual after the alignment that is still trusted


@dataclass(frozen=True)
class Alignment:
    """The result of ``align_relative_pose``.

    Attributes:
        rotation, translation: the relative pose (reference camera -> other camera) to use.
        applied: whether it differs from the odometry's.
        points: common tracks used.
        rotation_deg: the rotation correction (deg).
        direction_deg: the change of the translation's direction (deg).
        residual_px: robust RMS reprojection residual after the alignment (px), NaN if none.
        rotation_sigma_rad: 1-sigma of the aligned rotation (rad), from the residuals.
    """

    rotation: np.ndarray
    translation: np.ndarray
    applied: bool
    points: int = 0
    rotation_deg: float = 0.0
    direction_deg: float = 0.0
    residual_px: float = float('nan')
    rotation_sigma_rad: float = 0.0


def _pose(base_rotation: np.ndarray, base_direction: np.ndarray, basis: np.ndarray,
          length: float, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    rotation = cv2.Rodrigues(x[:3].reshape(3, 1))[0] @ base_rotation
    direction = base_direction + basis @ x[3:]
    return rotation, length * direction / np.linalg.norm(direction)


def _skew(v: np.ndarray) -> np.ndarray:
    return np.array([[0.0, -v[2], v[1]], [v[2], 0.0, -v[0]], [-v[1], v[0], 0.0]])


def _residuals(x1: np.ndarray, x2: np.ndarray, rotation: np.ndarray,
               translation: np.ndarray, focal: float) -> np.ndarray:
    """Sampson distances (px) of homogeneous rays ``x1`` (reference) and ``x2`` (other)."""
    essential = _skew(translation / np.linalg.norm(translation)) @ rotation
    line2 = x1 @ essential.T  # epipolar lines in the other image
    line1 = x2 @ essential  # and in the reference
    error = np.einsum('ij,ij->i', x2, line2)
    norm = np.sqrt(np.einsum('ij,ij->i', line2[:, :2], line2[:, :2])
                   + np.einsum('ij,ij->i', line1[:, :2], line1[:, :2]))
    return focal * error / np.maximum(norm, 1e-12)


def align_relative_pose(points: np.ndarray, observed: np.ndarray, rotation: np.ndarray,
                        translation: np.ndarray, focal: float) -> Alignment:
    """Align the relative pose to the tracks; see the module docstring.

    ``points``: (N, 3) rays (or points) of the tracks in the reference optical frame;
    ``observed``: (N, 2) normalized image coordinates (x/z, y/z) of the same tracks in the
    other keyframe; ``rotation``,
    ``translation``: the odometry's reference -> other pose; ``focal``: px of the delivered
    image (residuals are in those pixels).
    """
    rotation = np.asarray(rotation, np.float64)
    translation = np.asarray(translation, np.float64).reshape(3)
    unchanged = Alignment(rotation, translation, False)
    points = np.asarray(points, np.float64).reshape(-1, 3)
    observed = np.asarray(observed, np.float64).reshape(-1, 2)
    ok = np.isfinite(points).all(axis=1) & np.isfinite(observed).all(axis=1) & (points[:, 2] > 0)
    points, observed = points[ok], observed[ok]
    length = float(np.linalg.norm(translation))
    if len(points) < MIN_POINTS or not math.isfinite(length) or length <= 1e-9 \
            or not (math.isfinite(focal) and focal > 0):
        return Alignment(rotation, translation, False, len(points))
    direction = translation / length
    basis = np.linalg.svd(direction.reshape(1, 3))[2][1:].T  # (3, 2) orthogonal to it
    prior = np.radians([ROTATION_PRIOR_DEG] * 3 + [DIRECTION_PRIOR_DEG] * 2)

    x1 = np.column_stack([points[:, :2] / points[:, 2:3], np.ones(len(points))])
    x2 = np.column_stack([observed, np.ones(len(observed))])

    def stacked(x: np.ndarray) -> np.ndarray:
        pixels = _residuals(x1, x2, *_pose(rotation, direction, basis, length, x),
                            focal) / PIXEL_SIGMA
        return np.concatenate([pixels, x / prior])

    x = np.zeros(5)
    residual = stacked(x)
    count = len(points)
    for iteration in range(ITERATIONS):
        if iteration in JACOBIAN_AT:  # the corrections are small: the Jacobian barely moves
            jacobian = np.empty((len(residual), 5))
            for column in range(5):
                step = np.zeros(5)
                step[column] = 1e-7
                jacobian[:, column] = (stacked(x + step) - residual) / 1e-7
        magnitude = np.abs(residual)
        weights = np.where(magnitude <= HUBER_SIGMAS, 1.0,
                           HUBER_SIGMAS / np.maximum(magnitude, 1e-12))
        if iteration >= 2:  # by then the pose is close: far-off tracks are outliers
            weights[magnitude > OUTLIER_SIGMAS] = 0.0
        weights[count:] = 1.0
        weighted = jacobian * weights[:, None]
        normal = weighted.T @ jacobian
        try:
            delta = -np.linalg.solve(normal, weighted.T @ residual)
        except np.linalg.LinAlgError:
            return unchanged
        if not np.isfinite(delta).all():
            return unchanged
        x = x + delta
        residual = stacked(x)
        if np.abs(delta).max() < CONVERGED_RAD and iteration >= 2:
            break
    pixel_weights, residual = weights[:count], residual[:count] * PIXEL_SIGMA
    new_rotation, new_translation = _pose(rotation, direction, basis, length, x)
    rotation_deg = float(np.degrees(np.linalg.norm(x[:3])))
    cosine = float(np.clip(new_translation @ translation / length ** 2, -1.0, 1.0))
    direction_deg = float(np.degrees(math.acos(cosine)))
    robust = float(np.sqrt(np.sum(pixel_weights * residual ** 2)
                           / max(np.sum(pixel_weights), 1e-12)))
    try:
        covariance = np.linalg.inv(normal) * max(robust / PIXEL_SIGMA, 1.0) ** 2
        rotation_sigma = float(np.sqrt(max(np.trace(covariance[:3, :3]) / 3.0, 0.0)))
    except np.linalg.LinAlgError:
        rotation_sigma = 0.0
    good = (math.isfinite(robust) and robust <= MAX_RESIDUAL_PX
            and rotation_deg <= MAX_ROTATION_DEG and direction_deg <= MAX_DIRECTION_DEG)
    if not good:
        return Alignment(rotation, translation, False, len(points), rotation_deg,
                         direction_deg, robust)
    return Alignment(new_rotation, new_translation, True, len(points), rotation_deg,
                     direction_deg, robust, rotation_sigma)
