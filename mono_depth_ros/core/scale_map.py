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


@dataclass(frozen=True)
class LocalScaleMap:
    """A log-depth correction and its variance on a coarse grid, for one image size.

    ``correction`` and ``variance`` are (rows, columns) float32 at ``grid_cell_px`` per
    cell; ``noise_variance`` is the log-depth scatter a pixel keeps after the correction
    (network noise and detail finer than the map).
    """

    image_size: tuple[int, int]   # width, height
    correction: np.ndarray
    variance: np.ndarray
    noise_variance: float

    def correction_at(self, width: int, height: int) -> np.ndarray:
        """Return the log-depth correction (H, W) float32 at an image size."""
        return cv2.resize(self.correction, (width, height), interpolation=cv2.INTER_LINEAR)

    def variance_at(self, width: int, height: int) -> np.ndarray:
        """Return the correction's variance (H, W) float32 at an image size."""
        return cv2.resize(self.variance, (width, height), interpolation=cv2.INTER_LINEAR)


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
                  floor_variance: float = 0.0) -> LocalScaleMap | None:
    """Return the map of the points' log-depth residuals (measured minus fitted), or None.

    ``pixels`` (N, 2) x, y; ``log_variances`` (N,) each residual's own variance (the point's
    relative depth sigma squared); ``prior_variance`` the residuals' total scatter about the
    global fit. The field's own prior is that scatter less the points' scatter about it;
    ``floor_variance`` is the least a pixel far from every point may claim (the map's variance
    is scaled up where its prior is below it).
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
    if floor_variance > field:
        # The variance under the floor's prior: as sure near the points as their noise
        # allows, never surer than the floor away from them.
        field = floor_variance
        gram = _kernel(positions, positions, field, length)
        gram[np.diag_indices_from(gram)] += noise
        factor = cho_factor(gram, lower=True)
        cross = _kernel(grid, positions, field, length)
    whitened = solve_triangular(factor[0], cross.T, lower=True)
    variance = np.maximum(field - np.sum(whitened ** 2, axis=0), 0.0)
    return LocalScaleMap((width, height), correction.reshape(rows, columns).astype(np.float32),
                         variance.reshape(rows, columns).astype(np.float32), float(detail))


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
    return LocalScaleMap(fresh.image_size,
                         (1 - keep) * fresh.correction + keep * previous.correction,
                         (1 - keep) * fresh.variance + keep * previous.variance,
                         fresh.noise_variance)


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
    squared = (np.sum(first ** 2, axis=1)[:, None] + np.sum(second ** 2, axis=1)[None, :]
               - 2.0 * first @ second.T)
    return variance * np.exp(-np.maximum(squared, 0.0) / (2.0 * length * length))
