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
map is a Gaussian-weighted average of those residuals (normalised convolution on a coarse grid)
with a prior that pulls it to zero, so it follows the points where they are dense and fades to
the global fit away from them. Its variance says how well each pixel's correction is known.
"""

from dataclasses import dataclass
import math

import cv2
import numpy as np


@dataclass(frozen=True)
class ScaleMapSettings:
    """Resolution and reach of the map."""

    cell_px: int = 8           # the map's grid cell, in image pixels
    radius: float = 0.08       # Gaussian reach of a point, as a fraction of the image width
    max_residual_sigmas: float = 3.0   # residuals clipped at this many robust sigmas


@dataclass(frozen=True)
class LocalScaleMap:
    """A log-depth correction and its variance on a coarse grid, for one image size.

    ``correction`` and ``variance`` are (rows, columns) float32 at ``cell_px`` per cell;
    ``noise_variance`` is the log-depth scatter a pixel keeps after the correction (network
    noise and detail finer than the map).
    """

    image_size: tuple[int, int]   # width, height
    correction: np.ndarray
    variance: np.ndarray
    noise_variance: float

    def at_image(self, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
        """Return the correction and its variance (H, W) float32 at an image size."""
        correction = cv2.resize(self.correction, (width, height),
                                interpolation=cv2.INTER_LINEAR)
        variance = cv2.resize(self.variance, (width, height), interpolation=cv2.INTER_LINEAR)
        return correction, variance


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
                  settings: ScaleMapSettings | None = None) -> LocalScaleMap | None:
    """Return the map of the points' log-depth residuals (measured minus fitted), or None.

    ``pixels`` (N, 2) x, y; ``log_variances`` (N,) each residual's own variance (the point's
    relative depth sigma squared); ``prior_variance`` the variance of the residual field
    itself (how far from the global fit a pixel may be a priori: the global fit's misfit).
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
    limit = settings.max_residual_sigmas * spread
    residuals = np.clip(residuals, np.median(residuals) - limit, np.median(residuals) + limit)
    cell = max(int(settings.cell_px), 1)
    grid = (-(-height // cell), -(-width // cell))
    cells = ((pixels[:, 1] // cell).astype(np.int64) * grid[1]
             + (pixels[:, 0] // cell).astype(np.int64))
    sigma_cells = max(settings.radius * width / cell, 0.5)
    # The points' own scatter about a smooth field: first with a guess, then measured.
    detail = prior_variance / 4.0
    for _ in range(2):
        weights = 1.0 / (variances + detail)
        correction, support = _normalised(cells, weights, residuals, grid, sigma_cells,
                                          prior_variance)
        left = residuals - correction.reshape(-1)[cells]
        # Each point is part of its own neighbourhood's average: undo that shrinkage.
        own = weights / (support.reshape(-1)[cells] + 1.0 / prior_variance)
        left = left / np.maximum(1.0 - own, 0.1)
        detail = max(robust_variance(left), 1e-8)
    variance = (1.0 / (support + 1.0 / prior_variance)).astype(np.float32)
    return LocalScaleMap((width, height), correction.astype(np.float32), variance,
                         float(detail))


def _normalised(cells: np.ndarray, weights: np.ndarray, values: np.ndarray,
                grid: tuple[int, int], sigma_cells: float,
                prior_variance: float) -> tuple[np.ndarray, np.ndarray]:
    """Return the prior-regularised weighted average of values and the summed weight."""
    size = grid[0] * grid[1]
    weight_sum = np.bincount(cells, weights, size).reshape(grid).astype(np.float32)
    value_sum = np.bincount(cells, weights * values, size).reshape(grid).astype(np.float32)
    # GaussianBlur's kernel sums to one; times 2 pi sigma^2 its peak is one, so a point in the
    # cell itself counts fully and one a radius away counts e^-0.5.
    peak = np.float32(2.0 * math.pi * sigma_cells ** 2)
    support = cv2.GaussianBlur(weight_sum, (0, 0), sigma_cells,
                               borderType=cv2.BORDER_CONSTANT) * peak
    weighted = cv2.GaussianBlur(value_sum, (0, 0), sigma_cells,
                                borderType=cv2.BORDER_CONSTANT) * peak
    support = np.maximum(support, 0.0)
    return weighted / (support + np.float32(1.0 / prior_variance)), support
