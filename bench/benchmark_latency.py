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

"""Latency arithmetic the benchmarks share: timings, percentiles, goals and latency bounds.

Not a benchmark (its name does not start with ``bench_``); the benchmarks import it as
``benchmark_latency``. Needs neither ROS nor a model.
"""

import dataclasses
import time
from typing import Callable

import numpy as np

# Latency goal: an output is at most RATIO_GOAL x one inference old (+ one frame period when
# frames come faster than the model runs).
RATIO_GOAL = 1.10


def timed(call: Callable, *args) -> float:
    """Return the seconds one ``call(*args)`` takes."""
    started = time.perf_counter()
    call(*args)
    return time.perf_counter() - started


def summary_ms(seconds: list[float]) -> dict:
    """Return median, p95, min and max of durations in seconds, in milliseconds (2 decimals)."""
    if not seconds:
        return {'median_ms': None, 'p95_ms': None, 'min_ms': None, 'max_ms': None}
    values = 1e3 * np.asarray(seconds)
    return {'median_ms': round(float(np.median(values)), 2),
            'p95_ms': round(float(np.percentile(values, 95)), 2),
            'min_ms': round(float(values.min()), 2), 'max_ms': round(float(values.max()), 2)}


def goal_met(ratio: float | None, goal: float = RATIO_GOAL) -> bool:
    """Return whether a measured ratio (None: not measured) is at most its goal."""
    return ratio is not None and bool(ratio <= goal)


def latency_bound_ms(inference_ms: float, period_ms: float) -> float:
    """Return the most an output may lag under overload: RATIO_GOAL x inference + one period."""
    return RATIO_GOAL * inference_ms + period_ms


def latency_bound_report(latency_ms: np.ndarray, raw_median_ms: float,
                         period_ms: float) -> dict:
    """Hold the latency's max and p95 against the bound from the raw inference median."""
    bound = latency_bound_ms(raw_median_ms, period_ms)
    return {'latency_bound_ms': round(bound, 2),
            'latency_bound_rule': f'{RATIO_GOAL:g} x raw inference median + frame period',
            'latency_max_within_bound': bool(latency_ms.max() <= bound),
            'latency_p95_within_bound': bool(np.percentile(latency_ms, 95) <= bound)}


def latency_against_inference(latency_ms: np.ndarray, raw: dict, period_ms: float) -> dict:
    """Compare latency with "one inference + one frame period", like with like.

    Inference time varies from frame to frame, so each latency percentile (median, p95) is held
    against RATIO_GOAL x the same percentile of the raw inference time (``raw['median_ms']``,
    ``raw['p95_ms']``), plus the frame period.
    """
    report = {}
    for name, percentile in (('median', 50), ('p95', 95)):
        latency = float(np.percentile(latency_ms, percentile))
        bound = latency_bound_ms(float(raw[f'{name}_ms']), period_ms)
        report[name] = {'latency_ms': round(latency, 2), 'bound_ms': round(bound, 2),
                        'within': bool(latency <= bound)}
    return {'latency_vs_inference_by_percentile': report,
            'latency_vs_inference_rule': (f'latency percentile <= {RATIO_GOAL:g} x the same '
                                          'percentile of raw inference + frame period'),
            'latency_within_inference_bounds': all(item['within'] for item in report.values())}


@dataclasses.dataclass
class WindowLatency:
    """Publish -> receipt latency of the outputs of one publishing window, in stamp order.

    An output taken up after the input stopped waited for nothing newer (its predecessor
    arrived after the window): it is in ``outputs`` but not in ``kept`` nor the latencies.
    """

    outputs: list[int]
    kept: list[int]
    latency_ms: np.ndarray
    at_s: np.ndarray  # arrival, seconds after the window's start

    @classmethod
    def measure(cls, published: dict[int, float], arrived: dict[int, float], start: float,
                end: float) -> 'WindowLatency':
        """Pair publish and arrival times (perf_counter s) by stamp for a window start..end."""
        outputs = sorted(stamp for stamp in published if stamp in arrived)
        kept = outputs[:1] + [current for previous, current in zip(outputs, outputs[1:])
                              if arrived[previous] <= end]
        return cls(outputs, kept, np.array([1e3 * (arrived[s] - published[s]) for s in kept]),
                   np.array([arrived[s] - start for s in kept]))

    @property
    def taken_after_input_stopped(self) -> int:
        """Outputs left out: taken up after the input stopped."""
        return len(self.outputs) - len(self.kept)

    @property
    def interval_ms(self) -> float:
        """Median time between outputs."""
        return 1e3 * float(np.median(np.diff(self.at_s)))

    @property
    def slope_ms_per_s(self) -> float:
        """Slope of a line fitted to latency against arrival time (a queue makes it climb)."""
        return float(np.polyfit(self.at_s, self.latency_ms, 1)[0])

    @property
    def growth_ms(self) -> float:
        """Latency growth over the run: slope x the span of the arrivals."""
        return self.slope_ms_per_s * float(self.at_s[-1] - self.at_s[0])

    def percentiles(self) -> dict:
        """Return the latency's median, p95 and max (ms, 2 decimals) under their JSON keys."""
        return {'latency_median_ms': round(float(np.median(self.latency_ms)), 2),
                'latency_p95_ms': round(float(np.percentile(self.latency_ms, 95)), 2),
                'latency_max_ms': round(float(self.latency_ms.max()), 2)}

    def trend(self) -> dict:
        """Return the latency's slope, growth over the run and the output interval (JSON keys)."""
        return {'latency_slope_ms_per_s': round(self.slope_ms_per_s, 3),
                'latency_growth_over_run_ms': round(self.growth_ms, 2),
                'output_interval_median_ms': round(self.interval_ms, 2)}
