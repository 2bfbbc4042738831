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

"""Backends and model loading: each format gives its torch model's output; errors name the file."""

import json
import logging
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import model_fixtures
from mono_depth_ros.core.errors import BadMessageError
from mono_depth_ros.core.preprocessing import prepare_input
from mono_depth_ros.inference import (BackendUnavailableError, load_backend, ModelLoadError,
                                      select_backend)
from mono_depth_ros.inference.selection import onnxruntime_status, tensorrt_status, torch_status

pytest.importorskip('torch')
pytest.importorskip('transformers')
pytest.importorskip('onnxruntime')

NETWORK_SIZE = model_fixtures.TINY_SIZE
RELATIVE_TOLERANCE = 1e-4


def _has_cuda() -> bool:
    return onnxruntime_status('cuda')[0] or torch_status('cuda')[0]


@pytest.fixture(scope='module')
def tensor() -> np.ndarray:
    y, x = np.mgrid[0:120, 0:156]
    image = np.stack([128 + 100 * np.sin(x / 9), 128 + 100 * np.cos(y / 7),
                      128 + 50 * np.sin((x + y) / 11)], axis=-1).astype(np.uint8)
    return prepare_input(image, NETWORK_SIZE)


@pytest.fixture(scope='module')
def cache_dir(tmp_path_factory) -> pathlib.Path:
    return tmp_path_factory.mktemp('export_cache')


def _relative_difference(output: np.ndarray, reference: np.ndarray) -> float:
    return float(np.abs(output - reference).max() / np.abs(reference).max())


def _load(model, cache_dir, **options):
    options.setdefault('input_size', 140)
    return load_backend(str(model), cache_dir=str(cache_dir), **options)


SOURCES = {
    'hf_dir': lambda: model_fixtures.make_hf_dir(),
    'hf_dir_legacy_keys': lambda: model_fixtures.make_hf_dir(legacy_keys=True),
    'official_pth': lambda: model_fixtures.make_official_pth(),
    'official_safetensors': lambda: model_fixtures.make_safetensors(style='official'),
    'hf_safetensors': lambda: model_fixtures.make_safetensors(style='hf'),
}


@pytest.mark.parametrize('backend', ['torch', 'onnxruntime'])
@pytest.mark.parametrize('source', sorted(SOURCES))
def test_each_format_gives_the_output_of_the_torch_model_it_came_from(
        source, backend, tensor, cache_dir):
    reference = model_fixtures.reference_output(model_fixtures.tiny_model(), tensor)
    runner, info = _load(SOURCES[source](), cache_dir, backend=backend)
    with runner:
        output = runner.infer(tensor)
    assert runner.name == backend and runner.device == 'cpu'
    assert output.shape == NETWORK_SIZE and output.dtype == np.float32
    assert info.depth_type == 'relative' and info.max_depth is None
    tolerance = 1e-6 if backend == 'torch' else RELATIVE_TOLERANCE
    assert _relative_difference(output, reference) <= tolerance


def test_onnx_file_runs_on_onnxruntime_with_the_torch_output(tensor, cache_dir):
    reference = model_fixtures.reference_output(model_fixtures.tiny_model(), tensor)
    runner, info = _load(model_fixtures.make_onnx(), cache_dir)
    assert runner.name == 'onnxruntime' and runner.input_spec.is_dynamic
    assert info.model_format == 'onnx' and info.depth_type == 'relative'
    assert _relative_difference(runner.infer(tensor), reference) <= RELATIVE_TOLERANCE


@pytest.mark.parametrize('make, expected_max', [
    (lambda: model_fixtures.make_hf_dir(depth_type='metric'), 20.0),
    (lambda: model_fixtures.make_official_pth(metric=True), 20.0),
    (lambda: model_fixtures.make_safetensors(style='official', metric=True), 20.0),
    (lambda: model_fixtures.make_onnx(depth_type='metric'), 20.0),
], ids=['hf_config', 'official_pth_name', 'safetensors_metadata', 'onnx_metadata'])
def test_metric_models_are_detected_with_their_range(make, expected_max, tensor, cache_dir):
    reference = model_fixtures.reference_output(model_fixtures.tiny_model(depth_type='metric'),
                                                tensor)
    runner, info = _load(make(), cache_dir, backend='onnxruntime')
    assert info.depth_type == 'metric' and info.is_metric
    assert info.max_depth == expected_max
    assert _relative_difference(runner.infer(tensor), reference) <= RELATIVE_TOLERANCE


def test_official_pth_without_a_hint_is_relative_unless_told(tmp_path, tensor, cache_dir):
    neutral = model_fixtures.make_official_pth(tmp_path, metric=True, name='weights.pth')
    _, guessed = _load(neutral, cache_dir, backend='torch')
    assert guessed.depth_type == 'relative'
    runner, told = _load(neutral, cache_dir, backend='torch', depth_type='metric',
                         max_depth=12.5)
    assert told.depth_type == 'metric' and told.max_depth == 12.5
    reference = model_fixtures.reference_output(model_fixtures.tiny_model(depth_type='metric'),
                                                tensor)
    np.testing.assert_allclose(runner.infer(tensor), reference * 12.5 / 20.0, rtol=1e-5)


def test_metric_without_a_recorded_range_asks_for_max_depth(tensor, cache_dir):
    bare = model_fixtures.make_safetensors(style='hf', metric=True, record_type=False)
    with pytest.raises(ModelLoadError, match='max_depth') as raised:
        _load(bare, cache_dir, backend='torch', depth_type='metric')
    assert str(bare) in str(raised.value)


def test_depth_type_contradicting_the_config_is_refused(cache_dir):
    with pytest.raises(ModelLoadError, match="records 'relative'"):
        _load(model_fixtures.make_hf_dir(), cache_dir, backend='torch', depth_type='metric')


def test_encoder_is_read_from_official_key_shapes():
    import torch
    from transformers import DepthAnythingConfig, DepthAnythingForDepthEstimation, Dinov2Config

    from mono_depth_ros.inference.checkpoint_keys import (hf_to_official_state_dict,
                                                          official_to_hf_state_dict)
    from mono_depth_ros.inference.model_architecture import config_from_state_dict, encoder_name

    for name, (hidden, layers, heads, indices) in {
            'vits': (384, 12, 6, [3, 6, 9, 12]), 'vitb': (768, 12, 12, [3, 6, 9, 12]),
            'vitl': (1024, 24, 16, [5, 12, 18, 24]), 'vitg': (1536, 40, 24, [10, 20, 30, 40])
    }.items():
        backbone = Dinov2Config(hidden_size=hidden, num_hidden_layers=layers,
                                num_attention_heads=heads, image_size=518, patch_size=14,
                                use_swiglu_ffn=name == 'vitg', out_indices=indices,
                                reshape_hidden_states=False)
        config = DepthAnythingConfig(backbone_config=backbone, reassemble_hidden_size=hidden,
                                     neck_hidden_sizes=[48, 96, 192, 384])
        with torch.device('meta'):
            official = hf_to_official_state_dict(DepthAnythingForDepthEstimation(config)
                                                 .state_dict())
        assert 'pretrained.blocks.0.attn.qkv.weight' in official
        assert 'depth_head.scratch.refinenet4.out_conv.weight' in official
        assert ('pretrained.blocks.0.mlp.w12.weight' in official) == (name == 'vitg')
        inferred = config_from_state_dict(official_to_hf_state_dict(official))
        assert encoder_name(inferred.backbone_config.hidden_size,
                            inferred.backbone_config.num_hidden_layers) == name
        assert inferred.backbone_config.num_attention_heads == heads
        assert list(inferred.backbone_config.out_indices) == indices
        assert inferred.backbone_config.use_swiglu_ffn == (name == 'vitg')


def test_real_vits_sized_official_checkpoint_reports_its_encoder(tmp_path, cache_dir):
    path = model_fixtures.make_official_pth(tmp_path, encoder='vits')
    runner, info = _load(path, cache_dir, backend='torch')
    assert info.encoder == 'vits' and info.version == 'v2'
    assert runner.infer(prepare_input(np.zeros((140, 140, 3), np.uint8), 140)).shape == (140, 140)


def test_official_key_mapping_round_trips_exactly():
    import torch

    from mono_depth_ros.inference.checkpoint_keys import (hf_to_official_state_dict,
                                                          official_to_hf_state_dict)

    weights = model_fixtures.tiny_model().state_dict()
    back = official_to_hf_state_dict(hf_to_official_state_dict(weights))
    assert set(back) == set(weights)
    assert all(torch.equal(back[key], weights[key]) for key in weights)


def _onnx_graph(path: pathlib.Path, inputs, output_shape, output_type=None) -> pathlib.Path:
    """Write a small ONNX graph: the first input reduced to ``output_shape``."""
    import onnx
    from onnx import helper

    value_infos = [helper.make_tensor_value_info(name, elem, shape)
                   for name, elem, shape in inputs]
    nodes = [helper.make_node('Identity', [inputs[0][0]], ['out'])]
    if output_type == 'flatten':
        nodes = [helper.make_node('Flatten', [inputs[0][0]], ['out'])]
    output = helper.make_tensor_value_info('out', inputs[0][1], output_shape)
    graph = helper.make_graph(nodes, 'g', value_infos, [output])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid('', 17)]), path)
    return path


def _bad_models(tmp_path: pathlib.Path) -> dict:
    from onnx import TensorProto

    good = model_fixtures.make_onnx().read_bytes()
    truncated = tmp_path / 'truncated.onnx'
    truncated.write_bytes(good[:len(good) // 2])
    empty = tmp_path / 'empty.onnx'
    empty.write_bytes(b'')
    pth = model_fixtures.make_official_pth().read_bytes()
    broken_pth = tmp_path / 'broken.pth'
    broken_pth.write_bytes(pth[:len(pth) // 3])
    safetensors = model_fixtures.make_safetensors().read_bytes()
    broken_safetensors = tmp_path / 'broken.safetensors'
    broken_safetensors.write_bytes(safetensors[:len(safetensors) // 2])
    import torch
    foreign = tmp_path / 'foreign.pth'
    torch.save({'encoder.weight': torch.zeros(2, 2)}, foreign)
    text = tmp_path / 'model.txt'
    text.write_text('not a model')
    image = ('image', TensorProto.FLOAT, [1, 3, 'h', 'w'])
    return {
        'missing': (tmp_path / 'missing.onnx', 'file not found'),
        'empty': (empty, 'empty'),
        'truncated': (truncated, 'truncated or corrupt'),
        'two_inputs': (_onnx_graph(tmp_path / 'two.onnx', [image, ('b', TensorProto.FLOAT, [1])],
                                   [1, 3, 'h', 'w']), '2 inputs'),
        'rank_two_output': (_onnx_graph(tmp_path / 'flat.onnx', [image], [1, None],
                                        'flatten'), 'rank 2'),
        'integer_input': (_onnx_graph(tmp_path / 'int.onnx',
                                      [('image', TensorProto.INT64, [1, 3, 'h', 'w'])],
                                      [1, 3, 'h', 'w']), 'expected float32'),
        'rank_three_input': (_onnx_graph(tmp_path / 'rank3.onnx',
                                         [('image', TensorProto.FLOAT, [3, 'h', 'w'])],
                                         [3, 'h', 'w']), '[1, 3, H, W]'),
        'size_not_multiple_of_14': (_onnx_graph(tmp_path / 'odd.onnx',
                                                [('image', TensorProto.FLOAT, [1, 3, 100, 100])],
                                                [1, 3, 100, 100]), 'multiple of 14'),
        'truncated_pth': (broken_pth, 'not a readable PyTorch'),
        'truncated_safetensors': (broken_safetensors, 'not a readable safetensors'),
        'foreign_weights': (foreign, 'no Depth Anything weights'),
        'unknown_suffix': (text, 'unknown model file type'),
        'hub_id_not_cached': (pathlib.Path('nobody-here/no-such-depth-model'),
                              'not in the Hugging Face cache'),
    }


@pytest.mark.parametrize('case', [
    'missing', 'empty', 'truncated', 'two_inputs', 'rank_two_output', 'integer_input',
    'rank_three_input', 'size_not_multiple_of_14', 'truncated_pth', 'truncated_safetensors',
    'foreign_weights', 'unknown_suffix', 'hub_id_not_cached'])
def test_contract_violations_give_one_clear_error_naming_the_file(case, tmp_path, cache_dir):
    path, reason = _bad_models(tmp_path)[case]
    with pytest.raises(ModelLoadError) as raised:
        _load(path, cache_dir, backend='onnxruntime' if path.suffix == '.onnx' else 'torch')
    message = str(raised.value)
    assert str(path) in message and reason in message, message


def test_select_backend_on_a_cpu_machine_picks_onnxruntime_cpu_with_a_reason():
    if _has_cuda():
        pytest.skip('this machine has CUDA')
    name, reason = select_backend('auto', 'auto')
    assert name == 'onnxruntime'
    assert 'on the CPU' in reason and 'tensorrt' in reason and 'CUDA' in reason
    assert select_backend('auto', 'cpu', model_is_onnx=True)[0] == 'onnxruntime'


def test_select_backend_refuses_what_cannot_run():
    with pytest.raises(BadMessageError, match='backend'):
        select_backend('openvino')
    with pytest.raises(BadMessageError, match='device'):
        select_backend('auto', 'tpu')
    with pytest.raises(BackendUnavailableError, match='ONNX'):
        select_backend('torch', model_is_onnx=True)
    if not tensorrt_status()[0]:
        with pytest.raises(BackendUnavailableError, match='tensorrt'):
            select_backend('tensorrt')
    if not _has_cuda():
        with pytest.raises(BackendUnavailableError, match='cuda'):
            select_backend('auto', 'cuda')
    with pytest.raises(BackendUnavailableError, match='TensorRT engine'):
        select_backend('onnxruntime', model_is_engine=True)


def test_engine_files_need_the_tensorrt_backend(tmp_path, cache_dir):
    if tensorrt_status()[0]:
        pytest.skip('TensorRT is available here')
    engine = tmp_path / 'model.engine'
    engine.write_bytes(b'not really an engine')
    with pytest.raises(BackendUnavailableError, match='tensorrt'):
        _load(engine, cache_dir)


def test_auto_backend_loads_onnx_on_onnxruntime_cpu_and_logs_why(cache_dir, caplog):
    if _has_cuda():
        pytest.skip('this machine has CUDA')
    with caplog.at_level(logging.INFO, logger='mono_depth_ros.inference'):
        runner, _ = _load(model_fixtures.make_onnx(), cache_dir)
    assert runner.name == 'onnxruntime' and runner.device == 'cpu'
    assert runner.providers == ['CPUExecutionProvider']
    assert 'auto: onnxruntime on the CPU' in caplog.text


def test_pytorch_sources_are_exported_once_and_reused(tmp_path, caplog):
    source = model_fixtures.make_official_pth()
    with caplog.at_level(logging.INFO, logger='mono_depth_ros.inference'):
        _load(source, tmp_path, backend='onnxruntime')
        _load(source, tmp_path, backend='onnxruntime')
    assert len(list((tmp_path / 'onnx').glob('*.onnx'))) == 1
    assert 'using cached ONNX export' in caplog.text


def test_fixed_size_onnx_model_rejects_other_sizes(tmp_path, tensor, cache_dir):
    fixed = model_fixtures.make_onnx(tmp_path, input_size=140, dynamic=False)
    runner, _ = _load(fixed, cache_dir)
    assert runner.input_spec.fixed_size == (140, 140)
    assert runner.input_spec.network_size(518) == (140, 140)
    with pytest.raises(BadMessageError, match='fixed input size'):
        runner.infer(tensor)
    assert runner.infer(prepare_input(np.zeros((50, 60, 3), np.uint8), (140, 140))).shape == (
        140, 140)


def test_backends_check_the_input_tensor_and_refuse_after_close(tensor, cache_dir):
    runner, _ = _load(model_fixtures.make_official_pth(), cache_dir, backend='torch')
    with pytest.raises(BadMessageError, match='tensor.dtype'):
        runner.infer(tensor.astype(np.float64))
    with pytest.raises(BadMessageError, match='tensor.shape'):
        runner.infer(tensor[0])
    runner.close()
    with pytest.raises(RuntimeError, match='closed'):
        runner.infer(tensor)


def test_cpu_backends_run_fp32_when_fp16_is_asked(cache_dir, caplog):
    if _has_cuda():
        pytest.skip('this machine has CUDA')
    with caplog.at_level(logging.WARNING):
        runner, _ = _load(model_fixtures.make_official_pth(), cache_dir, backend='torch',
                          precision='fp16')
    assert runner.precision == 'fp32' and 'fp16' in caplog.text
    with caplog.at_level(logging.WARNING):
        runner, _ = _load(model_fixtures.make_onnx(), cache_dir, backend='onnxruntime',
                          precision='fp16')
    assert runner.precision == 'fp32' and 'precision fp16 is not applied' in caplog.text


def test_onnxruntime_runs_fp16_where_the_provider_computes_it():
    from mono_depth_ros.inference.onnxruntime_backend import (
        CPU_PROVIDER, CUDA_PROVIDER, effective_precision, runs_fp16_copy, TENSORRT_PROVIDER)

    assert [effective_precision(provider, 'fp16') for provider in
            (TENSORRT_PROVIDER, CUDA_PROVIDER, CPU_PROVIDER)] == ['fp16', 'fp16', 'fp32']
    assert effective_precision(CUDA_PROVIDER, 'fp32') == 'fp32'
    # TensorRT's provider makes fp16 itself (trt_fp16_enable); CUDA runs an fp16 copy.
    assert [runs_fp16_copy(provider, 'fp16') for provider in
            (TENSORRT_PROVIDER, CUDA_PROVIDER, CPU_PROVIDER)] == [False, True, False]


_LOADING_MODULES = ('checkpoint_keys', 'depth_type_resolution', 'errors', 'model_architecture',
                    'model_files', 'model_loading', 'onnx_contract')
_IMPORT_CHECK = '''
import importlib, json, sys
for name in sys.argv[1:]:
    importlib.import_module(f'mono_depth_ros.inference.{name}')
heavy = ('rclpy', 'torch', 'transformers', 'onnx', 'onnxruntime', 'tensorrt', 'safetensors')
print(json.dumps(sorted(name for name in sys.modules if name.split('.')[0] in heavy)))
'''


def test_model_loading_modules_import_torch_and_onnx_only_when_used():
    root = pathlib.Path(__file__).resolve().parents[2]
    environment = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(root), *filter(None, [os.environ.get('PYTHONPATH')])]))
    result = subprocess.run([sys.executable, '-c', _IMPORT_CHECK, *_LOADING_MODULES],
                            env=environment, capture_output=True, text=True, timeout=120,
                            check=True)
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
