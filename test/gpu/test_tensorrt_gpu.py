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

"""TensorRT on a real GPU: build, cache, run and parity with PyTorch (``make test-gpu``).

The model is Depth-Anything-V2-Small's real architecture with random weights (from
bench/bench_tensorrt.py), exported with the package's exporter. Parity is AbsRel against
PyTorch fp32 on the CPU: at most 1e-3 for fp32 engines (TF32 off) and 1e-2 for fp16. The
TensorRT path itself runs without PyTorch (cuda-python); torch here only makes the reference.
"""

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

pytestmark = pytest.mark.gpu
torch = pytest.importorskip('torch')  # the reference model, on the CPU
tensorrt = pytest.importorskip('tensorrt')
pytest.importorskip('cuda.bindings')

from mono_depth_ros.core.preprocessing import prepare_input  # noqa: E402
from mono_depth_ros.inference.base import ModelLoadError  # noqa: E402
from mono_depth_ros.inference.cuda_runtime import CudaRuntime  # noqa: E402
from mono_depth_ros.inference.engine_builder import ensure_engine  # noqa: E402
from mono_depth_ros.inference.engine_cache import (  # noqa: E402
    engine_cache_key, sidecar_path)
from mono_depth_ros.inference.int8_calibration import CalibrationSource  # noqa: E402
from mono_depth_ros.inference.tensorrt_backend import TensorRTBackend  # noqa: E402

if CudaRuntime().device_count() < 1:
    pytest.skip('needs a CUDA GPU', allow_module_level=True)
INPUT_SIZE = 518
FRAMES = {'4:3': (480, 640), '16:9': (720, 1280)}


def _bench_module(package_root):
    from mono_depth_ros.tools.bench import load_benchmark

    return load_benchmark(package_root / 'bench' / 'bench_tensorrt.py')


@pytest.fixture(scope='module')
def bench(package_root):
    return _bench_module(package_root)


@pytest.fixture(scope='module')
def v2_small(bench, tmp_path_factory):
    """Return (torch model, dynamic ONNX path) of a random Depth-Anything-V2-Small."""
    from mono_depth_ros.inference.onnx_export import export_onnx

    model, info = bench.random_depth_anything_v2_small()
    path = tmp_path_factory.mktemp('onnx') / 'depth_anything_v2_small_random.onnx'
    export_onnx(model, path, input_size=INPUT_SIZE, info=info)
    return model, str(path)


@pytest.fixture(scope='module')
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp('engines')


@pytest.fixture(scope='module')
def frames_and_references(v2_small):
    """Return {name: (network tensor, PyTorch fp32 CPU prediction)} for a 4:3 and a 16:9 frame."""
    model, _ = v2_small
    rng = np.random.default_rng(3)
    result = {}
    for name, (height, width) in FRAMES.items():
        coarse = rng.integers(0, 256, (height // 40, width // 40, 3), dtype=np.uint8)
        rgb = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
        tensor = prepare_input(rgb, INPUT_SIZE)
        with torch.inference_mode():
            reference = model(pixel_values=torch.from_numpy(tensor)).predicted_depth[0].numpy()
        result[name] = (tensor, reference)
    return result


@pytest.mark.parametrize('precision, tolerance', [('fp32', 1e-3), ('fp16', 1e-2)])
def test_engine_matches_pytorch_on_4_3_and_16_9_frames(
        bench, v2_small, cache_dir, frames_and_references, precision, tolerance):
    _, onnx_path = v2_small
    with TensorRTBackend(onnx_path, precision=precision, input_size=INPUT_SIZE,
                         cache_dir=cache_dir) as backend:
        assert backend.precision == precision and backend.input_spec.is_dynamic
        assert backend.io_api == ('tensor' if hasattr(tensorrt.ICudaEngine, 'num_io_tensors')
                                  else 'binding')
        for name, (tensor, reference) in frames_and_references.items():
            prediction = backend.infer(tensor)
            assert prediction.shape == reference.shape, name
            assert bench.abs_rel(prediction, reference) <= tolerance, name
        info = backend.model_info()
        assert info.depth_type == 'relative' and info.encoder == 'vits'


def test_strongly_typed_fp16_engine_matches_pytorch(
        bench, v2_small, frames_and_references, tmp_path, monkeypatch):
    """TensorRT 11's fp16 route (an fp16 ONNX, STRONGLY_TYPED), taken on any TensorRT >= 9."""
    from mono_depth_ros.inference import engine_builder

    if not hasattr(tensorrt.NetworkDefinitionCreationFlag, 'STRONGLY_TYPED'):
        pytest.skip(f'TensorRT {tensorrt.__version__} has no strongly typed networks')
    monkeypatch.setattr(engine_builder, 'builds_strongly_typed', lambda compat: True)
    _, onnx_path = v2_small
    with TensorRTBackend(onnx_path, precision='fp16', input_size=INPUT_SIZE,
                         cache_dir=tmp_path) as backend:
        assert backend.sidecar['key_fields']['builder_options']['strongly_typed']
        for name, (tensor, reference) in frames_and_references.items():
            assert bench.abs_rel(backend.infer(tensor), reference) <= 1e-2, name


def test_gpu_preprocessing_matches_the_opencv_path(v2_small, cache_dir):
    _, onnx_path = v2_small
    rng = np.random.default_rng(5)
    with TensorRTBackend(onnx_path, precision='fp32', input_size=INPUT_SIZE,
                         cache_dir=cache_dir) as backend:
        assert backend.preprocesses_on_device
        for height, width in FRAMES.values():
            coarse = rng.integers(0, 256, (height // 40, width // 40, 3), dtype=np.uint8)
            rgb = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
            on_host = backend.infer(prepare_input(rgb, INPUT_SIZE))
            on_device = backend.infer_rgb(rgb, INPUT_SIZE)
            assert on_device.shape == on_host.shape
            assert float(np.mean(np.abs(on_device - on_host) / np.abs(on_host))) <= 1e-3


def test_second_build_reuses_the_engine_and_engine_files_load_directly(
        v2_small, cache_dir, frames_and_references):
    _, onnx_path = v2_small
    first = ensure_engine(onnx_path, 'fp16', INPUT_SIZE, cache_dir)
    again = ensure_engine(onnx_path, 'fp16', INPUT_SIZE, cache_dir)
    assert again.path == first.path and not again.built
    tensor, _ = frames_and_references['4:3']
    with TensorRTBackend(onnx_path, 'fp16', INPUT_SIZE, cache_dir) as from_onnx, \
            TensorRTBackend(str(first.path)) as from_engine:
        assert from_engine.model_format == 'engine'
        np.testing.assert_array_equal(from_onnx.infer(tensor), from_engine.infer(tensor))
    sidecar = json.loads(sidecar_path(first.path).read_text())
    assert sidecar['key_fields']['tensorrt_version'] == tensorrt.__version__
    identity = CudaRuntime().identity()
    assert sidecar['key_fields']['gpu_name'] == identity.gpu_name
    assert sidecar['key_fields']['sm_count'] == identity.sm_count > 0
    assert sidecar['validation']['passed'] and sidecar['validation']['tensorrt_version'] == (
        tensorrt.__version__)


def test_the_tensorrt_path_runs_without_pytorch(v2_small, cache_dir, package_root):
    _, onnx_path = v2_small
    code = (
        "import sys; sys.modules['torch'] = None\n"
        'from mono_depth_ros.core.preprocessing import prepare_input\n'
        'from mono_depth_ros.inference.tensorrt_backend import TensorRTBackend\n'
        'import numpy as np\n'
        f'backend = TensorRTBackend({onnx_path!r}, "fp16", {INPUT_SIZE}, {str(cache_dir)!r})\n'
        'rgb = np.zeros((480, 640, 3), np.uint8)\n'
        'print(backend.infer_rgb(rgb, 518).shape, backend.validation.passed)\n')
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                            timeout=900, cwd=package_root)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == '(518, 686) True'


def test_the_node_loader_serves_from_onnxruntime_until_the_engine_is_built(
        v2_small, tmp_path, frames_and_references):
    import time

    from mono_depth_ros.inference.selection import load_backend

    _, onnx_path = v2_small
    backend, _ = load_backend(onnx_path, backend='tensorrt', device='cuda', precision='fp16',
                              input_size=INPUT_SIZE, engine_cache_dir=str(tmp_path),
                              background_build=True)
    rgb = np.zeros((480, 640, 3), np.uint8)
    with backend:
        assert backend.serving == 'onnxruntime'
        backend.infer_rgb(rgb, INPUT_SIZE)  # starts the build
        deadline = time.monotonic() + 900
        while backend.serving == 'onnxruntime' and time.monotonic() < deadline:
            backend.infer_rgb(rgb, INPUT_SIZE)
        values = backend.diagnostic_values()
        assert values['serving_backend'] == 'tensorrt', values
        assert values['engine_build_s'] > 0 and 'passed' in values['engine_validation']


def test_engine_from_another_gpu_or_a_corrupt_file_is_refused(v2_small, cache_dir, tmp_path):
    _, onnx_path = v2_small
    cached = ensure_engine(onnx_path, 'fp16', INPUT_SIZE, cache_dir)
    moved = tmp_path / 'moved.engine'
    moved.write_bytes(cached.path.read_bytes())
    sidecar = json.loads(sidecar_path(cached.path).read_text())
    sidecar['key_fields']['gpu_name'] = 'Some Other GPU'
    sidecar['key'] = engine_cache_key(sidecar['key_fields'])
    sidecar_path(moved).write_text(json.dumps(sidecar))
    with pytest.raises(ModelLoadError, match="'Some Other GPU'"):
        TensorRTBackend(str(moved))
    truncated = tmp_path / 'truncated.engine'
    truncated.write_bytes(cached.path.read_bytes()[:4096])
    with pytest.raises(ModelLoadError, match='truncated.engine'):
        TensorRTBackend(str(truncated))


def test_build_engine_command_prints_the_engine_path(v2_small, cache_dir, package_root):
    _, onnx_path = v2_small
    result = subprocess.run(
        [sys.executable, '-m', 'mono_depth_ros.tools.cli', 'build-engine', '--onnx', onnx_path,
         '--precision', 'fp16', '--cache-dir', str(cache_dir)],
        capture_output=True, text=True, timeout=900, cwd=package_root)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(ensure_engine(onnx_path, 'fp16', INPUT_SIZE,
                                                      cache_dir).path)


@pytest.mark.slow
def test_int8_engine_calibrates_from_images_and_runs(v2_small, tmp_path):
    from mono_depth_ros.inference.base import BackendUnavailableError
    from mono_depth_ros.inference.trt_compat import TensorRT

    try:
        TensorRT(tensorrt).check_int8_support()
    except BackendUnavailableError as error:
        pytest.skip(str(error))
    _, onnx_path = v2_small
    images = tmp_path / 'images'
    images.mkdir()
    rng = np.random.default_rng(5)
    for index in range(4):
        coarse = rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)
        cv2.imwrite(str(images / f'{index}.png'), cv2.resize(coarse, (640, 480)))
    calibration = CalibrationSource(image_dir=str(images))
    with TensorRTBackend(onnx_path, precision='int8', input_size=308, cache_dir=tmp_path,
                         calibration=calibration) as backend:
        rgb = cv2.cvtColor(cv2.imread(str(images / '0.png')), cv2.COLOR_BGR2RGB)
        prediction = backend.infer(prepare_input(rgb, 308))
        assert prediction.shape == (308, 406) and np.isfinite(prediction).all()
    assert {path.suffix for path in tmp_path.iterdir()} >= {'.engine', '.json', '.calib',
                                                            '.cache'}


@pytest.mark.parametrize('precision, tolerance', [('fp32', 1e-3), ('fp16', 1e-2)])
def test_a_frame_engine_matches_pytorch_at_the_frame_size(
        bench, v2_small, cache_dir, precision, tolerance):
    """The engine made for a camera: TensorRT's own resizes against OpenCV's around PyTorch."""
    from mono_depth_ros.core.preprocessing import output_to_input_size

    model, onnx_path = v2_small
    height, width = FRAMES['4:3']
    coarse = np.random.default_rng(9).integers(0, 256, (12, 16, 3), dtype=np.uint8)
    rgb = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    tensor = prepare_input(rgb, INPUT_SIZE)
    with torch.inference_mode():
        reference = model(pixel_values=torch.from_numpy(tensor)).predicted_depth[0].numpy()
    with TensorRTBackend(onnx_path, precision=precision, input_size=INPUT_SIZE,
                         cache_dir=cache_dir, frame_size=(height, width)) as backend:
        assert backend.frame_size == (height, width) and backend.validation.passed
        depth = backend.infer_rgb(rgb, INPUT_SIZE)
    assert depth.shape == (height, width)
    expected = output_to_input_size(reference, width, height)
    assert bench.abs_rel(depth, expected) <= tolerance
