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

"""The TensorRT backend's logic without a GPU: cache keys, profiles, API choice, cache safety.

TensorRT itself is replaced by the stand-in module objects of ``tensorrt_stand_in``, which
have only the methods of each API surface (TensorRT 10, 8.6, 8.0-8.4 and 11).
"""

import dataclasses
import hashlib
import importlib.util
import json
import os
import pathlib
import stat
import subprocess
import sys
import types

import cv2
import numpy as np
import pytest

from mono_depth_ros.core.errors import BadMessageError
from mono_depth_ros.core.preprocessing import network_input_size, prepare_input
from mono_depth_ros.inference.base import BackendUnavailableError, ModelLoadError
from mono_depth_ros.inference.engine_builder import (
    build_serialized_engine, ensure_engine, profile_shapes, ProfileShapes)
from mono_depth_ros.inference.engine_cache import (
    check_engine_sidecar, EngineKey, get_or_build, sidecar_path)
from mono_depth_ros.inference.int8_calibration import (
    CalibrationSource, check_source, fingerprint_path, iter_rgb_frames, make_entropy_calibrator)
from mono_depth_ros.inference.tensorrt_backend import _read_engine, EngineRunner
from mono_depth_ros.inference.trt_compat import TensorRT, TENSORRT_MISSING
from tensorrt_stand_in import (BindingApiEngine, DATA_TYPE, Fake86Builder, fake_enum,
                               fake_tensorrt, FakeBuilder, FakeConfig, FakeParser, FakeRuntime,
                               floats_at, OldConfig, PROFILE, stand_in_cuda, TensorApiEngine,
                               Trt86Engine, use_stand_in_tensorrt)

PACKAGE_ROOT = pathlib.Path(__file__).resolve().parents[2]
RUNTIME = {'tensorrt_version': '10.3.0', 'gpu_name': 'Stand-in GPU', 'compute_capability': '8.7',
           'sm_count': 8, 'total_memory_mb': 16384, 'module_model': ''}
HAVE_TENSORRT = importlib.util.find_spec('tensorrt') is not None


def write_tiny_onnx(path: pathlib.Path, fixed: tuple | None = None) -> pathlib.Path:
    """Write a contract-conforming ONNX: [1, 3, H, W] -> channel mean [1, H, W]."""
    from onnx import helper, save, TensorProto

    height, width = fixed or ('height', 'width')
    graph = helper.make_graph(
        [helper.make_node('ReduceMean', ['image'], ['depth'], axes=[1], keepdims=0)], 'tiny',
        [helper.make_tensor_value_info('image', TensorProto.FLOAT, [1, 3, height, width])],
        [helper.make_tensor_value_info('depth', TensorProto.FLOAT, [1, height, width])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 17)])
    helper.set_model_props(model, {'depth_type': 'relative', 'encoder': 'vits'})
    save(model, str(path))
    return path


def a_key(**changes) -> EngineKey:
    fields = {'onnx_sha256': 'ab' * 32, 'tensorrt_version': '10.3.0', 'gpu_name': 'Stand-in GPU',
              'compute_capability': '8.7', 'precision': 'fp16', 'profile': PROFILE,
              'builder_options': {'workspace_mb': None, 'tf32': True}, 'sm_count': 8,
              'total_memory_mb': 16384, 'module_model': ''}
    fields.update(changes)
    return EngineKey(**fields)


# Cache key ---------------------------------------------------------------------------------
def test_cache_key_is_stable_for_the_same_fields():
    reordered = a_key(builder_options={'tf32': True, 'workspace_mb': None},
                      profile=[list(shape) for shape in PROFILE])
    assert a_key().digest() == a_key().digest() == reordered.digest()
    assert len(a_key().digest()) == 64


@pytest.mark.parametrize('change', [
    {'onnx_sha256': 'cd' * 32}, {'tensorrt_version': '8.6.1'}, {'gpu_name': 'Orin'},
    {'compute_capability': '9.0'}, {'precision': 'fp32'}, {'sm_count': 16},
    {'total_memory_mb': 8192}, {'module_model': 'NVIDIA Jetson Orin NX'},
    {'profile': ((1, 3, 14, 14), (1, 3, 28, 28), (1, 3, 56, 56))},
    {'builder_options': {'workspace_mb': 1024, 'tf32': True}},
])
def test_cache_key_changes_with_each_field(change):
    assert a_key(**change).digest() != a_key().digest()


# Shape profiles ----------------------------------------------------------------------------
def test_dynamic_profile_is_derived_from_input_size():
    shapes = profile_shapes(518)
    assert shapes == ProfileShapes((1, 3, 266, 266), (1, 3, 518, 686), (1, 3, 924, 924))
    assert profile_shapes(308).as_tuple() == ((1, 3, 154, 154), (1, 3, 308, 406),
                                              (1, 3, 546, 546))


@pytest.mark.parametrize('input_size', [154, 308, 518, 700])
def test_dynamic_profile_fits_4_3_and_16_9_frames_in_both_orientations(input_size):
    shapes = profile_shapes(input_size, (1, 3, None, None))
    assert all(size % 14 == 0 for shape in shapes.as_tuple() for size in shape[2:])
    for frame in ((480, 640), (640, 480), (720, 1280), (1280, 720)):
        height, width = network_input_size(*frame, input_size)
        assert shapes.min_shape[2] <= height <= shapes.max_shape[2]
        assert shapes.min_shape[3] <= width <= shapes.max_shape[3]
    assert shapes.max_shape[2] >= 1.5 * input_size


def test_fixed_shape_onnx_collapses_the_profile():
    shapes = profile_shapes(518, (1, 3, 392, 518))
    assert shapes.is_fixed and shapes.opt_shape == (1, 3, 392, 518)
    assert profile_shapes(518, (None, 3, 518, -1)).min_shape == (1, 3, 518, 266)


def test_profile_refuses_an_input_size_that_is_not_a_multiple_of_14():
    with pytest.raises(BadMessageError, match='input_size'):
        profile_shapes(500)


# Runner: API chosen by feature ---------------------------------------------------------------
def _run_twice_then_resize(engine, version):
    runner = EngineRunner(TensorRT(fake_tensorrt(version)), engine, stand_in_cuda())
    tensor = np.random.default_rng(0).random((1, 3, 28, 42), dtype=np.float32)
    first = runner.run(tensor)
    np.testing.assert_array_equal(first, 2 * tensor[:, 0])
    runner.run(tensor)
    assert runner.allocations == 1
    resized = np.ones((1, 3, 14, 56), np.float32)
    np.testing.assert_array_equal(runner.run(resized), np.full((1, 14, 56), 2, np.float32))
    assert runner.allocations == 2
    return runner, engine.context.calls


def test_runner_uses_the_tensor_api_on_tensorrt_10():
    runner, calls = _run_twice_then_resize(TensorApiEngine(), '10.3.0')
    assert runner.api == 'tensor'
    assert calls == ['set_input_shape', 'set_tensor_address', 'set_tensor_address',
                     'execute_async_v3', 'execute_async_v3',
                     'set_input_shape', 'set_tensor_address', 'set_tensor_address',
                     'execute_async_v3']


def test_runner_uses_the_tensor_api_on_tensorrt_8_6_which_has_both():
    runner, calls = _run_twice_then_resize(Trt86Engine(), '8.6.1')
    assert runner.api == 'tensor'
    assert 'execute_async_v3' in calls
    assert not {'set_binding_shape', 'execute_async_v2'} & set(calls)


def test_runner_falls_back_to_the_binding_api():
    runner, calls = _run_twice_then_resize(BindingApiEngine(), '8.4.3')
    assert runner.api == 'binding'
    assert calls == ['set_binding_shape', 'execute_async_v2', 'execute_async_v2',
                     'set_binding_shape', 'execute_async_v2']


def test_runner_preprocesses_frames_into_the_input_binding():
    runner = EngineRunner(TensorRT(fake_tensorrt()), TensorApiEngine(), stand_in_cuda())
    rgb = cv2.resize(np.random.default_rng(1).integers(0, 256, (7, 9, 3), dtype=np.uint8),
                     (64, 48), interpolation=cv2.INTER_CUBIC)
    for _ in range(2):
        output = runner.run_rgb(rgb, (28, 42))
    expected = 2 * prepare_input(rgb, (28, 42))[:, 0]
    np.testing.assert_allclose(output, expected, atol=1e-3)
    assert runner.allocations == 1   # same shape: the bindings stay
    assert runner.run_rgb(rgb, (14, 28)).shape == (1, 14, 28)
    assert runner.allocations == 2


def test_runner_refuses_a_shape_outside_the_profile():
    runner = EngineRunner(TensorRT(fake_tensorrt()), TensorApiEngine(), stand_in_cuda())
    with pytest.raises(BadMessageError, match='engine profile'):
        runner.run(np.zeros((1, 3, 70, 28), np.float32))


def test_runner_refuses_an_engine_with_io_types_it_has_no_buffers_for():
    class Fp8OutputEngine(TensorApiEngine):
        def get_tensor_dtype(self, name):
            return types.SimpleNamespace(name='FP8') if name == 'depth' else DATA_TYPE.FLOAT

    runner = EngineRunner(TensorRT(fake_tensorrt()), Fp8OutputEngine(), stand_in_cuda())
    with pytest.raises(BackendUnavailableError, match='FP8'):
        runner.run(np.zeros((1, 3, 28, 42), np.float32))


# Builder calls by feature ------------------------------------------------------------------
def test_explicit_batch_flag_only_where_implicit_batch_exists():
    compat_10, compat_86 = TensorRT(fake_tensorrt('10.3.0')), TensorRT(fake_tensorrt('8.6.1'))
    builder_10, builder_86 = FakeBuilder(None), Fake86Builder(None)
    compat_10.create_network(builder_10)
    compat_86.create_network(builder_86)
    assert builder_10.network_flags == 0
    assert builder_86.network_flags == 1 << 0


def test_workspace_uses_memory_pools_and_falls_back_to_max_workspace_size():
    compat = TensorRT(fake_tensorrt())
    config, old = FakeConfig(), OldConfig()
    compat.set_workspace_limit(config, 1 << 30)
    compat.set_workspace_limit(old, 1 << 30)
    assert config.pools == {'WORKSPACE': 1 << 30}
    assert old.max_workspace_size == 1 << 30


def test_build_falls_back_to_build_engine_where_serialized_build_is_missing():
    class OldBuilder:
        def build_engine(self, network, config):
            return types.SimpleNamespace(serialize=lambda: b'old engine')

    assert TensorRT(fake_tensorrt('8.0.1')).build_serialized_network(
        OldBuilder(), None, None) == b'old engine'


def test_int8_calibration_warns_on_tensorrt_10_and_is_refused_where_gone():
    config = FakeConfig()
    assert TensorRT(fake_tensorrt('10.3.0')).set_int8_calibrator(config, object(), 'p')
    assert TensorRT(fake_tensorrt('8.6.1')).set_int8_calibrator(config, object(), 'p') is None
    assert config.calibration_profile == 'p'
    with pytest.raises(BackendUnavailableError, match='no implicit INT8'):
        TensorRT(fake_tensorrt('11.0.0')).set_int8_calibrator(OldConfig(), object(), None)


def test_build_sets_profile_precision_workspace_and_timing_cache(tmp_path):
    onnx_path = write_tiny_onnx(tmp_path / 'tiny.onnx')
    compat = TensorRT(fake_tensorrt('8.6.1', Fake86Builder))
    shapes = profile_shapes(308)
    timing = tmp_path / 'timing.cache'
    data = build_serialized_engine(compat, str(onnx_path), 'fp16', shapes, workspace_mb=256,
                                   timing_cache=timing)
    config = FakeBuilder.made[-1].config
    assert data == b'ENGINE FP16'
    assert FakeBuilder.made[-1].network_flags == 1
    assert config.profiles[0].shapes == shapes.as_tuple()
    assert config.pools == {'WORKSPACE': 256 << 20}
    first = timing.read_bytes()
    assert first.startswith(b'tactics')
    build_serialized_engine(compat, str(onnx_path), 'fp32', shapes, timing_cache=timing)
    config = FakeBuilder.made[-1].config
    assert config.timing_cache.data == first and 'TF32' in config.cleared  # loaded, then kept
    assert not config.flags
    assert first in timing.read_bytes().split(b',') and len(timing.read_bytes()) > len(first)


def test_timing_cache_keeps_the_entries_another_build_saved_meanwhile(tmp_path):
    timing = tmp_path / 'timing.cache'

    class SlowBuilder(FakeBuilder):
        def build_serialized_network(self, network, config):
            timing.write_bytes(b'tactics of another process')  # saved during this build
            return super().build_serialized_network(network, config)

    build_serialized_engine(TensorRT(fake_tensorrt('10.3.0', SlowBuilder)),
                            str(write_tiny_onnx(tmp_path / 'tiny.onnx')), 'fp16',
                            profile_shapes(308), timing_cache=timing)
    entries = timing.read_bytes().split(b',')
    assert b'tactics of another process' in entries and len(entries) == 2


def test_fp16_on_tensorrt_11_builds_a_strongly_typed_network_from_an_fp16_onnx(tmp_path):
    from onnx import TensorProto

    onnx_path = write_tiny_onnx(tmp_path / 'tiny.onnx')
    compat = TensorRT(fake_tensorrt('11.4.0'))
    data = build_serialized_engine(compat, str(onnx_path), 'fp16', profile_shapes(308))
    builder = FakeBuilder.made[-1]
    assert builder.network_flags == 1 << 0  # STRONGLY_TYPED, the stand-in's only flag
    assert data == b'ENGINE ' and not builder.config.flags
    parsed = FakeParser.parsed[-1]
    assert parsed['name'] == 'tiny.fp16.onnx'  # the fp16 copy (onnx_fp16, tested on its own)
    assert parsed['inputs'] == parsed['outputs'] == [TensorProto.FLOAT]
    assert list(tmp_path.iterdir()) == [onnx_path]  # the copy was temporary
    build_serialized_engine(compat, str(onnx_path), 'fp32', profile_shapes(308))
    assert FakeBuilder.made[-1].network_flags == 1 << 0  # all strongly typed on 11: as it is
    assert FakeParser.parsed[-1]['name'] == 'tiny.onnx'
    assert 'TF32' in FakeBuilder.made[-1].config.cleared


def test_strongly_typed_networks_without_the_flag_only_where_every_network_is_one():
    later_11 = fake_tensorrt('11.9.0')
    later_11.NetworkDefinitionCreationFlag = fake_enum()  # a release that dropped the flag
    builder = FakeBuilder(None)
    TensorRT(later_11).create_network(builder, strongly_typed=True)
    assert builder.network_flags == 0
    with pytest.raises(BackendUnavailableError, match='strongly typed'):
        TensorRT(fake_tensorrt('8.6.1', Fake86Builder)).create_network(
            Fake86Builder(None), strongly_typed=True)


def test_plugins_are_registered_before_the_onnx_parser_runs(tmp_path):
    calls = []

    class RecordingParser(FakeParser):
        def parse_from_file(self, path):
            calls.append('parse')
            return super().parse_from_file(path)

    module = fake_tensorrt('10.3.0')
    module.init_libnvinfer_plugins = lambda logger, namespace: calls.append('plugins')
    module.OnnxParser = RecordingParser
    build_serialized_engine(TensorRT(module), str(write_tiny_onnx(tmp_path / 'tiny.onnx')),
                            'fp16', profile_shapes(308))
    assert calls == ['plugins', 'parse']


def test_int8_on_tensorrt_11_is_refused_before_building(tmp_path, monkeypatch):
    use_stand_in_tensorrt(monkeypatch, '11.4.0')
    onnx_path = write_tiny_onnx(tmp_path / 'tiny.onnx')
    built = len(FakeBuilder.made)
    with pytest.raises(BackendUnavailableError, match='11.4.0 has no implicit INT8'):
        ensure_engine(str(onnx_path), 'int8', 308, tmp_path / 'cache')
    assert len(FakeBuilder.made) == built


def test_strongly_typed_builds_have_their_own_cache_key(tmp_path, monkeypatch):
    onnx_path = write_tiny_onnx(tmp_path / 'tiny.onnx')
    options = {}
    for version in ('10.3.0', '11.4.0'):
        use_stand_in_tensorrt(monkeypatch, version)
        cached = ensure_engine(str(onnx_path), 'fp16', 308, tmp_path / 'cache')
        options[version] = cached.sidecar['key_fields']['builder_options']['strongly_typed']
    assert options == {'10.3.0': False, '11.4.0': True}


def test_int8_build_without_calibration_frames_says_what_to_pass(tmp_path):
    onnx_path = write_tiny_onnx(tmp_path / 'tiny.onnx')
    with pytest.raises(ModelLoadError, match='--calibration-dir'):
        build_serialized_engine(TensorRT(fake_tensorrt()), str(onnx_path), 'int8',
                                profile_shapes(308), calibration_cache=tmp_path / 'x.calib')


# Engine cache ------------------------------------------------------------------------------
@pytest.fixture
def stand_in_tensorrt(monkeypatch):
    """Make ensure_engine see the TensorRT 10 stand-in and a stand-in GPU."""
    return use_stand_in_tensorrt(monkeypatch, '10.3.0')


def test_ensure_engine_builds_once_then_reuses_the_cache(tmp_path, stand_in_tensorrt):
    onnx_path = write_tiny_onnx(tmp_path / 'tiny.onnx')
    cache_dir = tmp_path / 'cache' / 'engines'
    first = ensure_engine(str(onnx_path), 'fp16', 308, cache_dir)
    second = ensure_engine(str(onnx_path), 'fp16', 308, cache_dir)
    forced = ensure_engine(str(onnx_path), 'fp16', 308, cache_dir, force_rebuild=True)
    assert (first.built, second.built, forced.built) == (True, False, True)
    assert first.path == second.path == forced.path
    assert stat.S_IMODE(cache_dir.stat().st_mode) == 0o700
    sidecar = json.loads(sidecar_path(first.path).read_text())
    assert sidecar['key_fields']['gpu_name'] == 'Stand-in GPU'
    assert sidecar['key_fields']['profile'] == [list(s) for s in profile_shapes(308).as_tuple()]
    assert sidecar['onnx_metadata'] == {'depth_type': 'relative', 'encoder': 'vits'}
    assert sidecar['engine_sha256'] == hashlib.sha256(first.path.read_bytes()).hexdigest()
    assert len(list(cache_dir.glob('timing-*.cache'))) == 1
    other = ensure_engine(str(onnx_path), 'fp32', 308, cache_dir)
    assert other.path != first.path


def test_int8_engine_keeps_its_calibration_cache_and_rebuilds_for_new_frames(
        tmp_path, stand_in_tensorrt):
    onnx_path = write_tiny_onnx(tmp_path / 'tiny.onnx')
    images = tmp_path / 'images'
    images.mkdir()
    cv2.imwrite(str(images / 'a.png'), np.zeros((30, 40, 3), np.uint8))
    cached = ensure_engine(str(onnx_path), 'int8', 308, tmp_path / 'cache',
                           calibration=CalibrationSource(image_dir=str(images)))
    assert cached.path.with_suffix('.calib').read_bytes() == b'calibration-table'
    assert cached.sidecar['calibration']['frames'] == 1
    assert cached.sidecar['key_fields']['builder_options']['fp16_fallback'] is True
    same = ensure_engine(str(onnx_path), 'int8', 308, tmp_path / 'cache',
                         calibration=CalibrationSource(image_dir=str(images)))
    without_frames = ensure_engine(str(onnx_path), 'int8', 308, tmp_path / 'cache')
    cv2.imwrite(str(images / 'b.png'), np.ones((30, 40, 3), np.uint8))
    changed = ensure_engine(str(onnx_path), 'int8', 308, tmp_path / 'cache',
                            calibration=CalibrationSource(image_dir=str(images)))
    assert (same.built, without_frames.built, changed.built) == (False, False, True)
    assert changed.path == cached.path and changed.sidecar['calibration']['frames'] == 2


_CONCURRENT_BUILDER = '''
import hashlib, os, pathlib, sys, time
from mono_depth_ros.inference.engine_cache import EngineKey, get_or_build
cache, log, ready, me = sys.argv[1:5]
pathlib.Path(ready, me).touch()
deadline = time.time() + 30
while len(os.listdir(ready)) < 2 and time.time() < deadline:
    time.sleep(0.01)
def build(path):
    with open(log, 'a') as stream:
        stream.write(me + '\\n')
    time.sleep(1.0)
    return b'engine built by ' + me.encode()
key = EngineKey('ab' * 32, '10.3.0', 'Stand-in GPU', '8.7', 'fp16', ((1, 3, 14, 14),) * 3)
result = get_or_build(cache, key, build, name='model')
print(result.built, hashlib.sha256(result.path.read_bytes()).hexdigest())
'''


def test_two_concurrent_builders_build_once_and_share_the_engine(tmp_path):
    cache, log, ready = tmp_path / 'cache', tmp_path / 'builds.log', tmp_path / 'ready'
    ready.mkdir()
    processes = [subprocess.Popen(
        [sys.executable, '-c', _CONCURRENT_BUILDER, str(cache), str(log), str(ready), name],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=PACKAGE_ROOT)
        for name in ('first', 'second')]
    results = []
    for process in processes:
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, err
        results.append(out.split())
    assert len(log.read_text().splitlines()) == 1
    assert sorted(built for built, _ in results) == ['False', 'True']
    assert results[0][1] == results[1][1]
    names = sorted(path.name for path in cache.iterdir())
    assert [pathlib.Path(name).suffix for name in names] == ['.engine', '.json', '.lock']


def test_cached_engine_with_a_mismatched_sidecar_is_rebuilt(tmp_path):
    builds = []
    build = lambda path: builds.append(path) or b'engine'  # noqa: E731
    first = get_or_build(tmp_path, a_key(), build)
    sidecar = json.loads(sidecar_path(first.path).read_text())
    sidecar['key_fields']['gpu_name'] = 'Another GPU'
    sidecar_path(first.path).write_text(json.dumps(sidecar))
    assert get_or_build(tmp_path, a_key(), build).built
    assert len(builds) == 2


def test_cached_engine_whose_bytes_changed_is_rebuilt(tmp_path):
    builds = []
    build = lambda path: builds.append(path) or b'engine'  # noqa: E731
    first = get_or_build(tmp_path, a_key(), build)
    first.path.write_bytes(b'eng')  # truncated behind the cache's back
    again = get_or_build(tmp_path, a_key(), build)
    assert again.built and len(builds) == 2 and again.path.read_bytes() == b'engine'


# Engine files given directly ---------------------------------------------------------------
def _engine_with_sidecar(tmp_path, **runtime_changes) -> pathlib.Path:
    key = a_key(**runtime_changes)
    return get_or_build(tmp_path, key, lambda path: b'serialised engine').path


@pytest.mark.parametrize('change, named', [
    ({'tensorrt_version': '8.6.1'}, 'TensorRT 8.6.1'),
    ({'gpu_name': 'Orin', 'compute_capability': '8.7'}, "'Orin'"),
    ({'sm_count': 16, 'total_memory_mb': 65536}, '16 SMs, 65536 MiB'),  # an AGX Orin's engine
    ({'module_model': 'NVIDIA Jetson AGX Orin'}, 'NVIDIA Jetson AGX Orin'),
])
def test_engine_built_for_another_gpu_or_tensorrt_is_refused_before_deserialising(
        tmp_path, change, named):
    engine_path = _engine_with_sidecar(tmp_path, **change)
    FakeRuntime.deserialised.clear()
    with pytest.raises(ModelLoadError) as raised:
        _read_engine(TensorRT(fake_tensorrt()), str(engine_path), RUNTIME)
    assert str(engine_path) in str(raised.value) and named in str(raised.value)
    assert FakeRuntime.deserialised == []
    assert check_engine_sidecar(_engine_with_sidecar(tmp_path / 'ok'), RUNTIME) is not None


def test_engine_that_does_not_match_its_sidecar_is_refused_before_deserialising(tmp_path):
    engine_path = _engine_with_sidecar(tmp_path)
    engine_path.write_bytes(b'serialised engine, but another one')
    FakeRuntime.deserialised.clear()
    with pytest.raises(ModelLoadError, match='sha256') as raised:
        _read_engine(TensorRT(fake_tensorrt()), str(engine_path), RUNTIME)
    assert str(engine_path) in str(raised.value) and FakeRuntime.deserialised == []


def test_edited_sidecar_is_refused(tmp_path):
    engine_path = _engine_with_sidecar(tmp_path)
    sidecar = json.loads(sidecar_path(engine_path).read_text())
    sidecar['key_fields']['precision'] = 'fp32'
    sidecar_path(engine_path).write_text(json.dumps(sidecar))
    with pytest.raises(ModelLoadError, match='damaged'):
        check_engine_sidecar(engine_path, RUNTIME)


def test_corrupt_engine_without_sidecar_names_the_file_and_tensorrts_reason(tmp_path):
    engine_path = tmp_path / 'model.engine'
    engine_path.write_bytes(b'not an engine')
    with pytest.raises(ModelLoadError) as raised:
        _read_engine(TensorRT(fake_tensorrt()), str(engine_path), RUNTIME)
    text = str(raised.value)
    assert str(engine_path) in text and 'another GPU or TensorRT version' in text
    assert 'magic tag mismatch' in text


# INT8 calibration frames -------------------------------------------------------------------
def _write_bag(path: pathlib.Path, count: int) -> None:
    from mono_depth_ros import bags
    from mono_depth_ros.core.image_codec import numpy_to_image

    with bags.BagWriter(path, 'sqlite3', version=9) as writer:
        connection = writer.add_topic('/camera/image_raw', 'sensor_msgs/msg/Image')
        for index in range(count):
            pixels = np.full((6, 8, 3), index * 10, np.uint8)
            writer.write_message(connection, index * 10**9, bags.messages.image(
                numpy_to_image(pixels, 'rgb8'), bags.messages.header(index * 10**9, 'camera')))


def test_calibration_frames_come_evenly_from_a_rosbag_image_topic(tmp_path):
    bag = tmp_path / 'bag'
    _write_bag(bag, 6)
    source = CalibrationSource(bag=str(bag), max_frames=3)
    assert check_source(source) == 3
    frames = list(iter_rgb_frames(source))
    assert [int(frame[0, 0, 0]) for frame in frames] == [0, 20, 40]
    with pytest.raises(BadMessageError, match='calibration_topic'):
        check_source(dataclasses.replace(source, topic='/nothing'))


def test_calibrator_feeds_preprocessed_frames_and_keeps_its_cache(tmp_path):
    images = tmp_path / 'images'
    images.mkdir()
    for index in range(3):
        cv2.imwrite(str(images / f'{index}.png'), np.full((30, 40, 3), 60 * index, np.uint8))
    cache = tmp_path / 'engine.calib'
    calibrator = make_entropy_calibrator(object, CalibrationSource(image_dir=str(images)),
                                         (1, 3, 28, 42), cache, stand_in_cuda())
    addresses = [calibrator.get_batch(['image']) for _ in range(4)]
    assert [a is None for a in addresses] == [False, False, False, True]
    assert calibrator.batches == 3 and calibrator.error is None
    batch = floats_at(addresses[0][0], 3 * 28 * 42).reshape(1, 3, 28, 42)
    assert batch.shape == (1, 3, 28, 42)
    assert calibrator.read_calibration_cache() is None
    calibrator.write_calibration_cache(b'table')
    assert calibrator.read_calibration_cache() == b'table'
    assert fingerprint_path(cache).is_file()


def test_calibration_cache_serves_only_the_frames_that_made_it(tmp_path):
    images = tmp_path / 'images'
    images.mkdir()
    cv2.imwrite(str(images / 'a.png'), np.zeros((30, 40, 3), np.uint8))
    cache = tmp_path / 'engine.calib'

    def calibrator(source):
        return make_entropy_calibrator(object, source, (1, 3, 28, 42), cache, stand_in_cuda())

    frames = CalibrationSource(image_dir=str(images))
    calibrator(frames).write_calibration_cache(b'table of a')
    assert calibrator(frames).read_calibration_cache() == b'table of a'
    assert calibrator(None).read_calibration_cache() == b'table of a'  # the cache alone
    cv2.imwrite(str(images / 'b.png'), np.ones((30, 40, 3), np.uint8))
    assert calibrator(CalibrationSource(image_dir=str(images))).read_calibration_cache() is None


def test_a_calibration_that_failed_part_way_leaves_no_table(tmp_path, monkeypatch):
    from mono_depth_ros.inference import int8_calibration

    def one_frame_then_a_read_error(source):
        yield np.zeros((30, 40, 3), np.uint8)
        raise OSError('the bag is truncated')

    monkeypatch.setattr(int8_calibration, 'iter_rgb_frames', one_frame_then_a_read_error)
    images = tmp_path / 'images'
    images.mkdir()
    cv2.imwrite(str(images / 'a.png'), np.zeros((30, 40, 3), np.uint8))
    cache = tmp_path / 'engine.calib'
    calibrator = make_entropy_calibrator(object, CalibrationSource(image_dir=str(images)),
                                         (1, 3, 28, 42), cache, stand_in_cuda())
    assert calibrator.get_batch(['image']) is not None
    assert calibrator.get_batch(['image']) is None
    assert 'truncated' in str(calibrator.error)
    calibrator.write_calibration_cache(b'table of one frame')
    assert not cache.exists()


# Without TensorRT ---------------------------------------------------------------------------
@pytest.mark.skipif(HAVE_TENSORRT, reason='TensorRT is installed here')
def test_build_engine_without_tensorrt_exits_1_with_one_clear_line(tmp_path):
    onnx_path = write_tiny_onnx(tmp_path / 'tiny.onnx')
    result = subprocess.run(
        [sys.executable, '-m', 'mono_depth_ros.tools.cli', 'build-engine', '--onnx',
         str(onnx_path)], capture_output=True, text=True, timeout=60, cwd=PACKAGE_ROOT,
        env={**os.environ, 'XDG_CACHE_HOME': str(tmp_path / 'xdg')})
    assert result.returncode == 1  # a runtime failure: the arguments were right
    assert result.stderr.strip() == f'mono-depth-ros build-engine: {TENSORRT_MISSING}'
    assert result.stdout == ''


@pytest.mark.skipif(HAVE_TENSORRT, reason='TensorRT is installed here')
def test_backend_without_tensorrt_raises_backend_unavailable(tmp_path):
    from mono_depth_ros.inference.tensorrt_backend import TensorRTBackend

    with pytest.raises(BackendUnavailableError) as raised:
        TensorRTBackend(str(write_tiny_onnx(tmp_path / 'tiny.onnx')))
    assert str(raised.value) == TENSORRT_MISSING
    with pytest.raises(BackendUnavailableError, match='CUDA GPUs only'):
        TensorRTBackend('model.onnx', device='cpu')
