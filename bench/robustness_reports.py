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

"""bench_robustness's summaries of a measured window: each node's memory and /diagnostics.

Not a benchmark (its name does not start with ``bench_``).
"""

import numpy as np

RSS_EVERY_S = 1.0
RSS_GROWTH_GOAL_PERCENT = 5.0
COUNTERS = ('frames_received', 'frames_dropped', 'frames_resets', 'frames_no_pose',
            'frames_failed')


def memory_report(samples: list[tuple[float, float]], start: float, end: float,
                  report_every_s: float) -> dict:
    """Summarise RSS samples (perf_counter s, MB) taken between start and end."""
    slack = 0.5 * RSS_EVERY_S  # the samples nearest the window's ends
    inside = [(at, mb) for at, mb in samples if start - slack <= at <= end + slack]
    if len(inside) < 2:
        return {'samples': len(inside), 'goal_met': False, 'why_not': 'fewer than 2 samples'}
    at_s = np.array([at - start for at, _ in inside])
    rss_mb = np.array([mb for _, mb in inside])
    growth = 100.0 * (rss_mb[-1] - rss_mb[0]) / rss_mb[0]
    slope = float(np.polyfit(at_s / 60.0, rss_mb, 1)[0])
    reported, next_at = [], 0.0
    for seconds, mb in zip(at_s, rss_mb):
        if seconds >= next_at - 0.5 * RSS_EVERY_S:
            reported.append([round(float(seconds), 1), round(float(mb), 2)])
            next_at += report_every_s
    return {
        'samples': len(inside),
        'rss_start_mb': round(float(rss_mb[0]), 2),
        'rss_end_mb': round(float(rss_mb[-1]), 2),
        'rss_min_mb': round(float(rss_mb.min()), 2),
        'rss_max_mb': round(float(rss_mb.max()), 2),
        'rss_growth_percent': round(float(growth), 3),
        'rss_slope_mb_per_min': round(slope, 4),
        'rss_fit_growth_percent': round(100.0 * slope * float(at_s[-1]) / 60.0
                                        / float(rss_mb[0]), 3),
        # A leak keeps growing; an allocator settling in grows early and then stays flat.
        'rss_growth_second_half_percent': round(
            100.0 * float(rss_mb[-1] - rss_mb[len(rss_mb) // 2]) / float(rss_mb[0]), 3),
        f'rss_every_{report_every_s:g}_s_mb': reported,
        'goal_percent': RSS_GROWTH_GOAL_PERCENT,
        'goal_met': bool(growth < RSS_GROWTH_GOAL_PERCENT),
    }


def diagnostics_report(before: dict, during: dict, after: dict) -> dict:
    """Return a node's /diagnostics over a window.

    Rates and latencies come from its last message in the window (``during``; the rates decay
    once the input stops), counters from the first message after the window, with each
    counter's change since ``before``.
    """
    result = {key: value for key, value in (during or after).items() if key not in COUNTERS}
    result.update({key: after[key] for key in COUNTERS if key in after})
    for key in COUNTERS:
        if isinstance(after.get(key), int) and isinstance(before.get(key), int):
            result[f'{key}_in_window'] = after[key] - before[key]
    return result
