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

"""The committed demo model: the node's ONNX contract, its report, a held-out accuracy floor."""

import json

import pytest

from mono_depth_ros.resources import package_file

DEMO_DIR = 'models/demo'
HELD_OUT_SEED = 100   # never trained on (the report's --held-out-seeds)


@pytest.fixture(scope='module')
def demo_model():
    return package_file(f'{DEMO_DIR}/model.onnx')


def test_the_demo_model_meets_the_node_contract_and_says_it_is_relative(demo_model):
    from mono_depth_ros.inference.onnx_contract import onnx_model_info, read_onnx_contract

    contract = read_onnx_contract(str(demo_model))
    assert not any(isinstance(size, int) for size in contract.input_shape[2:])   # dynamic
    info = onnx_model_info(contract)
    assert info.depth_type == 'relative' and info.encoder == 'mono_depth_ros-fastdepth'
    assert contract.metadata['input_size'] == '140'
    files = [path for path in demo_model.parent.iterdir() if path.is_file()]
    assert sum(path.stat().st_size for path in files) < 5_000_000   # a few MB in the repository


def test_the_demo_model_report_names_its_command_seed_and_held_out_scores(demo_model):
    report = json.loads((demo_model.parent / 'report.json').read_text())
    assert report['command'].startswith('mono-depth-ros train --out models/demo ')
    assert '--seed 0' in report['command']
    assert HELD_OUT_SEED in report['settings']['held_out_seeds']
    assert HELD_OUT_SEED not in report['settings']['synth_seeds']
    assert report['final']['relative, scale+shift per frame']['abs_rel'] <= 0.15
    assert (demo_model.parent / 'loss_curve.png').stat().st_size > 1000


def test_the_demo_model_is_accurate_on_a_held_out_scene_through_the_node_preprocessing(
        demo_model):
    from mono_depth_ros.training.assessment import assess, onnx_predictor
    from mono_depth_ros.training.datasets import synthetic_sequences

    # A camera image larger than the network input: the node's resize to input_size 140.
    held_out = synthetic_sequences([HELD_OUT_SEED], frames=3, size=(240, 320))
    metrics = assess(onnx_predictor(demo_model, input_size=140), held_out, 'relative')
    assert metrics['frames'] == 3
    assert metrics['abs_rel'] < 0.2, metrics   # the report: 0.13 over 20 frames
