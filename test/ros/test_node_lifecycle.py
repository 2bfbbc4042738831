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

"""Nodes as processes: a bad model fails at start with one clear line; signals exit cleanly."""

import importlib.util
import os
import signal
import subprocess
import sys
import time

import pytest

NODES = {'depth_node': 'mono_depth_ros.nodes.depth_node',
         'triangulation_node': 'mono_depth_ros.nodes.triangulation_node'}


def start(node: str, *parameters: str) -> subprocess.Popen:
    args = [sys.executable, '-m', NODES[node], '--ros-args']
    for parameter in parameters:
        args += ['-p', parameter]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, 'PYTHONUNBUFFERED': '1'})


def run_to_exit(node: str, *parameters: str) -> tuple[int, str]:
    process = start(node, *parameters)
    output, _ = process.communicate(timeout=120)
    return process.returncode, output


def _bad_models(tmp_path):
    import model_fixtures
    good = model_fixtures.make_onnx().read_bytes()
    truncated = tmp_path / 'truncated.onnx'
    truncated.write_bytes(good[:len(good) // 3])
    engine = tmp_path / 'corrupt.engine'
    engine.write_bytes(b'not an engine' * 100)
    return {
        'missing file': (tmp_path / 'missing.onnx', 'not found'),
        'truncated ONNX': (truncated, 'truncated.onnx'),
        'corrupt engine': (engine, 'corrupt.engine'),
    }


@pytest.mark.parametrize('case', ['missing file', 'truncated ONNX', 'corrupt engine'])
def test_a_bad_model_fails_at_start_with_one_clear_message(tmp_path, case):
    path, expected = _bad_models(tmp_path)[case]
    code, output = run_to_exit('depth_node', f'model:={path}', 'backend:=auto')
    assert code != 0
    assert 'Traceback' not in output
    assert str(path) in output and expected in output, output
    assert sum('cannot start' in line for line in output.splitlines()) == 1


def test_an_out_of_range_parameter_fails_at_start():
    code, output = run_to_exit('triangulation_node', 'max_features:=3')
    assert code != 0
    assert 'max_features' in output and 'Traceback' not in output


@pytest.mark.parametrize('node,sent', [('depth_node', signal.SIGINT),
                                       ('depth_node', signal.SIGTERM),
                                       ('triangulation_node', signal.SIGTERM)])
def test_signals_exit_cleanly_within_two_seconds(node, sent):
    parameters = []
    if node == 'depth_node':
        import model_fixtures
        parameters = [f'model:={model_fixtures.make_onnx()}', 'input_size:=140']
    process = start(node, *parameters)
    ready = 'depth from' if node == 'depth_node' else 'triangulating'
    output = ''
    deadline = time.monotonic() + 60
    while ready not in output and time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        output += line
    assert ready in output, output
    time.sleep(0.5)
    sent_at = time.monotonic()
    process.send_signal(sent)
    rest, _ = process.communicate(timeout=10)
    elapsed = time.monotonic() - sent_at
    assert process.returncode == 0, output + rest
    assert elapsed < 2.0
    assert 'Traceback' not in rest and 'Exception' not in rest, rest


def test_without_a_gpu_auto_falls_back_with_one_info_line_and_tensorrt_fails_at_start():
    pytest.importorskip('onnxruntime')
    if importlib.util.find_spec('tensorrt') is not None:
        pytest.skip('TensorRT is installed here: auto picks it')
    import model_fixtures
    model = model_fixtures.make_onnx()
    process = start('depth_node', f'model:={model}', 'backend:=auto', 'input_size:=140')
    output = ''
    deadline = time.monotonic() + 60
    while 'depth from' not in output and time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        output += line
    process.send_signal(signal.SIGINT)
    output += process.communicate(timeout=10)[0]
    assert 'depth from' in output and 'onnxruntime' in output
    # The expected CPU fallback is one INFO line, no warnings about TensorRT or precision.
    assert sum('running on the CPU' in line for line in output.splitlines()) == 1, output
    assert not [line for line in output.splitlines()
                if '[WARN]' in line and '[depth_node]' in line], output

    code, output = run_to_exit('depth_node', f'model:={model}', 'backend:=tensorrt')
    assert code != 0 and 'Traceback' not in output
    assert 'TensorRT is not installed' in output and str(model) in output
