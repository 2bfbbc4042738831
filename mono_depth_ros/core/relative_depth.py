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

"""Relative (affine-invariant inverse) depth to metres, given a scale and a shift.

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
