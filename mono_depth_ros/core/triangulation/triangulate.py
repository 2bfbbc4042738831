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

"""Multi-view triangulation of feature tracks: midpoint start, Gauss-Newton refinement, gates.

Every function works on a batch of ``n`` tracks with up to ``V`` views each:

* ``normalized`` (n, V, 2): undistorted normalized image coordinates (x/z, y/z) of the track;
* ``world_to_camera`` (n, V, 3, 4) or (V, 3, 4): the [R | t] of each view's camera;
* ``mask`` (n, V): which views hold an observation. The last view is the reference: parallax,
  depth range and the returned depth refer to it, so it must be observed.

The start point is the linear least-squares intersection of the rays (the multi-view midpoint);
Gauss-Newton then minimises the reprojection error in pixels. A point is accepted only when the
rays diverge by at least ``min_parallax_deg``, it lies in front of every camera, every view
reprojects within ``max_reprojection_error_px`` and its depth in the reference view is within
[min_depth, max_depth].
"""

from dataclasses import dataclass

import numpy as np

# Status of each triangulated track, in the order the gates are applied.
OK = 0
LOW_PARALLAX = 1
DEGENERATE = 2
BEHIND_CAMERA = 3
LARGE_REPROJECTION_ERROR = 4
OUT_OF_DEPTH_RANGE = 5
STATUS_NAMES = {
    OK: 'ok',
    LOW_PARALLAX: 'low parallax',
    DEGENERATE: 'degenerate geometry',
    BEHIND_CAMERA: 'behind a camera',
    LARGE_REPROJECTION_ERROR: 'large reprojection error',
    OUT_OF_DEPTH_RANGE: 'out of depth range',
}

_MIN_Z = 1e-6


@dataclass(frozen=True)
class TriangulationGates:
    """Acceptance thresholds of a triangulated point (see the module docstring)."""

    min_parallax_deg: float = 1.0
    max_reprojection_error_px: float = 1.5
    min_depth: float = 0.2
    max_depth: float = 30.0


@dataclass
class TriangulatedPoints:
    """Triangulation of a batch of tracks.

    Attributes:
        points: (n, 3) world points; NaN where no point was computed (low parallax, degenerate).
        status: (n,) int8 codes: OK or the first gate that failed (STATUS_NAMES).
        parallax_deg: (n,) largest angle between two observed rays.
        reprojection_error_px: (n,) largest reprojection error over the observed views.
        residual_sigma_px: (n,) a-posteriori image noise, sqrt(sum of squared residuals /
            (2 * views - 3)); NaN where not triangulated.
        depth: (n,) z of the point in the reference (last) view.
        covariance: (n, 3, 3) point covariance for 1 px of image noise, (J^T J)^-1.
    """

    points: np.ndarray
    status: np.ndarray
    parallax_deg: np.ndarray
    reprojection_error_px: np.ndarray
    residual_sigma_px: np.ndarray
    depth: np.ndarray
    covariance: np.ndarray

    @property
    def valid(self) -> np.ndarray:
        """(n,) bool: the tracks that passed every gate."""
        return self.status == OK


def camera_rays(normalized: np.ndarray, world_to_camera: np.ndarray):
    """Return the world-frame unit ray directions (n, V, 3) and camera centres (n, V, 3)."""
    rotation_t = np.swapaxes(world_to_camera[..., :3, :3], -1, -2)
    bearing = np.concatenate([normalized, np.ones(normalized.shape[:-1] + (1,))], axis=-1)
    directions = (rotation_t @ bearing[..., None])[..., 0]
    directions /= np.linalg.norm(directions, axis=-1, keepdims=True)
    centres = -(rotation_t @ world_to_camera[..., :3, 3:])[..., 0]
    return directions, np.broadcast_to(centres, directions.shape)


def parallax_degrees(directions: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Return the largest angle (degrees) between any two observed rays of each track."""
    cosines = directions @ np.swapaxes(directions, -1, -2)
    pair_observed = mask[:, :, None] & mask[:, None, :]
    smallest = np.where(pair_observed, cosines, 1.0).min(axis=(1, 2))
    return np.degrees(np.arccos(np.clip(smallest, -1.0, 1.0)))


def midpoint(directions: np.ndarray, centres: np.ndarray, mask: np.ndarray):
    """Return the points (n, 3) closest to all observed rays, and whether each is well posed."""
    weighted = directions * mask[..., None]
    # sum over views of w (I - d d^T), and of w (I - d d^T) c
    normal = mask.sum(axis=1)[:, None, None] * np.eye(3) \
        - np.swapaxes(weighted, -1, -2) @ directions
    along = (directions * centres).sum(axis=-1, keepdims=True)
    right = (centres * mask[..., None]).sum(axis=1) - (weighted * along).sum(axis=1)
    # The smallest eigenvalue of the normal matrix is ~sin^2 of the ray spread.
    well_posed = np.linalg.det(normal) > 1e-12
    normal[~well_posed] = np.eye(3)
    return np.linalg.solve(normal, right[..., None])[..., 0], well_posed


def reprojection_residuals(points: np.ndarray, normalized: np.ndarray,
                           world_to_camera: np.ndarray, focal_px) -> tuple:
    """Return pixel residuals (n, V, 2), camera-frame points (n, V, 3) and Jacobians (n, V, 2, 3).

    The Jacobian is of the pixel residual with respect to the world point.
    """
    fx, fy = focal_px
    rotation = world_to_camera[..., :3, :3]
    in_camera = (world_to_camera @ np.append(points, np.ones((len(points), 1)), axis=1)
                 [:, None, :, None])[..., 0]
    z = np.maximum(in_camera[..., 2], _MIN_Z)
    inverse_z = 1.0 / z
    projected = in_camera[..., :2] * inverse_z[..., None]
    residuals = (projected - normalized) * (fx, fy)
    d_projection = np.zeros(in_camera.shape[:-1] + (2, 3))
    d_projection[..., 0, 0] = fx * inverse_z
    d_projection[..., 1, 1] = fy * inverse_z
    d_projection[..., 0, 2] = -fx * projected[..., 0] * inverse_z
    d_projection[..., 1, 2] = -fy * projected[..., 1] * inverse_z
    return residuals, in_camera, d_projection @ rotation


def refine(points: np.ndarray, normalized: np.ndarray, world_to_camera: np.ndarray,
           mask: np.ndarray, focal_px, iterations: int = 3):
    """Gauss-Newton on the pixel reprojection error; return the points and (J^T J)^-1."""
    count, views = mask.shape
    weight = np.repeat(mask.astype(np.float64), 2, axis=1)[..., None]  # (n, 2V, 1)
    points = points.copy()
    hessian = np.broadcast_to(np.eye(3), (count, 3, 3)).copy()
    for _ in range(iterations):
        residuals, _, jacobian = reprojection_residuals(
            points, normalized, world_to_camera, focal_px)
        jacobian = jacobian.reshape(count, 2 * views, 3)
        weighted_t = np.swapaxes(weight * jacobian, -1, -2)  # (n, 3, 2V)
        hessian = weighted_t @ jacobian + 1e-12 * np.eye(3)
        gradient = weighted_t @ residuals.reshape(count, 2 * views, 1)
        points -= np.linalg.solve(hessian, gradient)[..., 0]
    return points, np.linalg.inv(hessian)


def triangulate_views(normalized, world_to_camera, mask=None, focal_px=(1.0, 1.0),
                      gates: TriangulationGates | None = None,
                      iterations: int = 2) -> TriangulatedPoints:
    """Triangulate each track from its observed views and apply the gates.

    ``focal_px`` (fx, fy) converts normalized errors into pixels for the reprojection gate and
    the covariance.
    """
    gates = gates or TriangulationGates()
    normalized = np.asarray(normalized, dtype=np.float64)
    count, views = normalized.shape[:2]
    world_to_camera = np.broadcast_to(
        np.asarray(world_to_camera, dtype=np.float64)[..., :3, :4], (count, views, 3, 4))
    mask = np.ones((count, views), bool) if mask is None else np.asarray(mask, dtype=bool).copy()
    mask &= np.isfinite(normalized).all(axis=-1)
    normalized = np.where(mask[..., None], normalized, 0.0)
    # Unobserved views get a harmless identity pose (their weight is zero everywhere).
    world_to_camera = np.where(mask[..., None, None], world_to_camera, np.eye(3, 4))

    points = np.full((count, 3), np.nan)
    status = np.full(count, LOW_PARALLAX, np.int8)
    error = np.full(count, np.inf)
    sigma = np.full(count, np.nan)
    depth = np.full(count, np.nan)
    covariance = np.full((count, 3, 3), np.nan)
    if count == 0:
        return TriangulatedPoints(points, status, np.zeros(0), error, sigma, depth, covariance)

    directions, centres = camera_rays(normalized, world_to_camera)
    parallax = parallax_degrees(directions, mask)
    candidate = (parallax >= gates.min_parallax_deg) & mask[:, -1] & (mask.sum(axis=1) >= 2)
    rows = np.flatnonzero(candidate)
    if len(rows) == 0:
        return TriangulatedPoints(points, status, parallax, error, sigma, depth, covariance)

    start, well_posed = midpoint(directions[rows], centres[rows], mask[rows])
    refined, row_covariance = refine(start, normalized[rows], world_to_camera[rows],
                                     mask[rows], focal_px, iterations)
    residuals, in_camera, _ = reprojection_residuals(
        refined, normalized[rows], world_to_camera[rows], focal_px)
    view_error = np.where(mask[rows], np.linalg.norm(residuals, axis=-1), 0.0)
    in_front = np.where(mask[rows], in_camera[..., 2] > _MIN_Z, True).all(axis=1)
    finite = np.isfinite(refined).all(axis=1)
    row_depth = in_camera[:, -1, 2]

    row_status = np.full(len(rows), OK, np.int8)
    row_status[~(well_posed & finite)] = DEGENERATE
    undecided = row_status == OK
    row_status[undecided & ~in_front] = BEHIND_CAMERA
    undecided = row_status == OK
    row_status[undecided & (view_error.max(axis=1) > gates.max_reprojection_error_px)] = \
        LARGE_REPROJECTION_ERROR
    undecided = row_status == OK
    row_status[undecided & ((row_depth < gates.min_depth) | (row_depth > gates.max_depth))] = \
        OUT_OF_DEPTH_RANGE

    status[rows] = row_status
    points[rows] = refined
    error[rows] = view_error.max(axis=1)
    degrees_of_freedom = np.maximum(2 * mask[rows].sum(axis=1) - 3, 1)
    sigma[rows] = np.sqrt((view_error ** 2).sum(axis=1) / degrees_of_freedom)
    depth[rows] = row_depth
    covariance[rows] = row_covariance
    return TriangulatedPoints(points, status, parallax, error, sigma, depth, covariance)
