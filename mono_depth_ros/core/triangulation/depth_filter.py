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

"""Per-track inverse-depth filters: a Gaussian x Beta model that converges and rejects outliers.

The model of Vogiatzis and Hernandez (2011), used by REMODE and SVO: each measurement of a
track's inverse depth is, with probability ``pi``, Gaussian around the true value and otherwise
uniform over [1/max_depth, 1/min_depth]. The posterior is approximated by a Gaussian on the
inverse depth (mean, variance) times a Beta(a, b) on ``pi``. A track has converged when its
relative standard deviation is small and its inlier ratio ``a / (a + b)`` is high; it has
diverged (and should be dropped) when the inlier ratio falls low.

``update`` fuses a measurement as an independent one. ``replace`` is for estimates that are
not independent of the previous one (a least-squares solve over all of a track's stored views,
redone when it gains a view): the new estimate, combined with the broad prior only, replaces
the old one, and the Beta counts record whether it agrees with the old one.

All state is held in arrays of one row per track, ordered like the feature tracker's tracks.
"""

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class DepthFilterParams:
    """Settings of the depth filters.

    Attributes:
        min_depth, max_depth: the depth range (m); the outlier density is uniform over its
            inverse.
        prior_inliers, prior_outliers: Beta prior (a, b) of a new filter.
        converged_relative_sigma: largest std(inverse depth) / inverse depth of a converged
            filter (about the relative depth uncertainty).
        converged_inlier_ratio: least a / (a + b) of a converged filter.
        diverged_inlier_ratio: a filter whose a / (a + b) falls below this has diverged.
        min_updates: least number of inlier measurements of a converged filter.
    """

    min_depth: float = 0.2
    max_depth: float = 30.0
    prior_inliers: float = 5.0
    prior_outliers: float = 5.0
    converged_relative_sigma: float = 0.02
    converged_inlier_ratio: float = 0.6
    diverged_inlier_ratio: float = 0.3
    min_updates: int = 3


class DepthFilterBank:
    """One Gaussian x Beta inverse-depth filter per track."""

    def __init__(self, params: DepthFilterParams | None = None):
        self.params = params or DepthFilterParams()
        low, high = 1.0 / self.params.max_depth, 1.0 / self.params.min_depth
        self._outlier_density = 1.0 / (high - low)
        self.mean = np.zeros(0)
        self.variance = np.zeros(0)
        self.a = np.zeros(0)
        self.b = np.zeros(0)
        self.updates = np.zeros(0, np.int64)

    def __len__(self) -> int:
        return len(self.mean)

    @property
    def initialized(self) -> np.ndarray:
        """(n,) bool: filters that have received a measurement."""
        return self.updates > 0

    @property
    def inlier_ratio(self) -> np.ndarray:
        """(n,) expected inlier probability a / (a + b)."""
        return self.a / (self.a + self.b)

    def carry(self, previous_index: np.ndarray) -> None:
        """Reorder to a new track list: row i takes old row previous_index[i], -1 starts fresh."""
        previous_index = np.asarray(previous_index, dtype=np.int64)
        old = previous_index >= 0
        source = previous_index[old]

        def moved(values: np.ndarray, fill) -> np.ndarray:
            out = np.full(len(previous_index), fill, dtype=values.dtype)
            out[old] = values[source]
            return out

        self.mean = moved(self.mean, 0.0)
        self.variance = moved(self.variance, 0.0)
        self.a = moved(self.a, self.params.prior_inliers)
        self.b = moved(self.b, self.params.prior_outliers)
        self.updates = moved(self.updates, 0)

    def keep(self, mask: np.ndarray) -> None:
        """Keep only the rows where ``mask`` is true."""
        for name in ('mean', 'variance', 'a', 'b', 'updates'):
            setattr(self, name, getattr(self, name)[mask])

    def update(self, rows: np.ndarray, inverse_depth: np.ndarray, variance: np.ndarray) -> None:
        """Fuse one measurement (inverse depth, its variance) into each of ``rows``.

        A filter without measurements starts at the measurement.
        """
        rows = np.asarray(rows, dtype=np.int64)
        x = np.asarray(inverse_depth, dtype=np.float64)
        tau2 = np.asarray(variance, dtype=np.float64)
        fresh = self.updates[rows] == 0
        if fresh.any():
            start = rows[fresh]
            self.mean[start] = x[fresh]
            self.variance[start] = tau2[fresh]
            self.a[start] = self.params.prior_inliers
            self.b[start] = self.params.prior_outliers
            self.updates[start] = 1
        rows, x, tau2 = rows[~fresh], x[~fresh], tau2[~fresh]
        if len(rows) == 0:
            return
        mean, sigma2 = self.mean[rows], self.variance[rows]
        a, b = self.a[rows], self.b[rows]

        s2 = 1.0 / (1.0 / sigma2 + 1.0 / tau2)
        m = s2 * (mean / sigma2 + x / tau2)
        spread = sigma2 + tau2
        inlier_density = np.exp(-0.5 * (x - mean) ** 2 / spread) / np.sqrt(2.0 * np.pi * spread)
        c1 = a / (a + b) * inlier_density
        c2 = b / (a + b) * self._outlier_density
        total = c1 + c2
        c1, c2 = c1 / total, c2 / total
        f = c1 * (a + 1.0) / (a + b + 1.0) + c2 * a / (a + b + 1.0)
        e = (c1 * (a + 1.0) * (a + 2.0) + c2 * a * (a + 1.0)) / ((a + b + 1.0) * (a + b + 2.0))

        new_mean = c1 * m + c2 * mean
        new_variance = c1 * (s2 + m * m) + c2 * (sigma2 + mean * mean) - new_mean * new_mean
        new_a = (e - f) / (f - e / f)
        self.mean[rows] = new_mean
        self.variance[rows] = np.maximum(new_variance, 1e-12 * new_mean * new_mean)
        self.a[rows] = new_a
        self.b[rows] = new_a * (1.0 - f) / f
        self.updates[rows] += (c1 > 0.5).astype(np.int64)

    def prior(self) -> tuple[float, float]:
        """Return the broad prior of the inverse depth (mean, variance): all of the depth range."""
        low, high = 1.0 / self.params.max_depth, 1.0 / self.params.min_depth
        return 0.5 * (low + high), (0.25 * (high - low)) ** 2

    def replace(self, rows: np.ndarray, inverse_depth: np.ndarray,
                variance: np.ndarray) -> None:
        """Replace each row's estimate by prior x this measurement (not fused with the old one).

        The first measurement of a row, and one within three sigma (of the old and new variance
        together) of the old estimate, count as inliers (a += 1, updates += 1); otherwise it is
        an outlier (b += 1) and the row's run of consistent updates starts again at 1.
        """
        rows = np.asarray(rows, dtype=np.int64)
        x = np.asarray(inverse_depth, dtype=np.float64)
        tau2 = np.asarray(variance, dtype=np.float64)
        prior_mean, prior_variance = self.prior()
        posterior = 1.0 / (1.0 / prior_variance + 1.0 / tau2)
        mean = posterior * (prior_mean / prior_variance + x / tau2)
        fresh = self.updates[rows] == 0
        old_mean, old_variance = self.mean[rows], self.variance[rows]
        agrees = (x - old_mean) ** 2 <= 9.0 * (old_variance + tau2)
        inlier = fresh | agrees
        outlier = ~inlier
        self.a[rows[inlier]] += 1.0
        self.b[rows[outlier]] += 1.0
        self.updates[rows[inlier]] += 1
        self.updates[rows[outlier]] = 1
        self.mean[rows] = mean
        self.variance[rows] = posterior

    def reject(self, rows: np.ndarray) -> None:
        """Record one outlier measurement in each of ``rows`` (b += 1)."""
        self.b[np.asarray(rows, dtype=np.int64)] += 1.0

    def converged(self, relative_sigma: float | None = None) -> np.ndarray:
        """(n,) bool: filters that are certain and mostly fed inliers.

        ``relative_sigma`` replaces ``converged_relative_sigma`` where given (a stricter
        choice of points for another use).
        """
        p = self.params
        gate = p.converged_relative_sigma if relative_sigma is None else relative_sigma
        with np.errstate(divide='ignore', invalid='ignore'):
            relative = np.sqrt(self.variance) / self.mean
        return (self.initialized & (self.mean > 0) & (self.updates >= p.min_updates)
                & (relative <= gate)
                & (self.inlier_ratio >= p.converged_inlier_ratio))

    def diverged(self) -> np.ndarray:
        """(n,) bool: filters fed mostly outliers (measured or not)."""
        return self.inlier_ratio < self.params.diverged_inlier_ratio
