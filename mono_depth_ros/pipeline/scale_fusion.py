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
with known metric depth ``z`` seen in the same image give samples of ``1/z = s * r + t``; a robust
fit gives (s, t) for that frame, and a filter on (log s, t / s) smooths them over time and
restarts after a real jump (a new scene, a camera that was covered). Each fit counts by its
inlier count, so a frame with few points moves the estimate little.
"""

from collections import OrderedDict
from dataclasses import dataclass
import math
import threading

import cv2
import numpy as np

from mono_depth_ros.core.camera_model import CameraModel
from mono_depth_ros.core.metrics import fit_scale_shift_robust


@dataclass
class ScaleFusionSettings:
    """Tuning of the fusion; the defaults suit 10-30 Hz cameras and a few hundred points."""

    min_points: int = 50            # points needed in one frame before fitting
    min_inliers: int = 40           # inliers needed for a fit to count
    stamp_tolerance_ns: int = 5_000_000   # points and image belong together within this
    smoothing: float = 0.7          # share of the past estimate's weight kept at each fit
    jump_ratio: float = 1.5         # a fit this far from the estimate is a jump...
    jump_frames: int = 3            # ...and this many in a row restart the filter
    max_age_ns: int = 2_000_000_000  # an estimate older than this is not used
    keep_frames: int = 30           # how many frames of points and relative maps are kept
    method: str = 'huber'           # robust fit: huber (IRLS) or ransac, then least squares


@dataclass
class FrameFit:
    """One frame's fit: 1/depth = scale * relative + shift."""

    stamp_ns: int
    scale: float
    shift: float
    points: int
    inliers: int
    residual: float  # median |depth error| / depth over the inliers


def sample_at_points(relative: np.ndarray, camera: CameraModel,
                     points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (relative values, metric depths) at the pixels where ``points`` project."""
    points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    if points.size == 0:
        return np.empty(0, np.float32), np.empty(0, np.float32)
    pixels = camera.project(points)
    height, width = relative.shape
    inside = (np.all(np.isfinite(pixels), axis=1) & (pixels[:, 0] >= 0)
              & (pixels[:, 0] <= width - 1) & (pixels[:, 1] >= 0) & (pixels[:, 1] <= height - 1)
              & (points[:, 2] > 0))
    if not np.any(inside):
        return np.empty(0, np.float32), np.empty(0, np.float32)
    # Bilinear sampling at the sub-pixel projection: rounding costs accuracy on slanted surfaces.
    map_x = pixels[inside, 0].astype(np.float32).reshape(-1, 1)
    map_y = pixels[inside, 1].astype(np.float32).reshape(-1, 1)
    values = cv2.remap(np.ascontiguousarray(relative, dtype=np.float32), map_x, map_y,
                       cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).reshape(-1)
    depths = points[inside, 2]
    finite = np.isfinite(values) & np.isfinite(depths)
    return values[finite].astype(np.float32), depths[finite].astype(np.float32)


def fit_frame(stamp_ns: int, relative: np.ndarray, camera: CameraModel, points: np.ndarray,
              settings: ScaleFusionSettings) -> FrameFit | None:
    """Fit one frame's scale and shift robustly; None with too few (inlier) points."""
    values, depths = sample_at_points(relative, camera, points)
    if values.size < settings.min_points:
        return None
    scale, shift, inliers = fit_scale_shift_robust(values, 1.0 / depths, method=settings.method)
    if not (math.isfinite(scale) and math.isfinite(shift)) or scale <= 0:
        return None
    inlier_count = int(np.count_nonzero(inliers))
    if inlier_count < settings.min_inliers:
        return None
    inverse = scale * values[inliers] + shift
    with np.errstate(divide='ignore', invalid='ignore'):
        errors = np.abs(1.0 / inverse - depths[inliers]) / depths[inliers]
    residual = float(np.nanmedian(errors)) if errors.size else float('nan')
    return FrameFit(stamp_ns, float(scale), float(shift), int(values.size), inlier_count,
                    residual)


class ScaleFusion:
    """Pairs relative maps with points by stamp and keeps a filtered (scale, shift).

    Points and relative maps may come from different threads (a subscription callback and the
    inference worker): one lock guards the buffers and the estimate.
    """

    def __init__(self, settings: ScaleFusionSettings | None = None) -> None:
        self.settings = settings or ScaleFusionSettings()
        self._lock = threading.RLock()
        self._points: OrderedDict[int, np.ndarray] = OrderedDict()
        self._relative: OrderedDict[int, tuple[np.ndarray, CameraModel]] = OrderedDict()
        self._log_scale: float | None = None
        self._shift_ratio = 0.0
        self._weight = 0.0
        self._estimate_stamp_ns = 0
        self._jumps = 0
        self.last_fit: FrameFit | None = None
        self.fits = 0
        self.resets = 0

    def reset(self) -> None:
        """Forget every estimate and buffered frame (time went backwards, new scene)."""
        with self._lock:
            self._points.clear()
            self._relative.clear()
            self._log_scale = None
            self._estimate_stamp_ns = 0
            self._jumps = 0
            self.last_fit = None

    def add_points(self, stamp_ns: int, points_camera: np.ndarray) -> None:
        """Add the triangulated points (optical frame) of the image stamped ``stamp_ns``."""
        points = np.asarray(points_camera, dtype=np.float32)
        with self._lock:
            self._remember(self._points, stamp_ns, points)
            self._fit_pending()

    def update(self, stamp_ns: int, relative: np.ndarray,
               camera: CameraModel) -> tuple[float, float] | None:
        """Add a frame's relative map and return the (scale, shift) to use for it, or None."""
        with self._lock:
            went_back = self._estimate_stamp_ns - self.settings.max_age_ns
            if self._estimate_stamp_ns and stamp_ns < went_back:
                self.reset()
            self._remember(self._relative, stamp_ns, (relative, camera))
            self._fit_pending()
            return self.current(stamp_ns)

    def current(self, stamp_ns: int) -> tuple[float, float] | None:
        """Return the filtered (scale, shift), or None before the first fit or when stale."""
        with self._lock:
            if self._log_scale is None:
                return None
            if abs(stamp_ns - self._estimate_stamp_ns) > self.settings.max_age_ns:
                return None
            scale = math.exp(self._log_scale)
            return scale, scale * self._shift_ratio

    def fit_summary(self) -> tuple[FrameFit | None, int]:
        """Return the last fit and the number of fits, read together."""
        with self._lock:
            return self.last_fit, self.fits

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
            points = self._points.pop(match)
            fit = fit_frame(stamp_ns, relative, camera, points, self.settings)
            if fit is not None:
                self._absorb(fit)

    def _absorb(self, fit: FrameFit) -> None:
        self.last_fit = fit
        self.fits += 1
        log_scale, shift_ratio = math.log(fit.scale), fit.shift / fit.scale
        jumped = (self._log_scale is not None
                  and abs(log_scale - self._log_scale) > math.log(self.settings.jump_ratio))
        if jumped:
            self._jumps += 1
            if self._jumps < self.settings.jump_frames:
                return
            self.resets += 1
        if self._log_scale is None or jumped:
            self._log_scale, self._shift_ratio = log_scale, shift_ratio
            self._weight = float(fit.inliers)
        else:
            # Exponential forgetting of the past, each fit weighted by its inlier count.
            past = self.settings.smoothing * self._weight
            self._weight = past + fit.inliers
            self._log_scale = (past * self._log_scale + fit.inliers * log_scale) / self._weight
            self._shift_ratio = (past * self._shift_ratio
                                 + fit.inliers * shift_ratio) / self._weight
        self._jumps = 0
        self._estimate_stamp_ns = max(self._estimate_stamp_ns, fit.stamp_ns)
