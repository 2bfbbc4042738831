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

"""Stand-ins for the tensorrt module and a CUDA device, for the TensorRT logic tests.

Each stand-in has only the methods of one API surface: the TensorRT 10 tensor API, TensorRT 8.6
(tensor and binding APIs side by side), the binding API alone (TensorRT 8.0-8.4), and TensorRT
11's builder (no FP16/INT8 flags, no implicit INT8 calibration, strongly typed networks). Their
"engine" doubles the first input channel, reading and writing the runner's buffers through
their raw addresses, as TensorRT would.
"""

import ctypes
import hashlib
import json
import pathlib
import types

import numpy as np

from mono_depth_ros.inference import engine_builder

# The shape profile (min, opt, max) the stand-in engines accept.
PROFILE = ((1, 3, 14, 14), (1, 3, 28, 42), (1, 3, 56, 56))


class FakeEnum:
    """A pybind11-like enum member: a name and an int value."""

    def __init__(self, name: str, value: int):
        self.name, self.value = name, value

    def __int__(self) -> int:
        return self.value


def fake_enum(*names: str) -> types.SimpleNamespace:
    return types.SimpleNamespace(**{name: FakeEnum(name, i) for i, name in enumerate(names)})


IO_MODE = fake_enum('NONE', 'INPUT', 'OUTPUT')
DATA_TYPE = fake_enum('FLOAT', 'HALF', 'INT8', 'INT32', 'BOOL', 'UINT8')
SEVERITY = fake_enum('INTERNAL_ERROR', 'ERROR', 'WARNING', 'INFO', 'VERBOSE')


def floats_at(address: int, count: int) -> np.ndarray:
    """Return the float32 array of ``count`` values at a raw device (here: host) address."""
    return np.ctypeslib.as_array((ctypes.c_float * count).from_address(address))


def fake_forward(input_address: int, output_address: int, shape: tuple,
                 factor: float = 2.0) -> None:
    """Run the stand-in network: output (1, h, w) = 2 x input channel 0, through raw pointers.

    ``factor`` other than 2 makes a "wrong" engine, one that runs and gives other depth.
    """
    height, width = shape[2], shape[3]
    source = floats_at(input_address, int(np.prod(shape))).reshape(shape)
    floats_at(output_address, height * width).reshape(1, height, width)[...] = (
        factor * source[0, 0])


def _within_profile(shape, profile=PROFILE) -> bool:
    return all(lo <= size <= hi for size, lo, hi in zip(shape, profile[0], profile[2]))


class TensorApiContext:
    """IExecutionContext, tensor API (TensorRT >= 8.5)."""

    def __init__(self, engine):
        self.engine, self.calls, self.shapes, self.addresses = engine, [], {}, {}

    def set_input_shape(self, name, shape):
        self.calls.append('set_input_shape')
        self.shapes[name] = tuple(shape)
        return _within_profile(shape, getattr(self.engine, 'profile', PROFILE))

    def get_tensor_shape(self, name):
        height, width = self.shapes['image'][2:]
        return (1, 3, height, width) if name == 'image' else (1, height, width)

    def set_tensor_address(self, name, address):
        self.calls.append('set_tensor_address')
        self.addresses[name] = address
        return True

    def execute_async_v3(self, stream_handle):
        self.calls.append('execute_async_v3')
        fake_forward(self.addresses['image'], self.addresses['depth'], self.shapes['image'],
                     getattr(self.engine, 'factor', 2.0))
        return True


class BindingApiContext:
    """IExecutionContext, binding API (TensorRT 8.x)."""

    def __init__(self, engine):
        self.engine, self.calls, self.shapes, self.addresses = engine, [], {}, {}

    def set_binding_shape(self, index, shape):
        self.calls.append('set_binding_shape')
        self.shapes['image'] = tuple(shape)
        return _within_profile(shape)

    def get_binding_shape(self, index):
        height, width = self.shapes['image'][2:]
        return (1, 3, height, width) if index == 0 else (1, height, width)

    def execute_async_v2(self, bindings, stream_handle):
        self.calls.append('execute_async_v2')
        fake_forward(bindings[0], bindings[1], self.shapes['image'])
        return True


class Trt86Context(TensorApiContext, BindingApiContext):
    """TensorRT 8.6 has both APIs on one context."""


class TensorApiEngine:
    """ICudaEngine of TensorRT 10: the tensor API only."""

    context_class = TensorApiContext
    num_io_tensors = 2
    names = ('image', 'depth')

    def get_tensor_name(self, index):
        return self.names[index]

    def get_tensor_mode(self, name):
        return IO_MODE.INPUT if name == 'image' else IO_MODE.OUTPUT

    def get_tensor_dtype(self, name):
        return DATA_TYPE.FLOAT

    def get_tensor_shape(self, name):
        return (1, 3, -1, -1) if name == 'image' else (1, -1, -1)

    def get_tensor_profile_shape(self, name, profile_index):
        return list(PROFILE)

    def create_execution_context(self):
        self.context = self.context_class(self)
        return self.context


class BindingApiEngine:
    """ICudaEngine of TensorRT before 8.5: binding indices only."""

    context_class = BindingApiContext
    num_bindings = 2

    def get_binding_name(self, index):
        return ('image', 'depth')[index]

    def binding_is_input(self, index):
        return index == 0

    def get_binding_dtype(self, index):
        return DATA_TYPE.FLOAT

    def get_binding_shape(self, index):
        return (1, 3, -1, -1) if index == 0 else (1, -1, -1)

    def get_profile_shape(self, profile_index, binding):
        return list(PROFILE)

    def create_execution_context(self):
        self.context = self.context_class(self)
        return self.context


class Trt86Engine(TensorApiEngine, BindingApiEngine):
    """TensorRT 8.6: both APIs."""

    context_class = Trt86Context


class FakeILogger:
    Severity = SEVERITY

    def __init__(self):
        pass


class FakeRuntime:
    """trt.Runtime whose engines are all refused, saying why through the logger."""

    deserialised = []

    def __init__(self, logger):
        self.logger = logger

    def deserialize_cuda_engine(self, data):
        FakeRuntime.deserialised.append(bytes(data))
        self.logger.log(SEVERITY.ERROR, 'Serialization assertion failed: magic tag mismatch')
        return None


class OnnxContext:
    """IExecutionContext (tensor API) of an :class:`OnnxEngine`: ONNX Runtime does the work."""

    def __init__(self, engine):
        self.engine, self.calls, self.shapes, self.addresses = engine, [], {}, {}

    def set_input_shape(self, name, shape):
        self.calls.append('set_input_shape')
        self.shapes[name] = tuple(shape)
        if not _within_profile(shape, self.engine.profile):
            return False
        dtype = self.engine.numpy_dtype(name)
        output = self.engine.run(np.zeros(shape, dtype))
        self.shapes[self.engine.names[1]] = tuple(output.shape)
        return True

    def get_tensor_shape(self, name):
        return self.shapes[name]

    def set_tensor_address(self, name, address):
        self.calls.append('set_tensor_address')
        self.addresses[name] = address
        return True

    def execute_async_v3(self, stream_handle):
        self.calls.append('execute_async_v3')
        source, target = self.engine.names
        dtype = self.engine.numpy_dtype(source)
        shape = self.shapes[source]
        count = int(np.prod(shape))
        raw = (ctypes.c_uint8 * (count * np.dtype(dtype).itemsize)).from_address(
            self.addresses[source])
        tensor = np.frombuffer(raw, dtype=dtype, count=count).reshape(shape).copy()
        output = self.engine.run(tensor)
        floats_at(self.addresses[target], output.size).reshape(output.shape)[...] = output
        return True


class OnnxEngine(TensorApiEngine):
    """A TensorRT 10 engine that runs, on ONNX Runtime, the very ONNX graph TensorRT parsed.

    ``factor`` / 2 scales its output: 2 is right, anything else a "wrong" engine.
    """

    context_class = OnnxContext

    def __init__(self, onnx_bytes: bytes, profile: tuple, factor: float = 2.0):
        import onnx
        import onnxruntime

        model = onnx.load_from_string(onnx_bytes)
        self.names = (model.graph.input[0].name, model.graph.output[0].name)
        self._input_type = model.graph.input[0].type.tensor_type.elem_type
        self._session = onnxruntime.InferenceSession(onnx_bytes,
                                                     providers=['CPUExecutionProvider'])
        self.profile = tuple(tuple(int(size) for size in shape) for shape in profile)
        self.factor = factor

    def numpy_dtype(self, name):
        return np.uint8 if name == self.names[0] and self._input_type == 2 else np.float32

    def run(self, tensor):
        output = self._session.run(None, {self.names[0]: tensor})[0]
        return (output * (self.factor / 2.0)).astype(np.float32)

    def get_tensor_mode(self, name):
        return IO_MODE.INPUT if name == self.names[0] else IO_MODE.OUTPUT

    def get_tensor_dtype(self, name):
        return DATA_TYPE.UINT8 if self.numpy_dtype(name) == np.uint8 else DATA_TYPE.FLOAT

    def get_tensor_shape(self, name):
        return self.profile[0] if name == self.names[0] else (-1, -1, -1)

    def get_tensor_profile_shape(self, name, profile_index):
        return list(self.profile)


# What ProfileBuilder built, by engine bytes: (parsed ONNX bytes, profile).
BUILT_ENGINES = {}


class WorkingRuntime(FakeRuntime):
    """trt.Runtime that deserialises what :class:`ProfileBuilder` built into an OnnxEngine.

    ``factor`` (class attribute) is given to the engines: 2 is right, anything else wrong.
    """

    factor = 2.0

    def deserialize_cuda_engine(self, data):
        FakeRuntime.deserialised.append(bytes(data))
        built = BUILT_ENGINES.get(bytes(data))
        if built is None:
            return super().deserialize_cuda_engine(data)
        return OnnxEngine(*built, WorkingRuntime.factor)


class FakeNetwork:
    num_inputs = 1

    def get_input(self, index):
        return types.SimpleNamespace(name='image', shape=(1, 3, -1, -1))


class FakeParser:
    """trt.OnnxParser that records, for each file parsed, its name and its graph's I/O types."""

    num_errors = 0
    parsed = []
    refuses_uint8 = False  # True: a TensorRT whose parser takes no uint8 network input

    def __init__(self, network, logger):
        self.network = network

    def parse_from_file(self, path):
        import onnx

        model = onnx.load(str(path))
        self.network.onnx_bytes = pathlib.Path(path).read_bytes()
        if self.refuses_uint8 and model.graph.input[0].type.tensor_type.elem_type == 2:
            return False
        FakeParser.parsed.append({
            'name': pathlib.Path(path).name,
            'inputs': [value.type.tensor_type.elem_type for value in model.graph.input],
            'outputs': [value.type.tensor_type.elem_type for value in model.graph.output]})
        return True


class FakeProfile:
    def set_shape(self, name, minimum, optimum, maximum):
        self.name, self.shapes = name, (tuple(minimum), tuple(optimum), tuple(maximum))


class FakeTimingCache:
    """ITimingCache as a set of entries (serialised: sorted, comma-separated)."""

    def __init__(self, data: bytes):
        self.data = bytes(data)
        self.entries = set(filter(None, self.data.split(b',')))

    def combine(self, other, ignore_mismatch):
        self.entries |= other.entries
        return True

    def serialize(self):
        return b','.join(sorted(self.entries))


class FakeConfig:
    """IBuilderConfig of TensorRT >= 8.4 (memory pools)."""

    def __init__(self):
        self.flags, self.cleared, self.pools, self.profiles = set(), set(), {}, []
        self.int8_calibrator = self.calibration_profile = self.timing_cache = None

    def set_memory_pool_limit(self, pool, size):
        self.pools[pool.name] = size

    def set_flag(self, flag):
        self.flags.add(flag.name)

    def clear_flag(self, flag):
        self.cleared.add(flag.name)

    def add_optimization_profile(self, profile):
        self.profiles.append(profile)
        return 0

    def set_calibration_profile(self, profile):
        self.calibration_profile = profile

    def create_timing_cache(self, data):
        return FakeTimingCache(bytes(data))

    def set_timing_cache(self, cache, ignore_mismatch):
        self.timing_cache = cache
        return True

    def get_timing_cache(self):
        return self.timing_cache


class OldConfig:
    """IBuilderConfig before memory pools: only max_workspace_size."""

    max_workspace_size = 0


class FakeBuilder:
    """trt.Builder of TensorRT 10 (no max_batch_size: always explicit batch)."""

    made = []

    def __init__(self, logger):
        FakeBuilder.made.append(self)
        self.network_flags = None

    def create_network(self, flags):
        self.network_flags = flags
        return FakeNetwork()

    def create_builder_config(self):
        self.config = FakeConfig()
        return self.config

    def create_optimization_profile(self):
        return FakeProfile()

    def build_serialized_network(self, network, config):
        calibrator = config.int8_calibrator
        if calibrator is not None and calibrator.read_calibration_cache() is None:
            calibrator.write_calibration_cache(b'calibration-table')  # "calibrated"
        if config.timing_cache is not None:
            config.timing_cache.entries.add(f'tactics {len(FakeBuilder.made)}'.encode())
        return ('ENGINE ' + ','.join(sorted(config.flags))).encode()


class ProfileBuilder(FakeBuilder):
    """A TensorRT 10 builder whose engines :class:`WorkingRuntime` can run (see BUILT_ENGINES)."""

    def build_serialized_network(self, network, config):
        data = super().build_serialized_network(network, config)
        profile = config.profiles[0].shapes
        data += b'|' + json.dumps(profile).encode() + b'|' + hashlib.sha256(
            network.onnx_bytes).hexdigest().encode()
        BUILT_ENGINES[data] = (network.onnx_bytes, profile)
        return data


class Fake86Builder(FakeBuilder):
    """trt.Builder of TensorRT 8.6: implicit batch still exists, so the flag is needed."""

    max_batch_size = 1


def fake_tensorrt(version: str = '10.3.0', builder: type = FakeBuilder) -> types.ModuleType:
    """Return a stand-in ``tensorrt`` module with the given version's builder.

    From version 11 on it has what TensorRT 11 has: no FP16/INT8 builder flags, no implicit
    INT8 calibration, no EXPLICIT_BATCH flag; STRONGLY_TYPED networks.
    """
    module = types.ModuleType('tensorrt')
    module.__version__ = version
    module.TensorIOMode = IO_MODE
    module.DataType = DATA_TYPE
    module.ILogger = FakeILogger
    module.Runtime = FakeRuntime
    module.Builder = builder
    module.OnnxParser = FakeParser
    module.BuilderFlag = fake_enum('FP16', 'INT8', 'TF32')
    module.MemoryPoolType = fake_enum('WORKSPACE')
    module.NetworkDefinitionCreationFlag = fake_enum('EXPLICIT_BATCH')
    module.IInt8EntropyCalibrator2 = type('IInt8EntropyCalibrator2', (), {})
    if int(version.split('.')[0]) >= 11:
        module.BuilderFlag = fake_enum('TF32', 'BF16')
        module.NetworkDefinitionCreationFlag = fake_enum('STRONGLY_TYPED')
        del module.IInt8EntropyCalibrator2
    return module


def use_stand_in_tensorrt(monkeypatch, version: str, working: bool = False,
                          **device) -> types.ModuleType:
    """Make ensure_engine see the stand-in of TensorRT ``version`` and a stand-in GPU.

    ``working``: engines are built by :class:`ProfileBuilder` and deserialised by
    :class:`WorkingRuntime`, so a whole TensorRTBackend runs on them.
    """
    module = fake_tensorrt(version, ProfileBuilder if working else FakeBuilder)
    if working:
        module.Runtime = WorkingRuntime
    monkeypatch.setattr(engine_builder, 'import_tensorrt', lambda: module)
    monkeypatch.setattr(engine_builder, 'open_cuda', lambda: stand_in_cuda(**device))
    return module


# The CUDA runtime (cuda.bindings.runtime) ---------------------------------------------------
class FakeCudaError(FakeEnum):
    """A cudaError_t member; compares equal to members of the same value."""

    def __eq__(self, other):
        return int(self) == int(other)

    def __hash__(self):
        return self.value


class FakeDeviceProperties(types.SimpleNamespace):
    """cudaDeviceProp: the fields the runtime identity reads."""


def fake_cuda_runtime(name: bytes = b'Stand-in GPU', capability: tuple = (8, 7),
                      sm_count: int = 8, total_memory: int = 16 << 30,
                      integrated: int = 0) -> types.SimpleNamespace:
    """Return a stand-in of ``cuda.bindings.runtime``: device memory is host memory.

    Its functions have the names and parameters of the real module's (checked against it in
    test_cuda_runtime.py where cuda-bindings is installed) and return (cudaError_t, value...)
    tuples like them; copies are done at once with ctypes.memmove.
    """
    success = FakeCudaError('cudaSuccess', 0)
    bad_pointer = FakeCudaError('cudaErrorInvalidValue', 1)
    blocks, state = {}, {'next_handle': 1, 'copies': [], 'frees': 0}

    def allocate(size):
        block = ctypes.create_string_buffer(int(size))
        blocks[ctypes.addressof(block)] = block
        return success, ctypes.addressof(block)

    def release(address):
        if blocks.pop(int(address), None) is None:
            return (bad_pointer,)
        state['frees'] += 1
        return (success,)

    def handle():
        state['next_handle'] += 1
        return state['next_handle']

    def cudaGetDeviceCount():  # noqa: N802 (the real module's names)
        return success, 1

    def cudaGetDevice():  # noqa: N802
        return success, 0

    def cudaGetDeviceProperties(device):  # noqa: N802
        return success, FakeDeviceProperties(
            name=name + b'\x00' * 8, major=capability[0], minor=capability[1],
            multiProcessorCount=sm_count, totalGlobalMem=total_memory, integrated=integrated)

    def cudaGetErrorName(error):  # noqa: N802
        return success, error.name.encode()

    def cudaGetErrorString(error):  # noqa: N802
        return success, b'invalid argument'

    def cudaMalloc(size):  # noqa: N802
        return allocate(size)

    def cudaFree(devPtr):  # noqa: N802, N803
        return release(devPtr)

    def cudaMallocHost(size):  # noqa: N802
        return allocate(size)

    def cudaFreeHost(ptr):  # noqa: N802
        return release(ptr)

    def cudaStreamCreateWithFlags(flags):  # noqa: N802
        return success, handle()

    def cudaStreamSynchronize(stream):  # noqa: N802
        return (success,)

    def cudaStreamDestroy(stream):  # noqa: N802
        return (success,)

    def cudaMemcpyAsync(dst, src, count, kind, stream):  # noqa: N802
        state['copies'].append(kind.name)
        ctypes.memmove(int(dst), int(src), int(count))
        return (success,)

    def cudaEventCreate():  # noqa: N802
        return success, handle()

    def cudaEventRecord(event, stream):  # noqa: N802
        return (success,)

    def cudaEventSynchronize(event):  # noqa: N802
        return (success,)

    def cudaEventElapsedTime(start, end):  # noqa: N802
        return success, 0.5

    def cudaEventDestroy(event):  # noqa: N802
        return (success,)

    scope = dict(locals())
    functions = {name: value for name, value in scope.items() if name.startswith('cuda')}
    return types.SimpleNamespace(
        **functions, state=state, blocks=blocks, cudaStreamNonBlocking=1,
        cudaError_t=types.SimpleNamespace(cudaSuccess=success, cudaErrorInvalidValue=bad_pointer),
        cudaMemcpyKind=fake_enum('cudaMemcpyHostToHost', 'cudaMemcpyHostToDevice',
                                 'cudaMemcpyDeviceToHost'))


def stand_in_cuda(**device):
    """Return a CudaRuntime over the stand-in module."""
    from mono_depth_ros.inference.cuda_runtime import CudaRuntime

    return CudaRuntime(fake_cuda_runtime(**device))
