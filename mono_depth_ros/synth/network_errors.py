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

"""The errors real relative depth networks make, applied to any relative output.

A relative network's inverse depth is right only up to an affine map, and even that map is not
one number per frame: it drifts and flickers from frame to frame (a 5-15 % scale change between
neighbouring frames is common for single-image networks on video), varies smoothly across the
image (a network that compresses the far field, a tilted ground plane) and carries per-pixel
noise. :class:`NetworkErrors` describes such errors and :func:`distort_relative` applies them to
a relative map (``relative' = a_t * F(x, y) * relative + b_t + noise``): the fusion tests and
benchmarks run the scale estimation against it instead of an exact affine "network".
"""

from dataclasses import dataclass
import math

import numpy as np


@dataclass(frozen=True)
class NetworkErrors:
    """How a relative network's output departs from an affine function of inverse depth.

    Attributes:
        field_amplitude: the smooth spatial field F = exp(field_amplitude * f(x, y)), with f
            in [-1, 1]: 0.2 makes the inverse depth up to 22 % too large or 18 % too small
            depending on where in the image a pixel is.
        field_cycles: how many waves of f fit across the image (low: smooth).
        scale_jitter: 1-sigma of the per-frame log-scale a_t (0.12: about 12 % flicker).
        scale_drift: log-scale change per frame of a slow drift added to the jitter.
        shift_jitter: 1-sigma of the per-frame shift b_t, relative to the map's median.
        alternate: True makes the jitter alternate in sign from frame to frame (+j, -j, ...):
            the worst flicker for a smoother.
        noise: 1-sigma of per-pixel multiplicative noise.
        seed: the random field, jitter and noise are identical for identical arguments.
    """

    field_amplitude: float = 0.0
    field_cycles: float = 1.0
    scale_jitter: float = 0.0
    scale_drift: float = 0.0
    shift_jitter: float = 0.0
    alternate: bool = False
    noise: float = 0.0
    seed: int = 0


def spatial_field(height: int, width: int, errors: NetworkErrors) -> np.ndarray:
    """Return the multiplicative field F (H, W) float32, smooth, seeded, F = exp(a * f)."""
    if errors.field_amplitude == 0.0:
        return np.ones((height, width), np.float32)
    rng = np.random.default_rng([errors.seed, 1])
    y = np.linspace(0.0, 1.0, height)[:, None]
    x = np.linspace(0.0, 1.0, width)[None, :]
    f = np.zeros((height, width))
    for _ in range(3):
        angle = rng.uniform(0.0, math.pi)
        phase = rng.uniform(0.0, 2.0 * math.pi)
        cycles = errors.field_cycles * rng.uniform(0.6, 1.2)
        f += np.cos(2.0 * math.pi * cycles * (x * math.cos(angle) + y * math.sin(angle))
                    + phase)
    f /= max(np.abs(f).max(), 1e-9)
    return np.exp(errors.field_amplitude * f).astype(np.float32)


def frame_affine(frame_index: int, errors: NetworkErrors) -> tuple[float, float]:
    """Return the frame's (a_t, b_t / median) of the scale jitter, drift and shift jitter."""
    rng = np.random.default_rng([errors.seed, 2, int(frame_index)])
    if errors.alternate:
        log_scale = errors.scale_jitter * (1.0 if frame_index % 2 == 0 else -1.0)
    else:
        log_scale = errors.scale_jitter * rng.standard_normal()
    log_scale += errors.scale_drift * frame_index
    return math.exp(log_scale), errors.shift_jitter * float(rng.standard_normal())


def distort_relative(relative: np.ndarray, frame_index: int, errors: NetworkErrors
                     ) -> np.ndarray:
    """Return ``relative`` with the network errors of frame ``frame_index`` applied (float32)."""
    relative = np.asarray(relative, dtype=np.float32)
    height, width = relative.shape[-2:]
    scale, shift_ratio = frame_affine(frame_index, errors)
    distorted = relative * spatial_field(height, width, errors) * np.float32(scale)
    if shift_ratio:
        distorted = distorted + np.float32(shift_ratio * float(np.nanmedian(relative)))
    if errors.noise:
        rng = np.random.default_rng([errors.seed, 3, int(frame_index)])
        noise = rng.standard_normal(relative.shape).astype(np.float32)
        distorted = distorted * (1.0 + np.float32(errors.noise) * noise)
    return distorted.astype(np.float32, copy=False)
