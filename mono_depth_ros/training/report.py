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

"""A training run's report: loss curve and held-out scores as PNG, Markdown and JSON."""

import json
import pathlib

import cv2
import numpy as np

from mono_depth_ros.demo.figures import grid, titled, with_axes

PLOT_SIZE = (260, 480)  # (height, width) of a curve's plotting area, pixels


def curve_figure(points: list[tuple[float, float]], title: str, x_name: str, y_name: str,
                 log_y: bool = False) -> np.ndarray:
    """Return a line plot of (x, y) points with axes, ticks and a title (BGR)."""
    height, width = PLOT_SIZE
    plot = np.full((height, width, 3), 255, np.uint8)
    if not points:
        return titled(with_axes(plot, (0, 1), (0, 1), x_name, y_name), title)
    x = np.array([p[0] for p in points], np.float64)
    y = np.array([p[1] for p in points], np.float64)
    shown = np.log10(np.maximum(y, 1e-12)) if log_y else y
    x_span = (float(x.min()), float(max(x.max(), x.min() + 1)))
    low, high = float(shown.min()), float(shown.max())
    margin = max(high - low, 1e-6) * 0.05
    y_span = (low - margin, high + margin)
    columns = (x - x_span[0]) / (x_span[1] - x_span[0]) * (width - 1)
    rows = (1 - (shown - y_span[0]) / (y_span[1] - y_span[0])) * (height - 1)
    line = np.stack([columns, rows], axis=1).round().astype(np.int32)
    cv2.polylines(plot, [line], False, (180, 80, 20), 1, cv2.LINE_AA)
    for column, row in line if len(line) < 40 else []:
        cv2.circle(plot, (int(column), int(row)), 3, (180, 80, 20), -1, cv2.LINE_AA)
    axis_name = f'log10 {y_name}' if log_y else y_name
    return titled(with_axes(plot, x_span, (y_span[1], y_span[0]), x_name, axis_name), title)


def write_training_report(out_dir, *, command: str, settings: dict, history, held_out: list,
                          final: dict, data: str, model_file: str, extra: dict | None = None
                          ) -> dict[str, pathlib.Path]:
    """Write ``loss_curve.png``, ``report.md`` and ``report.json``; return their paths.

    ``held_out``: [(step, metrics)] during training; ``final``: the exported model's scores.
    """
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    panels = [curve_figure(history, 'training loss (mean of each 10 steps)', 'step', 'loss',
                           log_y=True)]
    if held_out:
        panels.append(curve_figure([(step, m.get('abs_rel', np.nan)) for step, m in held_out],
                                   'held-out AbsRel (per-frame scale+shift)', 'step',
                                   'AbsRel'))
    figure = out_dir / 'loss_curve.png'
    cv2.imwrite(str(figure), grid([panels]), [cv2.IMWRITE_PNG_COMPRESSION, 9])
    summary = {'command': command, 'data': data, 'model': model_file, 'settings': settings,
               'final': final, 'held_out_during_training': held_out,
               'loss_history': history, **(extra or {})}
    (out_dir / 'report.json').write_text(json.dumps(summary, indent=2) + '\n')
    rows = '\n'.join(f'| {name} | {values.get("abs_rel", np.nan):.4f} | '
                     f'{values.get("rmse", np.nan):.4f} | {values.get("delta1", np.nan):.4f} | '
                     f'{values.get("frames", 0)} |' for name, values in final.items())
    lines = [
        '# Training report', '',
        f'Model: `{model_file}`. Reproduce with:', '', '```', command, '```', '',
        f'Data: {data}.', '',
        'Settings: ' + ', '.join(f'{key} {value}' for key, value in settings.items()) + '.', '',
        '## Held-out scores', '',
        '| evaluation | AbsRel | RMSE (m) | δ<1.25 | frames |', '|---|---|---|---|---|', rows,
        '',
        '## Loss curve', '', '![loss curve](loss_curve.png)', '',
        'Left: the training loss (log scale) against the step. Right: the held-out AbsRel '
        'after a per-frame scale and shift fit, at each checkpoint.', '']
    (out_dir / 'report.md').write_text('\n'.join(lines))
    return {'figure': figure, 'markdown': out_dir / 'report.md',
            'json': out_dir / 'report.json'}
