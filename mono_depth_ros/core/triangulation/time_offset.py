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

"""The camera time offset (image stamp minus the instant the image shows), estimated online.

A camera that stamps its images late makes the odometry pose at the stamp the wrong one; while
the robot turns, that is a rotation error of angular rate x offset, several pixels at a few
tens of milliseconds. The estimator keeps the tracks of the last ``window`` frames and, every
``every`` frames until an estimate as certain as ``min_sigma_s`` (twice as long after each
further search that changed nothing, up to ``every_estimated``) and every ``every_estimated``
frames after it (a camera's offset does not change from frame to frame: checking a settled
one every two seconds or so costs a sixth), finds the offset whose odometry poses (looked up at
stamp - offset) best explain how the tracks moved between frames ``gap`` apart. Nothing it
uses comes from the triangulation's own output: only the tracks and the odometry.

For a candidate offset the odometry gives each frame pair's relative rotation R and
translation t. A track seen at x_a and x_b moves by the rotation (to pi(R x_a)) and then along
the direction the translation moves a point at x_b, by an amount that is the unknown inverse
depth, bounded by the depth range. The residual is what is left after the best inverse depth
in that range: the part of the motion that no point in front of the camera could make. Its
robust (Cauchy, scale ``pixel_noise_px``) sum over tracks and pairs is minimised over the
offset by a coarse then a fine grid (once estimated: +-1 ms around the value in use, moved
while the minimum lies at its edge) and a parabola; the curvature of the inliers' squared
residuals at the minimum gives the offset's standard deviation (rounded up to 0.5 ms). Where
the motion cannot tell offsets apart (no rotation, steady translation) the curvature is flat
and the previous value is kept; so is it where the new estimate lies within one sigma of it
(no chasing of noise), with its sigma unless that halves or doubles.
"""

from collections import deque
from dataclasses import dataclass
from typing import Callable

import numpy as np

NANOSECONDS = 1_000_000_000
SIGMA_STEP_S = 0.0005
_LOCAL_STEPS = 1  # once estimated, candidates within +-1 ms of the value in use
_LOCAL_MOVES = 3  # grids evaluated at most, each centred on the last one's edge minimum


@dataclass
class _FrameTracks:
    stamp_ns: int
    ids: np.ndarray
    normalized: np.ndarray


class TimeOffsetEstimator:
    """The camera time offset (s) and its standard deviation, from tracks and odometry."""

    def __init__(self, initial_s: float = 0.0, estimate: bool = True, sigma_s: float = 0.005,
                 search_s: float = 0.1, pixel_noise_px: float = 0.5,
                 depth_range: tuple[float, float] = (0.2, 30.0), window: int = 16,
                 gap: int = 2, every: int = 5, every_estimated: int = 30,
                 tracks_per_pair: int = 100,
                 max_sigma_s: float = 0.002, min_sigma_s: float = 0.0005):
        self.initial_s = float(initial_s)
        self.estimate = bool(estimate)
        self.configured_sigma_s = float(sigma_s)
        self.search_s = float(search_s)
        self.pixel_noise_px = float(pixel_noise_px)
        self.inverse_depth_range = (1.0 / depth_range[1], 1.0 / depth_range[0])
        self.gap, self.every, self.tracks_per_pair = int(gap), int(every), int(tracks_per_pair)
        self.every_estimated = int(every_estimated)
        self.max_sigma_s, self.min_sigma_s = float(max_sigma_s), float(min_sigma_s)
        self._frames: deque = deque(maxlen=int(window))
        self.reset()

    def reset(self) -> None:
        """Forget the tracks and go back to the configured offset."""
        self._frames.clear()
        self.offset_s = self.initial_s
        self.sigma_s = self.configured_sigma_s
        self.estimated = False
        self.updates = 0
        self._since_update = 0
        self._misses = 0  # searches in a row that changed nothing
        self._pose_cache: dict = {}  # odometry instant -> pose, kept while the frames are
        self._pair_cache: dict = {}  # (stamp_a, stamp_b) -> _pair(), kept while the frames are

    @property
    def offset_ns(self) -> int:
        """The offset in nanoseconds (subtract it from an image stamp to look up its pose)."""
        return int(round(self.offset_s * NANOSECONDS))

    def add_frame(self, stamp_ns: int, ids: np.ndarray, normalized: np.ndarray) -> None:
        """Remember one frame's track ids and undistorted normalized coordinates."""
        finite = np.isfinite(normalized).all(axis=1)
        self._frames.append(_FrameTracks(int(stamp_ns), np.asarray(ids)[finite],
                                         np.asarray(normalized, np.float64)[finite]))
        self._since_update += 1

    def update(self, world_to_cameras_at: Callable[[np.ndarray], tuple],
               focal_px: tuple[float, float]) -> bool:
        """Re-estimate when due; return whether the offset changed.

        ``world_to_cameras_at(instants_ns)`` returns the (n, 3, 4) odometry [R | t] of the
        camera at (n,) odometry instants and which of them exist (a pose lookup in one batch).
        """
        settled = self.estimated and self.sigma_s <= self.min_sigma_s + 1e-12
        if settled:
            every = self.every_estimated
        else:  # searches that change nothing are repeated less and less often
            backoff = min(max(self._misses - 1, 0), 8)
            every = min(self.every << backoff, max(self.every_estimated, self.every))
        if not self.estimate or self._since_update < every or len(self._frames) <= self.gap:
            return False
        self._since_update = 0
        changed = self._search(world_to_cameras_at, focal_px)
        self._misses = 0 if changed else self._misses + 1
        return changed

    def _search(self, world_to_cameras_at, focal_px) -> bool:
        """Search the offset now; return whether the estimate changed."""
        oldest = self._frames[0].stamp_ns - 2 * int(self.search_s * NANOSECONDS)
        self._pose_cache = {instant: pose for instant, pose in self._pose_cache.items()
                            if instant >= oldest}
        pairs = self._pairs()
        if not pairs:
            return False
        if self.estimated:
            # Near the value in use, on whole milliseconds (the poses of earlier updates are
            # cached); a minimum at the edge moves the grid there, a few times at most.
            step = 0.001
            centre = round(self.offset_s / step) * step
            for _ in range(_LOCAL_MOVES):
                coarse = centre + np.arange(-_LOCAL_STEPS, _LOCAL_STEPS + 1) * step
                costs = self._costs(coarse, pairs, world_to_cameras_at, focal_px)
                if costs is None:
                    return False
                best = int(np.argmin(costs[0]))
                if 0 < best < len(coarse) - 1:
                    break
                centre = coarse[best]
        else:
            step = 0.005
            coarse = self.initial_s + np.arange(-self.search_s, self.search_s + 1e-9, step)
            costs = self._costs(coarse, pairs, world_to_cameras_at, focal_px)
            if costs is None:
                return False
            best = int(np.argmin(costs[0]))
            fine = coarse[best] + np.arange(-5, 6) * 0.001
            costs = self._costs(fine, pairs, world_to_cameras_at, focal_px)
            if costs is None:
                return False
            coarse, step, best = fine, 0.001, int(np.argmin(costs[0]))
        if best == 0 or best == len(coarse) - 1:
            return False  # the minimum is not bracketed
        robust, squares = costs
        left, centre, right = robust[best - 1:best + 2]
        curvature = (left - 2.0 * centre + right) / step ** 2
        shift = 0.5 * (left - right) / (left - 2.0 * centre + right) * step \
            if curvature > 0 else 0.0
        square_curvature = (squares[best - 1] - 2.0 * squares[best] + squares[best + 1]) \
            / step ** 2
        if not (curvature > 0 and square_curvature > 0):
            return False
        sigma = float(np.sqrt(2.0 / square_curvature))
        if sigma > self.max_sigma_s:
            return False  # the motion does not tell offsets apart: keep the previous value
        # Rounded up to whole SIGMA_STEP_S: conservative, and the error budget does not move
        # with the cost's numerics (odometry sampled at another rate gives the same figure).
        sigma = max(float(np.ceil(sigma / SIGMA_STEP_S - 1e-6)) * SIGMA_STEP_S,
                    self.min_sigma_s)
        offset = float(coarse[best] + np.clip(shift, -step, step))
        self.updates += 1
        self.estimated = True
        if abs(offset - self.offset_s) > sigma:
            self.offset_s, self.sigma_s = offset, sigma
            return True
        # Within its own uncertainty of the value in use: keep that value, and its sigma
        # unless that changed by a factor of two (small changes would only add jitter).
        if not 0.5 < sigma / self.sigma_s < 2.0:
            self.sigma_s = sigma
            return True
        return False

    def _pairs(self) -> list:
        """Return (stamp_a, stamp_b, x_a, x_b) of frames ``gap`` apart, tracks in both.

        Only frames at least ``search_s`` older than the newest take part, so that odometry
        exists for every candidate offset however often it arrives: the estimate does not
        depend on the odometry's rate or on how far it runs ahead of the images.
        """
        frames = list(self._frames)
        newest_ns = frames[-1].stamp_ns
        search_ns = int(round(self.search_s * NANOSECONDS))
        pairs, known = [], {}
        for first, second in zip(frames, frames[self.gap:]):
            if second.stamp_ns + search_ns > newest_ns:
                break
            key = (first.stamp_ns, second.stamp_ns)
            pair = self._pair_cache.get(key, False)
            if pair is False:  # the frames of earlier updates keep their pairs
                pair = self._pair(first, second)
            known[key] = pair
            if pair is not None:
                pairs.append(pair)
        self._pair_cache = known
        return pairs

    def _pair(self, first: _FrameTracks, second: _FrameTracks) -> tuple | None:
        """Return (stamp_a, stamp_b, x_a, x_b) of the tracks in both frames, or None (few)."""
        _, rows_a, rows_b = np.intersect1d(first.ids, second.ids, assume_unique=True,
                                           return_indices=True)
        if len(rows_a) < 20:
            return None
        if len(rows_a) > self.tracks_per_pair:  # an even subsample, the same each time
            keep = np.linspace(0, len(rows_a) - 1, self.tracks_per_pair).astype(np.int64)
            rows_a, rows_b = rows_a[keep], rows_b[keep]
        return (first.stamp_ns, second.stamp_ns, first.normalized[rows_a],
                second.normalized[rows_b])

    def _costs(self, offsets: np.ndarray, pairs: list, world_to_cameras_at,
               focal_px) -> tuple[np.ndarray, np.ndarray] | None:
        """Return the robust cost and the inliers' squared cost of each candidate offset."""
        shifts = np.array([int(round(offset * NANOSECONDS)) for offset in offsets], np.int64)
        stamps = np.array([pair[:2] for pair in pairs], np.int64)  # (P, 2)
        instants = stamps[None, :, :] - shifts[:, None, None]  # (S, P, 2)
        cache = self._pose_cache
        missing = [instant for instant in np.unique(instants).tolist() if instant not in cache]
        if missing:
            poses, found = world_to_cameras_at(np.asarray(missing, np.int64))
            for instant, pose, ok in zip(missing, poses, found):
                if ok:  # a missing pose may arrive later: not cached
                    cache[instant] = pose
        known = np.vectorize(cache.__contains__, otypes=[bool])(instants)
        usable = np.flatnonzero(known.all(axis=(0, 2)))
        if len(usable) == 0:
            return None
        poses = np.array([[[cache[instant] for instant in pair] for pair in per_shift]
                          for per_shift in instants[:, usable].tolist()])  # (S, P, 2, 3, 4)
        x_a = np.concatenate([pairs[index][2] for index in usable])
        x_b = np.concatenate([pairs[index][3] for index in usable])
        pair_of = np.repeat(np.arange(len(usable)), [len(pairs[index][2]) for index in usable])
        scale = np.asarray(focal_px, dtype=np.float64) / self.pixel_noise_px
        squared = ((self._residuals(poses[:, :, 0], poses[:, :, 1], x_a, x_b, pair_of)
                    * scale) ** 2).sum(axis=-1)  # (S, N)
        return np.log1p(squared).sum(axis=1), np.minimum(squared, 9.0).sum(axis=1)

    def _residuals(self, pose_a: np.ndarray, pose_b: np.ndarray, x_a: np.ndarray,
                   x_b: np.ndarray, pair_of: np.ndarray) -> np.ndarray:
        """Return the (S, N, 2) normalized motion of each track that no point in front could make.

        ``pose_a`` and ``pose_b`` (S, P, 3, 4) are the pairs' [R | t] for each of S candidate
        offsets; ``pair_of`` (N,) says which pair each track belongs to.
        """
        rotation = pose_b[..., :3] @ np.swapaxes(pose_a[..., :3], -1, -2)  # (S, P, 3, 3)
        translation = pose_b[..., 3] - np.einsum('spij,spj->spi', rotation, pose_a[..., 3])
        rays = np.einsum('snij,nj->sni', rotation[:, pair_of],
                         np.column_stack([x_a, np.ones(len(x_a))]))
        translation = translation[:, pair_of]
        with np.errstate(divide='ignore', invalid='ignore'):
            derotated = rays[..., :2] / rays[..., 2:]
            residual = x_b - derotated
            # A point at inverse depth rho (in b) moves by rho * direction.
            direction = translation[..., :2] - x_b * translation[..., 2:]
            length2 = (direction ** 2).sum(axis=-1)
            rho = np.where(length2 > 1e-18, (residual * direction).sum(axis=-1) / length2, 0.0)
        low, high = self.inverse_depth_range
        rho = np.clip(np.nan_to_num(rho), low, high)
        left = residual - rho[..., None] * direction
        return np.where(np.isfinite(left), left, 0.0)
