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

"""Prompt Depth Anything's second input from sparse metric points: a low-resolution depth map.

The model takes a (1, 1, h, w) metric depth "prompt" (an iPhone LiDAR map in its paper) and
normalises it by its own min and max. Here the prompt is rasterised from the triangulation
node's points (optical frame, metres): each point goes to the cell its pixel falls in (the
nearest point wins where several do), and empty cells take the depth of the nearest filled
cell, so the map is dense as the model expects.
"""

import cv2
import numpy as np

from mono_depth_ros.core.camera_model import CameraModel

# Cells per side of the prompt relative to the image: 1/8 of the image, at least 4 x 4.
PROMPT_REDUCTION = 8
MIN_PROMPT_POINTS = 4


def prompt_shape(height: int, width: int) -> tuple[int, int]:
    """Return the prompt's (rows, columns) for an image of ``height`` x ``width``."""
    return max(4, height // PROMPT_REDUCTION), max(4, width // PROMPT_REDUCTION)


def rasterise_prompt(points: np.ndarray, camera: CameraModel, height: int,
                     width: int) -> np.ndarray | None:
    """Return the (1, 1, h, w) float32 prompt of (N, 3) optical-frame points, or None.

    None when fewer than :data:`MIN_PROMPT_POINTS` points fall in the image (or they all
    have one depth: the model divides by max - min).
    """
    points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    points = points[np.isfinite(points).all(axis=1) & (points[:, 2] > 0)]
    if len(points) < MIN_PROMPT_POINTS:
        return None
    pixels = camera.project(points)
    inside = (np.isfinite(pixels).all(axis=1) & (pixels[:, 0] >= 0) & (pixels[:, 0] < width)
              & (pixels[:, 1] >= 0) & (pixels[:, 1] < height))
    if np.count_nonzero(inside) < MIN_PROMPT_POINTS:
        return None
    rows, cols = prompt_shape(height, width)
    depth = points[inside, 2]
    row = np.minimum((pixels[inside, 1] * rows / height).astype(np.int64), rows - 1)
    col = np.minimum((pixels[inside, 0] * cols / width).astype(np.int64), cols - 1)
    if np.ptp(depth) <= 0:
        return None
    grid = np.full((rows, cols), np.inf)
    np.minimum.at(grid, (row, col), depth)
    filled = np.isfinite(grid)
    # Nearest filled cell for every empty one (distance transform labels the filled cells).
    _, labels = cv2.distanceTransformWithLabels((~filled).astype(np.uint8), cv2.DIST_L2, 5,
                                                labelType=cv2.DIST_LABEL_PIXEL)
    values = np.zeros(labels.max() + 1)
    values[labels[filled]] = grid[filled]
    prompt = values[labels].astype(np.float32)
    return prompt[np.newaxis, np.newaxis]
