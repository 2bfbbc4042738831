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

"""bench_robustness in a reduced run: real node processes, a tiny model, seconds not minutes."""

import importlib
import json
import math

import pytest

from mono_depth_ros.tools import bench

OVERLOAD_S = 2.0
SOAK_S = 3.0
WARMUP_S = 1.0


@pytest.fixture(scope='module')
def module(package_root):
    return bench.load_benchmark(package_root / 'bench' / 'bench_robustness.py')


@pytest.fixture(scope='module')
def stream_module(module):
    """Return robustness_stream, imported as bench_robustness imports it."""
    return importlib.import_module('robustness_stream')


@pytest.fixture(scope='module')
def result(module, tiny_onnx) -> dict:
    pytest.importorskip('onnxruntime')
    return module.run(overload_s=OVERLOAD_S, soak_s=SOAK_S, warmup_s=WARMUP_S,
                      onnx_path=str(tiny_onnx), overload_input_size=140, soak_input_size=140,
                      sequence_frames=6, raw_frames=2, report_every_s=1.0)


def _assert_memory_report(memory: dict) -> None:
    assert memory['samples'] >= 2, memory
    for key in ('rss_start_mb', 'rss_end_mb', 'rss_growth_percent', 'rss_slope_mb_per_min',
                'rss_growth_second_half_percent'):
        assert math.isfinite(memory[key]), key
    assert memory['rss_start_mb'] > 10, 'a Python node with rclpy holds tens of MB'
    assert memory['rss_min_mb'] <= memory['rss_start_mb'] <= memory['rss_max_mb']
    samples = memory['rss_every_1_s_mb']
    assert samples[0][0] < 1.0 and len(samples) >= 2
    assert isinstance(memory['goal_met'], bool)


def test_result_is_plain_json_with_both_phases(result):
    json.dumps(result)
    assert set(result) >= {'overload', 'soak'}
    assert result['overload']['model'] == result['soak']['model'] == 'tiny_relative_dynamic.onnx'


def test_overload_reports_latency_node_drops_and_memory(result):
    overload = result['overload']
    assert overload['inputs_published'] == round(60 * OVERLOAD_S)
    assert 0 < overload['outputs_received'] <= overload['inputs_published']
    for key in ('latency_median_ms', 'latency_p95_ms', 'latency_max_ms', 'latency_bound_ms'):
        assert math.isfinite(overload[key]) and overload[key] > 0, key
    assert overload['latency_median_ms'] <= overload['latency_p95_ms'] <= overload[
        'latency_max_ms']
    assert overload['raw_inference']['network_input_hw'] == [140, 182]
    assert 0 <= overload['frames_dropped'] <= overload['frames_received_by_node']
    assert overload['frames_received_by_node'] <= overload['inputs_published']
    _assert_memory_report(overload['memory']['depth_node'])
    by_percentile = overload['latency_vs_inference_by_percentile']
    assert set(by_percentile) == {'median', 'p95'}
    assert overload['latency_within_inference_bounds'] == all(
        item['within'] for item in by_percentile.values())
    assert isinstance(overload['goal_met'], bool)


def test_soak_runs_both_nodes_on_one_stream_and_reports_their_memory(result):
    soak = result['soak']
    assert soak['inputs_published'] == round(15 * SOAK_S)
    assert soak['odometry_published'] == 2 * soak['inputs_published']
    outputs = soak['outputs_received']
    assert outputs['depth/image'] > 0 and outputs['points'] > 0
    assert outputs['triangulation/depth'] > 0 and outputs['triangulation/points'] > 0, (
        'triangulation_node tracks the synthetic frames with the odometry')
    for name in ('depth_node', 'triangulation_node'):
        _assert_memory_report(soak['memory'][name])
    assert soak['depth_node_diagnostics']['frames_received_in_window'] > 0
    assert soak['triangulation_node_diagnostics']['frames_received_in_window'] > 0
    assert isinstance(soak['goal_met'], bool)


def test_odometry_plays_the_sequence_forwards_then_backwards_without_a_jump(stream_module):
    motion = stream_module.PingPong(frames=4, fps=10.0)  # 0.3 s forwards, then back
    assert [motion.frame_index(t) for t in (0.0, 0.1, 0.3, 0.4, 0.6, 0.7)] == [0, 1, 3, 2, 0, 1]
    forwards, backwards = motion.odometry(0.2, 1), motion.odometry(0.4, 2)
    for axis in 'xyz':
        assert getattr(forwards.pose.pose.position, axis) == pytest.approx(
            getattr(backwards.pose.pose.position, axis), abs=1e-12)
    assert forwards.twist.twist.linear.x == pytest.approx(-backwards.twist.twist.linear.x)
    assert backwards.header.stamp.nanosec == 2 and backwards.child_frame_id == 'base_link'
