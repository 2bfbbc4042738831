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

"""Model outputs to metres: relative inverse depth with a scale and shift, and card kinds.

Depth Anything's relative models predict inverse depth up to an unknown scale and shift:
``1 / depth ~= scale * relative + shift``. With both known, depth follows; where the affine
inverse depth is not positive the depth is unknown (NaN, REP 118).
"""

import numpy as np


def relative_to_metric(relative: np.ndarray, scale: float, shift: float) -> np.ndarray:
    """Return metric depth (float32 metres, NaN where unknown) of an inverse-depth-like map."""
    # One array for the whole computation: inverse depth, then depth in place.
    depth = np.multiply(np.asarray(relative), np.float32(scale), dtype=np.float32)
    depth += np.float32(shift)
    unknown = depth <= 0
    unknown |= np.isnan(depth)
    with np.errstate(divide='ignore'):
        np.divide(np.float32(1.0), depth, out=depth)
    np.copyto(depth, np.float32(np.nan), where=unknown)
    return depth


def _positive_reciprocal(values: np.ndarray, numerator: float) -> np.ndarray:
    """Return numerator / values where values > 0, NaN elsewhere (float32)."""
    values = np.asarray(values, dtype=np.float32)
    result = np.full(values.shape, np.nan, dtype=np.float32)
    np.divide(np.float32(numerator), values, out=result, where=values > 0)
    return result


def disparity_to_depth(disparity: np.ndarray, fx: float, baseline: float) -> np.ndarray:
    """Return depth = fx * baseline / disparity (m; disparity in pixels of fx's image)."""
    return _positive_reciprocal(disparity, float(fx) * float(baseline))


def focal_scaled_depth(output: np.ndarray, fx: float, focal_reference: float) -> np.ndarray:
    """Return depth = output * fx / focal_reference (a canonical-focal metric model)."""
    depth = np.asarray(output, dtype=np.float32) * np.float32(float(fx) / float(focal_reference))
    depth[~(depth > 0)] = np.nan
    return depth


def fov_inverse_to_depth(inverse: np.ndarray, fx: float, width: int) -> np.ndarray:
    """Return depth = fx / (width * inverse), a canonical inverse depth at the image's FoV.

    Depth Pro's output is scaled by its field of view (``width / focal``); the camera's own fx
    (pixels of the ``width``-wide image) replaces the FoV head's estimate.
    """
    return _positive_reciprocal(np.asarray(inverse, dtype=np.float32) * np.float32(width), fx)


def model_output_to_depth(output: np.ndarray, kind: str, metric: str, fx: float | None,
                          width: int, focal_reference: float | None = None,
                          baseline: float | None = None) -> np.ndarray | None:
    """Return metres from a model output of ``kind`` and metric source ``metric``.

    ``kind``/``metric`` are the model card's ``output``/``metric``; ``fx`` (pixels) comes from
    the camera. Returns None when the metric source needs fx and there is none, or for a
    relative model (``metric`` none).
    """
    if metric in ('none',):
        return None
    if metric == 'max_depth':
        depth = np.array(output, dtype=np.float32)
        depth[~(depth > 0)] = np.nan
        return depth
    if fx is None or not fx > 0:
        return None
    if metric == 'focal':
        return focal_scaled_depth(output, fx, focal_reference)
    if metric == 'baseline':
        return disparity_to_depth(output, fx, baseline)
    if metric == 'model_fov':
        return fov_inverse_to_depth(output, fx, width)
    raise ValueError(f'metric source {metric!r}')


def relative_inverse_depth(output: np.ndarray, kind: str) -> np.ndarray:
    """Return a relative model's output as inverse-depth-like values (depth -> 1 / depth)."""
    if kind == 'depth':
        return _positive_reciprocal(output, 1.0)
    return np.asarray(output, dtype=np.float32)
