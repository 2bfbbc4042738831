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

"""Dense depth of a reference view from a few other views with known poses (plane sweep).

``plane_sweep`` sweeps fronto-parallel planes of the reference camera, uniformly spaced in
inverse depth over a range (the sparse points' range, widened), so that the farthest-moving
pixel of the longest baseline shifts by about ``plane_step_px`` between planes. For each plane
every other view is warped onto the reference by the plane's homography (cv2.warpPerspective)
and compared by zero-mean normalised cross-correlation over a ``window_px`` box (box filters,
no per-pixel loops); the cost of a plane is the mean of ``1 - ZNCC`` over the views that see
the whole window. Per pixel:

* winner-take-all over the planes, refined by a parabola through the three costs around it;
* sigma of the inverse depth from the parabola's curvature (``sigma_scale * step / sqrt(c)``,
  ``c`` the second difference of the cost in plane steps), a floor of ``sigma_floor`` steps
  (the sweep's discretisation) and ``pixel_sigma_px`` of image-position error (interpolation,
  the relative pose's error) divided by how far the pixel moves per step in the longest
  baseline (little near the epipole), plus ``odom_scale_sigma`` relative (a wrong baseline
  scales every depth);
* NaN where the window has too little gradient along the epipolar line of the longest
  baseline (textureless, or texture along the line only), where the best cost is high, where
  another minimum further than two planes is almost as good (ambiguous: repeated texture),
  where fewer than ``min_consistent_views`` views have their own best plane within
  ``consistency_steps`` of the chosen one (occlusion, a view that disagrees), and where the
  relative sigma exceeds ``max_relative_sigma``;
* an edge-preserving regularisation: the inverse depth becomes the weighted median of its
  ``median_px`` neighbourhood (weights fall off with the grey-level difference to the centre,
  so the median stays on the pixel's side of an intensity edge), and a pixel further than
  ``outlier_sigmas`` of its own sigma from that median is dropped (a speckle).
"""

from dataclasses import dataclass, field
import math
import time

import cv2
import numpy as np

from mono_depth_ros.core.errors import BadMessageError


@dataclass(frozen=True)
class DenseStereoParams:
    """Settings of the plane sweep (see the module docstring)."""

    window_px: int = 5
    plane_step_px: float = 1.5
    min_planes: int = 16
    max_planes: int = 64
    depth_margin: float = 1.25
    max_cost: float = 0.8
    ambiguity_margin: float = 0.02
    min_epipolar_gradient: float = 0.005
    consistency_steps: float = 2.0
    min_consistent_views: int = 2
    sigma_scale: float = 0.2
    sigma_floor: float = 0.1
    pixel_sigma_px: float = 0.1
    odom_scale_sigma: float = 0.0
    max_relative_sigma: float = 0.2
    median_px: int = 5
    median_grey_sigma: float = 0.04
    outlier_sigmas: float = 3.0

    def __post_init__(self) -> None:
        if int(self.window_px) != self.window_px or self.window_px < 3 or self.window_px % 2 == 0:
            raise BadMessageError('window_px', self.window_px, 'an odd integer >= 3')
        if int(self.median_px) != self.median_px or self.median_px < 1 or self.median_px % 2 == 0:
            raise BadMessageError('median_px', self.median_px, 'an odd integer >= 1')
        if not 2 <= self.min_planes <= self.max_planes:
            raise BadMessageError('min_planes', self.min_planes,
                                  f'in [2, max_planes = {self.max_planes}]')
        for name in ('plane_step_px', 'depth_margin', 'max_cost', 'sigma_scale',
                     'max_relative_sigma', 'median_grey_sigma', 'outlier_sigmas'):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise BadMessageError(name, value, 'a positive number')
        for name in ('ambiguity_margin', 'min_epipolar_gradient', 'consistency_steps',
                     'sigma_floor', 'pixel_sigma_px', 'odom_scale_sigma'):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise BadMessageError(name, value, 'a number >= 0')


@dataclass
class StereoView:
    """One image of the sweep: (h, w) float32 grey, 3x3 pinhole K, 3x4 world -> camera."""

    image: np.ndarray
    k: np.ndarray
    world_to_camera: np.ndarray


@dataclass
class DenseDepth:
    """The dense depth of the reference view.

    Attributes:
        depth: (h, w) float32 z (m), NaN where unknown.
        sigma: (h, w) float32 1-sigma of ``depth`` (m), NaN where it is NaN.
        k: 3x3 intrinsics of the grid.
        world_to_camera: 3x4 pose of the reference view.
        stats: planes, views, depth range, fractions dropped by each test, timings (ms).
    """

    depth: np.ndarray
    sigma: np.ndarray
    k: np.ndarray
    world_to_camera: np.ndarray
    stats: dict = field(default_factory=dict)

    @property
    def valid_fraction(self) -> float:
        """Return the fraction of the grid with a depth."""
        return float(np.isfinite(self.depth).mean()) if self.depth.size else 0.0


def relative_pose(reference: np.ndarray, other: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return R, t taking reference-camera points into the other camera (3x4 world->camera)."""
    rotation = other[:, :3] @ reference[:, :3].T
    return rotation, other[:, 3] - rotation @ reference[:, 3]


def plane_homography(k_ref: np.ndarray, k_other: np.ndarray, rotation: np.ndarray,
                     translation: np.ndarray, inverse_depth: float) -> np.ndarray:
    """Return the homography reference pixel -> other pixel of the plane z = 1/inverse_depth."""
    plane = rotation + inverse_depth * np.outer(translation, (0.0, 0.0, 1.0))
    return k_other @ plane @ np.linalg.inv(k_ref)


def plane_sweep(reference: StereoView, others: list[StereoView], depth_range: tuple[float, float],
                params: DenseStereoParams | None = None) -> DenseDepth:
    """Return the dense depth of ``reference`` from ``others`` over ``depth_range`` (m).

    Nothing raises on bad data: without a usable view or range the result is all NaN and
    ``stats['status']`` says why.
    """
    p = params or DenseStereoParams()
    started = time.perf_counter()
    image = np.asarray(reference.image, dtype=np.float32)
    height, width = image.shape
    k_ref = np.asarray(reference.k, dtype=np.float64)
    empty = np.full((height, width), np.nan, np.float32)
    low, high = float(depth_range[0]), float(depth_range[1])
    if not (np.isfinite(low) and np.isfinite(high) and 0 < low <= high):
        return DenseDepth(empty, empty.copy(), k_ref, reference.world_to_camera,
                          {'status': f'no depth range ({low}, {high})'})
    low, high = low / p.depth_margin, high * p.depth_margin
    relative = [relative_pose(reference.world_to_camera, view.world_to_camera) for view in others]
    baselines = [float(np.linalg.norm(t)) for _, t in relative]
    usable = [i for i, b in enumerate(baselines) if b > 1e-6 and np.isfinite(b)]
    if not usable:
        return DenseDepth(empty, empty.copy(), k_ref, reference.world_to_camera,
                          {'status': 'no view with a baseline'})
    others = [others[i] for i in usable]
    relative = [relative[i] for i in usable]
    longest = int(np.argmax([baselines[i] for i in usable]))
    inverse = _planes(k_ref, others[longest].k, relative[longest], (width, height), low, high, p)
    step = float(inverse[1] - inverse[0])

    sweep = _Sweep(image, k_ref, others, relative, p)
    for index, rho in enumerate(inverse):
        sweep.add_plane(index, rho)
    sweep_ms = (time.perf_counter() - started) * 1e3

    depth, sigma, stats = _select(sweep, inverse, step, image, k_ref, others, relative,
                                  longest, p)
    depth, sigma, stats['outliers'] = _regularised(depth, sigma, image, p)
    stats.update({'status': 'ok', 'planes': len(inverse), 'views': len(others), 'plane_step': step,
                  'depth_range': (float(1.0 / inverse[-1]), float(1.0 / inverse[0])),
                  'sweep_ms': sweep_ms,
                  'total_ms': (time.perf_counter() - started) * 1e3})
    stats['valid_fraction'] = float(np.isfinite(depth).mean())
    return DenseDepth(depth, sigma, k_ref, np.asarray(reference.world_to_camera), stats)


def _planes(k_ref, k_other, pose, size, low: float, high: float,
            p: DenseStereoParams) -> np.ndarray:
    """Return the sweep's inverse depths: the longest baseline shifts ~plane_step_px per step."""
    rotation, translation = pose
    width, height = size
    corners = np.array([[0, 0, 1], [width - 1, 0, 1], [0, height - 1, 1],
                        [width - 1, height - 1, 1], [width / 2, height / 2, 1]], np.float64)
    shifts = []
    for rho in (1.0 / high, 1.0 / low):
        projected = (plane_homography(k_ref, k_other, rotation, translation, rho)
                     @ corners.T).T
        shifts.append(projected[:, :2] / projected[:, 2:3])
    travel = float(np.max(np.linalg.norm(shifts[1] - shifts[0], axis=1)))
    count = int(np.clip(math.ceil(travel / p.plane_step_px) + 1, p.min_planes, p.max_planes))
    return np.linspace(1.0 / high, 1.0 / low, count)


class _Sweep:
    """The running per-pixel minima of the sweep (no cost volume is kept).

    For the aggregated cost: the best plane, its cost and its neighbours' (for the parabola)
    and the best cost further than two planes from the best (for the ambiguity test); per
    view: its own best plane (for the consistency test).
    """

    def __init__(self, image, k_ref, others, relative, p: DenseStereoParams) -> None:
        self.image, self.k_ref, self.others, self.relative = image, k_ref, others, relative
        height, width = image.shape
        self.size = (width, height)
        self.box = (p.window_px, p.window_px)
        self.mean_ref = cv2.boxFilter(image, -1, self.box, borderType=cv2.BORDER_REFLECT)
        self.var_ref = np.maximum(cv2.boxFilter(
            image * image, -1, self.box, borderType=cv2.BORDER_REFLECT)
            - self.mean_ref * self.mean_ref, 0.0)
        # Each view as [grey, grey^2, 1, 0]: one 4-channel warp per plane, whose last channel
        # then takes the product with the reference, and one 4-channel box filter.
        self.sources = []
        for view in others:
            grey = np.asarray(view.image, np.float32)
            self.sources.append(cv2.merge([grey, grey * grey, np.ones_like(grey),
                                           np.zeros_like(grey)]))
        shape = (height, width)
        self.best = np.full(shape, np.inf, np.float32)
        self.best_index = np.zeros(shape, np.int32)
        self.before = np.full(shape, np.inf, np.float32)
        self.after = np.full(shape, np.inf, np.float32)
        self.second = np.full(shape, np.inf, np.float32)
        self.previous = np.full(shape, np.inf, np.float32)
        self.view_best = np.full((len(others),) + shape, np.inf, np.float32)
        self.view_index = np.zeros((len(others),) + shape, np.int32)
        self.seen = np.zeros(shape, np.int32)
        self.half_window = p.window_px // 2

    def add_plane(self, index: int, rho: float) -> None:
        total = np.zeros_like(self.best)
        count = np.zeros_like(self.best)
        for v, (view, (rotation, translation)) in enumerate(zip(self.others, self.relative)):
            homography = plane_homography(self.k_ref, view.k, rotation, translation, rho)
            warped = cv2.warpPerspective(
                self.sources[v], homography, self.size,
                flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_CONSTANT,
                borderValue=(0.0, 0.0, 0.0, 0.0))
            np.multiply(warped[..., 0], self.image, out=warped[..., 3])
            mean, square, inside, product = cv2.split(
                cv2.boxFilter(warped, -1, self.box, borderType=cv2.BORDER_CONSTANT))
            # 1 - ZNCC, the variances' product floored (flat windows compare as unrelated).
            variance = square - mean * mean
            variance *= self.var_ref
            np.maximum(variance, 1e-12, out=variance)
            covariance = product - self.mean_ref * mean
            covariance /= np.sqrt(variance)
            view_cost = 1.0 - covariance
            valid = inside > 0.999  # the whole window inside the view
            np.copyto(view_cost, np.float32(np.inf), where=~valid)
            better = view_cost < self.view_best[v]
            np.copyto(self.view_best[v], view_cost, where=better)
            np.copyto(self.view_index[v], index, where=better)
            np.copyto(view_cost, np.float32(0.0), where=~valid)
            total += view_cost
            count += valid
        cost = np.where(count > 0, total / np.maximum(count, 1.0), np.float32(2.0))
        self.seen = np.maximum(self.seen, count.astype(np.int32))
        self.after[self.best_index == index - 1] = cost[self.best_index == index - 1]
        better = cost < self.best
        far = (index - self.best_index) > 2
        # A new best far from the old one makes the old one the runner-up; a plane far from
        # the best that does not beat it may be the runner-up itself.
        np.minimum(self.second, np.where(better & far, self.best,
                                         np.where(~better & far, cost, np.inf)),
                   out=self.second)
        self.before[better] = self.previous[better]
        self.after[better] = np.inf
        self.best[better] = cost[better]
        self.best_index[better] = index
        self.previous = cost


def _select(sweep: _Sweep, inverse, step, image, k_ref, others, relative, longest,
            p: DenseStereoParams):
    """Subpixel refinement, sigma and the validity tests."""
    planes = len(inverse)
    best = sweep.best_index
    before, at, after = sweep.before, sweep.best, sweep.after
    interior = (best >= 1) & (best <= planes - 2) & np.isfinite(before) & np.isfinite(after)
    with np.errstate(invalid='ignore', divide='ignore'):
        curvature = np.where(interior, before - 2.0 * at + after, 0.0)
        offset = np.where(curvature > 1e-6, 0.5 * (before - after) / curvature, 0.0)
    offset = np.clip(offset, -0.5, 0.5)
    index = best + offset
    rho = inverse[0] + step * index
    best_cost = at
    ambiguous = (sweep.second - best_cost) < p.ambiguity_margin

    agreeing = (np.abs(sweep.view_index.astype(np.float32) - index[None])
                <= p.consistency_steps) & np.isfinite(sweep.view_best)
    consistent = agreeing.sum(axis=0) >= np.minimum(p.min_consistent_views, sweep.seen)

    gradient = _epipolar_gradient(image, k_ref, relative[longest], p.window_px)
    textured = gradient >= p.min_epipolar_gradient

    shift = _shift_per_step(k_ref, others[longest].k, relative[longest], rho, step)
    with np.errstate(invalid='ignore', divide='ignore'):
        sigma_steps = np.sqrt((p.sigma_scale / np.sqrt(np.maximum(curvature, 1e-9))) ** 2
                              + p.sigma_floor ** 2
                              + (p.pixel_sigma_px / np.maximum(shift, 1e-6)) ** 2)
        sigma_rho = step * sigma_steps
        depth = 1.0 / rho
        relative_sigma = np.sqrt((sigma_rho / rho) ** 2 + p.odom_scale_sigma ** 2)
    keep = interior & (best_cost <= p.max_cost) & ~ambiguous & consistent & textured \
        & (rho > 0) & (relative_sigma <= p.max_relative_sigma) & (curvature > 1e-6) \
        & (sweep.seen > 0)
    stats = {'border_or_range': float((~interior).mean()),
             'high_cost': float((best_cost > p.max_cost).mean()),
             'ambiguous': float(ambiguous.mean()), 'inconsistent': float((~consistent).mean()),
             'textureless': float((~textured).mean()),
             'uncertain': float((relative_sigma > p.max_relative_sigma).mean())}
    depth = np.where(keep, depth, np.nan).astype(np.float32)
    sigma = np.where(keep, relative_sigma * depth, np.nan).astype(np.float32)
    return depth, sigma, stats


def _shift_per_step(k_ref, k_other, pose, rho: np.ndarray, step: float) -> np.ndarray:
    """Return how far (px) each pixel moves in a view for one plane step at its own depth."""
    rotation, translation = pose
    height, width = rho.shape
    u, v = np.meshgrid(np.arange(width, dtype=np.float64), np.arange(height, dtype=np.float64))
    rays = np.linalg.inv(k_ref) @ np.stack([u.ravel(), v.ravel(), np.ones(u.size)])
    rotated = k_other @ rotation @ rays
    moved = k_other @ translation
    inverse = np.nan_to_num(rho.ravel().astype(np.float64), nan=0.0)
    near = rotated + moved[:, None] * inverse
    far = rotated + moved[:, None] * (inverse + step)
    with np.errstate(invalid='ignore', divide='ignore'):
        difference = near[:2] / near[2] - far[:2] / far[2]
    return np.hypot(difference[0], difference[1]).reshape(height, width)


def _epipolar_gradient(image: np.ndarray, k_ref: np.ndarray, pose, window_px: int) -> np.ndarray:
    """Return the window's RMS grey gradient along the epipolar line of a view (per pixel)."""
    rotation, translation = pose
    height, width = image.shape
    centre = -rotation.T @ translation  # the other camera's centre in the reference frame
    epipole = k_ref @ centre
    u, v = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    du = epipole[2] * u - epipole[0]
    dv = epipole[2] * v - epipole[1]
    norm = np.sqrt(du * du + dv * dv)
    norm[norm < 1e-9] = 1.0
    gx = cv2.Sobel(image, cv2.CV_32F, 1, 0, ksize=3) / 8.0
    gy = cv2.Sobel(image, cv2.CV_32F, 0, 1, ksize=3) / 8.0
    along = (gx * du + gy * dv) / norm
    return np.sqrt(np.maximum(cv2.boxFilter(along * along, -1, (window_px, window_px),
                                            borderType=cv2.BORDER_REFLECT), 0.0))


def _regularised(depth: np.ndarray, sigma: np.ndarray, image: np.ndarray,
                 p: DenseStereoParams) -> tuple[np.ndarray, np.ndarray, float]:
    """Weighted-median the inverse depth (grey-level weights); drop pixels far from it."""
    if p.median_px <= 1:
        return depth, sigma, 0.0
    valid = np.isfinite(depth)
    if not valid.any():
        return depth, sigma, 0.0
    radius = p.median_px // 2
    with np.errstate(divide='ignore', invalid='ignore'):
        rho = np.where(valid, 1.0 / depth, 0.0).astype(np.float32)
    pad = ((radius, radius), (radius, radius))
    padded_rho = np.pad(rho, pad, mode='constant')
    padded_valid = np.pad(valid, pad, mode='constant')
    padded_grey = np.pad(image, pad, mode='edge')
    height, width = depth.shape
    rows, cols = np.nonzero(valid)
    size = p.median_px
    values = np.empty((len(rows), size * size), np.float32)
    weights = np.empty((len(rows), size * size), np.float32)
    grey = image[rows, cols]
    for n, (dy, dx) in enumerate(np.ndindex(size, size)):
        values[:, n] = padded_rho[rows + dy, cols + dx]
        difference = padded_grey[rows + dy, cols + dx] - grey
        weights[:, n] = padded_valid[rows + dy, cols + dx] * np.exp(
            -(difference * difference) / (2.0 * p.median_grey_sigma ** 2))
    order = np.argsort(values, axis=1)
    values = np.take_along_axis(values, order, axis=1)
    cumulative = np.cumsum(np.take_along_axis(weights, order, axis=1), axis=1)
    half = 0.5 * cumulative[:, -1:]
    pick = np.argmax(cumulative >= half, axis=1)
    median = values[np.arange(len(rows)), pick]
    own = rho[rows, cols]
    own_sigma = sigma[rows, cols] / depth[rows, cols] ** 2  # of the inverse depth
    outlier = np.abs(own - median) > p.outlier_sigmas * own_sigma
    out_depth = np.full_like(depth, np.nan)
    out_sigma = np.full_like(sigma, np.nan)
    keep = ~outlier & (median > 0)
    new_depth = 1.0 / median[keep]
    out_depth[rows[keep], cols[keep]] = new_depth
    # The sigma stays the pixel's own, carried to the median's depth.
    out_sigma[rows[keep], cols[keep]] = (sigma[rows[keep], cols[keep]]
                                         / depth[rows[keep], cols[keep]]) * new_depth
    return out_depth, out_sigma, float(outlier.sum() / (height * width))
