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

"""Depth image units (REP 118) and 16-bit depth PNG files: float32 metres with NaN as invalid.

REP 118: 32FC1 holds metres (NaN or non-positive where unknown), 16UC1 holds millimetres
(0 where unknown). TUM RGB-D depth PNGs hold ``scale`` units per metre (5000), 0 where unknown.
"""

import os
import pathlib

import cv2
import numpy as np

from mono_depth_ros.core.errors import BadMessageError

TUM_DEPTH_SCALE = 5000.0
_MILLIMETRES_PER_METRE = 1000.0
_UINT16_MAX = 65535
_EXPECTED_ENCODING = "'32FC1' (metres) or '16UC1' (millimetres), as REP 118 defines"


def _integer_units(depth_m: np.ndarray, units_per_metre: float) -> np.ndarray:
    """Return rounded uint16 units; NaN, <= 0 and beyond 65535 units become 0 (unknown)."""
    depth_m = np.asarray(depth_m, dtype=np.float64)
    with np.errstate(invalid='ignore', over='ignore'):
        units = np.rint(depth_m * units_per_metre)
        valid = np.isfinite(units) & (depth_m > 0) & (units <= _UINT16_MAX)
    return np.where(valid, units, 0).astype(np.uint16)


def _metres_from_units(units: np.ndarray, units_per_metre: float) -> np.ndarray:
    """Return float32 metres of integer units, NaN where the value is 0."""
    metres = units.astype(np.float32) / np.float32(units_per_metre)
    metres[units == 0] = np.nan
    return metres


def metres_from_depth_image(array: np.ndarray, encoding: str) -> np.ndarray:
    """Return a REP 118 depth image as float32 metres with NaN where depth is unknown.

    32FC1: non-finite and non-positive values become NaN. 16UC1 (or mono16): millimetres, 0
    becomes NaN. The input is never modified.
    """
    array = np.asarray(array)
    if encoding == '32FC1':
        if array.dtype.kind != 'f':
            raise BadMessageError('array.dtype', str(array.dtype), 'floating point for 32FC1')
        metres = array.astype(np.float32, copy=True)
        with np.errstate(invalid='ignore'):
            metres[~(metres > 0) | ~np.isfinite(metres)] = np.nan
        return metres
    if encoding in ('16UC1', 'mono16'):
        if array.dtype != np.uint16:
            raise BadMessageError('array.dtype', str(array.dtype), f'uint16 for {encoding}')
        return _metres_from_units(array, _MILLIMETRES_PER_METRE)
    raise BadMessageError('encoding', encoding, _EXPECTED_ENCODING)


def depth_image_from_metres(depth_m: np.ndarray, encoding: str = '32FC1') -> np.ndarray:
    """Return float metres as a REP 118 depth image array.

    32FC1: a float32 copy, NaN kept. 16UC1: rounded millimetres, 0 where depth is NaN, <= 0 or
    beyond 65.535 m (16 bits cannot hold it).
    """
    if encoding == '32FC1':
        return np.array(depth_m, dtype=np.float32, copy=True)
    if encoding in ('16UC1', 'mono16'):
        return _integer_units(depth_m, _MILLIMETRES_PER_METRE)
    raise BadMessageError('encoding', encoding, _EXPECTED_ENCODING)


def mask_depth_range(depth_m: np.ndarray, min_depth: float, max_depth: float) -> np.ndarray:
    """Return a float copy of ``depth_m``, NaN wherever it is outside [min_depth, max_depth]."""
    depth = np.array(depth_m, dtype=np.result_type(np.asarray(depth_m).dtype, np.float32),
                     copy=True)
    with np.errstate(invalid='ignore'):
        depth[~((depth >= min_depth) & (depth <= max_depth))] = np.nan
    return depth


def read_depth_png(path: str | os.PathLike, scale: float = TUM_DEPTH_SCALE) -> np.ndarray:
    """Read a 16-bit depth PNG (``scale`` units per metre) as float32 metres, NaN where 0."""
    path = pathlib.Path(path)
    encoded = np.frombuffer(path.read_bytes(), dtype=np.uint8)
    units = cv2.imdecode(encoded, cv2.IMREAD_UNCHANGED) if encoded.size else None
    if units is None or units.dtype != np.uint16 or units.ndim != 2:
        found = 'not an image' if units is None else f'{units.dtype} image of shape {units.shape}'
        raise BadMessageError(str(path), found, 'a single-channel 16-bit PNG')
    return _metres_from_units(units, scale)


def write_depth_png(path: str | os.PathLike, depth_m: np.ndarray,
                    scale: float = TUM_DEPTH_SCALE) -> None:
    """Write metres as a 16-bit PNG of ``scale`` units per metre; unknown or too far is 0."""
    depth_m = np.asarray(depth_m)
    if depth_m.ndim != 2 or depth_m.size == 0:
        raise BadMessageError('depth_m.shape', depth_m.shape, '(H, W) with H, W > 0')
    ok, encoded = cv2.imencode('.png', _integer_units(depth_m, scale))
    if not ok:
        raise OSError(f'could not encode a depth PNG for {path}')
    pathlib.Path(path).write_bytes(encoded.tobytes())
