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

"""The CUDA runtime wrapper of the TensorRT path: its stand-in checked against cuda-python."""

import importlib.util
import inspect
import subprocess
import sys

import numpy as np
import pytest

from mono_depth_ros.inference.cuda_runtime import (
    CudaError, CudaRuntime, device_tree_model, import_cuda_runtime, RUNTIME_CALLS, stream_handle)
from mono_depth_ros.inference.errors import BackendUnavailableError
from tensorrt_stand_in import fake_cuda_runtime, stand_in_cuda

HAVE_CUDA_BINDINGS = importlib.util.find_spec('cuda') is not None and (
    importlib.util.find_spec('cuda.bindings') is not None)


@pytest.mark.skipif(not HAVE_CUDA_BINDINGS, reason='cuda-bindings is not installed here')
def test_the_stand_in_has_the_names_and_parameters_of_cuda_bindings_runtime():
    real = import_cuda_runtime()
    stand_in = fake_cuda_runtime()
    for name in RUNTIME_CALLS:
        expected = list(inspect.signature(getattr(real, name)).parameters)
        assert list(inspect.signature(getattr(stand_in, name)).parameters) == expected, name
    for kind in ('cudaMemcpyHostToDevice', 'cudaMemcpyDeviceToHost'):
        assert getattr(real.cudaMemcpyKind, kind).name == getattr(
            stand_in.cudaMemcpyKind, kind).name
    assert int(real.cudaStreamNonBlocking) == stand_in.cudaStreamNonBlocking
    assert stream_handle(real.cudaStream_t()) == 0  # the handle, not the holder's address


@pytest.mark.skipif(not HAVE_CUDA_BINDINGS, reason='cuda-bindings is not installed here')
def test_without_a_gpu_cuda_bindings_imports_and_reports_no_device():
    assert CudaRuntime().device_count() == 0  # no driver here: an error code, not a crash


def test_the_tensorrt_path_does_not_import_torch():
    code = ('import sys; from mono_depth_ros.inference import tensorrt_backend, engine_switch, '
            'engine_validation; from mono_depth_ros.tools import build_engine; '
            "print('torch' in sys.modules)")
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                            timeout=60, check=True)
    assert result.stdout.strip() == 'False'


def test_without_cuda_python_the_backend_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, 'cuda', None)
    monkeypatch.setitem(sys.modules, 'cuda.bindings', None)
    with pytest.raises(BackendUnavailableError, match='pip install cuda-bindings'):
        import_cuda_runtime()


def test_pinned_arrays_and_device_buffers_round_trip_through_the_stream():
    cuda = stand_in_cuda()
    host = cuda.pinned_array((2, 3), np.float16)
    host.array[...] = np.arange(6).reshape(2, 3)
    device = cuda.device_buffer(host.nbytes)
    back = cuda.pinned_array((2, 3), np.float16)
    stream = cuda.stream()
    cuda.copy_to_device(device.address, host, stream)
    cuda.copy_to_host(back, device.address, stream)
    cuda.synchronize(stream)
    np.testing.assert_array_equal(back.array, host.array)
    assert cuda.rt.state['copies'] == ['cudaMemcpyHostToDevice', 'cudaMemcpyDeviceToHost']
    start, end = cuda.event(), cuda.event()
    cuda.record(start, stream)
    cuda.record(end, stream)
    assert cuda.elapsed_ms(start, end) == 0.5
    for buffer in (host, device, back, device):  # freeing twice is harmless
        buffer.free()
    assert cuda.rt.state['frees'] == 3 and not cuda.rt.blocks
    cuda.destroy_stream(stream)


def test_a_failed_call_names_the_call_and_cudas_error():
    cuda = stand_in_cuda()
    with pytest.raises(CudaError, match=r'cudaFree failed: cudaErrorInvalidValue: invalid'):
        cuda.call('cudaFree', 12345)


def test_identity_names_the_module_and_reads_the_jetson_device_tree(tmp_path, monkeypatch):
    from mono_depth_ros.inference import cuda_runtime

    model = tmp_path / 'model'
    model.write_bytes(b'NVIDIA Jetson Orin NX Engineering Reference Developer Kit\x00')
    monkeypatch.setattr(cuda_runtime, 'DEVICE_TREE_MODELS', (str(tmp_path / 'none'),
                                                             str(model)))
    assert device_tree_model(cuda_runtime.DEVICE_TREE_MODELS).startswith('NVIDIA Jetson Orin NX')
    monkeypatch.setattr(cuda_runtime, 'device_tree_model',
                        lambda: device_tree_model((str(model),)))
    orin = stand_in_cuda(name=b'Orin', sm_count=8, total_memory=15_656 << 20,
                         integrated=1).identity()
    assert orin.fields() == {
        'gpu_name': 'Orin', 'compute_capability': '8.7', 'sm_count': 8,
        'total_memory_mb': 15_656,
        'module_model': 'NVIDIA Jetson Orin NX Engineering Reference Developer Kit'}
    desktop = stand_in_cuda(name=b'NVIDIA RTX 4090', capability=(8, 9), integrated=0).identity()
    assert desktop.module_model == '' and desktop.compute_capability == '8.9'
