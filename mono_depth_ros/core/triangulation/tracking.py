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

"""Feature tracks for triangulation: KLT with a forward-backward check, grid re-detection.

Each frame, the previous frame's corners are tracked with ``cv2.calcOpticalFlowPyrLK``, each
starting where its last image motion would take it (a new corner: the median motion of the
others; a good start lets two pyramid levels do what three did), and tracked back again; the
backward pass starts at the original position, so it only has the forward pass's error to find
and runs at full resolution only. A track survives when the round trip returns within
``forward_backward_px`` of where it started, its KLT patch error is at most ``error_ratio``
times the frame's median, which drops most corners made by occlusion boundaries (their patch
changes as the background slides; half a grey level always passes: in a still scene every
track matches almost exactly), and it stays ``border_px`` inside the image. Tracks that
crowd within about a quarter of ``min_distance_px`` are thinned (the older one stays).
Shi-Tomasi corners are detected away from the existing tracks, only in the cells of a
``grid_columns`` x ``grid_rows`` grid that hold fewer than their share of ``max_features``
(one search per run of such cells in a grid row), each cell filled up to its share first.
While at least ``redetect_ratio * max_features`` tracks remain, each frame tops them up in
the ``top_up_cells`` cells with the most room only: a bounded search every frame (a few
cells' worth, not the image's; a cell whose search found no corner is left out for a while),
so the track count stays near ``max_features`` instead of sagging between large
re-detections. Below that ratio (the first frame, a sudden loss) every
cell with room is searched. The Shi-Tomasi threshold is ``quality_level`` times the
strongest corner response of this search and the earlier ones (slowly forgotten), so that
searching only weakly textured cells does not lower it. Track ids are unique and never reused.
"""

from dataclasses import dataclass
import math

import cv2
import numpy as np

from mono_depth_ros.core.errors import BadMessageError

_CONTEXT_PX = 4  # image around a detection run that its corner response sees
_RUN_QUALITY = 1e-4  # within a run; the quality_level threshold is applied over all runs
_FORGET = 0.95  # per detection, of the strongest corner response seen
# A KLT patch error (mean absolute difference, grey levels) that always passes the error_ratio
# gate: in a still scene every track matches almost exactly, and a multiple of the median
# would then drop those that match to a tenth of a grey level instead of a hundredth.
_ERROR_FLOOR = 0.5
_BARREN_FRAMES = 15  # a cell whose search found no corner is left out of top-ups this long


@dataclass(frozen=True)
class TrackerParams:
    """Settings of the feature tracker.

    Attributes:
        max_features: most tracks kept at once.
        grid_columns, grid_rows: the re-detection grid; each cell gets about
            ``max_features / (columns * rows)`` tracks.
        min_distance_px: least distance between new corners and any track.
        quality_level: Shi-Tomasi threshold, relative to the strongest corner in the image.
        window_px: KLT window side (odd).
        pyramid_levels: KLT pyramid levels above full resolution.
        max_iterations: KLT iterations per level.
        forward_backward_px: largest forward-backward round-trip error of a kept track.
        error_ratio: largest KLT patch error of a kept track, as a multiple of the median over
            the frame's tracks; 0 keeps them all.
        redetect_ratio: below this fraction of max_features every grid cell with room is
            searched; above it (and below max_features) only ``top_up_cells`` of them.
        top_up_cells: cells searched by a frame's top-up (those with the most room).
        border_px: tracks closer than this to the image edge are dropped.
    """

    max_features: int = 500
    grid_columns: int = 8
    grid_rows: int = 6
    min_distance_px: float = 10.0
    quality_level: float = 0.01
    window_px: int = 11
    pyramid_levels: int = 2
    max_iterations: int = 6
    forward_backward_px: float = 1.0
    error_ratio: float = 3.0
    redetect_ratio: float = 0.9
    top_up_cells: int = 6
    border_px: int = 8


@dataclass
class TrackedFeatures:
    """The tracks in one frame.

    Attributes:
        points: (N, 2) float32 pixel positions (x, y).
        ids: (N,) int64 track ids, stable across frames.
        previous_index: (N,) int64 row of each track in the tracker's state before this frame,
            -1 for tracks detected in this frame. Survivors come first, in their old order.
    """

    points: np.ndarray
    ids: np.ndarray
    previous_index: np.ndarray

    @property
    def new_count(self) -> int:
        """Number of tracks started in this frame."""
        return int(np.count_nonzero(self.previous_index < 0))


class FeatureTracker:
    """KLT tracker over grayscale frames with stable track ids."""

    def __init__(self, params: TrackerParams | None = None):
        self.params = params or TrackerParams()
        self._criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS,
                          self.params.max_iterations, 0.01)
        self._window = (self.params.window_px, self.params.window_px)
        self._next_id = 0
        self.reset()

    @property
    def points(self) -> np.ndarray:
        """(N, 2) float32 pixel positions of the current tracks."""
        return self._points

    @property
    def ids(self) -> np.ndarray:
        """(N,) int64 ids of the current tracks."""
        return self._ids

    def reset(self) -> None:
        """Forget all tracks and the previous frame (ids keep increasing)."""
        self._previous_gray = None
        self._points = np.zeros((0, 2), np.float32)
        self._velocity = np.zeros((0, 2), np.float32)  # last image motion of each track (px)
        self._ids = np.zeros(0, np.int64)
        self._strongest = 0.0  # strongest corner response of the detections so far
        # Per grid cell, frames left before a top-up searches it again (its last search found
        # no corner: textureless, or its corners all taken).
        self._barren = np.zeros(self.params.grid_columns * self.params.grid_rows, np.int64)

    def drop(self, keep: np.ndarray) -> None:
        """Keep only the tracks where the boolean mask ``keep`` (N,) is true."""
        keep = np.asarray(keep, dtype=bool)
        self._points = self._points[keep]
        self._velocity = self._velocity[keep] if len(self._velocity) == len(keep) else None
        self._ids = self._ids[keep]

    def track(self, gray: np.ndarray) -> TrackedFeatures:
        """Track the current features into ``gray`` (H, W) uint8 and top them up."""
        gray = _checked_gray(gray)
        previous = self._previous_gray
        if previous is not None and previous.shape != gray.shape:
            self.reset()
            previous = None
        points = np.zeros((0, 2), np.float32)
        previous_index = np.zeros(0, np.int64)
        if previous is not None and len(self._points):
            points, previous_index = self._track_from(previous, gray)
        ids = self._ids[previous_index]
        velocity = points - self._points[previous_index]
        typical = np.median(velocity, axis=0) if len(velocity) else np.zeros(2, np.float32)

        p = self.params
        self._barren = np.maximum(self._barren - 1, 0)
        if len(points) < p.max_features:
            top_up = len(points) >= p.redetect_ratio * p.max_features
            new_points = self._detect(gray, points, p.max_features - len(points),
                                      p.top_up_cells if top_up else None)
            new_ids = np.arange(self._next_id, self._next_id + len(new_points), dtype=np.int64)
            self._next_id += len(new_points)
            points = np.concatenate([points, new_points])
            velocity = np.concatenate([velocity, np.repeat(typical[None], len(new_points), 0)])
            ids = np.concatenate([ids, new_ids])
            previous_index = np.concatenate(
                [previous_index, np.full(len(new_points), -1, np.int64)])

        self._previous_gray = gray.copy()
        self._points = points
        self._velocity = velocity.astype(np.float32)
        self._ids = ids
        return TrackedFeatures(points=points.copy(), ids=ids.copy(),
                               previous_index=previous_index)

    def _track_from(self, previous: np.ndarray, gray: np.ndarray):
        """Return the surviving tracked points and their rows in the previous state."""
        p = self.params
        velocity = self._velocity
        if velocity is None or len(velocity) != len(self._points):
            velocity = np.zeros_like(self._points)
        forward, ok, patch_error = self._klt(previous, gray, self._points.reshape(-1, 1, 2),
                                             (self._points + velocity).reshape(-1, 1, 2))
        if p.error_ratio > 0 and ok.any():
            ok &= patch_error <= max(p.error_ratio * np.median(patch_error[ok]), _ERROR_FLOOR)
        rows = np.flatnonzero(ok)
        height, width = gray.shape
        points = forward[rows].astype(np.float32)
        # Thin crowded tracks: in each cell of four half-cell-shifted grids keep only the oldest
        # (smallest id), so any two tracks closer than a quarter of min_distance_px in x and y
        # share a cell somewhere.
        cell_size = max(p.min_distance_px * 0.5, 1.0)
        order = np.argsort(self._ids[rows], kind='stable')
        crowded = np.zeros(len(points), bool)
        for offset in ((0.0, 0.0), (0.5, 0.0), (0.0, 0.5), (0.5, 0.5)):
            cells = np.floor(points[order] / cell_size + offset).astype(np.int64)
            keys = cells[:, 1] * (width + 2) + cells[:, 0]
            _, first = np.unique(keys, return_index=True)
            younger = np.ones(len(points), bool)
            younger[first] = False
            crowded[order[younger]] = True
        kept = np.flatnonzero(~crowded)
        return points[kept], rows[kept]

    def _klt(self, previous: np.ndarray, gray: np.ndarray, start: np.ndarray,
             guess: np.ndarray):
        """Track (n, 1, 2) ``start`` from ``previous`` into ``gray``, searching from ``guess``.

        Return the (n, 2) positions, whether each passed the forward-backward check and lies
        border_px inside the image, and the (n,) KLT patch errors.
        """
        p = self.params
        forward, status, patch_error = cv2.calcOpticalFlowPyrLK(
            previous, gray, start, np.ascontiguousarray(guess, dtype=np.float32),
            winSize=self._window, maxLevel=p.pyramid_levels, criteria=self._criteria,
            flags=cv2.OPTFLOW_USE_INITIAL_FLOW)
        # The backward pass starts at the original position: full resolution is enough.
        backward, back_status, _ = cv2.calcOpticalFlowPyrLK(
            gray, previous, forward, start.copy(), winSize=self._window, maxLevel=0,
            criteria=self._criteria, flags=cv2.OPTFLOW_USE_INITIAL_FLOW)
        forward = forward.reshape(-1, 2)
        round_trip = np.linalg.norm(backward.reshape(-1, 2) - start.reshape(-1, 2), axis=1)
        height, width = gray.shape
        border = p.border_px
        with np.errstate(invalid='ignore'):
            ok = ((status.reshape(-1) == 1) & (back_status.reshape(-1) == 1)
                  & (round_trip < p.forward_backward_px) & np.isfinite(forward).all(axis=1)
                  & (forward[:, 0] >= border) & (forward[:, 0] <= width - 1 - border)
                  & (forward[:, 1] >= border) & (forward[:, 1] <= height - 1 - border))
        return forward, ok, patch_error.reshape(-1)

    def _detect(self, gray: np.ndarray, existing: np.ndarray, wanted: int,
                max_cells: int | None = None) -> np.ndarray:
        """Return up to ``wanted`` new corners away from ``existing``, spread over the grid.

        ``max_cells`` limits the search to that many cells, those with the most room among
        the cells not found barren lately.
        """
        p = self.params
        if wanted <= 0:
            return np.zeros((0, 2), np.float32)
        height, width = gray.shape
        cell_count = p.grid_columns * p.grid_rows
        quota = math.ceil(p.max_features / cell_count)
        occupied = np.bincount(_grid_cells(existing, width, height, p), minlength=cell_count)
        room = np.maximum(quota - occupied, 0)
        if max_cells is not None:
            room[self._barren > 0] = 0
            if np.count_nonzero(room) > max_cells:
                emptiest = np.argsort(-room, kind='stable')[:max(int(max_cells), 1)]
                chosen = np.zeros_like(room)
                chosen[emptiest] = room[emptiest]
                room = chosen
        mask = _free_space_mask(height, width, existing, p.min_distance_px, p.border_px)
        found, strengths, edges = [], [], []
        for top, bottom, left, right, run_room in _runs_with_room(room, width, height, p):
            # A few pixels of context around the run, masked, so that the corner response at
            # its edges is that of the whole image.
            y0, y1 = max(top - _CONTEXT_PX, 0), min(bottom + _CONTEXT_PX, height)
            x0, x1 = max(left - _CONTEXT_PX, 0), min(right + _CONTEXT_PX, width)
            run_mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
            run_mask[top - y0:bottom - y0, left - x0:right - x0] = \
                mask[top:bottom, left:right]
            corners, strength = cv2.goodFeaturesToTrackWithQuality(
                np.ascontiguousarray(gray[y0:y1, x0:x1]), int(4 * min(wanted, run_room)),
                _RUN_QUALITY, p.min_distance_px, run_mask, blockSize=3)
            if corners is not None and len(corners):
                corners = corners.reshape(-1, 2) + np.float32([x0, y0])
                found.append(corners)
                strengths.append(strength.reshape(-1))
                edges.append((corners[:, 0] < left + p.min_distance_px)
                             | (corners[:, 0] >= right - p.min_distance_px)
                             | (corners[:, 1] < top + p.min_distance_px)
                             | (corners[:, 1] >= bottom - p.min_distance_px))
        if not found:
            self._barren[room > 0] = _BARREN_FRAMES
            return np.zeros((0, 2), np.float32)
        corners = np.concatenate(found).astype(np.float32)  # strongest first in each run
        strength = np.concatenate(strengths)
        run = np.repeat(np.arange(len(found)), [len(part) for part in found])
        near_edge = np.concatenate(edges)
        # The threshold is relative to the strongest corner of the image; the runs searched
        # now may hold only weak texture, so the strongest corner of earlier searches counts
        # too (slowly forgotten, as lighting changes).
        self._strongest = max(float(strength.max()), _FORGET * self._strongest)
        strong = np.flatnonzero(strength >= p.quality_level * self._strongest)

        cells = _grid_cells(corners[strong], width, height, p)
        barren = room > 0
        barren[cells] = False
        self._barren[barren] = _BARREN_FRAMES
        order = np.argsort(cells, kind='stable')  # by cell, strongest first within a cell
        sorted_cells = cells[order]
        group_start = np.searchsorted(sorted_cells, sorted_cells, side='left')
        rank = np.empty(len(strong), np.int64)
        rank[order] = np.arange(len(strong)) - group_start
        fits = rank < room[cells]
        # Cells with room first; leftover strong corners fill what textureless cells could not.
        ranked = strong[np.concatenate([np.flatnonzero(fits), np.flatnonzero(~fits)])]
        # Each search keeps its corners min_distance_px apart; across runs only those near a
        # run's edge can be closer (checked among the best candidates, twice what is wanted).
        ranked = ranked[:2 * wanted]
        near = ranked[near_edge[ranked]]
        keep = np.ones(len(corners), bool)
        keep[near] = _apart_across_runs(corners[near], strength[near], run[near],
                                        p.min_distance_px)
        return corners[np.sort(ranked[keep[ranked]][:wanted])]


def _apart_across_runs(corners: np.ndarray, strength: np.ndarray, run: np.ndarray,
                       distance: float) -> np.ndarray:
    """Return which corners to keep: the stronger of two from different runs that are close."""
    offsets = corners[:, None, :] - corners[None, :, :]
    close = (np.hypot(offsets[..., 0], offsets[..., 1]) < distance) \
        & (run[:, None] != run[None, :])
    weaker, _ = np.nonzero(close & (strength[:, None] < strength[None, :]))
    keep = np.ones(len(corners), bool)
    keep[weaker] = False
    return keep


def _runs_with_room(room: np.ndarray, width: int, height: int, p: TrackerParams):
    """Yield the (top, bottom, left, right) pixel bounds and the room of each run of cells."""
    columns = p.grid_columns
    for row, cells in enumerate(room.reshape(p.grid_rows, columns).tolist()):
        top, bottom = row * height // p.grid_rows, (row + 1) * height // p.grid_rows
        column = 0
        while column < columns:
            if cells[column] <= 0:
                column += 1
                continue
            first, total = column, 0
            while column < columns and cells[column] > 0:
                total += cells[column]
                column += 1
            yield top, bottom, first * width // columns, column * width // columns, int(total)


def _checked_gray(gray) -> np.ndarray:
    array = np.asarray(gray)
    if array.ndim != 2 or array.dtype != np.uint8 or min(array.shape) < 8:
        raise BadMessageError('gray', f'array of shape {array.shape} and dtype {array.dtype}',
                              'a (H, W) uint8 grayscale image at least 8x8')
    return np.ascontiguousarray(array)


def _grid_cells(points: np.ndarray, width: int, height: int, p: TrackerParams) -> np.ndarray:
    """Return the grid cell index of each (N, 2) pixel."""
    column = np.clip((points[:, 0] * p.grid_columns / width).astype(np.int64),
                     0, p.grid_columns - 1)
    row = np.clip((points[:, 1] * p.grid_rows / height).astype(np.int64), 0, p.grid_rows - 1)
    return row * p.grid_columns + column


def _free_space_mask(height: int, width: int, points: np.ndarray, distance: float,
                     border: int) -> np.ndarray:
    """Return a uint8 mask, 0 within about ``distance`` of any point or the border, else 255."""
    block = max(int(distance), 1)
    rows, columns = -(-height // block), -(-width // block)
    occupied = np.zeros((rows, columns), np.uint8)
    if len(points):
        cell = (points // block).astype(np.int64)
        occupied[np.clip(cell[:, 1], 0, rows - 1), np.clip(cell[:, 0], 0, columns - 1)] = 1
        occupied = cv2.dilate(occupied, np.ones((3, 3), np.uint8))
    free = np.where(occupied, 0, 255).astype(np.uint8)
    mask = cv2.resize(free, (columns * block, rows * block), interpolation=cv2.INTER_NEAREST)
    mask = np.ascontiguousarray(mask[:height, :width])
    if border > 0:
        mask[:border] = 0
        mask[-border:] = 0
        mask[:, :border] = 0
        mask[:, -border:] = 0
    return mask
