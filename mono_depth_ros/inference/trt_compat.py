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

"""The one place that knows how TensorRT 8.6 and 10.x differ; every difference found by feature.

:class:`TensorRT` wraps a ``tensorrt`` module object (the real one, or a stand-in in tests) and
offers the calls the builder and the runner need. Each call tries the newer API and falls back:

* network creation: the ``EXPLICIT_BATCH`` flag only where implicit batch still exists (the
  builder has ``max_batch_size``; TensorRT 10 is always explicit and ignores the flag);
* workspace: ``set_memory_pool_limit(MemoryPoolType.WORKSPACE, ...)``, else ``max_workspace_size``;
* building: ``build_serialized_network``, else ``build_engine(...).serialize()``;
* running: the tensor API (``num_io_tensors``, ``set_input_shape``, ``set_tensor_address``,
  ``execute_async_v3``; TensorRT >= 8.5, so 8.6 and 10) where the engine and context have it,
  else the binding API (binding indices, ``set_binding_shape``, ``execute_async_v2``);
* precision: the FP16/INT8 builder flags where they exist (8.6, 10.x); TensorRT 11 has none:
  its networks are all strongly typed (it keeps ``STRONGLY_TYPED`` for compatibility, set here
  while it exists) and fp16 is built from an fp16 ONNX;
* implicit INT8 calibration: kept working on 10.x, where it is deprecated, with a warning;
  refused with a clear message on 11, which removed it.
"""

import collections
from dataclasses import dataclass
import logging

from mono_depth_ros.inference.base import BackendUnavailableError

TENSORRT_MISSING = ("TensorRT is not installed (python module 'tensorrt' not importable); "
                    "install the tensorrt wheel or use JetPack's system TensorRT")
_LOGGER = logging.getLogger('mono_depth_ros.inference.tensorrt')
# One TensorRT logger per tensorrt module: TensorRT warns when builders and runtimes differ.
_TRT_LOGGERS = {}


def import_tensorrt():
    """Return the ``tensorrt`` module, or raise BackendUnavailableError saying what is missing."""
    try:
        import tensorrt
    except ImportError as error:
        raise BackendUnavailableError(TENSORRT_MISSING) from error
    except OSError as error:  # the module is there, its shared libraries are not
        raise BackendUnavailableError(
            f'TensorRT is installed but its libraries do not load ({error}); check the CUDA '
            'and TensorRT library path (LD_LIBRARY_PATH)') from error
    return tensorrt


@dataclass(frozen=True)
class IOTensor:
    """One engine input or output: name, binding index, direction, dtype name, engine shape.

    ``shape`` has -1 for dimensions chosen at run time; ``dtype`` is the TensorRT DataType name
    (FLOAT, HALF, INT8, INT32, INT64, BOOL, UINT8, BF16).
    """

    name: str
    index: int
    is_input: bool
    dtype: str
    shape: tuple


def _dims(value) -> tuple:
    return tuple(int(size) for size in value)


def _enum_name(value) -> str:
    return str(getattr(value, 'name', value)).rsplit('.', 1)[-1]


class _TensorIO:
    """Named I/O tensors (TensorRT >= 8.5): addresses bound once, ``execute_async_v3``."""

    api = 'tensor'

    def __init__(self, trt, engine, context):
        self._engine, self._context = engine, context
        input_mode = trt.TensorIOMode.INPUT
        names = [engine.get_tensor_name(index) for index in range(engine.num_io_tensors)]
        self.tensors = [
            IOTensor(name, index, engine.get_tensor_mode(name) == input_mode,
                     _enum_name(engine.get_tensor_dtype(name)),
                     _dims(engine.get_tensor_shape(name)))
            for index, name in enumerate(names)]

    def profile_shapes(self, tensor: IOTensor) -> tuple:
        return tuple(_dims(shape)
                     for shape in self._engine.get_tensor_profile_shape(tensor.name, 0))

    def set_input_shape(self, tensor: IOTensor, shape: tuple) -> bool:
        return bool(self._context.set_input_shape(tensor.name, tuple(shape)))

    def shape_of(self, tensor: IOTensor) -> tuple:
        return _dims(self._context.get_tensor_shape(tensor.name))

    def set_address(self, tensor: IOTensor, address: int) -> None:
        if not self._context.set_tensor_address(tensor.name, int(address)):
            raise RuntimeError(f'TensorRT refused the buffer address of tensor {tensor.name!r}')

    def execute(self, stream_handle: int) -> bool:
        return bool(self._context.execute_async_v3(int(stream_handle)))


class _BindingIO:
    """Binding indices (TensorRT before 8.5): an address list passed to ``execute_async_v2``."""

    api = 'binding'

    def __init__(self, trt, engine, context):
        self._engine, self._context = engine, context
        self.tensors = [
            IOTensor(engine.get_binding_name(index), index, bool(engine.binding_is_input(index)),
                     _enum_name(engine.get_binding_dtype(index)),
                     _dims(engine.get_binding_shape(index)))
            for index in range(engine.num_bindings)]
        self._addresses = [0] * len(self.tensors)

    def profile_shapes(self, tensor: IOTensor) -> tuple:
        return tuple(_dims(shape) for shape in self._engine.get_profile_shape(0, tensor.index))

    def set_input_shape(self, tensor: IOTensor, shape: tuple) -> bool:
        return bool(self._context.set_binding_shape(tensor.index, tuple(shape)))

    def shape_of(self, tensor: IOTensor) -> tuple:
        return _dims(self._context.get_binding_shape(tensor.index))

    def set_address(self, tensor: IOTensor, address: int) -> None:
        self._addresses[tensor.index] = int(address)

    def execute(self, stream_handle: int) -> bool:
        return bool(self._context.execute_async_v2(bindings=list(self._addresses),
                                                   stream_handle=int(stream_handle)))


class TensorRT:
    """A ``tensorrt`` module (any supported version) behind the calls this package makes."""

    def __init__(self, module):
        self.trt = module
        self._runtimes = []  # a runtime must outlive the engines it deserialised

    @property
    def version(self) -> str:
        """Return the TensorRT version string, e.g. '10.3.0' or '8.6.1'."""
        return str(getattr(self.trt, '__version__', 'unknown'))

    @property
    def major(self) -> int:
        """Return the major version number (0 when unknown)."""
        head = self.version.split('.', 1)[0]
        return int(head) if head.isdigit() else 0

    # Logging -----------------------------------------------------------------------------
    def logger(self):
        """Return this process's TensorRT logger: forwards to Python logging, keeps the errors."""
        key = id(self.trt)
        if key not in _TRT_LOGGERS:
            _TRT_LOGGERS[key] = _make_forwarding_logger(self.trt)
        return _TRT_LOGGERS[key]

    def recent_errors(self) -> list[str]:
        """Return and clear the error messages TensorRT logged since the last call."""
        errors = getattr(_TRT_LOGGERS.get(id(self.trt)), 'errors', None)
        if not errors:
            return []
        messages = list(errors)
        errors.clear()
        return messages

    # Building ----------------------------------------------------------------------------
    @property
    def has_precision_flags(self) -> bool:
        """Return True where BuilderFlag.FP16 exists (weakly typed builds: 8.6, 10.x)."""
        return hasattr(self.trt.BuilderFlag, 'FP16')

    def check_int8_support(self) -> None:
        """Raise BackendUnavailableError where implicit INT8 calibration is gone (11 on)."""
        if not hasattr(self.trt.BuilderFlag, 'INT8') or not hasattr(
                self.trt, 'IInt8EntropyCalibrator2'):
            raise BackendUnavailableError(
                f'TensorRT {self.version} has no implicit INT8 calibration: use fp16, or an '
                'ONNX model with explicit Q/DQ nodes')

    def create_network(self, builder, strongly_typed: bool = False):
        """Return an explicit-batch network definition (flag only where it still exists).

        ``strongly_typed``: layers compute in the types of the ONNX file, not in precisions the
        builder picks (needs ``NetworkDefinitionCreationFlag.STRONGLY_TYPED``, TensorRT >= 9).
        """
        flags = 0
        creation_flags = self.trt.NetworkDefinitionCreationFlag
        explicit = getattr(creation_flags, 'EXPLICIT_BATCH', None)
        if explicit is not None and hasattr(builder, 'max_batch_size'):
            flags |= 1 << int(explicit)
        if strongly_typed:
            strong = getattr(creation_flags, 'STRONGLY_TYPED', None)
            if strong is not None:
                flags |= 1 << int(strong)
            elif self.has_precision_flags:  # 8.x: every network is weakly typed
                raise BackendUnavailableError(
                    f'TensorRT {self.version} cannot build strongly typed networks')
            # else: a TensorRT whose networks are all strongly typed and which dropped the flag
        return builder.create_network(flags)

    def init_plugins(self) -> None:
        """Register TensorRT's plugin library (needed by the ONNX parser and deserialising)."""
        if hasattr(self.trt, 'init_libnvinfer_plugins'):
            self.trt.init_libnvinfer_plugins(self.logger(), '')

    def set_workspace_limit(self, config, nbytes: int) -> None:
        """Cap the builder's scratch memory at ``nbytes``."""
        try:
            config.set_memory_pool_limit(self.trt.MemoryPoolType.WORKSPACE, int(nbytes))
        except AttributeError:
            config.max_workspace_size = int(nbytes)

    def set_flag(self, config, name: str) -> None:
        """Set ``BuilderFlag.<name>`` (FP16, INT8)."""
        config.set_flag(getattr(self.trt.BuilderFlag, name))

    def clear_flag(self, config, name: str) -> None:
        """Clear ``BuilderFlag.<name>`` where this version has it (TF32 from 8.x on)."""
        flag = getattr(self.trt.BuilderFlag, name, None)
        if flag is not None:
            config.clear_flag(flag)

    def calibrator_base(self) -> type:
        """Return the entropy calibrator base class (IInt8EntropyCalibrator2)."""
        self.check_int8_support()
        return self.trt.IInt8EntropyCalibrator2

    def set_int8_calibrator(self, config, calibrator, profile) -> str | None:
        """Attach ``calibrator`` (and its shape profile); return a warning to log, if any."""
        if not hasattr(config, 'int8_calibrator'):
            raise BackendUnavailableError(
                f'TensorRT {self.version} has no implicit INT8 calibration; use fp16, or an '
                'ONNX model with explicit Q/DQ nodes')
        config.int8_calibrator = calibrator
        if profile is not None and hasattr(config, 'set_calibration_profile'):
            config.set_calibration_profile(profile)
        if self.major >= 10:
            return (f'TensorRT {self.version} deprecates implicit INT8 calibration; it still '
                    'works here, but explicit quantization (Q/DQ in the ONNX) is the long-term '
                    'route')
        return None

    def build_serialized_network(self, builder, network, config) -> bytes | None:
        """Return the serialised engine, or None when the build failed."""
        try:
            build = builder.build_serialized_network
        except AttributeError:
            engine = builder.build_engine(network, config)
            return None if engine is None else bytes(engine.serialize())
        memory = build(network, config)
        return None if memory is None else bytes(memory)

    def load_timing_cache(self, config, data: bytes) -> bool:
        """Give the builder a timing cache (``data`` may be empty); return False if unusable."""
        try:
            cache = config.create_timing_cache(bytes(data))
            return bool(config.set_timing_cache(cache, False))
        except (AttributeError, TypeError, RuntimeError):
            return False

    def timing_cache_bytes(self, config, merge_with: bytes = b'') -> bytes | None:
        """Return the builder's timing cache serialised, or None when there is none.

        ``merge_with``: a serialised cache (another build's, saved meanwhile) whose entries
        are combined in first, so concurrent builds keep each other's timings.
        """
        try:
            cache = config.get_timing_cache()
        except AttributeError:
            return None
        if cache is None:
            return None
        if merge_with:
            try:
                cache.combine(config.create_timing_cache(bytes(merge_with)), True)
            except (AttributeError, TypeError, RuntimeError):
                pass  # an unreadable or foreign cache: keep this build's timings alone
        return bytes(cache.serialize())

    # Running -----------------------------------------------------------------------------
    def deserialize_engine(self, data: bytes):
        """Return the ICudaEngine of serialised ``data``, or None when TensorRT refuses it."""
        self.init_plugins()
        runtime = self.trt.Runtime(self.logger())
        engine = runtime.deserialize_cuda_engine(bytes(data))
        if engine is not None:
            self._runtimes.append(runtime)
        return engine

    def engine_io(self, engine, context):
        """Return the I/O binder for ``engine``: the tensor API where it exists, else bindings."""
        if hasattr(engine, 'num_io_tensors') and hasattr(context, 'execute_async_v3'):
            return _TensorIO(self.trt, engine, context)
        if hasattr(engine, 'num_bindings') and hasattr(context, 'execute_async_v2'):
            return _BindingIO(self.trt, engine, context)
        raise BackendUnavailableError(
            f'TensorRT {self.version} has neither the tensor API (execute_async_v3) nor the '
            'binding API (execute_async_v2)')


def _make_forwarding_logger(trt):
    """Return a ``trt.ILogger`` that forwards to Python logging and remembers recent errors."""
    severity = trt.ILogger.Severity
    errors = (severity.INTERNAL_ERROR, severity.ERROR)

    class ForwardingLogger(trt.ILogger):
        def __init__(self):
            trt.ILogger.__init__(self)
            self.errors = collections.deque(maxlen=20)

        def log(self, level, message):
            if level == severity.VERBOSE:
                return  # thousands per build; nothing a user reads
            if level in errors:
                self.errors.append(str(message))
                _LOGGER.error('TensorRT: %s', message)
            elif level == severity.WARNING:
                _LOGGER.warning('TensorRT: %s', message)
            else:
                _LOGGER.debug('TensorRT: %s', message)

    return ForwardingLogger()
