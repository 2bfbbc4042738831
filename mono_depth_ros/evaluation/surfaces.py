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

"""Flying pixels measured against ground truth: off-surface points, and smooth surfaces kept.

Used by test/unit/test_depth_edges.py and bench/bench_cloud_filter.py, on synthetic scenes with
exact depth (``mono_depth_ros.synth``) and a network-like estimate of it:

- ``network_like_depth``: the true depth smeared across discontinuities as a depth network
  smears it: inverse depth averaged down ``factor`` times, bilinearly resized back, blurred by
  a Gaussian of ``blur`` px, times a smooth ``noise`` (relative, 1 sigma) over ~8 px.
- off every surface: a published pixel whose depth z differs by more than ``tolerance`` * z
  from the true depth at its own pixel and at every pixel within ``radius`` (a 5x5 window for
  radius 2): no surface nearby is where the point claims to be.
- on a smooth surface: a pixel with no true discontinuity (4-neighbours whose true depths
  differ by more than ``jump`` of the nearer) within ``margin`` px, and true depth within
  ``max_depth``.
"""

from dataclasses import dataclass

import cv2
import numpy as np


def network_like_depth(truth: np.ndarray, factor: int = 4, blur: float = 1.0,
                       noise: float = 0.01, seed: int = 0) -> np.ndarray:
    """Return (H, W) float32 depth: ``truth`` smeared at edges and noisy as network depth."""
    height, width = truth.shape
    inverse = (1.0 / np.asarray(truth, dtype=np.float32)).astype(np.float32)
    low = cv2.resize(inverse, (max(1, width // factor), max(1, height // factor)),
                     interpolation=cv2.INTER_AREA)
    inverse = cv2.resize(low, (width, height), interpolation=cv2.INTER_LINEAR)
    if blur > 0:
        inverse = cv2.GaussianBlur(inverse, (0, 0), blur)
    depth = 1.0 / inverse
    if noise > 0:
        field = np.random.default_rng(seed).normal(0.0, 1.0, truth.shape).astype(np.float32)
        field = cv2.GaussianBlur(field, (0, 0), 8.0)
        depth *= 1.0 + field * np.float32(noise / max(float(field.std()), 1e-12))
    return depth.astype(np.float32)


def off_surface_mask(depth: np.ndarray, truth: np.ndarray, tolerance: float = 0.05,
                     radius: int = 2) -> np.ndarray:
    """Return where finite ``depth`` is off every true surface within ``radius`` px."""
    height, width = truth.shape
    padded = np.pad(np.asarray(truth, dtype=np.float32), radius, mode='edge')
    off = np.isfinite(depth)
    allowed = tolerance * depth
    for dy in range(2 * radius + 1):
        for dx in range(2 * radius + 1):
            off &= np.abs(depth - padded[dy:dy + height, dx:dx + width]) > allowed
    return off


def smooth_surface_mask(truth: np.ndarray, jump: float = 0.1, margin: int = 5,
                        max_depth: float = np.inf) -> np.ndarray:
    """Return the pixels on a smooth true surface (no discontinuity within ``margin`` px)."""
    truth = np.asarray(truth, dtype=np.float32)
    across = np.abs(np.diff(truth, axis=1)) > jump * np.minimum(truth[:, 1:], truth[:, :-1])
    down = np.abs(np.diff(truth, axis=0)) > jump * np.minimum(truth[1:], truth[:-1])
    edges = np.zeros(truth.shape, dtype=np.uint8)
    edges[:, 1:] |= across
    edges[:, :-1] |= across
    edges[1:] |= down
    edges[:-1] |= down
    window = np.ones((2 * margin + 1, 2 * margin + 1), dtype=np.uint8)
    return (cv2.dilate(edges, window) == 0) & (truth <= max_depth)


@dataclass
class EdgeFigures:
    """Off-surface share of the published pixels, and the share of smooth pixels published."""

    off_surface_percent: float
    smooth_kept_percent: float
    published: int

    def as_dict(self) -> dict:
        """Return the figures rounded for a report."""
        return {'off_surface_percent': round(self.off_surface_percent, 3),
                'smooth_kept_percent': round(self.smooth_kept_percent, 2),
                'published': self.published}


def edge_figures(depth: np.ndarray, truth: np.ndarray, max_depth: float = np.inf,
                 tolerance: float = 0.05) -> EdgeFigures:
    """Return the figures of a published depth image (NaN: not published) against the truth."""
    published = np.isfinite(depth) & (truth <= max_depth)
    off = off_surface_mask(depth, truth, tolerance) & published
    smooth = smooth_surface_mask(truth, max_depth=max_depth)
    count = int(published.sum())
    return EdgeFigures(off_surface_percent=100.0 * off.sum() / max(count, 1),
                       smooth_kept_percent=100.0 * published[smooth].mean() if smooth.any()
                       else 100.0,
                       published=count)


def floor_and_box_depth(width: int = 640, height: int = 480, focal: float = 512.0,
                        camera_height: float = 0.5, box_depth: float = 2.0,
                        far: float = 30.0) -> np.ndarray:
    """Return the true depth of a flat floor seen from ``camera_height`` with a box on it.

    The camera looks level (optical z forward, y down): the floor runs to grazing angles at the
    horizon (``far`` beyond it), the box's front face stands at ``box_depth`` in a fifth of the
    columns: a discontinuity against the floor and the far background.
    """
    columns = np.arange(width, dtype=np.float64) + 0.5 - width / 2
    rows = np.arange(height, dtype=np.float64) + 0.5 - height / 2
    below = np.maximum(rows / focal, 1e-9)[:, None] * np.ones((1, width))
    depth = np.where(rows[:, None] > 0, np.minimum(camera_height / below, far), far)
    box = (columns > -0.2 * width) & (columns < 0.0)
    face = box[None, :] & (depth > box_depth)
    depth[face] = box_depth
    return depth.astype(np.float32)
