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
Gauss-Newton then minimises the reprojection error in pixels, each view weighted by its own
noise (``view_sigma_px``: image noise plus what its pose error moves the projection). A point
is accepted only when the rays diverge by at least ``min_parallax_deg`` and so do the lines from
the point to the camera centres (so a rotation error cannot pass as parallax), it lies in front
of every camera, every view reprojects within ``max_reprojection_error_px`` (times the view's
``gate_scale``) and its depth in the reference view is within [min_depth, max_depth].

Nothing here raises on numerics: a start behind a camera, singular normal equations or
non-finite values make the track's status DEGENERATE or BEHIND_CAMERA.
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
    rotation = world_to_camera[..., :3, :3]
    bearing = np.concatenate([normalized, np.ones(normalized.shape[:-1] + (1,))], axis=-1)
    with np.errstate(invalid='ignore', over='ignore', divide='ignore'):
        directions = np.einsum('...ji,...j->...i', rotation, bearing)  # R^T b
        directions /= np.sqrt(np.einsum('...i,...i->...', directions, directions))[..., None]
        centres = -np.einsum('...ji,...j->...i', rotation, world_to_camera[..., :3, 3])
    return directions, np.broadcast_to(centres, directions.shape)


def parallax_degrees(directions: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Return the largest angle (degrees) between any two observed rays of each track."""
    cosines = directions @ np.swapaxes(directions, 1, 2)
    pair_observed = mask[:, :, None] & mask[:, None, :]
    smallest = np.where(pair_observed, cosines, 1.0).min(axis=(1, 2))
    return np.degrees(np.arccos(np.clip(smallest, -1.0, 1.0)))


def _adjugate_3x3(m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the adjugates (n, 3, 3) and determinants (n,) of (n, 3, 3) matrices.

    ``adjugate / determinant`` is the inverse: explicit formulas, far cheaper than LAPACK on
    many tiny matrices, and nothing raises on a singular one.
    """
    a, b, c = m[:, 0, 0], m[:, 0, 1], m[:, 0, 2]
    d, e, f = m[:, 1, 0], m[:, 1, 1], m[:, 1, 2]
    g, h, i = m[:, 2, 0], m[:, 2, 1], m[:, 2, 2]
    adjugate = np.empty_like(m)
    adjugate[:, 0, 0] = e * i - f * h
    adjugate[:, 0, 1] = c * h - b * i
    adjugate[:, 0, 2] = b * f - c * e
    adjugate[:, 1, 0] = f * g - d * i
    adjugate[:, 1, 1] = a * i - c * g
    adjugate[:, 1, 2] = c * d - a * f
    adjugate[:, 2, 0] = d * h - e * g
    adjugate[:, 2, 1] = b * g - a * h
    adjugate[:, 2, 2] = a * e - b * d
    determinant = a * adjugate[:, 0, 0] + b * adjugate[:, 1, 0] + c * adjugate[:, 2, 0]
    return adjugate, determinant


def _solve_3x3(adjugate: np.ndarray, determinant: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Return the (n, 3) solutions of m x = right from ``_adjugate_3x3``'s output."""
    with np.errstate(invalid='ignore', over='ignore', divide='ignore'):
        return np.einsum('nij,nj->ni', adjugate, right) / determinant[:, None]


def midpoint(directions: np.ndarray, centres: np.ndarray, mask: np.ndarray):
    """Return the points (n, 3) closest to all observed rays, and whether each is well posed."""
    weighted = directions * mask[..., None]
    # sum over views of w (I - d d^T), and of w (I - d d^T) c
    normal = mask.sum(axis=1)[:, None, None] * np.eye(3) \
        - np.einsum('nvi,nvj->nij', weighted, directions)
    along = (directions * centres).sum(axis=-1, keepdims=True)
    right = (centres * mask[..., None]).sum(axis=1) - (weighted * along).sum(axis=1)
    # The smallest eigenvalue of the normal matrix is ~sin^2 of the ray spread.
    with np.errstate(invalid='ignore', over='ignore'):
        well_posed = np.isfinite(normal).all(axis=(1, 2)) & np.isfinite(right).all(axis=1)
        normal[~well_posed] = np.eye(3)
        right[~well_posed] = 0.0
        adjugate, determinant = _adjugate_3x3(normal)
        well_posed &= determinant > 1e-12
    determinant[~well_posed] = 1.0
    return np.where(well_posed[:, None], _solve_3x3(adjugate, determinant, right), 0.0), \
        well_posed


def solvable(matrices: np.ndarray, tolerance: float = 1e-10) -> np.ndarray:
    """Return which (n, 3, 3) symmetric matrices are finite and well conditioned enough to solve.

    The test is the determinant against the cube of the trace (scale-free); a singular or
    nearly singular matrix fails it instead of raising in ``numpy.linalg.solve``.
    """
    with np.errstate(invalid='ignore', over='ignore'):
        finite = np.isfinite(matrices).all(axis=(-2, -1))
        ok = finite.copy()
        if finite.any():
            chosen = matrices[finite].reshape(-1, 3, 3)
            trace = np.trace(chosen, axis1=-2, axis2=-1)
            determinant = _adjugate_3x3(chosen)[1]
            ok[finite] = (trace > 0) & (determinant > tolerance * (trace / 3.0) ** 3)
    return ok


def reprojection_residuals(points: np.ndarray, normalized: np.ndarray,
                           world_to_camera: np.ndarray, focal_px) -> tuple:
    """Return pixel residuals (n, V, 2), camera-frame points (n, V, 3) and Jacobians (n, V, 2, 3).

    The Jacobian is of the pixel residual with respect to the world point.
    """
    fx, fy = focal_px
    rotation = world_to_camera[..., :3, :3]
    in_camera = np.einsum('nvij,nj->nvi', rotation, points) + world_to_camera[..., :3, 3]
    z = np.maximum(in_camera[..., 2], _MIN_Z)
    inverse_z = 1.0 / z
    projected = in_camera[..., :2] * inverse_z[..., None]
    residuals = (projected - normalized) * (fx, fy)
    # d(pixel)/d(point) = d(projection)/d(camera point) @ R, row by row.
    jacobian = rotation[..., :2, :] - projected[..., :, None] * rotation[..., 2:3, :]
    jacobian *= (np.array([fx, fy]) * inverse_z[..., None])[..., None]
    return residuals, in_camera, jacobian


def refine(points: np.ndarray, normalized: np.ndarray, world_to_camera: np.ndarray,
           mask: np.ndarray, focal_px, iterations: int = 3, view_sigma_px=None):
    """Gauss-Newton on the weighted pixel reprojection error; return the points and covariance.

    The covariance is (J^T W J)^-1 with W = 1 / view_sigma_px^2 (1 px of noise by default).
    Rows whose normal equations are singular or not finite keep their last point and get a
    NaN covariance; nothing raises.
    """
    count, views = mask.shape
    sigma = np.ones((count, views)) if view_sigma_px is None else np.asarray(view_sigma_px)
    weight = mask / np.maximum(sigma, 1e-9) ** 2  # (n, V)
    points = points.copy()
    ok = np.isfinite(points).all(axis=1)
    adjugate = np.broadcast_to(np.eye(3), (count, 3, 3)).copy()
    determinant = np.ones(count)
    for _ in range(iterations):
        with np.errstate(invalid='ignore', over='ignore'):
            residuals, _, jacobian = reprojection_residuals(
                np.where(ok[:, None], points, 0.0), normalized, world_to_camera, focal_px)
            jacobian = jacobian.reshape(count, 2 * views, 3)
            weighted_t = np.swapaxes(jacobian * np.repeat(weight, 2, axis=1)[..., None], 1, 2)
            hessian = weighted_t @ jacobian  # (n, 3, 3)
            gradient = (weighted_t @ residuals.reshape(count, 2 * views, 1))[..., 0]
            finite = np.isfinite(hessian).all(axis=(1, 2)) & np.isfinite(gradient).all(axis=1)
            hessian[~finite] = np.eye(3)
            adjugate, determinant = _adjugate_3x3(hessian)
            trace = np.trace(hessian, axis1=1, axis2=2)
            ok &= finite & (trace > 0) & (determinant > 1e-10 * (trace / 3.0) ** 3)
            step = _solve_3x3(adjugate, np.where(ok, determinant, 1.0), gradient)
        points[ok] -= step[ok]
        ok &= np.isfinite(points).all(axis=1)
    covariance = np.full((count, 3, 3), np.nan)
    if ok.any():
        covariance[ok] = adjugate[ok] / determinant[ok, None, None]
    return points, covariance


def subtended_parallax_degrees(points: np.ndarray, centres: np.ndarray,
                               mask: np.ndarray) -> np.ndarray:
    """Return the largest angle (degrees) at each point between the lines to its camera centres.

    Unlike the angle between the observed rays, this is zero for cameras that did not move,
    whatever their orientation errors.
    """
    lines = points[:, None, :] - centres
    with np.errstate(invalid='ignore', divide='ignore'):
        lines = lines / np.linalg.norm(lines, axis=-1, keepdims=True)
    lines = np.where(mask[..., None] & np.isfinite(lines), lines, 0.0)
    cosines = lines @ np.swapaxes(lines, 1, 2)
    pair_observed = mask[:, :, None] & mask[:, None, :]
    smallest = np.where(pair_observed, cosines, 1.0).min(axis=(1, 2))
    return np.degrees(np.arccos(np.clip(smallest, -1.0, 1.0)))


@np.errstate(invalid='ignore', over='ignore', divide='ignore')  # degenerate rows are flagged
def triangulate_views(normalized, world_to_camera, mask=None, focal_px=(1.0, 1.0),
                      gates: TriangulationGates | None = None, iterations: int = 2,
                      view_sigma_px=None, gate_scale=None) -> TriangulatedPoints:
    """Triangulate each track from its observed views and apply the gates.

    ``focal_px`` (fx, fy) converts normalized errors into pixels for the reprojection gate and
    the covariance. ``view_sigma_px`` (n, V) weights the views (the covariance is then in
    world units for that noise; 1 px by default); ``gate_scale`` (n, V) widens each view's
    reprojection gate (1 by default).
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
    start_depth = np.einsum('nvj,nj->nv', world_to_camera[rows, :, 2, :3], start) \
        + world_to_camera[rows, :, 2, 3]
    start_in_front = np.where(mask[rows], start_depth > _MIN_Z, True).all(axis=1)
    sigma_rows = None if view_sigma_px is None else np.asarray(view_sigma_px)[rows]
    # A start behind a camera would send Gauss-Newton through the camera centre: not refined.
    refined, row_covariance = refine(
        np.where((well_posed & start_in_front)[:, None], start, np.nan), normalized[rows],
        world_to_camera[rows], mask[rows], focal_px, iterations, sigma_rows)
    finite = np.isfinite(refined).all(axis=1) & np.isfinite(row_covariance).all(axis=(1, 2))
    safe_points = np.where(finite[:, None], refined, 0.0)
    residuals, in_camera, _ = reprojection_residuals(
        safe_points, normalized[rows], world_to_camera[rows], focal_px)
    view_error = np.where(mask[rows], np.linalg.norm(residuals, axis=-1), 0.0)
    in_front = np.where(mask[rows], in_camera[..., 2] > _MIN_Z, True).all(axis=1)
    row_depth = in_camera[:, -1, 2]
    scale = 1.0 if gate_scale is None else np.asarray(gate_scale)[rows]
    too_far = (view_error > gates.max_reprojection_error_px * scale).any(axis=1)
    subtended = subtended_parallax_degrees(safe_points, centres[rows], mask[rows])

    row_status = np.full(len(rows), OK, np.int8)
    row_status[~start_in_front] = BEHIND_CAMERA
    row_status[~(well_posed & finite) & start_in_front] = DEGENERATE
    undecided = row_status == OK
    row_status[undecided & ~in_front] = BEHIND_CAMERA
    undecided = row_status == OK
    row_status[undecided & (subtended < gates.min_parallax_deg)] = LOW_PARALLAX
    undecided = row_status == OK
    row_status[undecided & too_far] = LARGE_REPROJECTION_ERROR
    undecided = row_status == OK
    row_status[undecided & ((row_depth < gates.min_depth) | (row_depth > gates.max_depth))] = \
        OUT_OF_DEPTH_RANGE

    status[rows] = row_status
    points[rows] = np.where(finite[:, None], refined, np.nan)
    error[rows] = view_error.max(axis=1)
    degrees_of_freedom = np.maximum(2 * mask[rows].sum(axis=1) - 3, 1)
    sigma[rows] = np.sqrt((view_error ** 2).sum(axis=1) / degrees_of_freedom)
    depth[rows] = row_depth
    covariance[rows] = row_covariance
    return TriangulatedPoints(points, status, parallax, error, sigma, depth, covariance)
