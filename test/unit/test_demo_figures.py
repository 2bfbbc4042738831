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

"""Demo figures: a depth map becomes a titled panel with axes and its scale's colour bar."""

import numpy as np

from mono_depth_ros.demo.figures import (bar_chart, ColourScale, depth_figure, PANEL_WIDTH,
                                         plan_view, relative_error)
from mono_depth_ros.demo.report import Figure, Report


def test_a_depth_figure_is_shrunk_and_carries_axes_and_a_colour_bar():
    depth = np.linspace(0.5, 12.0, 480 * 640, dtype=np.float32).reshape(480, 640)
    scale = ColourScale(0.5, 12.0, unit='m', log=True)
    panel = depth_figure(depth, scale, 'ground-truth depth (m)')
    plot_width = PANEL_WIDTH
    assert panel.shape[1] > plot_width + 60          # axis labels on the left, bar on the right
    assert panel.shape[0] > 300 + 40                 # title above, ticks below
    bar = scale.bar(300)
    columns = panel[:, -bar.shape[1]:]
    assert (np.abs(columns.astype(int) - bar[0:1, 5].astype(int)).sum(axis=2) == 0).any()


def test_sparse_depth_is_grown_without_painting_the_border():
    sparse = np.full((120, 160), np.nan, np.float32)
    sparse[60, 80] = 3.0
    scale = ColourScale(0.5, 12.0, log=True)
    panel = depth_figure(sparse, scale, 'sparse', dilate=7)
    plot = panel[:, :-scale.bar(120).shape[1]]   # the picture without its colour bar
    colour = scale.colorize(np.array([[3.0]]))[0, 0]
    assert (plot == colour).all(axis=2).sum() == 49   # one 7x7 square, nothing at the edges


def test_scales_say_their_range_and_unit_in_words():
    assert ColourScale(0.5, 12.0, log=True).describe() == (
        'logarithmic turbo scale, 0.5 m (red) to 12 m (blue)')
    assert ColourScale(1.0, 30.0, unit='', inverse=True).describe().endswith(
        '30 (red) to 1 (blue), unitless')


def test_relative_error_is_in_percent_and_unknown_where_the_truth_is():
    error = relative_error(np.array([[1.1, 2.0, 1.0]]), np.array([[1.0, np.nan, 0.0]]))
    assert abs(error[0, 0] - 10.0) < 1e-4 and np.isnan(error[0, 1]) and np.isinf(error[0, 2])


def test_plan_view_draws_points_from_above_on_metre_axes():
    points = np.array([[1.0, 2.0, 0.0], [3.0, -1.0, 1.0]])
    colors = np.array([[0, 0, 255], [255, 0, 0]], np.uint8)
    panel = plan_view(points, colors, np.zeros((2, 3)), 'from above', size=(200, 150))
    assert (panel == (0, 0, 255)).all(axis=2).any() and (panel == (255, 0, 0)).all(axis=2).any()


def test_every_figure_of_a_report_gets_a_numbered_caption(tmp_path):
    (tmp_path / 'figures').mkdir()
    (tmp_path / 'figures' / 'a.png').write_bytes(b'\x89PNG')
    report = Report('title')
    report.add('Pictures', 'text with `code`', [Figure('figures/a.png', 'what a shows')])
    paths = report.write(tmp_path)
    markdown = paths['markdown'].read_text()
    assert '![Figure 1](figures/a.png)\n\n*Figure 1: what a shows*' in markdown
    page = paths['html'].read_text()
    assert '<figcaption><b>Figure 1:</b> what a shows</figcaption>' in page
    assert '<code>code</code>' in page


def test_a_bar_chart_draws_one_bar_per_stage_as_long_as_its_value():
    chart = bar_chart({'fast': 10.0, 'slow': 40.0}, 'per-stage latency (ms)', 'milliseconds')
    assert chart.shape[1] > PANEL_WIDTH
    coloured = np.all(chart == (200, 150, 90), axis=2)   # the bar colour
    rows = [row for row in range(chart.shape[0]) if coloured[row].any()]
    lengths = sorted({int(coloured[row].sum()) for row in rows})
    assert len(rows) > 20 and lengths[-1] > 3 * lengths[0]
