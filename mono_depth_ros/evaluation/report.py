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

"""The eval results for people and scripts: a text table, CSV rows per frame, JSON-safe values."""

import csv
import math

from mono_depth_ros.core.metrics import METRIC_NAMES

_LABELS = {'abs_rel': 'AbsRel', 'sq_rel': 'SqRel', 'rmse': 'RMSE (m)', 'rmse_log': 'RMSElog',
           'silog': 'SILog', 'delta1': 'δ < 1.25', 'delta2': 'δ < 1.25²', 'delta3': 'δ < 1.25³'}


def format_table(result: dict) -> str:
    """Return the summary as a text table with a line on what was matched."""
    align = result['align'] + (f' ({result["align_space"]})' if result['align_space'] else '')
    lines = [f'pred: {result["pred"]}', f'gt:   {result["gt"]}',
             f'{result["frames_scored"]} frames scored of {result["frames_matched"]} matched '
             f'by {result["matched_by"]} ({result["pred_unmatched"]} predictions and '
             f'{result["gt_unmatched"]} ground-truth frames unmatched); align {align}; '
             f'{result["weighting"]}-weighted; {result["pixels"]} pixels']
    if result['frames_resized']:
        lines.append(f'{result["frames_resized"]} predictions resized (nearest) to the '
                     'ground-truth size')
    if result['frames_unaligned']:
        lines.append(f'{result["frames_unaligned"]} frames had too few valid pixels to align')
    width = max(len(label) for label in _LABELS.values())
    lines.append(f'{"metric":<{width}}  value')
    lines += [f'{_LABELS[name]:<{width}}  {result["metrics"][name]:.4f}'
              for name in METRIC_NAMES]
    if 'tae' in result:
        lines.append(f'{"TAE":<{width}}  {result["tae"]:.4f} ({result["tae_pairs"]} pairs of '
                     'consecutive frames)')
    return '\n'.join(lines)


def write_csv(path, rows: list[dict]) -> None:
    """Write the per-frame rows (pred, gt, stamp, count, metrics, scale, shift[, tae])."""
    columns = ['pred', 'gt', 'stamp', 'count', *METRIC_NAMES, 'scale', 'shift']
    if any('tae' in row for row in rows):
        columns.append('tae')
    with open(path, 'w', newline='') as stream:
        writer = csv.DictWriter(stream, fieldnames=columns, extrasaction='ignore')
        writer.writeheader()
        writer.writerows(rows)


def json_safe(value):
    """Return ``value`` with NaN and infinities as None (JSON has no NaN)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(item) for item in value]
    return value
