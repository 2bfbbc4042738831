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

"""Metric scale for relative depth from triangulated points of the same images.

Relative Depth Anything output ``r`` is inverse depth up to an affine map. Triangulated points
with known metric depth ``z`` (and its sigma) seen in the same image give samples of
``1/z = s * r + t``. Each frame's robust, sigma-weighted fit is one measurement of
``(log s, t / s)`` with its covariance; a Kalman filter with process noise learnt from its own
innovations follows a network whose scale drifts or flickers and averages where it does not,
and restarts after a real jump (a new scene, a camera that was covered). Fits from too few,
badly spread or inconsistent points are refused, with the reason. The points' residuals after
the fit give a local scale map (:mod:`mono_depth_ros.core.scale_map`). Each pixel's depth sigma
adds the filter's variance, the map's growth away from its points and the network's error as
the points measure it held out (each predicted from the others, the fit's outliers included):
a real network's error is not the points' scatter about the fit, it is whole surfaces placed
too far or too near, which only the points that were not used to fit can show.
"""

from collections import OrderedDict
from dataclasses import dataclass, field
import math
import threading

import cv2
import numpy as np

from mono_depth_ros.core.camera_model import CameraModel
from mono_depth_ros.core.metrics import fit_scale_shift_robust
from mono_depth_ros.core.relative_depth import relative_to_metric
from mono_depth_ros.core.scale_map import (blend_maps, fit_scale_map, held_out_error_map,
                                           LocalScaleMap, robust_variance, ScaleMapSettings)

SPREAD_GRID = (4, 4)        # image regions counted for the spread check (columns, rows)
CORRELATION_GRID = (8, 6)   # cells that count as independent samples of the network's misfit


@dataclass
class ScaleFusionSettings:
    """Tuning of the fusion; the defaults suit 10-30 Hz cameras and a few hundred points."""

    min_points: int = 50            # points needed in one frame before fitting
    min_inliers: int = 40           # inliers needed for a fit to count
    min_inlier_fraction: float = 0.5   # share of the points that must agree with the fit
    min_regions: int = 4            # of the 4x4 image regions, how many must hold points
    min_relative_span: float = 0.05  # (p95 - p5) / median of the points' relative values
    max_residual: float = 0.2       # median |depth error| / depth of the inliers after the fit
    stamp_tolerance_ns: int = 5_000_000   # points and image belong together within this
    jump_ratio: float = 1.5         # a fit this far from the estimate is a jump...
    jump_frames: int = 3            # ...and this many in a row restart the filter
    max_age_ns: int = 2_000_000_000  # an estimate older than this is not used
    keep_frames: int = 30           # how many frames of points and relative maps are kept
    method: str = 'huber'           # robust fit: huber (IRLS) or ransac, then weighted LS
    min_process_noise: float = 1e-6   # per-fit variance floor of log scale and shift / scale
    noise_learning_rate: float = 0.15  # how fast the process noise follows the innovations
    local_map: bool = True          # correct the global fit per pixel from the residuals
    # The network's log-depth error where no point checks it is the points' mean held-out
    # error (each predicted from the others); a pixel's sigma never claims less than this.
    min_misfit_sigma: float = 0.01
    # Far beyond the points (the map's reach) the held-out errors measured nothing: there the
    # sigma grows towards at least this prior of a network's error on unchecked surfaces.
    extrapolation_sigma: float = 0.05
    scale_map: ScaleMapSettings = field(default_factory=ScaleMapSettings)
    # Share of the previous local map kept at each fit: the network's spatial error stays
    # where it is in the image from frame to frame, the points' noise does not.
    map_memory: float = 0.5


@dataclass
class FrameFit:
    """One frame's fit: 1/depth = scale * relative + shift, and what it rests on."""

    stamp_ns: int
    scale: float
    shift: float
    points: int
    inliers: int
    residual: float  # median |depth error| / depth over the inliers
    covariance: np.ndarray = field(default_factory=lambda: np.eye(2))  # of (log s, t / s)
    regions: int = 0
    # Every sampled point (inliers and the fit's outliers), ``inlier_mask`` says which is which.
    relative: np.ndarray = field(default_factory=lambda: np.empty(0, np.float32))  # at pixels
    depths: np.ndarray = field(default_factory=lambda: np.empty(0, np.float32))
    log_variances: np.ndarray = field(default_factory=lambda: np.empty(0))
    pixels: np.ndarray = field(default_factory=lambda: np.empty((0, 2)))
    image_size: tuple[int, int] = (0, 0)
    # The share of the fit's error that repeats from frame to frame (the network's misfit).
    bias_covariance: np.ndarray = field(default_factory=lambda: np.zeros((2, 2)))
    inlier_mask: np.ndarray = field(default_factory=lambda: np.empty(0, bool))

    @property
    def state(self) -> np.ndarray:
        """Return the fit as the filter's measurement: (log scale, shift / scale)."""
        return np.array([math.log(self.scale), self.shift / self.scale])


@dataclass(frozen=True)
class FitRefusal:
    """Why a frame gave no fit (said once by the node while it lasts)."""

    stamp_ns: int
    reason: str


@dataclass(frozen=True)
class MetricScale:
    """The scale to apply to one frame: 1/depth = scale * relative + shift, and how well known.

    ``covariance`` is the filter's, of (log scale, shift / scale); ``misfit_variance`` the
    network's mean squared log-depth error about the global fit, every point counted;
    ``local_map`` the per-pixel correction with its held-out error.
    """

    scale: float
    shift: float
    covariance: np.ndarray
    misfit_variance: float
    local_map: LocalScaleMap | None = None
    inliers: int = 0
    bias_variance: float = 0.0   # of log scale: the misfit's share that does not average out
    min_variance: float = 0.0    # of log depth: the least any pixel claims

    @property
    def scale_sigma(self) -> float:
        """Return the 1-sigma of ``scale``: the filter's and the misfit's bias (first order)."""
        return self.scale * math.sqrt(max(float(self.covariance[0, 0]) + self.bias_variance,
                                          0.0))

    def depth(self, relative: np.ndarray) -> np.ndarray:
        """Return metres (float32, NaN where unknown) of a relative map, local map applied."""
        depth = relative_to_metric(relative, self.scale, self.shift)
        if self.local_map is not None:
            correction = self.local_map.correction_at(depth.shape[1], depth.shape[0])
            depth *= np.exp(correction)
        return depth

    def sigma(self, relative: np.ndarray, depth: np.ndarray) -> np.ndarray:
        """Return the 1-sigma in metres (float32) of this scale's ``depth``, gated or not.

        Log-depth variance: the filter's (log z = -log s - log(r + t/s)), plus, where there
        is a local map, its variance beyond one cell from its points and the held-out error
        the points measured around the pixel; else the network's misfit.
        """
        relative = np.asarray(relative, dtype=np.float32)
        ratio = np.float32(self.shift / self.scale)
        with np.errstate(divide='ignore', invalid='ignore'):
            slope = np.float32(1.0) / (relative + ratio)
        p = self.covariance.astype(np.float32)
        variance = p[0, 0] + np.float32(2.0) * p[0, 1] * slope + p[1, 1] * slope * slope
        if self.local_map is not None:
            width, height = depth.shape[1], depth.shape[0]
            variance += (self.local_map.variance_at(width, height)
                         + self.local_map.error_variance_at(width, height))
        else:
            variance += np.float32(self.misfit_variance)
        with np.errstate(invalid='ignore'):
            variance = np.maximum(variance, np.float32(self.min_variance))
            return (depth * np.sqrt(variance)).astype(np.float32)


def sample_at_points(relative: np.ndarray, camera: CameraModel, points: np.ndarray,
                     sigmas: np.ndarray | None = None
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return relative values, metric depths, depth sigmas and pixels where ``points`` project.

    ``sigmas`` (N,) are the points' depth sigmas in metres (NaN or None: unknown).
    """
    points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    sigmas = (np.full(len(points), np.nan) if sigmas is None
              else np.asarray(sigmas, dtype=np.float64).reshape(-1))
    empty = (np.empty(0, np.float32), np.empty(0, np.float32), np.empty(0), np.empty((0, 2)))
    if points.size == 0 or len(sigmas) != len(points):
        return empty
    pixels = camera.project(points)
    height, width = relative.shape
    inside = (np.all(np.isfinite(pixels), axis=1) & (pixels[:, 0] >= 0)
              & (pixels[:, 0] <= width - 1) & (pixels[:, 1] >= 0) & (pixels[:, 1] <= height - 1)
              & (points[:, 2] > 0))
    if not np.any(inside):
        return empty
    # Bilinear sampling at the sub-pixel projection: rounding costs accuracy on slanted surfaces.
    map_x = pixels[inside, 0].astype(np.float32).reshape(-1, 1)
    map_y = pixels[inside, 1].astype(np.float32).reshape(-1, 1)
    values = cv2.remap(np.ascontiguousarray(relative, dtype=np.float32), map_x, map_y,
                       cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).reshape(-1)
    depths = points[inside, 2]
    finite = np.isfinite(values) & np.isfinite(depths)
    return (values[finite].astype(np.float32), depths[finite].astype(np.float32),
            sigmas[inside][finite], pixels[inside][finite])


def fit_frame(stamp_ns: int, relative: np.ndarray, camera: CameraModel, points: np.ndarray,
              settings: ScaleFusionSettings, sigmas: np.ndarray | None = None
              ) -> FrameFit | FitRefusal:
    """Fit one frame's scale and shift robustly, or say why the points do not allow it."""
    values, depths, point_sigmas, pixels = sample_at_points(relative, camera, points, sigmas)
    count = int(values.size)
    if count < settings.min_points:
        return FitRefusal(stamp_ns, f'{count} points in the image (need {settings.min_points})')
    height, width = relative.shape
    regions = _occupied_cells(pixels, width, height, SPREAD_GRID)
    if regions < settings.min_regions:
        return FitRefusal(stamp_ns, f'the points cover {regions} of the '
                          f'{SPREAD_GRID[0] * SPREAD_GRID[1]} image regions (need '
                          f'{settings.min_regions}): badly spread')
    low, middle, high = np.percentile(values, [5, 50, 95])
    if not (high - low) > settings.min_relative_span * abs(middle):
        return FitRefusal(stamp_ns, 'the points span too little depth to fit a scale and a '
                          'shift')
    inverse = 1.0 / depths.astype(np.float64)
    scale, shift, inliers = fit_scale_shift_robust(values, inverse, method=settings.method)
    inlier_count = int(np.count_nonzero(inliers))
    needed = max(settings.min_inliers, math.ceil(settings.min_inlier_fraction * count))
    if inlier_count < needed:
        return FitRefusal(stamp_ns, f'inconsistent points: {inlier_count} of {count} agree '
                          f'with one scale (need {needed})')
    weighted = _weighted_fit(values[inliers], inverse[inliers], depths[inliers],
                             point_sigmas[inliers], pixels[inliers], width, height)
    if weighted is None:
        return FitRefusal(stamp_ns, 'the weighted fit is singular (points at one depth)')
    scale, shift, covariance, bias_covariance = weighted
    if not (math.isfinite(scale) and math.isfinite(shift)) or scale <= 0:
        return FitRefusal(stamp_ns, f'the fit gives scale {scale:.3g}: the relative map does '
                          'not grow with inverse depth here')
    fitted = scale * values[inliers] + shift
    with np.errstate(divide='ignore', invalid='ignore'):
        errors = np.abs(1.0 / fitted - depths[inliers]) / depths[inliers]
    residual = float(np.nanmedian(errors)) if errors.size else float('nan')
    if not residual <= settings.max_residual:
        return FitRefusal(stamp_ns, f'inconsistent points: the fit is off by {residual:.0%} '
                          f'of the depth at the median point (need <= '
                          f'{settings.max_residual:.0%})')
    with np.errstate(divide='ignore', invalid='ignore'):
        log_variances = np.where(np.isfinite(point_sigmas),
                                 (point_sigmas / depths) ** 2, np.nan)
    # The residuals that size each pixel's sigma use the pixel itself, not the bilinear mean
    # of four: a network's per-pixel noise would otherwise be halved.
    columns, rows = np.rint(pixels).astype(np.int64).T
    nearest = np.asarray(relative, dtype=np.float32)[rows, columns]
    return FrameFit(stamp_ns, float(scale), float(shift), count, inlier_count, residual,
                    covariance, regions, nearest, depths, log_variances, pixels,
                    (width, height), bias_covariance, inliers)


def _weighted_fit(values: np.ndarray, inverse: np.ndarray, depths: np.ndarray,
                  sigmas: np.ndarray, pixels: np.ndarray, width: int, height: int):
    """Return (scale, shift, covariances of (log s, t / s)) of the inliers, or None.

    Each point weighs by its inverse-depth variance plus the network's misfit (measured from
    the residuals). The misfit is spatially correlated, so its share counts one sample per
    occupied cell, not per point; and it stays where it is in the image from frame to frame,
    so that share (the second covariance) is a bias that averaging over frames does not
    reduce, kept apart from the first, which does average out.
    """
    r = values.astype(np.float64)
    design = np.column_stack([r, np.ones_like(r)])
    with np.errstate(divide='ignore', invalid='ignore'):
        point_variance = (sigmas / depths.astype(np.float64) ** 2) ** 2
    first, *_ = np.linalg.lstsq(design, inverse, rcond=None)
    spread = robust_variance(inverse - design @ first)
    known = np.isfinite(point_variance)
    typical = float(np.median(point_variance[known])) if known.any() else 0.0
    misfit = max(spread - typical, 1e-3 * spread, 1e-16)
    point_variance = np.where(known, point_variance, typical)
    weights = 1.0 / (point_variance + misfit)
    normal = design.T @ (design * weights[:, None])
    if not np.all(np.isfinite(normal)) or np.linalg.cond(normal) > 1e12:
        return None
    inverse_normal = np.linalg.inv(normal)
    scale, shift = inverse_normal @ (design.T @ (weights * inverse))
    residuals = inverse - design @ np.array([scale, shift])
    chi2 = float(np.sum(weights * residuals ** 2)) / max(len(r) - 2, 1)
    cells = max(_occupied_cells(pixels, width, height, CORRELATION_GRID), 1)
    correlated = misfit / (misfit + typical)
    independent = inverse_normal * max(chi2, 1.0)
    shared = independent * (len(r) / cells - 1.0) * correlated
    jacobian = np.array([[1.0 / scale, 0.0], [-shift / scale ** 2, 1.0 / scale]])
    return (float(scale), float(shift), jacobian @ independent @ jacobian.T,
            jacobian @ shared @ jacobian.T)


def _occupied_cells(pixels: np.ndarray, width: int, height: int, grid: tuple[int, int]) -> int:
    columns = np.clip((pixels[:, 0] * grid[0] / width).astype(np.int64), 0, grid[0] - 1)
    rows = np.clip((pixels[:, 1] * grid[1] / height).astype(np.int64), 0, grid[1] - 1)
    return int(np.unique(rows * grid[0] + columns).size)


class ScaleFilter:
    """A Kalman filter on (log scale, shift / scale) with process noise from its innovations.

    A random walk per fit whose variance follows the part of each innovation the prediction
    and the measurement do not explain (covariance matching): a flickering network raises it
    and the filter follows each frame's fit; a steady one lowers it to the floor and the
    filter averages. A fit whose scale is ``jump_ratio`` off is held back; ``jump_frames`` of
    them in a row restart the filter from the newest.
    """

    def __init__(self, settings: ScaleFusionSettings) -> None:
        self.settings = settings
        self.state: np.ndarray | None = None
        self.covariance = np.eye(2)
        self.restarts = 0
        self.reset()

    def reset(self) -> None:
        """Forget the estimate."""
        self.state = None
        self.jumps = 0
        self.process_noise = np.full(2, self.settings.min_process_noise)
        self._innovation_power = np.zeros(2)
        self._explained_power = np.zeros(2)

    def update(self, fit: FrameFit) -> bool:
        """Absorb one fit; return False when it was held back as a possible jump."""
        measured, noise = fit.state, fit.covariance
        if self.state is None:
            self.state, self.covariance = measured, noise.copy()
            return True
        innovation = measured - self.state
        if abs(innovation[0]) > math.log(self.settings.jump_ratio):
            self.jumps += 1
            if self.jumps < self.settings.jump_frames:
                return False
            self.restarts += 1
            self.reset()
            self.state, self.covariance = measured, noise.copy()
            return True
        self.jumps = 0
        # Covariance matching over a few fits: the squared innovations beyond what the last
        # estimate's variance and the fits' own explain are the process noise.
        rate = self.settings.noise_learning_rate
        self._innovation_power = (1.0 - rate) * self._innovation_power + rate * innovation ** 2
        self._explained_power = ((1.0 - rate) * self._explained_power
                                 + rate * (np.diag(self.covariance) + np.diag(noise)))
        # Only innovations clearly beyond the explained (twice, as a chi-square test over the
        # few fits the rate averages) count: a steady network keeps the floor and is averaged.
        excess = np.where(self._innovation_power > 2.0 * self._explained_power,
                          self._innovation_power - self._explained_power, 0.0)
        self.process_noise = np.maximum(excess, self.settings.min_process_noise)
        predicted = self.covariance + np.diag(self.process_noise)
        gain = predicted @ np.linalg.inv(predicted + noise)
        self.state = self.state + gain @ innovation
        self.covariance = (np.eye(2) - gain) @ predicted
        self.covariance = 0.5 * (self.covariance + self.covariance.T)
        return True


class ScaleFusion:
    """Pairs relative maps with points by stamp and keeps the filtered scale and its map.

    Points and relative maps may come from different threads (a subscription callback and the
    inference worker): one lock guards the buffers and the estimate.
    """

    def __init__(self, settings: ScaleFusionSettings | None = None) -> None:
        self.settings = settings or ScaleFusionSettings()
        self._lock = threading.RLock()
        self._points: OrderedDict[int, tuple[np.ndarray, np.ndarray | None]] = OrderedDict()
        self._relative: OrderedDict[int, tuple[np.ndarray, CameraModel]] = OrderedDict()
        self._filter = ScaleFilter(self.settings)
        self._estimate_stamp_ns = 0
        self._local_map: LocalScaleMap | None = None
        self._misfit_variance = float('nan')
        self.last_fit: FrameFit | None = None
        self.last_refusal: FitRefusal | None = None
        self.fits = 0
        self.refusals = 0
        self.time_resets = 0

    @property
    def resets(self) -> int:
        """Return how often the filter restarted after a persistent jump."""
        return self._filter.restarts

    def reset(self) -> None:
        """Forget every estimate and buffered frame (time went backwards, new scene)."""
        with self._lock:
            self._points.clear()
            self._relative.clear()
            self._filter.reset()
            self._estimate_stamp_ns = 0
            self._local_map = None
            self.last_fit = None

    def add_points(self, stamp_ns: int, points_camera: np.ndarray,
                   sigmas: np.ndarray | None = None) -> None:
        """Add the triangulated points (optical frame) of the image stamped ``stamp_ns``.

        ``sigmas`` (N,) are their depth sigmas in metres, when the points carry them.
        """
        points = np.asarray(points_camera, dtype=np.float32)
        with self._lock:
            self._remember(self._points, stamp_ns, (points, sigmas))
            self._fit_pending()

    def update(self, stamp_ns: int, relative: np.ndarray,
               camera: CameraModel) -> MetricScale | None:
        """Add a frame's relative map and return the scale to use for it, or None.

        A stamp older than the estimate by more than ``max_age_ns`` (a bag restarted, a
        simulator reset) resets the fusion; ``time_resets`` counts it.
        """
        with self._lock:
            went_back = self._estimate_stamp_ns - self.settings.max_age_ns
            if self._estimate_stamp_ns and stamp_ns < went_back:
                self.reset()
                self.time_resets += 1
            self._remember(self._relative, stamp_ns, (relative, camera))
            self._fit_pending()
            return self.current(stamp_ns)

    def current(self, stamp_ns: int) -> MetricScale | None:
        """Return the filtered scale, or None before the first fit or when stale."""
        with self._lock:
            state = self._filter.state
            if state is None:
                return None
            if abs(stamp_ns - self._estimate_stamp_ns) > self.settings.max_age_ns:
                return None
            scale = math.exp(state[0])
            fit = self.last_fit
            return MetricScale(scale, scale * float(state[1]), self._filter.covariance.copy(),
                               self._misfit_variance, self._local_map,
                               fit.inliers if fit else 0,
                               float(fit.bias_covariance[0, 0]) if fit else 0.0,
                               self.settings.min_misfit_sigma ** 2)

    def fit_summary(self) -> tuple[FrameFit | None, int]:
        """Return the last fit and the number of fits, read together."""
        with self._lock:
            return self.last_fit, self.fits

    def refusal(self) -> FitRefusal | None:
        """Return why the newest paired frame gave no fit (None once one fits again)."""
        with self._lock:
            return self.last_refusal

    # The helpers below run with the lock held.
    def _remember(self, store: OrderedDict, stamp_ns: int, value) -> None:
        store[stamp_ns] = value
        while len(store) > self.settings.keep_frames:
            store.popitem(last=False)

    def _fit_pending(self) -> None:
        tolerance = self.settings.stamp_tolerance_ns
        for stamp_ns in list(self._relative):
            match = next((s for s in self._points if abs(s - stamp_ns) <= tolerance), None)
            if match is None:
                continue
            relative, camera = self._relative.pop(stamp_ns)
            points, sigmas = self._points.pop(match)
            fit = fit_frame(stamp_ns, relative, camera, points, self.settings, sigmas)
            if isinstance(fit, FitRefusal):
                self.last_refusal = fit
                self.refusals += 1
            else:
                self.last_refusal = None
                self._absorb(fit)

    def _absorb(self, fit: FrameFit) -> None:
        self.last_fit = fit
        self.fits += 1
        if not self._filter.update(fit):
            return
        self._estimate_stamp_ns = max(self._estimate_stamp_ns, fit.stamp_ns)
        scale = math.exp(self._filter.state[0])
        shift = scale * float(self._filter.state[1])
        fitted = scale * fit.relative.astype(np.float64) + shift
        with np.errstate(divide='ignore', invalid='ignore'):
            residuals = np.log(fitted * fit.depths)   # log z_measured - log z_fitted
        known = np.isfinite(fit.log_variances)
        typical = float(np.median(fit.log_variances[known])) if known.any() else 0.0
        variances = np.where(known, fit.log_variances, typical)
        inliers = fit.inlier_mask
        if inliers.shape != residuals.shape:
            inliers = np.ones(residuals.shape, bool)
        # Without a map every point, outliers of the fit included, checks the global fit:
        # their mean squared error (less their own noise) is the network's misfit.
        _, held_out = held_out_error_map(fit.pixels, residuals, variances, np.empty((0, 2)),
                                         1.0, self.settings.scale_map)
        floor = self.settings.min_misfit_sigma ** 2
        self._misfit_variance = max(held_out, floor)
        if not self.settings.local_map:
            return
        # The field's prior is the inliers' scatter; the map itself follows every point (its
        # residuals clipped at a few robust sigmas): the fit's outliers are where a real
        # network places whole surfaces wrongly, exactly what the map is there to correct.
        misfit = robust_variance(residuals[inliers])
        fresh = fit_scale_map(fit.pixels, residuals, variances, fit.image_size, misfit,
                              self.settings.scale_map,
                              max(floor, self.settings.extrapolation_sigma ** 2))
        self._local_map = blend_maps(self._local_map, fresh, self.settings.map_memory)
