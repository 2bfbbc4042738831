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

"""Pictures that read on their own: a title, axes with units and a colour bar on every panel.

:func:`depth_figure` is the one way a depth map (metric, relative or an error map) becomes a
picture: coloured by a :class:`ColourScale`, shrunk to :data:`PANEL_WIDTH`, with pixel axes
and the scale's colour bar. :func:`image_figure` does the same for a colour image (with a
colour bar when its colours encode values, as the track picture's do), :func:`plan_view`
draws points seen from above on metre axes, and :func:`grid` lays panels out.
"""

from dataclasses import dataclass

import cv2
import numpy as np

from mono_depth_ros.core.colorize import colorbar, colorize_depth, round_ticks

PANEL_WIDTH = 400  # px: pictures are shrunk to at most this width, so the report stays small
WHITE = (255, 255, 255)
BLACK = (0, 0, 0)
FONT = cv2.FONT_HERSHEY_SIMPLEX
FONT_SCALE = 0.4
TITLE_HEIGHT = 22
AXIS_TOP = 16      # rows above the plot: the y axis' name and the colour bar's unit
AXIS_BOTTOM = 32   # rows below the plot: tick labels and the x axis' name
TICK_LENGTH = 4
BAR_GAP = 8


@dataclass(frozen=True)
class ColourScale:
    """How values become colours in a figure and how its colour bar is labelled.

    ``unit`` ends each tick label ('m', '%', or '' for unitless values); ``inverse`` says the
    values grow towards the camera (relative inverse depth), ``log`` spreads the colours over
    the logarithm of the values.
    """

    low: float
    high: float
    unit: str = 'm'
    colormap: str = 'turbo'
    log: bool = False
    inverse: bool = False
    invalid_color: tuple[int, int, int] = BLACK

    def colorize(self, values: np.ndarray) -> np.ndarray:
        """Return ``values`` as a BGR image; NaN and infinite values take ``invalid_color``."""
        return colorize_depth(values, self.low, self.high, self.colormap, self.invalid_color,
                              inverse=self.inverse, log_scale=self.log)

    def bar(self, height: int) -> np.ndarray:
        """Return the colour bar for a plot ``height`` pixels tall."""
        return colorbar(height, self.low, self.high, self.colormap, label=self.unit,
                        inverse=self.inverse, font_scale=FONT_SCALE, log_scale=self.log)

    def describe(self) -> str:
        """Return the scale in words, for captions."""
        unit = f' {self.unit}' if self.unit else ''
        near, far = (self.high, self.low) if self.inverse else (self.low, self.high)
        if self.colormap == 'turbo':
            ends = f'{near:.3g}{unit} (red) to {far:.3g}{unit} (blue)'
        else:
            ends = f'{self.low:.3g}{unit} to {self.high:.3g}{unit}'
        kind = 'logarithmic' if self.log else 'linear'
        return f'{kind} {self.colormap} scale, {ends}' + ('' if self.unit else ', unitless')


def titled(image: np.ndarray, title: str) -> np.ndarray:
    """Return ``image`` with ``title`` on a white strip above it (the font shrinks to fit)."""
    scale = 0.5
    while scale > 0.3 and cv2.getTextSize(title, FONT, scale, 1)[0][0] > image.shape[1] - 8:
        scale -= 0.05
    strip = np.full((TITLE_HEIGHT, image.shape[1], 3), WHITE, np.uint8)
    cv2.putText(strip, title, (4, TITLE_HEIGHT - 7), FONT, scale, BLACK, 1, cv2.LINE_AA)
    return np.vstack([strip, image])


def with_axes(plot: np.ndarray, x_span: tuple[float, float], y_span: tuple[float, float],
              x_name: str, y_name: str) -> np.ndarray:
    """Return ``plot`` framed, with round ticks along its left and bottom edges.

    ``x_span`` is the value at the left and right edges, ``y_span`` at the top and bottom
    edges (either may decrease). The names (with their unit, e.g. 'u (px)') go below the x
    ticks and above the y axis. The plot keeps its size and sits :data:`AXIS_TOP` rows down.
    """
    height, width = plot.shape[:2]
    y_ticks, y_decimals = round_ticks(min(y_span), max(y_span), target=4)
    x_ticks, x_decimals = round_ticks(min(x_span), max(x_span), target=5)
    y_texts = [f'{value:.{y_decimals}f}' for value in y_ticks]
    left = max(cv2.getTextSize(text, FONT, FONT_SCALE, 1)[0][0] for text in y_texts) + 10
    canvas = np.full((AXIS_TOP + height + AXIS_BOTTOM, left + width + 1, 3), WHITE, np.uint8)
    canvas[AXIS_TOP:AXIS_TOP + height, left:left + width] = plot
    cv2.rectangle(canvas, (left - 1, AXIS_TOP - 1), (left + width, AXIS_TOP + height), BLACK, 1)
    for value, text in zip(y_ticks, y_texts):
        row = AXIS_TOP + _position(value, y_span, height)
        cv2.line(canvas, (left - 1 - TICK_LENGTH, row), (left - 1, row), BLACK, 1)
        text_width = cv2.getTextSize(text, FONT, FONT_SCALE, 1)[0][0]
        text_row = min(max(row + 4, AXIS_TOP + 4), AXIS_TOP + height)
        cv2.putText(canvas, text, (left - 3 - TICK_LENGTH - text_width, text_row), FONT,
                    FONT_SCALE, BLACK, 1, cv2.LINE_AA)
    bottom = AXIS_TOP + height
    for value in x_ticks:
        text = f'{value:.{x_decimals}f}'
        column = left + _position(value, x_span, width)
        cv2.line(canvas, (column, bottom), (column, bottom + TICK_LENGTH), BLACK, 1)
        text_width = cv2.getTextSize(text, FONT, FONT_SCALE, 1)[0][0]
        start = min(max(column - text_width // 2, 0), canvas.shape[1] - text_width)
        cv2.putText(canvas, text, (start, bottom + TICK_LENGTH + 11), FONT, FONT_SCALE, BLACK,
                    1, cv2.LINE_AA)
    name_width = cv2.getTextSize(x_name, FONT, FONT_SCALE, 1)[0][0]
    cv2.putText(canvas, x_name, (left + (width - name_width) // 2, bottom + AXIS_BOTTOM - 3),
                FONT, FONT_SCALE, BLACK, 1, cv2.LINE_AA)
    cv2.putText(canvas, y_name, (2, AXIS_TOP - 5), FONT, FONT_SCALE, BLACK, 1, cv2.LINE_AA)
    return canvas


def bar_chart(values: dict[str, float], title: str, x_name: str,
              width: int = PANEL_WIDTH + 160) -> np.ndarray:
    """Return horizontal bars, numbered from the top, one per named value, on an axis from 0."""
    bar_height, gap = 22, 8
    plot = np.full((max(len(values), 1) * (bar_height + gap) + gap, width, 3), WHITE, np.uint8)
    top = max(list(values.values()) + [1e-9]) * 1.15
    for number, (name, value) in enumerate(values.items()):
        row = gap + number * (bar_height + gap)
        length = int(round(max(value, 0.0) / top * (width - 1)))
        cv2.rectangle(plot, (0, row), (length, row + bar_height), (200, 150, 90), -1)
        cv2.putText(plot, f'{number + 1}. {name}: {value:.1f}', (4, row + bar_height - 7), FONT,
                    FONT_SCALE, BLACK, 1, cv2.LINE_AA)
    count = max(len(values), 1)
    edge = 0.5 - gap / 2 / (bar_height + gap)
    return titled(with_axes(plot, (0.0, top), (edge, count + 1 - edge), x_name, 'bar'), title)


def image_figure(bgr: np.ndarray, title: str, scale: ColourScale | None = None,
                 width: int = PANEL_WIDTH) -> np.ndarray:
    """Return a colour image as a panel: shrunk, pixel axes (of the full image), a title.

    With ``scale`` the panel gets that scale's colour bar: for images whose colours encode
    values (a colorized depth map, the drawn tracks).
    """
    height_px, width_px = bgr.shape[:2]
    plot = shrink(bgr, width)
    panel = with_axes(plot, (0, width_px), (0, height_px), 'u (px)', 'v (px)')
    if scale is not None:
        panel = _beside(panel, _bar_panel(scale, plot.shape[0]))
    return titled(panel, title)


def depth_figure(values: np.ndarray, scale: ColourScale, title: str, dilate: int = 0,
                 width: int = PANEL_WIDTH) -> np.ndarray:
    """Return a depth map (or any per-pixel value) as a panel with axes and colour bar.

    ``dilate`` grows each finite pixel to a ``dilate`` x ``dilate`` square first, so sparse
    depth (a few hundred points) can be seen; NaN pixels are black.
    """
    shown = np.asarray(values, dtype=np.float32)
    if dilate:
        filled = np.where(np.isfinite(shown), shown, -np.inf).astype(np.float32)
        grown = cv2.dilate(filled, np.ones((dilate, dilate), np.uint8),
                           borderType=cv2.BORDER_REPLICATE)
        shown = np.where(np.isfinite(grown), grown, np.nan).astype(np.float32)
    return image_figure(scale.colorize(shown), title, scale, width)


def relative_error(prediction: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Return |prediction - truth| / truth in percent, NaN where either is unknown."""
    with np.errstate(divide='ignore', invalid='ignore'):
        return (100.0 * np.abs(prediction - truth) / truth).astype(np.float32)


def plan_view(points: np.ndarray, colors_bgr: np.ndarray, path: np.ndarray, title: str,
              scale: ColourScale | None = None, size: tuple[int, int] = (PANEL_WIDTH, 300),
              point_px: int = 3) -> np.ndarray:
    """Return 3-D points seen from straight above (x right, y up) on metre axes.

    ``path`` (N, 3) is drawn as a black line from its start (a circle) to its end; ``scale``
    adds the colour bar of the points' colours.
    """
    width, height = size
    xy = np.concatenate([points[:, :2], path[:, :2]])
    low, high = xy.min(axis=0), xy.max(axis=0)
    middle = (low + high) / 2
    metres_per_px = 1.1 * max((high[0] - low[0]) / width, (high[1] - low[1]) / height, 1e-3)
    x_span = (middle[0] - metres_per_px * width / 2, middle[0] + metres_per_px * width / 2)
    y_span = (middle[1] + metres_per_px * height / 2, middle[1] - metres_per_px * height / 2)

    def pixels(world: np.ndarray) -> np.ndarray:
        u = (world[:, 0] - x_span[0]) / metres_per_px
        v = (y_span[0] - world[:, 1]) / metres_per_px
        return np.rint(np.stack([u, v], axis=-1)).astype(np.int64)

    canvas = np.full((height, width, 3), WHITE, np.uint8)
    order = np.argsort(points[:, 2])  # the highest points drawn last, on top
    _paint(canvas, pixels(points[order]), np.asarray(colors_bgr, np.uint8)[order], point_px)
    track = pixels(path).astype(np.int32)
    cv2.polylines(canvas, [track], False, BLACK, 2, cv2.LINE_AA)
    cv2.circle(canvas, tuple(int(c) for c in track[0]), 4, BLACK, 1, cv2.LINE_AA)
    panel = with_axes(canvas, x_span, y_span, 'x (m, odom frame)', 'y (m)')
    if scale is not None:
        panel = _beside(panel, _bar_panel(scale, height))
    return titled(panel, title)


def render_points(points: np.ndarray, colors_bgr: np.ndarray, eye, target, up=(0.0, 0.0, 1.0),
                  size: tuple[int, int] = (480, 360), fov_deg: float = 60.0,
                  point_px: int = 2) -> np.ndarray:
    """Return a BGR rendering of coloured 3-D points seen from ``eye`` looking at ``target``.

    A pinhole view with a z-buffer (far points drawn first), on a white background.
    """
    width, height = size
    eye, target, up = (np.asarray(v, dtype=np.float64) for v in (eye, target, up))
    forward = target - eye
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, up)
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    relative = np.asarray(points, dtype=np.float64) - eye
    x, y, z = relative @ right, relative @ down, relative @ forward
    focal = 0.5 * width / np.tan(np.radians(fov_deg) / 2)
    visible = np.isfinite(z) & (z > 0.1)
    u = np.rint(focal * x[visible] / z[visible] + width / 2).astype(np.int64)
    v = np.rint(focal * y[visible] / z[visible] + height / 2).astype(np.int64)
    colors = np.asarray(colors_bgr, dtype=np.uint8)[visible]
    order = np.argsort(-z[visible])
    canvas = np.full((height, width, 3), WHITE, np.uint8)
    _paint(canvas, np.stack([u, v], axis=-1)[order], colors[order], point_px)
    return canvas


def grid(rows: list[list[np.ndarray]], gap: int = 6) -> np.ndarray:
    """Return panels laid out in rows, padded with white to a common size."""
    height = max(panel.shape[0] for row in rows for panel in row)
    width = max(panel.shape[1] for row in rows for panel in row)
    columns = max(len(row) for row in rows)
    sheet = np.full((len(rows) * (height + gap) + gap, columns * (width + gap) + gap, 3),
                    WHITE, dtype=np.uint8)
    for r, row in enumerate(rows):
        for c, panel in enumerate(row):
            y, x = gap + r * (height + gap), gap + c * (width + gap)
            sheet[y:y + panel.shape[0], x:x + panel.shape[1]] = panel
    return sheet


def shrink(image: np.ndarray, width: int) -> np.ndarray:
    """Return ``image`` scaled down (area averaging) to at most ``width`` pixels wide."""
    if image.shape[1] <= width:
        return image
    height = max(1, round(image.shape[0] * width / image.shape[1]))
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)


def _position(value: float, span: tuple[float, float], length: int) -> int:
    """Return the pixel (0 .. length - 1) at which ``value`` lies on an axis spanning ``span``."""
    fraction = (value - span[0]) / (span[1] - span[0])
    return int(min(max(round(fraction * length), 0), length - 1))


def _bar_panel(scale: ColourScale, plot_height: int) -> np.ndarray:
    """Return the colour bar, its unit above it, aligned with a plot drawn by with_axes."""
    bar = scale.bar(plot_height)
    panel = np.full((AXIS_TOP + plot_height + AXIS_BOTTOM, bar.shape[1], 3), WHITE, np.uint8)
    panel[AXIS_TOP:AXIS_TOP + plot_height] = bar
    cv2.putText(panel, scale.unit or 'unitless', (0, AXIS_TOP - 5), FONT, FONT_SCALE, BLACK, 1,
                cv2.LINE_AA)
    return panel


def _beside(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Return two panels of equal height side by side with a white gap."""
    gap = np.full((left.shape[0], BAR_GAP, 3), WHITE, np.uint8)
    return np.hstack([left, gap, right])


def _paint(canvas: np.ndarray, pixels: np.ndarray, colors: np.ndarray, point_px: int) -> None:
    """Paint ``point_px`` squares at integer ``pixels`` (u, v), later ones on top."""
    height, width = canvas.shape[:2]
    for dy in range(point_px):
        for dx in range(point_px):
            u, v = pixels[:, 0] + dx, pixels[:, 1] + dy
            inside = (u >= 0) & (u < width) & (v >= 0) & (v < height)
            canvas[v[inside], u[inside]] = colors[inside]
