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

"""bench/'s support modules with fixed numbers: goal arithmetic, latency windows, /proc text."""

import importlib
import sys
import types

import numpy as np
import pytest

from mono_depth_ros.tools import bench


SUPPORT_MODULES = ('benchmark_latency', 'benchmark_meters', 'benchmark_model',
                   'benchmark_support', 'robustness_reports', 'robustness_stream')


@pytest.fixture(scope='module')
def bench_folder(package_root):
    """Put bench/ on sys.path, as the benchmarks find the modules beside them."""
    folder = str(package_root / 'bench')
    added = folder not in sys.path
    if added:
        sys.path.insert(0, folder)
    try:
        yield folder
    finally:
        if added:
            sys.path.remove(folder)


@pytest.fixture(scope='module')
def latency_math(bench_folder):
    """Return benchmark_latency, imported as the benchmarks import it."""
    return importlib.import_module('benchmark_latency')


@pytest.fixture(scope='module')
def meters(bench_folder):
    """Return benchmark_meters, imported as the benchmarks import it."""
    return importlib.import_module('benchmark_meters')


@pytest.fixture(scope='module')
def support(bench_folder):
    """Return benchmark_support, imported as the benchmarks import it."""
    return importlib.import_module('benchmark_support')


def test_the_support_modules_are_not_listed_as_benchmarks(package_root):
    benchmarks = bench.find_benchmarks(package_root / 'bench')
    for name in SUPPORT_MODULES:
        assert (package_root / 'bench' / f'{name}.py').is_file(), name
        assert not any(path.stem == name for path in benchmarks.values()), name
    assert 'support' not in benchmarks


def test_summary_ms_gives_median_p95_min_max_of_seconds_in_milliseconds(latency_math):
    seconds = [0.001 * value for value in range(1, 101)]  # 1 .. 100 ms
    assert latency_math.summary_ms(seconds) == {
        'median_ms': 50.5, 'p95_ms': 95.05, 'min_ms': 1.0, 'max_ms': 100.0}
    assert latency_math.summary_ms([]) == {
        'median_ms': None, 'p95_ms': None, 'min_ms': None, 'max_ms': None}


def test_goal_met_holds_a_ratio_to_its_goal_and_fails_when_nothing_was_measured(latency_math):
    assert latency_math.RATIO_GOAL == 1.10
    assert latency_math.goal_met(1.047) is True
    assert latency_math.goal_met(1.10) is True
    assert latency_math.goal_met(1.11) is False
    assert latency_math.goal_met(None) is False
    assert latency_math.goal_met(2.32, 3.0) is True and latency_math.goal_met(3.8, 3.0) is False


def test_latency_bound_is_1_1_inference_plus_one_frame_period(latency_math):
    # 316 ms of inference, 60 Hz input: 1.1 x 316 + 16.67 = 364.27 ms.
    assert latency_math.latency_bound_ms(316.0, 1e3 / 60) == pytest.approx(364.2667, abs=1e-4)
    latency_ms = np.array([300.0, 350.0, 360.0, 370.0])
    report = latency_math.latency_bound_report(latency_ms, 316.0, 1e3 / 60)
    assert report == {'latency_bound_ms': 364.27,
                      'latency_bound_rule': '1.1 x raw inference median + frame period',
                      'latency_max_within_bound': False,  # 370 > 364.27
                      'latency_p95_within_bound': False}  # p95 368.5
    report = latency_math.latency_bound_report(np.array([300.0, 350.0, 360.0]), 316.0, 1e3 / 60)
    assert report['latency_max_within_bound'] and report['latency_p95_within_bound']


def test_latency_against_inference_holds_each_percentile_to_the_same_inference_percentile(
        latency_math):
    latency_ms = np.arange(1.0, 101.0) + 100.0  # 101 .. 200 ms: median 150.5, p95 195.05
    raw = {'median_ms': 120.0, 'p95_ms': 150.0}  # bounds 1.1 x 120 + 20 = 152, 1.1 x 150 + 20
    report = latency_math.latency_against_inference(latency_ms, raw, period_ms=20.0)
    assert report['latency_vs_inference_by_percentile'] == {
        'median': {'latency_ms': 150.5, 'bound_ms': 152.0, 'within': True},
        'p95': {'latency_ms': 195.05, 'bound_ms': 185.0, 'within': False}}
    assert report['latency_within_inference_bounds'] is False
    raw['p95_ms'] = 160.0  # p95 bound 196
    assert latency_math.latency_against_inference(
        latency_ms, raw, period_ms=20.0)['latency_within_inference_bounds'] is True


def test_window_latency_leaves_out_outputs_taken_after_the_input_stopped(latency_math):
    published = {1: 0.0, 2: 0.1, 3: 0.2, 4: 0.3, 5: 0.4}
    arrived = {1: 0.25, 2: 0.45, 3: 0.65, 5: 0.95}  # 4 was dropped; the window ends at 0.5
    latency = latency_math.WindowLatency.measure(published, arrived, start=0.0, end=0.5)
    assert latency.outputs == [1, 2, 3, 5]
    assert latency.kept == [1, 2, 3]  # 5 came after 3, which arrived after the window
    assert latency.taken_after_input_stopped == 1
    np.testing.assert_allclose(latency.latency_ms, [250.0, 350.0, 450.0])
    np.testing.assert_allclose(latency.at_s, [0.25, 0.45, 0.65])
    assert latency.interval_ms == pytest.approx(200.0)
    assert latency.slope_ms_per_s == pytest.approx(500.0)  # +100 ms per 0.2 s: a queue
    assert latency.growth_ms == pytest.approx(200.0)
    assert latency.percentiles() == {'latency_median_ms': 350.0, 'latency_p95_ms': 440.0,
                                     'latency_max_ms': 450.0}
    assert latency.trend() == {'latency_slope_ms_per_s': 500.0,
                               'latency_growth_over_run_ms': 200.0,
                               'output_interval_median_ms': 200.0}


def test_proc_stat_cpu_line_gives_busy_jiffies_without_idle_and_iowait(meters):
    line = 'cpu  100 2 30 400 5 6 7 8 9 10\n'  # user nice system idle iowait irq softirq steal
    assert meters.machine_busy_jiffies(line) == 100 + 2 + 30 + 6 + 7 + 8


def test_proc_pid_stat_gives_user_plus_system_ticks_even_with_parentheses_in_the_name(meters):
    fields_after_name = ['S'] + [str(value) for value in range(1, 11)] + ['111', '222', '5']
    text = f'4242 (python3 (bench) x) {" ".join(fields_after_name)} 0 0\n'
    assert meters.process_cpu_ticks(text) == 333


def test_proc_pid_status_gives_vm_rss_in_bytes(meters):
    text = 'Name:\tpython3\nVmPeak:\t  9000 kB\nVmRSS:\t    2048 kB\nThreads:\t4\n'
    assert meters.vm_rss_bytes(text) == 2048 * 1024
    assert meters.vm_rss_bytes('Name:\tkthreadd\n') is None


def test_cores_between_two_cpu_meter_samples_are_cpu_seconds_per_wall_second(meters):
    start, end = (10.0, 100.0, 20.0), (12.0, 103.0, 21.0)  # 2 s: 1.5 cores busy, 0.5 ours
    assert meters.cores_between(start, end) == (1.5, 0.5)


def test_output_log_keeps_first_arrivals_and_the_latest_diagnostics(support):
    log = support.OutputLog(('depth/image',))
    stamp = types.SimpleNamespace(sec=2, nanosec=5)
    message = types.SimpleNamespace(header=types.SimpleNamespace(stamp=stamp))
    log.record('depth/image', message)
    first = log.arrivals['depth/image'][2_000_000_005]
    log.record('depth/image', message)
    assert log.arrivals['depth/image'] == {2_000_000_005: first}
    status = types.SimpleNamespace(name='depth_node: depth', values=[
        types.SimpleNamespace(key='frames_dropped', value='3'),
        types.SimpleNamespace(key='rate_in_hz', value='29.5'),
        types.SimpleNamespace(key='backend', value='onnxruntime cpu')])
    log.record_diagnostics(types.SimpleNamespace(status=[status]))
    values = log.diagnostics_at('depth_node: depth', at=float('inf'))
    assert support.diagnostic_values(values, ('frames_dropped', 'rate_in_hz', 'backend',
                                              'missing')) == {
        'frames_dropped': 3, 'rate_in_hz': 29.5, 'backend': 'onnxruntime cpu'}
    assert log.fresh_diagnostics('depth_node: depth', timeout_s=0.0) == values
    assert log.diagnostics_at('depth_node: depth', at=0.0) == {}


def test_raw_arrivals_carry_the_stamp_of_the_serialized_header(support):
    from rclpy.serialization import serialize_message
    from sensor_msgs.msg import PointCloud2

    message = PointCloud2()
    message.header.stamp.sec, message.header.stamp.nanosec = 1_700_000_000, 123_456_789
    message.header.frame_id = 'camera'
    serialized = serialize_message(message)
    assert support.cdr_stamp_ns(serialized) == 1_700_000_000_123_456_789
    log = support.OutputLog(('points',))
    log.record_stamp('points', support.cdr_stamp_ns(serialized))
    first = log.arrivals['points'][1_700_000_000_123_456_789]
    log.record_stamp('points', 1_700_000_000_123_456_789)
    assert log.arrivals['points'] == {1_700_000_000_123_456_789: first}


def test_the_bench_domain_is_ros_domain_id_when_set(support, monkeypatch):
    monkeypatch.setenv('ROS_DOMAIN_ID', '44')
    assert support.random_domain_id() == 44
    monkeypatch.delenv('ROS_DOMAIN_ID')
    assert 1 <= support.random_domain_id() <= 101
