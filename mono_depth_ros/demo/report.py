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

"""Figures and the demo report: labelled panels, colour bars in metres, Markdown and HTML."""

import base64
from dataclasses import dataclass, field
import html
import json
import pathlib

import cv2
import numpy as np

from mono_depth_ros.core.colorize import colorbar, colorize_depth

PANEL_BACKGROUND = (255, 255, 255)
LABEL_HEIGHT = 22


def label_panel(bgr: np.ndarray, text: str) -> np.ndarray:
    """Return ``bgr`` with a white caption strip above it."""
    strip = np.full((LABEL_HEIGHT, bgr.shape[1], 3), PANEL_BACKGROUND, dtype=np.uint8)
    cv2.putText(strip, text, (6, LABEL_HEIGHT - 7), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1,
                cv2.LINE_AA)
    return np.vstack([strip, bgr])


def depth_panel(depth: np.ndarray, min_depth: float, max_depth: float, text: str,
                colormap: str = 'turbo', dilate: int = 0) -> np.ndarray:
    """Return a labelled colorized depth image (fixed range, NaN black) with its colour bar."""
    shown = depth
    if dilate:
        # Sparse depth is a few pixels each: grow them so they can be seen.
        kernel = np.ones((dilate, dilate), np.uint8)
        filled = np.where(np.isfinite(depth), depth, 0).astype(np.float32)
        grown = cv2.dilate(filled, kernel)
        shown = np.where(grown > 0, grown, np.nan).astype(np.float32)
    colored = colorize_depth(shown, min_depth, max_depth, colormap)
    bar = colorbar(colored.shape[0], min_depth, max_depth, colormap)
    return label_panel(np.hstack([colored, bar]), text)


def error_panel(pred: np.ndarray, gt: np.ndarray, text: str, max_error: float = 0.2,
                dilate: int = 0) -> np.ndarray:
    """Return a labelled map of |pred - gt| / gt (0 to ``max_error``), NaN black."""
    with np.errstate(divide='ignore', invalid='ignore'):
        relative_error = np.abs(pred - gt) / gt
    return depth_panel(relative_error.astype(np.float32), 0.0, max_error, text, 'inferno',
                       dilate)


def grid(rows: list[list[np.ndarray]], gap: int = 6) -> np.ndarray:
    """Return panels laid out in rows, padded with white to a common size."""
    height = max(panel.shape[0] for row in rows for panel in row)
    width = max(panel.shape[1] for row in rows for panel in row)
    columns = max(len(row) for row in rows)
    sheet = np.full((len(rows) * (height + gap) + gap, columns * (width + gap) + gap, 3),
                    PANEL_BACKGROUND, dtype=np.uint8)
    for r, row in enumerate(rows):
        for c, panel in enumerate(row):
            y, x = gap + r * (height + gap), gap + c * (width + gap)
            sheet[y:y + panel.shape[0], x:x + panel.shape[1]] = panel
    return sheet


@dataclass
class Report:
    """The demo's findings, written as report.md, index.html and summary.json."""

    title: str
    sections: list[tuple[str, str, list[str]]] = field(default_factory=list)
    summary: dict = field(default_factory=dict)

    def add(self, heading: str, text: str, images: list[str] | None = None) -> None:
        """Add a section with Markdown text and image paths relative to the report."""
        self.sections.append((heading, text, images or []))

    def write(self, out_dir: pathlib.Path) -> dict[str, pathlib.Path]:
        """Write report.md, index.html (images inlined) and summary.json into ``out_dir``."""
        markdown = [f'# {self.title}', '']
        for heading, text, images in self.sections:
            markdown += [f'## {heading}', '', text, '']
            markdown += [f'![{heading}]({image})' for image in images] + ([''] if images else [])
        paths = {'markdown': out_dir / 'report.md', 'html': out_dir / 'index.html',
                 'summary': out_dir / 'summary.json'}
        paths['markdown'].write_text('\n'.join(markdown), encoding='utf-8')
        paths['html'].write_text(self._html(out_dir), encoding='utf-8')
        paths['summary'].write_text(json.dumps(self.summary, indent=2, default=float),
                                    encoding='utf-8')
        return paths

    def _html(self, out_dir: pathlib.Path) -> str:
        body = [f'<h1>{html.escape(self.title)}</h1>']
        for heading, text, images in self.sections:
            body.append(f'<h2>{html.escape(heading)}</h2>')
            body.append(_markdown_block_to_html(text))
            for image in images:
                data = base64.b64encode((out_dir / image).read_bytes()).decode('ascii')
                body.append(f'<figure><img alt="{html.escape(heading)}" '
                            f'src="data:image/png;base64,{data}"></figure>')
        style = ('body{font-family:sans-serif;max-width:1400px;margin:2em auto;color:#222}'
                 'img{max-width:100%;border:1px solid #ddd}'
                 'table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;'
                 'text-align:right}pre{background:#f6f6f6;padding:8px}')
        return (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>'
                f'{html.escape(self.title)}</title><style>{style}</style></head><body>'
                + '\n'.join(body) + '</body></html>')


def markdown_table(header: list[str], rows: list[list[object]]) -> str:
    """Return a Markdown table; floats get four significant digits."""
    def cell(value: object) -> str:
        return f'{value:.4g}' if isinstance(value, float) else str(value)
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    lines += ['| ' + ' | '.join(cell(v) for v in row) + ' |' for row in rows]
    return '\n'.join(lines)


def _markdown_block_to_html(text: str) -> str:
    """Render the small Markdown subset the report uses: paragraphs, lists and tables."""
    out, table, items = [], [], []

    def flush() -> None:
        if table:
            cells = [[c.strip() for c in row.strip().strip('|').split('|')] for row in table
                     if not set(row.replace('|', '').strip()) <= {'-'}]
            head, *rest = cells
            out.append('<table><tr>' + ''.join(f'<th>{html.escape(c)}</th>' for c in head)
                       + '</tr>' + ''.join('<tr>' + ''.join(
                           f'<td>{html.escape(c)}</td>' for c in row) + '</tr>' for row in rest)
                       + '</table>')
            table.clear()
        if items:
            out.append('<ul>' + ''.join(f'<li>{html.escape(i)}</li>' for i in items) + '</ul>')
            items.clear()

    for line in text.splitlines():
        if line.startswith('|'):
            table.append(line)
        elif line.startswith('- '):
            items.append(line[2:])
        else:
            flush()
            if line.strip():
                out.append(f'<p>{html.escape(line)}</p>')
    flush()
    return '\n'.join(out)


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
    canvas = np.full((height, width, 3), 255, np.uint8)
    for dy in range(point_px):
        for dx in range(point_px):
            uu, vv = u[order] + dx, v[order] + dy
            inside = (uu >= 0) & (uu < width) & (vv >= 0) & (vv < height)
            canvas[vv[inside], uu[inside]] = colors[order][inside]
    return canvas
