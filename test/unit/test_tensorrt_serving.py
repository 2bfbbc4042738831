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

"""Engines checked before use, shapes that follow the camera, ONNX Runtime while building.

The whole TensorRT backend runs on the stand-ins of ``tensorrt_stand_in`` (TensorRT 10 and a
CUDA runtime whose device memory is host memory): the stand-in engine computes 2 x the first
input channel, and so does the ONNX graph ONNX Runtime runs as the reference.
"""

import json
import logging
import time

import numpy as np
import pytest

from mono_depth_ros.core.preprocessing import (
    network_input_size, output_to_input_size, prepare_input)
from mono_depth_ros.inference.base import DepthBackend, InputSpec, ModelLoadError
from mono_depth_ros.inference.engine_builder import ensure_engine, onnx_sha256, profile_shapes
from mono_depth_ros.inference.engine_cache import read_sidecar
from mono_depth_ros.inference.engine_switch import EngineNotCached, EngineSwitch
from mono_depth_ros.inference.engine_validation import abs_rel, reference_frames
from mono_depth_ros.inference.tensorrt_backend import TensorRTBackend
from tensorrt_stand_in import FakeRuntime, use_stand_in_tensorrt, WorkingRuntime

INPUT_SIZE = 28  # the stand-in engines' sizes: profiles of 14 to 56 pixels


def write_doubling_onnx(path, fixed: tuple | None = None):
    """Write the stand-in engine's network as ONNX: [1, 3, H, W] -> 2 x channel 0, [1, H, W]."""
    from onnx import helper, numpy_helper, save, TensorProto

    height, width = fixed or ('height', 'width')
    graph = helper.make_graph(
        [helper.make_node('Gather', ['image', 'channel'], ['first'], axis=1),
         helper.make_node('Mul', ['first', 'two'], ['depth'])], 'doubling',
        [helper.make_tensor_value_info('image', TensorProto.FLOAT, [1, 3, height, width])],
        [helper.make_tensor_value_info('depth', TensorProto.FLOAT, [1, height, width])],
        [numpy_helper.from_array(np.array(0, np.int64), 'channel'),
         numpy_helper.from_array(np.array(2.0, np.float32), 'two')])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 17)])
    helper.set_model_props(model, {'depth_type': 'relative'})
    save(model, str(path))
    return str(path)


@pytest.fixture
def working_tensorrt(monkeypatch):
    """TensorRT 10 stand-ins whose engines load and run."""
    monkeypatch.setattr(WorkingRuntime, 'factor', 2.0)
    return use_stand_in_tensorrt(monkeypatch, '10.3.0', working=True)


def open_backend(tmp_path, onnx=None, **options):
    onnx = onnx or write_doubling_onnx(tmp_path / 'doubling.onnx')
    return TensorRTBackend(onnx, 'fp16', INPUT_SIZE, str(tmp_path / 'engines'), **options)


# Validation ---------------------------------------------------------------------------------
def test_a_new_engine_is_validated_against_onnxruntime_and_the_result_kept(
        tmp_path, working_tensorrt, monkeypatch):
    from mono_depth_ros.inference import engine_validation

    with open_backend(tmp_path) as backend:
        result = backend.validation
        frame = reference_frames(1, (40, 60))[0]
        np.testing.assert_allclose(backend.infer_rgb(frame, INPUT_SIZE),
                                   2 * prepare_input(frame, (28, 42))[0, 0], atol=1e-6)
    assert result.passed and result.abs_rel == 0.0 and result.bound == 0.03
    recorded = read_sidecar(backend.engine_path)['validation']
    assert recorded['passed'] and recorded['tensorrt_version'] == '10.3.0'
    monkeypatch.setattr(engine_validation, 'validate_engine', pytest.fail)  # not run again
    with open_backend(tmp_path) as again:
        assert again.validation.passed


def test_an_engine_with_wrong_depth_is_refused_with_one_line_naming_tensorrt(
        tmp_path, working_tensorrt, monkeypatch):
    monkeypatch.setattr(WorkingRuntime, 'factor', 2.5)  # runs, gives 25 % too much
    with pytest.raises(ModelLoadError) as raised:
        open_backend(tmp_path)
    message = str(raised.value)
    assert '\n' not in message
    assert 'TensorRT 10.3.0' in message and 'AbsRel 0.2500' in message
    assert 'upgrade TensorRT' in message and 'validate_engine false' in message
    engine_path = next((tmp_path / 'engines').glob('*.engine'))
    assert read_sidecar(engine_path)['validation']['passed'] is False
    monkeypatch.setattr(WorkingRuntime, 'factor', 2.0)  # the stored verdict stands
    with pytest.raises(ModelLoadError, match='AbsRel 0.2500'):
        open_backend(tmp_path)
    with open_backend(tmp_path, validate=False) as trusted:  # for users who know
        assert trusted.validation is None


def test_abs_rel_leaves_out_near_zero_references_and_fails_non_finite_output():
    reference = np.array([1.0, 2.0, 0.0001, 4.0])
    assert abs_rel(reference * 1.1, reference) == pytest.approx(0.1)
    assert abs_rel(np.array([1.0, np.nan, 0.0, 4.0]), reference) == float('inf')


# The cache key -------------------------------------------------------------------------------
def test_onnx_hash_covers_external_data(tmp_path):
    import onnx

    path = write_doubling_onnx(tmp_path / 'doubling.onnx')
    model = onnx.load(path)
    onnx.save_model(model, str(tmp_path / 'external.onnx'), save_as_external_data=True,
                    all_tensors_to_one_file=True, location='external.data', size_threshold=0)
    first = onnx_sha256(str(tmp_path / 'external.onnx'))
    data = tmp_path / 'external.data'
    data.write_bytes(data.read_bytes()[:-4] + np.float32(3.0).tobytes())  # other weights
    assert onnx_sha256(str(tmp_path / 'external.onnx')) != first
    data.unlink()
    with pytest.raises(ModelLoadError, match='external data file external.data is missing'):
        onnx_sha256(str(tmp_path / 'external.onnx'))


def test_an_engine_of_another_orin_module_is_not_reused(tmp_path, monkeypatch):
    onnx = write_doubling_onnx(tmp_path / 'doubling.onnx')
    paths = set()
    for sm_count, memory in ((16, 64 << 30), (8, 16 << 30), (8, 8 << 30)):  # AGX, NX, Nano
        use_stand_in_tensorrt(monkeypatch, '10.3.0', name=b'Orin', sm_count=sm_count,
                              total_memory=memory)
        paths.add(ensure_engine(onnx, 'fp16', INPUT_SIZE, tmp_path / 'engines').path)
    assert len(paths) == 3


# Shapes that follow the camera ---------------------------------------------------------------
def test_the_profile_is_made_for_the_cameras_aspect():
    default = profile_shapes(518)
    assert default.opt_shape == (1, 3, 518, 686)
    ultrawide = profile_shapes(518, frame_size=(720, 2560))
    network = network_input_size(720, 2560, 518)
    assert ultrawide.opt_shape == (1, 3, *network)
    assert ultrawide.max_shape[3] >= network[1] and ultrawide.min_shape == default.min_shape
    portrait = profile_shapes(518, frame_size=(1280, 720))
    assert portrait.opt_shape == (1, 3, *network_input_size(1280, 720, 518))


def test_an_engine_file_runs_frames_outside_its_profile_at_its_own_size_with_one_warning(
        tmp_path, working_tensorrt, caplog):
    with open_backend(tmp_path) as built:
        engine_file = built.engine_path
    with TensorRTBackend(engine_file, 'fp16', INPUT_SIZE) as backend, caplog.at_level(
            logging.WARNING):
        wide = reference_frames(1, (30, 300))[0]  # needs 28x280; the profile ends at 56
        outputs = [backend.infer_rgb(wide, INPUT_SIZE) for _ in range(2)]
        assert backend.infer_rgb(reference_frames(1, (40, 60))[0], INPUT_SIZE).shape == (28, 42)
    assert outputs[0].shape == (14, 56)
    warnings = [record.message for record in caplog.records if 'outside' in record.message]
    assert len(warnings) == 1 and 'running them at 14x56' in warnings[0]


def test_an_engine_built_for_one_size_warns_once_that_it_runs_at_that_size(
        tmp_path, working_tensorrt, caplog):
    onnx = write_doubling_onnx(tmp_path / 'fixed.onnx', fixed=(42, 42))
    with caplog.at_level(logging.WARNING), open_backend(tmp_path, onnx) as backend:
        assert backend.input_spec.fixed_size == (42, 42)
        output = backend.infer_rgb(reference_frames(1, (40, 60))[0], (42, 42))
    assert output.shape == (42, 42)
    assert [record.message for record in caplog.records
            if 'is built for 42x42 only' in record.message]


# ONNX Runtime serves while the engine builds --------------------------------------------------
class RecordingBackend(DepthBackend):
    """A backend that says which one ran: its output is full of ``value``."""

    name = 'recording'
    preprocesses_on_device = True

    def __init__(self, value: float, fits=lambda size: True):
        super().__init__('cpu', 'fp32', InputSpec('image'))
        self.value, self._fits, self.frames = value, fits, 0

    def accepts(self, frame_size, input_size):
        return self._fits(network_input_size(*frame_size, input_size))

    def infer_rgb(self, rgb, input_size):
        self.frames += 1
        return np.full(network_input_size(*rgb.shape[:2], input_size), self.value, np.float32)

    def _infer(self, tensor):
        return np.full(tensor.shape[2:], self.value, np.float32)


class Builds:
    """open_engine for EngineSwitch: nothing cached; each build makes the next engine."""

    def __init__(self, engines):
        self.engines, self.requests, self.pending = list(engines), [], []

    def open_engine(self, frame_size, build):
        if not build:
            raise EngineNotCached('model.onnx')
        self.requests.append(frame_size)
        engine = self.engines.pop(0)
        if isinstance(engine, Exception):
            raise engine
        return engine

    def start_thread(self, target, name):
        self.pending.append(target)

    def finish(self):
        self.pending.pop(0)()


def a_switch(builds, serving=None, logger=None):
    serving = serving or RecordingBackend(1.0)
    switch = EngineSwitch(builds.open_engine, lambda: serving, InputSpec('image'), 'fp16',
                          logger, start_thread=builds.start_thread)
    return switch, serving


FRAME = np.zeros((40, 60, 3), np.uint8)
WIDE = np.zeros((30, 300, 3), np.uint8)


def test_first_start_serves_from_onnxruntime_then_switches_to_the_validated_engine():
    engine = RecordingBackend(2.0)
    builds = Builds([engine])
    switch, serving = a_switch(builds)
    assert switch.serving == 'onnxruntime'
    assert switch.infer_rgb(FRAME, INPUT_SIZE)[0, 0] == 1.0  # served while building
    assert switch.infer_rgb(FRAME, INPUT_SIZE)[0, 0] == 1.0
    assert builds.requests == [] and len(builds.pending) == 1  # one build, from frame one
    assert switch.diagnostic_values()['engine_state'].startswith('building the engine for 60x40')
    builds.finish()
    assert builds.requests == [(40, 60)]  # the profile is made for the camera's frames
    assert switch.infer_rgb(FRAME, INPUT_SIZE)[0, 0] == 2.0
    values = switch.diagnostic_values()
    assert values['serving_backend'] == 'tensorrt' and values['engine_state'] == 'engine'
    assert values['engine_build_s'] >= 0 and values['engine_switched_at']
    switch.close()
    assert engine._closed and serving._closed


def test_a_resolution_change_rebuilds_once_in_the_background_with_one_warning(caplog):
    small = RecordingBackend(2.0, fits=lambda size: max(size) <= 56)
    wide = RecordingBackend(3.0)
    builds = Builds([small, wide])
    switch, serving = a_switch(builds, logger=logging.getLogger('switch-test'))
    switch.infer_rgb(FRAME, INPUT_SIZE)
    builds.finish()
    assert switch.infer_rgb(FRAME, INPUT_SIZE)[0, 0] == 2.0
    with caplog.at_level(logging.WARNING, logger='switch-test'):
        served = [switch.infer_rgb(WIDE, INPUT_SIZE)[0, 0] for _ in range(3)]
        assert served == [1.0] * 3  # ONNX Runtime serves the new size meanwhile
        assert switch.infer_rgb(FRAME, INPUT_SIZE)[0, 0] == 2.0  # the old size: the engine
    assert len(builds.pending) == 1
    assert len([r for r in caplog.records if 'rebuilding it for them' in r.message]) == 1
    builds.finish()
    assert builds.requests[-1] == (30, 300)
    assert switch.infer_rgb(WIDE, INPUT_SIZE)[0, 0] == 3.0
    assert small._closed and not wide._closed  # the replaced engine is released
    assert switch.diagnostic_values()['engine_builds'] == 2
    switch.close()


def test_a_failed_build_keeps_onnxruntime_serving_and_says_why():
    builds = Builds([ModelLoadError('m.engine', 'TensorRT 10.3.0 built an engine whose depth '
                                                'differs')])
    switch, _ = a_switch(builds)
    switch.infer_rgb(FRAME, INPUT_SIZE)
    builds.finish()
    for _ in range(2):
        assert switch.infer_rgb(FRAME, INPUT_SIZE)[0, 0] == 1.0
    assert not builds.pending  # not retried for the same frame size
    values = switch.diagnostic_values()
    assert values['serving_backend'] == 'onnxruntime' and 'differs' in values['engine_failure']


def test_the_node_loader_serves_from_onnxruntime_and_switches_as_the_camera_changes(
        tmp_path, working_tensorrt):
    from mono_depth_ros.inference.selection import load_backend

    onnx = write_doubling_onnx(tmp_path / 'doubling.onnx')
    backend, info = load_backend(onnx, backend='tensorrt', device='cuda', precision='fp16',
                                 input_size=INPUT_SIZE, engine_cache_dir=str(tmp_path / 'e'),
                                 background_build=True)
    assert isinstance(backend, EngineSwitch) and info.depth_type == 'relative'
    frame = reference_frames(1, (40, 60))[0]
    wide = reference_frames(1, (30, 300))[0]
    try:
        for image, size in ((frame, (28, 42)), (wide, (28, 280))):
            expected = 2 * prepare_input(image, size)[0, 0]
            served = backend.infer_rgb(image, INPUT_SIZE)  # ONNX Runtime on the CPU
            np.testing.assert_allclose(served, expected, atol=1e-5)
            deadline = time.monotonic() + 30
            while backend.state != 'engine ready: switching on the next frame':
                assert time.monotonic() < deadline, backend.state
                time.sleep(0.01)
            # The engine takes the frame and gives depth at its size (pre/postprocessing in it).
            at_frame = output_to_input_size(expected, image.shape[1], image.shape[0])
            np.testing.assert_allclose(backend.infer_rgb(image, INPUT_SIZE), at_frame,
                                       atol=1e-4)
            assert backend.serving == 'tensorrt'
        sidecars = [json.loads(path.read_text()) for path in (tmp_path / 'e').glob('*.json')]
        frame_io = sorted(((s['key_fields']['builder_options']['frame_io'],
                            s['key_fields']['profile'][1]) for s in sidecars),
                          key=lambda entry: entry[1])
        assert frame_io == [
            ({'frame_size': [30, 300], 'network_size': [28, 280]}, [1, 30, 300, 3]),
            ({'frame_size': [40, 60], 'network_size': [28, 42]}, [1, 40, 60, 3])]
        assert all(s['validation']['passed'] for s in sidecars)
        assert FakeRuntime.deserialised
    finally:
        backend.close()
    # The next start finds the engine for the camera's first frames in the cache.
    again, _ = load_backend(onnx, backend='tensorrt', device='cuda', precision='fp16',
                            input_size=INPUT_SIZE, engine_cache_dir=str(tmp_path / 'e'),
                            background_build=True)
    with again:
        assert again.serving == 'tensorrt'


# fp16 and int8 through NVIDIA's ModelOpt, where it is installed -------------------------------
@pytest.fixture
def stand_in_modelopt(monkeypatch):
    """Stand-ins of modelopt.onnx.autocast and modelopt.onnx.quantization that record calls."""
    import sys
    import types

    import onnx

    from mono_depth_ros.inference.onnx_fp16 import convert_to_fp16

    calls = {'autocast': [], 'quantize': []}

    def convert_to_mixed_precision(onnx_path, low_precision_type='fp16', keep_io_types=False,
                                   **options):
        calls['autocast'].append({'low_precision_type': low_precision_type,
                                  'keep_io_types': keep_io_types, **options})
        if calls.get('autocast_fails'):
            raise RuntimeError('unsupported op')
        return convert_to_fp16(onnx.load(onnx_path))

    def quantize(onnx_path, quantize_mode='int8', calibration_data=None, output_path=None,
                 **options):
        calls['quantize'].append({'mode': quantize_mode, 'data': calibration_data.shape,
                                  **options})
        onnx.save(onnx.load(onnx_path), output_path)  # "quantized"

    modules = {'modelopt': types.ModuleType('modelopt'),
               'modelopt.onnx': types.ModuleType('modelopt.onnx'),
               'modelopt.onnx.autocast': types.ModuleType('modelopt.onnx.autocast'),
               'modelopt.onnx.quantization': types.ModuleType('modelopt.onnx.quantization')}
    modules['modelopt.onnx.autocast'].convert_to_mixed_precision = convert_to_mixed_precision
    modules['modelopt.onnx.quantization'].quantize = quantize
    for name, module in modules.items():
        monkeypatch.setitem(sys.modules, name, module)
    return calls


def test_fp16_for_tensorrt_11_is_made_by_autocast_where_installed(
        tmp_path, monkeypatch, stand_in_modelopt, caplog):
    from tensorrt_stand_in import FakeParser

    onnx = write_doubling_onnx(tmp_path / 'doubling.onnx')
    use_stand_in_tensorrt(monkeypatch, '11.4.0')
    cached = ensure_engine(onnx, 'fp16', INPUT_SIZE, tmp_path / 'engines')
    assert stand_in_modelopt['autocast'] == [
        {'low_precision_type': 'fp16', 'keep_io_types': True, 'data_max': 512,
         'init_max': 65504}]
    assert FakeParser.parsed[-1]['name'] == 'doubling.fp16.onnx'
    options = cached.sidecar['key_fields']['builder_options']
    assert options['fp16_converter'] == 'modelopt-autocast'
    stand_in_modelopt['autocast_fails'] = True  # falls back to the package converter
    with caplog.at_level(logging.WARNING):
        ensure_engine(onnx, 'fp16', INPUT_SIZE, tmp_path / 'engines', force_rebuild=True)
    assert any('AutoCast could not convert' in record.message for record in caplog.records)
    assert FakeParser.parsed[-1]['name'] == 'doubling.fp16.onnx'


def test_the_package_fp16_converter_has_its_own_cache_key(tmp_path, monkeypatch):
    onnx = write_doubling_onnx(tmp_path / 'doubling.onnx')
    use_stand_in_tensorrt(monkeypatch, '11.4.0')
    cached = ensure_engine(onnx, 'fp16', INPUT_SIZE, tmp_path / 'engines')
    assert cached.sidecar['key_fields']['builder_options']['fp16_converter'] == 'mono_depth_ros'


@pytest.mark.parametrize('version, flags', [('10.3.0', b'FP16,INT8'), ('11.4.0', b'')])
def test_int8_is_explicit_qdq_through_modelopt_where_installed(
        tmp_path, monkeypatch, stand_in_modelopt, version, flags):
    import cv2

    from mono_depth_ros.inference.int8_calibration import CalibrationSource
    from tensorrt_stand_in import FakeBuilder, FakeParser

    images = tmp_path / 'images'
    images.mkdir()
    for index in range(3):
        cv2.imwrite(str(images / f'{index}.png'), np.full((40, 60, 3), 50 * index, np.uint8))
    use_stand_in_tensorrt(monkeypatch, version)
    cached = ensure_engine(write_doubling_onnx(tmp_path / 'doubling.onnx'), 'int8', INPUT_SIZE,
                           tmp_path / 'engines',
                           calibration=CalibrationSource(image_dir=str(images)))
    assert cached.path.read_bytes() == b'ENGINE ' + flags
    assert FakeBuilder.made[-1].config.int8_calibrator is None  # no implicit calibration
    assert FakeParser.parsed[-1]['name'] == 'doubling.qdq.onnx'
    assert stand_in_modelopt['quantize'][-1]['data'] == (3, 3, 28, 42)  # the opt shape
    assert cached.sidecar['key_fields']['builder_options']['int8_method'] == 'modelopt-qdq'


def test_an_engine_for_one_camera_takes_its_frames_and_resizes_others_with_one_warning(
        tmp_path, working_tensorrt, caplog):
    from mono_depth_ros.core.errors import BadMessageError

    with open_backend(tmp_path, frame_size=(40, 60)) as backend:
        assert backend.frame_size == (40, 60) and backend.validation.passed
        assert backend.validation.network_size == (28, 42)
        frame = reference_frames(1, (40, 60))[0]
        expected = output_to_input_size(2 * prepare_input(frame, (28, 42))[0, 0], 60, 40)
        np.testing.assert_allclose(backend.infer_rgb(frame, INPUT_SIZE), expected, atol=1e-4)
        assert backend.accepts((40, 60), INPUT_SIZE)
        assert not backend.accepts((30, 300), INPUT_SIZE)
        with pytest.raises(BadMessageError, match='takes frames'):
            backend.infer(prepare_input(frame, (28, 42)))
        with caplog.at_level(logging.WARNING):
            for _ in range(2):
                assert backend.infer_rgb(np.zeros((80, 120, 3), np.uint8),
                                         INPUT_SIZE).shape == (40, 60)
    assert len([r for r in caplog.records if 'takes 60x40 frames' in r.message]) == 1


def test_a_cached_engine_that_failed_validation_leaves_onnxruntime_serving(
        tmp_path, working_tensorrt, monkeypatch):
    from mono_depth_ros.inference.selection import load_backend

    onnx = write_doubling_onnx(tmp_path / 'doubling.onnx')
    monkeypatch.setattr(WorkingRuntime, 'factor', 2.5)
    with pytest.raises(ModelLoadError):
        TensorRTBackend(onnx, 'fp16', INPUT_SIZE, str(tmp_path / 'e'))  # cached, refused
    backend, _ = load_backend(onnx, backend='tensorrt', device='cuda', precision='fp16',
                              input_size=INPUT_SIZE, engine_cache_dir=str(tmp_path / 'e'),
                              background_build=True)
    with backend:
        assert backend.serving == 'onnxruntime'
        assert 'AbsRel 0.2500' in backend.diagnostic_values()['engine_failure']
        assert backend.infer_rgb(reference_frames(1, (40, 60))[0], INPUT_SIZE).shape == (28, 42)


_WITHOUT_TORCH = '''
import sys
sys.modules['torch'] = None  # any import of torch fails
import numpy as np
import pytest
from tensorrt_stand_in import use_stand_in_tensorrt
from mono_depth_ros.inference.selection import load_backend
patch = pytest.MonkeyPatch()
use_stand_in_tensorrt(patch, '10.3.0', working=True)
backend, _ = load_backend(sys.argv[1], backend='tensorrt', device='cuda', precision='fp16',
                          input_size=28, engine_cache_dir=sys.argv[2], background_build=True)
frame = np.zeros((40, 60, 3), np.uint8)
backend.infer_rgb(frame, 28)
while backend.serving != 'tensorrt':
    backend.infer_rgb(frame, 28)
print(backend.infer_rgb(frame, 28).shape, backend.diagnostic_values()['engine_validation'][:6])
'''


def test_the_whole_tensorrt_path_runs_with_torch_unimportable(tmp_path):
    import os
    import pathlib
    import subprocess
    import sys

    root = pathlib.Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, '-c', _WITHOUT_TORCH, write_doubling_onnx(tmp_path / 'doubling.onnx'),
         str(tmp_path / 'engines')], capture_output=True, text=True, timeout=120, cwd=root,
        env={**os.environ, 'PYTHONPATH': os.pathsep.join(
            [str(root), str(root / 'test' / 'support'), os.environ.get('PYTHONPATH', '')])})
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == '(40, 60) passed'


def test_a_tensorrt_that_cannot_build_a_frame_engine_gets_a_tensor_engine_for_the_camera(
        tmp_path, working_tensorrt, monkeypatch, caplog):
    from mono_depth_ros.inference.selection import load_backend
    from tensorrt_stand_in import FakeParser

    monkeypatch.setattr(FakeParser, 'refuses_uint8', True)
    onnx = write_doubling_onnx(tmp_path / 'doubling.onnx')
    backend, _ = load_backend(onnx, backend='tensorrt', device='cuda', precision='fp16',
                              input_size=INPUT_SIZE, engine_cache_dir=str(tmp_path / 'e'),
                              background_build=True)
    frame = reference_frames(1, (40, 60))[0]
    with backend, caplog.at_level(logging.WARNING):
        backend.infer_rgb(frame, INPUT_SIZE)
        deadline = time.monotonic() + 30
        while backend.serving != 'tensorrt':
            assert time.monotonic() < deadline, backend.state
            time.sleep(0.01)
            backend.infer_rgb(frame, INPUT_SIZE)
        np.testing.assert_allclose(backend.infer_rgb(frame, INPUT_SIZE),
                                   2 * prepare_input(frame, (28, 42))[0, 0], atol=1e-6)
        assert backend.diagnostic_values()['engine_builds'] == 1
    assert any('building one that takes network tensors' in record.message
               for record in caplog.records)
