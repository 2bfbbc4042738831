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

"""bench_depth_node in a reduced run: a real depth_node process, a tiny model, a few frames."""

import json
import math

import pytest

from mono_depth_ros.tools import bench

FRAMES = 4
OVERLOAD_S = 1.0


@pytest.fixture(scope='module')
def result(package_root, tiny_onnx) -> dict:
    pytest.importorskip('onnxruntime')
    module = bench.load_benchmark(package_root / 'bench' / 'bench_depth_node.py')
    return module.run(frames=FRAMES, overload_s=OVERLOAD_S, warmup=1,
                      onnx_path=str(tiny_onnx), input_size=140)


def test_reduced_run_reports_raw_and_end_to_end_latency_of_every_frame(result):
    json.dumps(result)  # the result is plain JSON
    assert result['input_size'] == 140 and result['network_input_hw'] == [140, 182]
    assert result['outputs']['depth/image'] == '640x480 32FC1'
    assert result['outputs']['points'].startswith('320x240 organized')
    assert result['raw_inference']['frames'] == FRAMES
    end_to_end = result['end_to_end']
    assert end_to_end['frames'] + end_to_end['frames_lost'] == FRAMES
    assert end_to_end['frames'] > 0
    assert end_to_end['median_ms'] > 0 and end_to_end['ratio_to_raw_inference'] > 0
    assert isinstance(end_to_end['goal_met'], bool)
    assert end_to_end['node_diagnostics']['frames_dropped'] == 0, 'one frame at a time'


def test_reduced_run_reports_overload_counts_latency_and_node_drops(result):
    overload = result['overload']
    assert overload['inputs_published'] == round(30 * OVERLOAD_S)
    assert 0 < overload['outputs_complete'] <= overload['inputs_published']
    for key in ('latency_median_ms', 'latency_max_ms', 'latency_slope_ms_per_s',
                'frame_age_at_pickup_p95_ms', 'latency_bound_ms'):
        assert math.isfinite(overload[key]), key
    assert isinstance(overload['no_queue_growth'], bool)
    by_percentile = overload['latency_vs_inference_by_percentile']
    assert set(by_percentile) == {'median', 'p95'}
    assert overload['latency_within_inference_bounds'] == all(
        item['within'] for item in by_percentile.values())
    assert isinstance(overload['goal_met'], bool)
    diagnostics = overload['node_diagnostics']
    assert diagnostics['frames_received_during_overload'] <= overload['inputs_published']
    assert (diagnostics['frames_received_during_overload']
            - diagnostics['frames_dropped_during_overload']) >= overload['outputs_complete']
