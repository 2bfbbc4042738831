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

"""A smooth per-pixel correction of a global metric scale, from the residuals of sparse points.

A relative network's error is rarely one scale for the whole image: it varies smoothly across
it (the far field compressed, the floor tilted). After the global fit, each triangulated point
says how far the fitted depth is off at its pixel, as a log-depth residual with a variance. The
map is Gaussian-process regression of those residuals (averaged per coarse cell first) with a
squared-exponential prior of the global fit's misfit variance: it follows the points where
they are dense and returns to the global fit away from them, and its variance grows with the
distance to the points the way the prior says the field can change, so extrapolating from the
image border into its centre is not claimed to be as good as interpolating between points.

How far the map itself can be trusted is measured, not assumed: each point is predicted from
the others (leave-one-cell-out, in closed form) and the squared held-out errors, smoothed over
the image, give each pixel the error the map makes between its points. Where the network gets a
whole surface wrong the points there say so, and the pixels around them get a wide sigma; where
no point is near, the mean held-out error of the frame stands in.
"""

from dataclasses import dataclass
import math

import cv2
import numpy as np
from scipy.linalg import cho_factor, cho_solve, solve_triangular


@dataclass(frozen=True)
class ScaleMapSettings:
    """Resolution and reach of the map."""

    measurement_cell_px: int = 32   # points are averaged per cell of this size first
    grid_cell_px: int = 16          # the map's own grid, bilinearly resized to the image
    radius: float = 0.12            # correlation length of the field, fraction of the width
    max_residual_sigmas: float = 3.0   # residuals clipped at this many robust sigmas
    max_error_sigmas: float = 8.0   # held-out errors winsorised at this many robust sigmas
    error_prior_points: float = 3.0   # weight of the frame's mean held-out error, in points


@dataclass(frozen=True)
class LocalScaleMap:
    """A log-depth correction and its variance on a coarse grid, for one image size.

    ``correction`` and ``variance`` are (rows, columns) float32 at ``grid_cell_px`` per
    cell; ``noise_variance`` is the log-depth scatter a pixel keeps after the correction
    (network noise and detail finer than the map); ``error_variance`` (same grid) the
    squared error of the corrected log depth that the points measured held out, smoothed;
    ``held_out_variance`` its mean over the frame's points.
    """

    image_size: tuple[int, int]   # width, height
    correction: np.ndarray
    variance: np.ndarray
    noise_variance: float
    error_variance: np.ndarray | None = None
    held_out_variance: float = float('nan')

    def correction_at(self, width: int, height: int) -> np.ndarray:
        """Return the log-depth correction (H, W) float32 at an image size."""
        return cv2.resize(self.correction, (width, height), interpolation=cv2.INTER_LINEAR)

    def variance_at(self, width: int, height: int) -> np.ndarray:
        """Return the correction's variance (H, W) float32 at an image size."""
        return cv2.resize(self.variance, (width, height), interpolation=cv2.INTER_LINEAR)

    def error_variance_at(self, width: int, height: int) -> np.ndarray:
        """Return the held-out error variance (H, W) float32 (the noise where none)."""
        if self.error_variance is None:
            return np.full((height, width), self.noise_variance, np.float32)
        return cv2.resize(self.error_variance, (width, height),
                          interpolation=cv2.INTER_LINEAR)


def robust_variance(values: np.ndarray) -> float:
    """Return the variance of finite values about their median, winsorised at 3 robust sigmas.

    The robust sigma is 1.4826 * MAD; values beyond three of them count as three, so a few
    outliers do not inflate the variance and heavy tails are not ignored either.
    """
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size < 2:
        return float('nan')
    deviations = values - np.median(values)
    limit = 3.0 * 1.4826 * np.median(np.abs(deviations))
    return float(np.mean(np.clip(deviations, -limit, limit) ** 2))


def fit_scale_map(pixels: np.ndarray, log_residuals: np.ndarray, log_variances: np.ndarray,
                  image_size: tuple[int, int], prior_variance: float,
                  settings: ScaleMapSettings | None = None,
                  floor_variance: float = 0.0,
                  checks: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
                  ) -> LocalScaleMap | None:
    """Return the map of the points' log-depth residuals (measured minus fitted), or None.

    ``pixels`` (N, 2) x, y; ``log_variances`` (N,) each residual's own variance (the point's
    relative depth sigma squared); ``prior_variance`` the residuals' total scatter about the
    global fit. The field's own prior is that scatter less the points' scatter about it;
    ``floor_variance`` is the least a pixel far from every point may claim (the map's variance
    is scaled up where its prior is below it; the frame's mean held-out error raises it).
    ``checks`` (pixels, residuals, variances) are further points the map is not fitted to
    (the global fit's outliers): their errors against the map count as held out too.
    """
    settings = settings or ScaleMapSettings()
    width, height = image_size
    pixels = np.asarray(pixels, dtype=np.float64).reshape(-1, 2)
    residuals = np.asarray(log_residuals, dtype=np.float64).reshape(-1)
    variances = np.asarray(log_variances, dtype=np.float64).reshape(-1)
    usable = (np.isfinite(pixels).all(axis=1) & np.isfinite(residuals)
              & np.isfinite(variances) & (pixels[:, 0] >= 0) & (pixels[:, 0] < width)
              & (pixels[:, 1] >= 0) & (pixels[:, 1] < height))
    if np.count_nonzero(usable) < 3 or not (math.isfinite(prior_variance)
                                            and prior_variance > 0):
        return None
    pixels, residuals, variances = pixels[usable], residuals[usable], variances[usable]
    raw_residuals = residuals
    spread = math.sqrt(robust_variance(residuals)) or math.sqrt(prior_variance)
    centre = float(np.median(residuals))
    limit = settings.max_residual_sigmas * spread
    residuals = np.clip(residuals, centre - limit, centre + limit)
    cells, means, positions, counts, mean_variances = _cell_means(
        pixels, residuals, variances, width, settings.measurement_cell_px)
    detail = _within_cell_variance(residuals, means[cells], counts[cells])
    if not math.isfinite(detail):
        detail = prior_variance / 2.0
    noise = (detail + mean_variances) / counts
    field = max(prior_variance - detail, 0.1 * prior_variance)
    length = settings.radius * width
    gram = _kernel(positions, positions, field, length)
    gram[np.diag_indices_from(gram)] += noise
    factor = cho_factor(gram, lower=True)
    weights = cho_solve(factor, means)
    step = max(int(settings.grid_cell_px), 1)
    rows, columns = -(-height // step), -(-width // step)
    grid_y, grid_x = np.mgrid[0:rows, 0:columns]
    grid = np.column_stack([(grid_x.ravel() + 0.5) * step - 0.5,
                            (grid_y.ravel() + 0.5) * step - 0.5])
    cross = _kernel(grid, positions, field, length)
    correction = cross @ weights
    # Leave one cell out: the prediction at a cell from all the others is its mean less
    # alpha / (K^-1)_cc; each point's held-out error is its residual less that prediction.
    inverse_diagonal = np.diag(cho_solve(factor, np.eye(len(means))))
    left_out = means - weights / inverse_diagonal
    errors = [(pixels, raw_residuals - left_out[cells], variances)]
    if checks is not None:
        check_pixels, check_residuals, check_variances = _usable_checks(checks, width, height)
        predicted = _kernel(check_pixels, positions, field, length) @ weights
        errors.append((check_pixels, check_residuals - predicted, check_variances))
    error_grid, held_out = held_out_error_map(
        np.concatenate([e[0] for e in errors]), np.concatenate([e[1] for e in errors]),
        np.concatenate([e[2] for e in errors]), grid, length, settings)
    floor_variance = max(floor_variance, held_out)
    if floor_variance > field:
        # The variance under the floor's prior: as sure near the points as their noise
        # allows, never surer than the floor away from them.
        # The kernel is linear in its variance: the cross terms scale, the Gram matrix is
        # rebuilt from its noise-free part.
        cross *= floor_variance / field
        gram = _kernel(positions, positions, floor_variance, length)
        field = floor_variance
        gram[np.diag_indices_from(gram)] += noise
        factor = cho_factor(gram, lower=True)
    whitened = solve_triangular(factor[0], cross.T, lower=True)
    # The held-out errors already hold the map's error at the distance of one cell from the
    # others; what the variance adds is only its growth beyond that (far from every point).
    left_out_variance = 1.0 / np.diag(cho_solve(factor, np.eye(len(means)))) - noise
    reach = float(np.average(np.maximum(left_out_variance, 0.0), weights=counts))
    variance = np.maximum(field - np.sum(whitened ** 2, axis=0) - reach, 0.0)
    return LocalScaleMap((width, height), correction.reshape(rows, columns).astype(np.float32),
                         variance.reshape(rows, columns).astype(np.float32), float(detail),
                         error_grid.reshape(rows, columns).astype(np.float32), held_out)


def held_out_error_map(pixels: np.ndarray, errors: np.ndarray, log_variances: np.ndarray,
                       grid: np.ndarray, length: float, settings: ScaleMapSettings
                       ) -> tuple[np.ndarray, float]:
    """Return the held-out squared log-depth error at ``grid`` (M, 2) pixels, and its mean.

    Each point's squared error, winsorised at ``max_error_sigmas`` robust sigmas so a wrong
    track does not widen its neighbourhood much, less its own variance (the point's noise is
    not the pixel's error), is averaged with a Gaussian kernel of ``length`` px; the frame's
    mean enters every pixel with the weight of ``error_prior_points`` points, so far from the
    points the mean is what remains.
    """
    finite = np.isfinite(errors) & np.isfinite(log_variances)
    pixels, errors, log_variances = pixels[finite], errors[finite], log_variances[finite]
    if errors.size < 3:
        return np.zeros(len(grid)), 0.0
    limit = settings.max_error_sigmas * 1.4826 * float(np.median(np.abs(errors)))
    clipped = np.minimum(errors ** 2, limit ** 2)
    # The points' noise comes off the smoothed sum, not point by point: clamping each
    # difference at zero would bias the mean up where the points are noisier than the network.
    mean = max(float(np.mean(clipped - log_variances)), 0.0)
    weights = _kernel(grid, pixels, 1.0, length)
    prior = settings.error_prior_points
    local = (weights @ (clipped - log_variances) + prior * mean) / (weights.sum(axis=1) + prior)
    return np.maximum(local, 0.0), mean


def _usable_checks(checks, width: int, height: int):
    pixels, residuals, variances = (np.asarray(a, dtype=np.float64) for a in checks)
    pixels = pixels.reshape(-1, 2)
    usable = (np.isfinite(pixels).all(axis=1) & np.isfinite(residuals)
              & (pixels[:, 0] >= 0) & (pixels[:, 0] < width)
              & (pixels[:, 1] >= 0) & (pixels[:, 1] < height))
    return pixels[usable], residuals[usable], np.where(np.isfinite(variances), variances,
                                                       0.0)[usable]


def blend_maps(previous: LocalScaleMap | None, fresh: LocalScaleMap | None,
               memory: float) -> LocalScaleMap | None:
    """Return ``fresh`` with a share ``memory`` of ``previous`` kept (same image size only).

    The variance blends the same way, which errs on the safe side (it ignores what the two
    maps share); the noise is the fresh map's.
    """
    if fresh is None or previous is None or previous.image_size != fresh.image_size \
            or previous.correction.shape != fresh.correction.shape or memory <= 0.0:
        return fresh
    keep = np.float32(memory)
    error_variance = fresh.error_variance
    if error_variance is not None and previous.error_variance is not None:
        error_variance = (1 - keep) * error_variance + keep * previous.error_variance
    return LocalScaleMap(fresh.image_size,
                         (1 - keep) * fresh.correction + keep * previous.correction,
                         (1 - keep) * fresh.variance + keep * previous.variance,
                         fresh.noise_variance, error_variance, fresh.held_out_variance)


def _cell_means(pixels: np.ndarray, residuals: np.ndarray, variances: np.ndarray, width: int,
                cell_px: int):
    """Average the residuals per cell: (cell of each point, means, positions, counts, var)."""
    cell_px = max(int(cell_px), 1)
    columns = -(-width // cell_px)
    keys = ((pixels[:, 1] // cell_px).astype(np.int64) * columns
            + (pixels[:, 0] // cell_px).astype(np.int64))
    unique, cells, counts = np.unique(keys, return_inverse=True, return_counts=True)
    size = len(unique)
    means = np.bincount(cells, residuals, size) / counts
    positions = np.column_stack([np.bincount(cells, pixels[:, 0], size),
                                 np.bincount(cells, pixels[:, 1], size)]) / counts[:, None]
    mean_variances = np.bincount(cells, variances, size) / counts
    return cells, means, positions, counts.astype(np.float64), mean_variances


def _within_cell_variance(residuals: np.ndarray, means: np.ndarray, counts: np.ndarray
                          ) -> float:
    """Return the points' scatter about their cell's mean (cells with two or more points)."""
    shared = counts >= 2
    if np.count_nonzero(shared) < 3:
        return float('nan')
    # A cell's mean includes the point itself: n / (n - 1) undoes that shrinkage.
    inflation = np.sqrt(counts[shared] / (counts[shared] - 1.0))
    scatter = (residuals[shared] - means[shared]) * inflation
    return robust_variance(scatter)


def _kernel(first: np.ndarray, second: np.ndarray, variance: float, length: float
            ) -> np.ndarray:
    """Return the squared-exponential kernel between two sets of pixels, computed in place."""
    values = first @ second.T
    values *= -2.0
    values += np.sum(first ** 2, axis=1)[:, None]
    values += np.sum(second ** 2, axis=1)[None, :]
    np.maximum(values, 0.0, out=values)
    values *= -1.0 / (2.0 * length * length)
    np.exp(values, out=values)
    values *= variance
    return values
