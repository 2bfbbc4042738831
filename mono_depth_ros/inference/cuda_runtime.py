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

"""The CUDA runtime for the TensorRT path, through NVIDIA's cuda-python, without PyTorch.

:class:`CudaRuntime` wraps the few calls TensorRT needs around it: device buffers
(``cudaMalloc``), pinned host arrays (``cudaMallocHost``, seen as numpy), one stream, events
and asynchronous copies, and the device's identity (name, compute capability, SM count, total
memory; on a Jetson the module model from the device tree). The module is
``cuda.bindings.runtime`` (cuda-python >= 12.6) or, on older cuda-python, ``cuda.cudart``;
it is imported when a runtime is made. Every call's error code is checked: a failure raises
:class:`CudaError` naming the call and CUDA's own message.
"""

import ctypes
from dataclasses import dataclass
import pathlib

import numpy as np

from mono_depth_ros.inference.errors import BackendUnavailableError

CUDA_PYTHON_MISSING = (
    "NVIDIA's cuda-python is not installed (python module cuda.bindings not importable): the "
    'TensorRT backend keeps its buffers and stream through it; pip install cuda-bindings '
    '(cuda-python on JetPack), the major version matching the CUDA of TensorRT')
# The runtime calls this module makes (the stand-in of the tests has exactly these).
RUNTIME_CALLS = (
    'cudaGetDeviceCount', 'cudaGetDevice', 'cudaGetDeviceProperties', 'cudaGetErrorName',
    'cudaGetErrorString', 'cudaMalloc', 'cudaFree', 'cudaMallocHost', 'cudaFreeHost',
    'cudaStreamCreateWithFlags', 'cudaStreamSynchronize', 'cudaStreamDestroy', 'cudaMemcpyAsync',
    'cudaEventCreate', 'cudaEventRecord', 'cudaEventSynchronize', 'cudaEventElapsedTime',
    'cudaEventDestroy')
# Where a Jetson names its module ("NVIDIA Jetson Orin NX Engineering Reference ...").
DEVICE_TREE_MODELS = ('/proc/device-tree/model', '/sys/firmware/devicetree/base/model')


class CudaError(RuntimeError):
    """A CUDA runtime call failed; the message names the call and CUDA's error."""


def import_cuda_runtime():
    """Return cuda-python's runtime module, or raise BackendUnavailableError saying what to do."""
    try:
        from cuda.bindings import runtime
    except ImportError:
        try:
            from cuda import cudart as runtime  # cuda-python before 12.6
        except ImportError as error:
            raise BackendUnavailableError(CUDA_PYTHON_MISSING) from error
    return runtime


@dataclass(frozen=True)
class DeviceIdentity:
    """What tells one GPU (or Jetson module) from another, for engine cache keys."""

    gpu_name: str
    compute_capability: str
    sm_count: int
    total_memory_mb: int
    integrated: bool
    module_model: str = ''

    def fields(self) -> dict:
        """Return the identity as the cache key's runtime fields."""
        return {'gpu_name': self.gpu_name, 'compute_capability': self.compute_capability,
                'sm_count': self.sm_count, 'total_memory_mb': self.total_memory_mb,
                'module_model': self.module_model}


def device_tree_model(paths: tuple[str, ...] = DEVICE_TREE_MODELS) -> str:
    """Return the board model of the device tree (Jetson modules), or '' where there is none."""
    for path in paths:
        try:
            raw = pathlib.Path(path).read_bytes()
        except OSError:
            continue
        text = raw.replace(b'\x00', b' ').decode('utf-8', 'replace').strip()
        if text:
            return text
    return ''


class DeviceBuffer:
    """``nbytes`` of device memory at ``address``; freed by :meth:`free` (or the runtime)."""

    def __init__(self, runtime: 'CudaRuntime', nbytes: int):
        self._runtime = runtime
        self.nbytes = int(nbytes)
        self.address = int(runtime.call('cudaMalloc', max(self.nbytes, 1)))

    def free(self) -> None:
        """Release the memory (once)."""
        if self.address:
            self._runtime.call('cudaFree', self.address)
            self.address = 0


class PinnedArray:
    """A page-locked host array (``cudaMallocHost``) seen as numpy: ``array``."""

    def __init__(self, runtime: 'CudaRuntime', shape: tuple, dtype):
        self._runtime = runtime
        dtype = np.dtype(dtype)
        self.nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        self.address = int(runtime.call('cudaMallocHost', max(self.nbytes, 1)))
        raw = (ctypes.c_uint8 * max(self.nbytes, 1)).from_address(self.address)
        self.array = np.frombuffer(raw, dtype=np.uint8, count=self.nbytes).view(dtype).reshape(
            shape)

    def free(self) -> None:
        """Release the memory (once); ``array`` must not be used afterwards."""
        if self.address:
            self.array = None
            self._runtime.call('cudaFreeHost', self.address)
            self.address = 0


class CudaRuntime:
    """cuda-python's runtime behind checked calls; ``module`` is a stand-in in the tests."""

    def __init__(self, module=None):
        self.rt = module if module is not None else import_cuda_runtime()
        self._success = self.rt.cudaError_t.cudaSuccess

    def call(self, name: str, *arguments):
        """Call ``cudaNAME(*arguments)``; return its value(s) or raise CudaError."""
        result = getattr(self.rt, name)(*arguments)
        if not isinstance(result, tuple):
            result = (result,)
        error, values = result[0], result[1:]
        if error != self._success:
            raise CudaError(f'{name} failed: {self.error_text(error)}')
        if not values:
            return None
        return values[0] if len(values) == 1 else values

    def error_text(self, error) -> str:
        """Return 'cudaErrorX: what it means' for an error code."""
        try:
            name = self.rt.cudaGetErrorName(error)[1]
            text = self.rt.cudaGetErrorString(error)[1]
        except Exception:  # an error code the binding cannot describe
            return str(error)
        return f'{_text(name)}: {_text(text)}'

    # The device ----------------------------------------------------------------------------
    def device_count(self) -> int:
        """Return how many CUDA devices there are (0 without a driver or a GPU; never raises)."""
        try:
            return int(self.call('cudaGetDeviceCount'))
        except CudaError:
            return 0

    def identity(self, device_index: int | None = None) -> DeviceIdentity:
        """Return the identity of the current (or the given) device."""
        index = int(self.call('cudaGetDevice')) if device_index is None else int(device_index)
        properties = self.call('cudaGetDeviceProperties', index)
        integrated = bool(getattr(properties, 'integrated', 0))
        return DeviceIdentity(
            gpu_name=_text(properties.name),
            compute_capability=f'{int(properties.major)}.{int(properties.minor)}',
            sm_count=int(properties.multiProcessorCount),
            total_memory_mb=int(properties.totalGlobalMem) >> 20,
            integrated=integrated,
            module_model=device_tree_model() if integrated else '')

    # Memory, streams, events ---------------------------------------------------------------
    def device_buffer(self, nbytes: int) -> DeviceBuffer:
        """Return ``nbytes`` of device memory."""
        return DeviceBuffer(self, nbytes)

    def pinned_array(self, shape: tuple, dtype) -> PinnedArray:
        """Return a page-locked host array of ``shape`` and ``dtype``."""
        return PinnedArray(self, tuple(int(size) for size in shape), dtype)

    def stream(self):
        """Return a new non-blocking CUDA stream; :meth:`destroy_stream` ends it."""
        return self.call('cudaStreamCreateWithFlags', int(self.rt.cudaStreamNonBlocking))

    def destroy_stream(self, stream) -> None:
        """Synchronise and destroy ``stream``."""
        self.call('cudaStreamSynchronize', stream)
        self.call('cudaStreamDestroy', stream)

    def synchronize(self, stream) -> None:
        """Wait until everything queued on ``stream`` has run."""
        self.call('cudaStreamSynchronize', stream)

    def copy_to_device(self, device_address: int, host: PinnedArray, stream) -> None:
        """Queue a copy of the whole pinned ``host`` array to ``device_address``."""
        self.call('cudaMemcpyAsync', int(device_address), host.address, host.nbytes,
                  self.rt.cudaMemcpyKind.cudaMemcpyHostToDevice, stream)

    def copy_to_host(self, host: PinnedArray, device_address: int, stream) -> None:
        """Queue a copy of ``host.nbytes`` from ``device_address`` into the pinned array."""
        self.call('cudaMemcpyAsync', host.address, int(device_address), host.nbytes,
                  self.rt.cudaMemcpyKind.cudaMemcpyDeviceToHost, stream)

    def event(self):
        """Return a new CUDA event; :meth:`destroy_event` ends it."""
        return self.call('cudaEventCreate')

    def record(self, event, stream) -> None:
        """Record ``event`` on ``stream``."""
        self.call('cudaEventRecord', event, stream)

    def elapsed_ms(self, start, end) -> float:
        """Return the milliseconds between two recorded events (waits for ``end``)."""
        self.call('cudaEventSynchronize', end)
        return float(self.call('cudaEventElapsedTime', start, end))

    def destroy_event(self, event) -> None:
        """Destroy ``event``."""
        self.call('cudaEventDestroy', event)


def stream_handle(stream) -> int:
    """Return a stream as the integer handle TensorRT's ``execute_async_*`` take."""
    return int(stream)  # cudaStream_t's int() is the handle; its getPtr() is not


def _text(value) -> str:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).split(b'\x00', 1)[0].decode('utf-8', 'replace')
    return str(value)
