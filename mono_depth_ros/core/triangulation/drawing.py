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

"""Pictures of a triangulation result: the sparse depth (and sigma) image and the debug view."""

import cv2
import numpy as np

from mono_depth_ros.core.triangulation.result import TriangulationResult


def sparse_depth_image(result: TriangulationResult, width: int, height: int) -> np.ndarray:
    """Return an (H, W) float32 image with each published depth at its rounded pixel, else NaN.

    Where two tracks round to the same pixel, the nearer depth wins.
    """
    image = np.full((int(height), int(width)), np.nan, np.float32)
    if len(result.depths) == 0:
        return image
    columns = np.rint(result.pixels[:, 0]).astype(np.int64)
    rows = np.rint(result.pixels[:, 1]).astype(np.int64)
    inside = (columns >= 0) & (columns < width) & (rows >= 0) & (rows < height)
    np.fmin.at(image, (rows[inside], columns[inside]), result.depths[inside])  # fmin skips NaN
    return image


def draw_tracks(bgr: np.ndarray, result: TriangulationResult) -> np.ndarray:
    """Return a copy of ``bgr`` with the tracks drawn: trails, and dots coloured by depth.

    Converged tracks are coloured near = red to far = blue (turbo, log depth); the others are
    grey.
    """
    canvas = np.ascontiguousarray(bgr, dtype=np.uint8).copy()
    tracks = result.tracks
    if tracks is None or len(tracks.ids) == 0:
        return canvas
    near, far = tracks.depth_range
    known = np.isfinite(tracks.depths)
    level = np.zeros(len(tracks.ids), np.uint8)
    level[known] = np.clip(
        255.0 * (1.0 - np.log(tracks.depths[known] / near) / np.log(far / near)), 0, 255)
    colours = cv2.applyColorMap(level[None, :], cv2.COLORMAP_TURBO)[0].astype(np.int64)
    colours[~known] = (160, 160, 160)

    trails = np.rint(tracks.trails).astype(np.int32)
    buckets = np.where(known, level // 16, -1)
    for bucket in np.unique(buckets):  # one polyline call per colour, not per track
        members = np.flatnonzero(buckets == bucket)
        colour = tuple(int(c) for c in colours[members[0]])
        cv2.polylines(canvas, list(trails[members]), False, colour, 1, cv2.LINE_AA)

    height, width = canvas.shape[:2]
    centre = np.rint(tracks.pixels).astype(np.int64)
    radius = np.where(known, 2, 1)
    for dy in range(-2, 3):  # paint small squares, one offset at a time
        for dx in range(-2, 3):
            inside_square = (abs(dx) <= radius) & (abs(dy) <= radius)
            x, y = centre[:, 0] + dx, centre[:, 1] + dy
            ok = inside_square & (x >= 0) & (x < width) & (y >= 0) & (y < height)
            canvas[y[ok], x[ok]] = colours[ok]
    return canvas


def sparse_sigma_image(result: TriangulationResult, width: int, height: int) -> np.ndarray:
    """Return an (H, W) float32 image of the depth sigmas (m) where sparse_depth_image has a depth.

    Each pixel holds the sigma of the track whose depth ``sparse_depth_image`` kept there (the
    nearer one where two tracks round to it); NaN elsewhere.
    """
    image = np.full((int(height), int(width)), np.nan, np.float32)
    if len(result.depths) == 0:
        return image
    columns = np.rint(result.pixels[:, 0]).astype(np.int64)
    rows = np.rint(result.pixels[:, 1]).astype(np.int64)
    inside = (columns >= 0) & (columns < width) & (rows >= 0) & (rows < height) \
        & np.isfinite(result.depths)
    order = np.flatnonzero(inside)[np.argsort(-result.depths[inside], kind='stable')]
    image[rows[order], columns[order]] = result.sigmas[order]  # the nearest is written last
    return image
