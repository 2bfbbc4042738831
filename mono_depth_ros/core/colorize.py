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

"""Depth images to colour images for people: fixed-range colormaps, range tracking, colour bars."""

import math

import cv2
import numpy as np

from mono_depth_ros.core.errors import BadMessageError

_OPENCV_COLORMAPS = ('autumn', 'bone', 'cividis', 'cool', 'deepgreen', 'hot', 'hsv', 'inferno',
                     'jet', 'magma', 'ocean', 'parula', 'pink', 'plasma', 'rainbow', 'spring',
                     'summer', 'turbo', 'twilight', 'twilight_shifted', 'viridis', 'winter')
_COLORMAPS = {name: getattr(cv2, f'COLORMAP_{name.upper()}') for name in _OPENCV_COLORMAPS
              if hasattr(cv2, f'COLORMAP_{name.upper()}')}
_GRAY = 'gray'
_FONT = cv2.FONT_HERSHEY_SIMPLEX
# Solid images of the invalid colour, by (shape, colour) (colorize_depth's masked copy).
_SOLID_IMAGES: dict[tuple, np.ndarray] = {}


def colormap_names() -> list[str]:
    """Return the names ``colorize_depth`` accepts (OpenCV's colormaps and ``gray``)."""
    return sorted([*_COLORMAPS, _GRAY])


def colorize_depth(depth: np.ndarray, min_value: float, max_value: float,
                   colormap: str = 'turbo', invalid_color: tuple[int, int, int] = (0, 0, 0),
                   inverse: bool = False, log_scale: bool = False) -> np.ndarray:
    """Return an (H, W, 3) uint8 BGR image of ``depth`` over the fixed range [min, max].

    Near is warm: ``min_value`` gets the top of the colormap (red for turbo) and
    ``max_value`` the bottom. With ``inverse`` the input grows towards the camera (inverse
    depth, relative model output) and ``max_value`` is near instead. Values outside the range
    take the end colours; NaN and infinite values take ``invalid_color`` (B, G, R). A fixed
    range keeps colours steady from frame to frame. With ``log_scale`` the colours are spread
    over the logarithm of the values (equal ratios, equal colour steps; ``min_value`` > 0), as
    the triangulation node colours its tracks.
    """
    depth = np.asarray(depth)
    if depth.ndim != 2:
        raise BadMessageError('depth.shape', depth.shape, '(H, W)')
    code = _colormap_code(colormap)
    low, high = _checked_range(min_value, max_value, log_scale)
    invalid_bgr = _checked_color(invalid_color)
    if log_scale:
        # Zero and negative values are below the range: they take the near (or far) end colour.
        depth = np.log(np.maximum(depth.astype(np.float64), low * 1e-3))
        low, high = math.log(low), math.log(high)
    gain, offset = level_gain_offset(low, high, inverse)
    levels = np.multiply(depth, gain, dtype=np.float32)
    levels += offset
    invalid = ~np.isfinite(levels)
    # Invalid pixels get invalid_bgr below, so their level only has to be a number.
    cv2.patchNaNs(levels, 0.0)
    np.clip(levels, 0.0, 255.0, out=levels)
    index = levels.astype(np.uint8)
    if code is None:
        colored = cv2.cvtColor(index, cv2.COLOR_GRAY2BGR)
    else:
        colored = cv2.applyColorMap(index, code)
    if invalid.any():
        # OpenCV's masked copy of a kept solid image: numpy's boolean-index assignment and a
        # fresh np.full_like (a per-pixel tuple broadcast) each took ~100x as long.
        cv2.copyTo(_solid_image(colored.shape, invalid_bgr), invalid.view(np.uint8), colored)
    return colored


def level_gain_offset(low: float, high: float, inverse: bool = False
                      ) -> tuple[np.float32, np.float32]:
    """Return float32 (gain, offset): a value's colormap index is int(value * gain + offset).

    Index 255 at the near end of [low, high] (``low``, or ``high`` with ``inverse``), 0 at the
    far end; ``offset`` includes the 0.5 that makes the truncation round. Values outside the
    range clip to the end indices.
    """
    if inverse:
        gain, offset = 255.0 / (high - low), -255.0 * low / (high - low)
    else:
        gain, offset = -255.0 / (high - low), 255.0 * high / (high - low)
    return np.float32(gain), np.float32(offset + 0.5)


def colormap_table(colormap: str = 'turbo') -> np.ndarray:
    """Return the (256, 3) uint8 BGR colour of each index of a colormap (colorize_depth's)."""
    index = np.arange(256, dtype=np.uint8).reshape(256, 1)
    code = _colormap_code(colormap)
    table = (cv2.cvtColor(index, cv2.COLOR_GRAY2BGR) if code is None
             else cv2.applyColorMap(index, code))
    return np.ascontiguousarray(table.reshape(256, 3))


def _solid_image(shape: tuple[int, ...], bgr: tuple[int, int, int]) -> np.ndarray:
    """Return a read-only uint8 image of ``shape`` filled with ``bgr``, kept for the next call."""
    key = (tuple(shape), tuple(bgr))
    image = _SOLID_IMAGES.get(key)
    if image is None:
        image = np.empty(shape, np.uint8)
        for channel, value in enumerate(bgr):
            image[..., channel] = value
        image.flags.writeable = False
        if len(_SOLID_IMAGES) >= 8:  # a few sizes and colours: drop the oldest
            _SOLID_IMAGES.pop(next(iter(_SOLID_IMAGES)))
        _SOLID_IMAGES[key] = image
    return image


class RangeTracker:
    """A steady display range for outputs without a fixed scale (relative depth).

    Each ``update`` takes the low and high percentiles of the finite values and blends them
    into the running range with an exponential moving average, so colours follow the scene
    without flickering from frame to frame.
    """

    def __init__(self, low_percentile: float = 2.0, high_percentile: float = 98.0,
                 smoothing: float = 0.1, max_samples: int = 20000):
        if not 0.0 <= low_percentile < high_percentile <= 100.0:
            raise BadMessageError('percentiles', (low_percentile, high_percentile),
                                  '0 <= low < high <= 100')
        if not 0.0 < smoothing <= 1.0:
            raise BadMessageError('smoothing', smoothing, 'in (0, 1]: weight of a new frame')
        self.low_percentile = float(low_percentile)
        self.high_percentile = float(high_percentile)
        self.smoothing = float(smoothing)
        self.max_samples = max(int(max_samples), 1)
        self._range: tuple[float, float] | None = None

    @property
    def value_range(self) -> tuple[float, float] | None:
        """Return the current (low, high), or None before the first usable frame."""
        return self._range

    def reset(self) -> None:
        """Forget the range; the next frame sets it outright."""
        self._range = None

    def update(self, values: np.ndarray) -> tuple[float, float] | None:
        """Blend the percentiles of ``values`` into the range and return it.

        Frames without finite values leave the range as it was. The first frame sets it.
        """
        flat = np.asarray(values, dtype=np.float32).ravel()
        if flat.size > self.max_samples:
            flat = flat[::math.ceil(flat.size / self.max_samples)]
        flat = flat[np.isfinite(flat)]
        if flat.size == 0:
            return self._range
        low, high = (float(v) for v in np.percentile(
            flat, (self.low_percentile, self.high_percentile)))
        if self._range is not None:
            keep = 1.0 - self.smoothing
            low = keep * self._range[0] + self.smoothing * low
            high = keep * self._range[1] + self.smoothing * high
        if not high > low:
            margin = max(abs(low) * 1e-6, 1e-6)
            low, high = low - margin, high + margin
        self._range = (low, high)
        return self._range


def colorbar(height: int, min_value: float, max_value: float, colormap: str = 'turbo',
             label: str = 'm', inverse: bool = False, bar_width: int = 20,
             font_scale: float = 0.4, log_scale: bool = False) -> np.ndarray:
    """Return a (height, W, 3) uint8 BGR colour bar with tick labels, for reports.

    The bar is coloured by ``colorize_depth`` with the same arguments, ``max_value`` at the top
    and ``min_value`` at the bottom; ticks fall on round values labelled ``'<value> <label>'``
    (metres by default) in black on white. With ``log_scale`` the bar is logarithmic and its
    ticks fall on 1, 2 and 5 times powers of ten.
    """
    if isinstance(height, bool) or not isinstance(height, (int, np.integer)) or height < 16:
        raise BadMessageError('height', height, 'an integer >= 16 pixels')
    low, high = _checked_range(min_value, max_value, log_scale)
    if log_scale:
        rows = np.geomspace(high, low, int(height), dtype=np.float64)[:, None]
        ticks, decimals = _log_ticks(low, high)
    else:
        rows = np.linspace(high, low, int(height), dtype=np.float64)[:, None]
        ticks, decimals = round_ticks(low, high)
    bar = colorize_depth(np.repeat(rows, bar_width, axis=1), low, high, colormap,
                         inverse=inverse, log_scale=log_scale)
    if log_scale:  # 0.5, 1, 2, 5, 10: each with the digits it needs
        texts = [f'{value:g} {label}'.rstrip() for value in ticks]
    else:
        texts = [f'{value:.{decimals}f} {label}'.rstrip() for value in ticks]
    (text_width, text_height), baseline = _text_extent(texts, font_scale)
    tick_length = 4
    image = np.full((height, bar_width + tick_length + 3 + text_width + 2, 3), 255, np.uint8)
    image[:, :bar_width] = bar
    for value, text in zip(ticks, texts):
        row = int(round(_fraction_from_top(value, low, high, log_scale) * (height - 1)))
        cv2.line(image, (bar_width, row), (bar_width + tick_length - 1, row), (0, 0, 0), 1)
        text_row = min(max(row + text_height // 2, text_height), height - baseline)
        cv2.putText(image, text, (bar_width + tick_length + 3, text_row), _FONT, font_scale,
                    (0, 0, 0), 1, cv2.LINE_AA)
    return image


def round_ticks(low: float, high: float, target: int = 5) -> tuple[list[float], int]:
    """Return round tick values in [low, high] (about ``target`` of them) and their decimals.

    The step is 1, 2 or 5 times a power of ten, for colour bars and figure axes alike.
    """
    raw_step = (high - low) / target
    magnitude = 10.0 ** math.floor(math.log10(raw_step))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw_step)
    first = math.ceil(low / step - 1e-9)
    last = math.floor(high / step + 1e-9)
    ticks = [k * step for k in range(first, last + 1)]
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    return ticks, decimals


def _log_ticks(low: float, high: float) -> tuple[list[float], int]:
    """Return the values 1, 2 and 5 times a power of ten in [low, high] and their decimals."""
    ticks = [m * 10.0 ** e for e in range(math.floor(math.log10(low)),
                                          math.ceil(math.log10(high)) + 1) for m in (1, 2, 5)
             if low * (1 - 1e-9) <= m * 10.0 ** e <= high * (1 + 1e-9)]
    if len(ticks) < 2:  # a narrow range: fall back to evenly spaced ticks
        return round_ticks(low, high)
    decimals = max(0, -math.floor(math.log10(min(ticks)) + 1e-9))
    return ticks, decimals


def _fraction_from_top(value: float, low: float, high: float, log_scale: bool) -> float:
    """Return where ``value`` sits on a bar with ``high`` at the top (0) and ``low`` at 1."""
    if log_scale:
        return math.log(high / value) / math.log(high / low)
    return (high - value) / (high - low)


def _text_extent(texts: list[str], font_scale: float) -> tuple[tuple[int, int], int]:
    sizes = [cv2.getTextSize(text, _FONT, font_scale, 1) for text in texts or ['']]
    width = max(size[0][0] for size in sizes)
    height = max(size[0][1] for size in sizes)
    return (width, height), max(size[1] for size in sizes)


def _colormap_code(colormap: str) -> int | None:
    if colormap == _GRAY:
        return None
    if colormap not in _COLORMAPS:
        raise BadMessageError('colormap', colormap, f'one of {colormap_names()}')
    return _COLORMAPS[colormap]


def _checked_range(min_value: float, max_value: float,
                   log_scale: bool = False) -> tuple[float, float]:
    low, high = float(min_value), float(max_value)
    if not (math.isfinite(low) and math.isfinite(high) and high > low):
        raise BadMessageError('range', (min_value, max_value), 'finite min_value < max_value')
    if log_scale and not low > 0:
        raise BadMessageError('range', (min_value, max_value), '0 < min_value on a log scale')
    return low, high


def _checked_color(color) -> tuple[int, int, int]:
    values = tuple(int(c) for c in color)
    if len(values) != 3 or not all(0 <= c <= 255 for c in values):
        raise BadMessageError('invalid_color', color, '(B, G, R) with values 0..255')
    return values
