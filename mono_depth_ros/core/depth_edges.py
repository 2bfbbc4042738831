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

"""Flying pixels: the depths a network smears across an object's edge, found and set to NaN.

A depth network blurs a step between a foreground and a background into a ramp, and each pixel
of the ramp becomes a point floating between the two surfaces (the "cone" behind objects that
paints phantom obstacles in a costmap). A pixel is flying when both hold:

- between: its depth is more than ``min_gap`` of itself above the nearest depth and below the
  farthest depth of its ``gap_radius`` window: it lies between two surfaces, not on one (the
  two sides of a sharp step are each at an end of their window and are kept);
- near a ramp: the inverse depth bends (``|laplacian(1/z)| / (1/z)`` above ``max_kink``)
  within ``kink_radius``, or bends both ways (convex and concave) within ``ramp_radius``. A
  plane has inverse depth affine in the pixel coordinates (pinhole camera), so its laplacian is
  zero however steeply it is seen: a floor at a grazing angle is between its nearer and farther
  rows but does not bend, and is kept. A smeared step bends one way at its foreground end and
  the other way at its background end; a crease (a wall meeting the floor) bends one way only,
  so only the pixels right at it can go.

The test is local (erosions, dilations and a laplacian, OpenCV) and needs no camera model.
NaN (and zero or infinite) depths are unknown: they stay as they are, never count as the nearest
or farthest depth, and give no kink.
"""

import threading

import cv2
import numpy as np

from mono_depth_ros.core.errors import BadMessageError

# Defaults chosen on synthetic scenes whose depth is smeared as a network smears it (test/unit/
# test_depth_edges.py, doc/costmaps.md): ramps up to ~20 px wide go, planes stay at any angle.
GAP_RADIUS = 2
MIN_GAP = 0.025
MAX_KINK = 0.003
KINK_RADIUS = 2
RAMP_RADIUS = 10
_THREAD_SCRATCH = threading.local()


def flying_pixel_mask(depth: np.ndarray, min_gap: float = MIN_GAP,
                      gap_radius: int = GAP_RADIUS, max_kink: float = MAX_KINK,
                      kink_radius: int = KINK_RADIUS,
                      ramp_radius: int = RAMP_RADIUS) -> np.ndarray:
    """Return the (H, W) bool mask of the flying pixels of a depth image (metres, NaN unknown).

    See the module docstring for the two tests; a pixel with unknown depth is never flying.
    """
    depth = _checked_depth(depth)
    gap_window, kink_window = _square(gap_radius), _square(kink_radius)
    ramp_window = _square(ramp_radius)
    if depth.size == 0:
        return np.zeros(depth.shape, dtype=bool)
    scratch = _scratch(depth.shape)
    known = np.greater(depth, 0, out=scratch['known'])
    known &= np.less(depth, np.inf, out=scratch['kink'])
    all_known = bool(known.all())
    unknown = None if all_known else ~known
    # Unknown pixels are neither nearest nor farthest: +inf is no minimum, 0 no maximum.
    filled, gap = scratch['filled'], scratch['gap']
    np.copyto(filled, depth)
    if unknown is not None:
        np.copyto(filled, np.inf, where=unknown)
    nearest = cv2.erode(filled, gap_window, dst=scratch['nearest'],
                        borderType=cv2.BORDER_REPLICATE)
    if unknown is not None:
        np.copyto(filled, 0.0, where=unknown)
    farthest = cv2.dilate(filled, gap_window, dst=scratch['farthest'],
                          borderType=cv2.BORDER_REPLICATE)
    with np.errstate(invalid='ignore', divide='ignore'):
        np.multiply(depth, np.float32(min_gap), out=gap)
        np.subtract(depth, nearest, out=nearest)
        np.subtract(farthest, depth, out=farthest)
        between = np.greater(nearest, gap, out=scratch['between'])
        between &= np.greater(farthest, gap, out=scratch['jump'])
        inverse = np.divide(np.float32(1.0), depth, out=filled)
        if unknown is not None:
            np.copyto(inverse, 0.0, where=unknown)
        bend = cv2.Laplacian(inverse, cv2.CV_32F, dst=scratch['bend'], ksize=1,
                             borderType=cv2.BORDER_REPLICATE)
        limit = np.multiply(inverse, np.float32(max_kink), out=gap)
        convex = np.greater(bend, limit, out=scratch['convex'])
        concave = np.less(bend, np.negative(limit, out=limit), out=scratch['concave'])
    if unknown is not None:
        # A laplacian that reaches an unknown pixel says nothing: no bend there.
        reaches_unknown = cv2.dilate(unknown.view(np.uint8), _square(1),
                                     borderType=cv2.BORDER_REPLICATE).view(bool)
        convex &= ~reaches_unknown
        concave &= ~reaches_unknown
    near = scratch['near']
    bends = np.logical_or(convex, concave, out=scratch['kink'])
    cv2.dilate(bends.view(np.uint8), kink_window, dst=near, borderType=cv2.BORDER_REPLICATE)
    both = scratch['both']
    cv2.dilate(convex.view(np.uint8), ramp_window, dst=both, borderType=cv2.BORDER_REPLICATE)
    near_concave = cv2.dilate(concave.view(np.uint8), ramp_window, dst=scratch['near_concave'],
                              borderType=cv2.BORDER_REPLICATE)
    both &= near_concave
    near |= both
    flying = np.logical_and(between, near.view(bool))
    flying &= known
    return flying


def remove_flying_pixels(depth: np.ndarray, **thresholds) -> tuple[np.ndarray, int]:
    """Return a float32 copy of ``depth`` with its flying pixels set to NaN, and their number.

    ``thresholds`` are ``flying_pixel_mask``'s keyword arguments.
    """
    flying = flying_pixel_mask(depth, **thresholds)
    cleaned = np.array(depth, dtype=np.float32, copy=True)
    np.copyto(cleaned, np.nan, where=flying)
    return cleaned, int(np.count_nonzero(flying))


def _scratch(shape: tuple[int, int]) -> dict[str, np.ndarray]:
    """Return this thread's reusable work images for one image size.

    Reusing them keeps each frame from allocating (and page-faulting) a dozen fresh images.
    """
    scratch = getattr(_THREAD_SCRATCH, 'images', None)
    if scratch is None or scratch['filled'].shape != shape:
        scratch = {name: np.empty(shape, dtype=np.float32)
                   for name in ('filled', 'nearest', 'farthest', 'gap', 'bend')}
        scratch.update({name: np.empty(shape, dtype=bool)
                        for name in ('known', 'between', 'jump', 'kink', 'convex', 'concave')})
        scratch.update({name: np.empty(shape, dtype=np.uint8)
                        for name in ('near', 'both', 'near_concave')})
        _THREAD_SCRATCH.images = scratch
    return scratch


def _square(radius: int) -> np.ndarray:
    if isinstance(radius, bool) or not isinstance(radius, (int, np.integer)) or radius < 0:
        raise BadMessageError('radius', radius, 'an integer >= 0')
    return np.ones((2 * radius + 1, 2 * radius + 1), dtype=np.uint8)


def _checked_depth(depth: np.ndarray) -> np.ndarray:
    depth = np.asarray(depth)
    if depth.ndim != 2:
        raise BadMessageError('depth.shape', depth.shape, '(H, W)')
    return np.ascontiguousarray(depth, dtype=np.float32)
