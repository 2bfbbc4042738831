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

"""The TensorRT backend: an ONNX model (built into a cached engine) or an engine file, run on CUDA.

:class:`EngineRunner` runs one engine through whichever I/O API the installed TensorRT has
(chosen in :mod:`trt_compat`): device buffers are torch CUDA tensors, host staging buffers are
pinned, everything runs on one CUDA stream, and buffers are reallocated only when the input
shape changes. :class:`TensorRTBackend` is the :class:`DepthBackend` around it.
"""

import contextlib
import dataclasses
import logging
import os
import pathlib

import numpy as np

from mono_depth_ros.core.errors import BadMessageError
from mono_depth_ros.inference.base import (
    BackendUnavailableError, DepthBackend, InputSpec, ModelInfo, ModelLoadError, prediction_to_2d)
from mono_depth_ros.inference.engine_builder import ensure_engine, runtime_identity
from mono_depth_ros.inference.engine_cache import check_engine_sidecar, engine_data_problem
from mono_depth_ros.inference.int8_calibration import CalibrationSource
from mono_depth_ros.inference.model_files import ENGINE_SUFFIXES
from mono_depth_ros.inference.trt_compat import import_cuda_torch, import_tensorrt, TensorRT

# TensorRT DataType name -> torch dtype name.
TORCH_DTYPES = {'FLOAT': 'float32', 'HALF': 'float16', 'BF16': 'bfloat16', 'INT8': 'int8',
                'UINT8': 'uint8', 'INT32': 'int32', 'INT64': 'int64', 'BOOL': 'bool'}


class EngineRunner:
    """Runs a deserialised engine with one (1, 3, h, w) input; returns its first output.

    ``device`` is 'cuda' for real engines; 'cpu' lets tests drive stand-in engines through
    the same code (no stream, no pinned memory).
    """

    def __init__(self, compat: TensorRT, engine, device: str = 'cuda'):
        import torch

        self._torch = torch
        self._compat = compat  # holds the runtime that deserialised the engine
        self._engine = engine
        self._context = engine.create_execution_context()
        if self._context is None:
            raise BackendUnavailableError('TensorRT could not create an execution context '
                                          '(out of GPU memory?)')
        self.io = compat.engine_io(engine, self._context)
        inputs = [tensor for tensor in self.io.tensors if tensor.is_input]
        self.outputs = [tensor for tensor in self.io.tensors if not tensor.is_input]
        if len(inputs) != 1 or not self.outputs:
            raise BackendUnavailableError(
                f'the engine has {len(inputs)} inputs and {len(self.outputs)} outputs; a depth '
                'model has one input and one output')
        self.input = inputs[0]
        self.profile = self.io.profile_shapes(self.input)
        self.device = torch.device(device)
        self._cuda = self.device.type == 'cuda'
        self._stream = torch.cuda.Stream(device=self.device) if self._cuda else None
        self._shape = None
        self._device_buffers = {}
        self._host_input = self._host_output = None
        self._preprocessor = None
        self.allocations = 0

    @property
    def api(self) -> str:
        """Return 'tensor' (execute_async_v3) or 'binding' (execute_async_v2)."""
        return self.io.api

    def _check_shape(self, shape: tuple) -> None:
        low, _, high = self.profile
        if len(shape) != len(low) or any(not lo <= size <= hi
                                         for size, lo, hi in zip(shape, low, high)):
            raise BadMessageError('tensor.shape', shape,
                                  f'between {low} and {high}, the engine profile (rebuild the '
                                  'engine with another --input-size for other sizes)')

    def _empty(self, shape: tuple, dtype_name: str, host: bool = False):
        torch = self._torch
        if dtype_name not in TORCH_DTYPES:
            raise BackendUnavailableError(
                f'the engine has a {dtype_name} input or output; this runner handles '
                f'{", ".join(TORCH_DTYPES)} (rebuild the engine with float I/O)')
        dtype = getattr(torch, TORCH_DTYPES[dtype_name])
        if host:
            return torch.empty(shape, dtype=dtype, pin_memory=self._cuda)
        return torch.empty(shape, dtype=dtype, device=self.device)

    def _allocate(self, shape: tuple) -> None:
        """Set the input shape, then (re)allocate and bind every buffer for it."""
        self._check_shape(shape)
        if not self.io.set_input_shape(self.input, shape):
            raise BadMessageError('tensor.shape', shape, f'a shape within {self.profile}')
        self._device_buffers = {}
        for tensor in (self.input, *self.outputs):
            size = shape if tensor.is_input else self.io.shape_of(tensor)
            if any(dim < 0 for dim in size):
                raise RuntimeError(f'TensorRT left the shape of {tensor.name!r} undecided: '
                                   f'{size}')
            buffer = self._empty(size, tensor.dtype)
            self.io.set_address(tensor, buffer.data_ptr())
            self._device_buffers[tensor.name] = buffer
        self._host_input = self._empty(shape, 'FLOAT', host=True)
        output_shape = tuple(self._device_buffers[self.outputs[0].name].shape)
        self._host_output = self._empty(output_shape, 'FLOAT', host=True)
        self._shape = shape
        self.allocations += 1

    def run(self, tensor: np.ndarray) -> np.ndarray:
        """Return the first output for a float32 (1, 3, h, w) tensor, as float32 numpy."""
        shape = tuple(int(size) for size in tensor.shape)
        with self._on_stream():
            if shape != self._shape:
                self._allocate(shape)
            self._host_input.numpy()[...] = tensor
            self._device_buffers[self.input.name].copy_(self._host_input, non_blocking=True)
            return self._execute()

    def run_rgb(self, rgb: np.ndarray, network_size: tuple[int, int],
                preprocessing=None) -> np.ndarray:
        """Return the first output for a uint8 RGB frame, preprocessed on the device.

        The frame is resized and normalised straight into the input binding (see
        :class:`~mono_depth_ros.inference.device_preprocessing.DevicePreprocessor`).
        """
        shape = (1, 3, *(int(size) for size in network_size))
        if self._preprocessor is None:
            from mono_depth_ros.inference.device_preprocessing import DevicePreprocessor
            self._preprocessor = DevicePreprocessor(str(self.device), preprocessing)
        with self._on_stream():
            if shape != self._shape:
                self._allocate(shape)
            self._preprocessor.prepare(rgb, shape[2:], out=self._device_buffers[self.input.name])
            return self._execute()

    def _on_stream(self):
        """Run the block on the runner's stream (buffers allocated there belong to it)."""
        return self._torch.cuda.stream(self._stream) if self._cuda else contextlib.nullcontext()

    def _execute(self) -> np.ndarray:
        """Run the bound engine and copy the first output back (inside ``_on_stream``).

        The stream is synchronised on every exit, failures included, so the next frame never
        overwrites the staging buffers or frees device buffers while work is still queued.
        """
        handle = self._stream.cuda_stream if self._cuda else 0
        try:
            if not self.io.execute(handle):
                raise RuntimeError('TensorRT execution failed (see the TensorRT log)')
            self._host_output.copy_(self._device_buffers[self.outputs[0].name],
                                    non_blocking=True)
        finally:
            if self._cuda:
                self._stream.synchronize()
        return self._host_output.numpy().copy()

    def close(self) -> None:
        """Drop the buffers, the context and the engine (in that order)."""
        if self._stream is not None:
            self._stream.synchronize()
        self._device_buffers = {}
        self._host_input = self._host_output = None
        self.io = self._context = self._engine = None
        self._compat = None


def _read_engine(compat: TensorRT, path: str, runtime: dict):
    """Return (ICudaEngine, sidecar or None) for an engine file, or raise ModelLoadError."""
    sidecar = check_engine_sidecar(path, runtime)
    try:
        data = pathlib.Path(path).read_bytes()
    except OSError as error:
        raise ModelLoadError(path, f'cannot read it: {error}') from error
    if not data:
        raise ModelLoadError(path, 'the file is empty')
    problem = engine_data_problem(data, sidecar)
    if problem:
        raise ModelLoadError(path, f'{problem}; rebuild it with mono-depth-ros build-engine '
                                   '--onnx MODEL.onnx --force')
    compat.recent_errors()
    try:
        engine = compat.deserialize_engine(data)
    except Exception as error:  # some versions raise instead of returning None
        engine, raised = None, f'{type(error).__name__}: {error}'
    else:
        raised = ''
    if engine is None:
        said = '; '.join(compat.recent_errors()[-2:]) or raised or 'nothing'
        raise ModelLoadError(path, f"TensorRT {runtime['tensorrt_version']} could not "
                                   f"deserialise it on '{runtime['gpu_name']}' (compute "
                                   f"capability {runtime['compute_capability']}): a corrupt "
                                   'engine, or one built for another GPU or TensorRT version; '
                                   'rebuild it with mono-depth-ros build-engine --onnx '
                                   f'MODEL.onnx (TensorRT said: {said})')
    return engine, sidecar


class TensorRTBackend(DepthBackend):
    """Depth Anything on TensorRT: ``model`` is an .onnx file (engine cached) or an engine file.

    Raises BackendUnavailableError without TensorRT or a CUDA GPU, ModelLoadError for a model
    TensorRT cannot build or load. ``calibration`` is only used by int8 builds.
    """

    name = 'tensorrt'
    preprocesses_on_device = True

    def __init__(self, model: str, precision: str = 'fp16', input_size: int = 518,
                 cache_dir: str | None = None, force_rebuild: bool = False,
                 device: str = 'cuda', workspace_mb: int | None = None,
                 calibration: CalibrationSource | None = None,
                 logger: logging.Logger | None = None):
        if device not in ('auto', 'cuda'):
            raise BackendUnavailableError(f'TensorRT runs on CUDA GPUs only (device is '
                                          f'{device!r})')
        compat = TensorRT(import_tensorrt())
        torch = import_cuda_torch()
        logger = logger or logging.getLogger('mono_depth_ros.inference.tensorrt')
        path = os.path.expanduser(str(model))
        suffix = pathlib.Path(path).suffix.lower()
        if suffix == '.onnx':
            cached = ensure_engine(path, precision, input_size, cache_dir, force_rebuild,
                                   workspace_mb, calibration, logger)
            path, self.model_format = str(cached.path), 'onnx'
        elif suffix in ENGINE_SUFFIXES:
            if not os.path.isfile(path):
                raise ModelLoadError(path, 'file not found')
            self.model_format = 'engine'
        else:
            raise ModelLoadError(model, 'the tensorrt backend runs .onnx models and TensorRT '
                                        'engines; export the model first (mono-depth-ros '
                                        'export --model M --out model.onnx)')
        runtime = runtime_identity(compat, torch)
        engine, sidecar = _read_engine(compat, path, runtime)
        self.source = str(model)
        self.engine_path = path
        self.sidecar = sidecar or {}
        self.tensorrt_version = compat.version
        self._runner = EngineRunner(compat, engine, 'cuda')
        low, _, high = self._runner.profile
        fixed = low[2:] == high[2:]
        spec = InputSpec(self._runner.input.name, *(low[2:] if fixed else (None, None)))
        built_precision = self.sidecar.get('key_fields', {}).get('precision')
        super().__init__('cuda', built_precision or precision, spec, logger)

    def _infer(self, tensor: np.ndarray) -> np.ndarray:
        return self._runner.run(tensor)

    def infer_rgb(self, rgb: np.ndarray, input_size: int | tuple[int, int],
                  preprocessing=None) -> np.ndarray:
        """Resize and normalise ``rgb`` on the GPU into the engine input, then run it."""
        image, size = self._frame_and_network_size(rgb, input_size, preprocessing)
        return prediction_to_2d(self._runner.run_rgb(image, size, preprocessing))

    @property
    def io_api(self) -> str:
        """Return the TensorRT I/O API in use: 'tensor' (execute_async_v3) or 'binding'."""
        return self._runner.api

    @property
    def profile(self) -> tuple:
        """Return the engine's (min, opt, max) input shapes."""
        return self._runner.profile

    def model_info(self, depth_type: str = 'auto', max_depth: float | None = None) -> ModelInfo:
        """Return the ModelInfo from the ONNX metadata recorded at build time (and the name)."""
        from mono_depth_ros.inference.onnx_contract import OnnxContract, onnx_model_info

        height, width = self.input_spec.fixed_size or (None, None)
        contract = OnnxContract(
            path=self.source, input_name=self.input_spec.name,
            input_shape=(1, 3, height, width), output_name=self._runner.outputs[0].name,
            output_shape=(), metadata=dict(self.sidecar.get('onnx_metadata') or {}))
        if self.sidecar.get('model_card'):  # the card the engine was built with
            from mono_depth_ros.inference.model_card import METADATA_KEY
            contract.metadata[METADATA_KEY] = self.sidecar['model_card']
        info = onnx_model_info(contract, depth_type, max_depth)
        self.card = info.card
        return dataclasses.replace(info, model_format=self.model_format)

    def describe(self) -> str:
        """Return a one-line description for logs and diagnostics."""
        return (f'{super().describe()}, TensorRT {self.tensorrt_version}, '
                f'{pathlib.Path(self.engine_path).name}')

    def close(self) -> None:
        """Release the engine, its context and the GPU buffers."""
        if not self._closed:
            self._runner.close()
        super().close()


def availability() -> tuple[bool, str]:
    """Return (usable, reason) for the TensorRT backend on this machine; never raises."""
    try:
        compat = TensorRT(import_tensorrt())
        torch = import_cuda_torch()
        return True, f'TensorRT {compat.version} on {torch.cuda.get_device_name()}'
    except BackendUnavailableError as error:
        return False, str(error)
    except Exception as error:  # a broken install: say so instead of failing the caller
        return False, f'TensorRT check failed ({type(error).__name__}: {error})'


def open_backend(model: str, device: str = 'auto', precision: str = 'fp16',
                 input_size: int = 518, cache_dir: str | None = None,
                 force_rebuild: bool = False, threads: int = 0,
                 logger: logging.Logger | None = None, **build_options) -> TensorRTBackend:
    """Return a :class:`TensorRTBackend` for an .onnx or engine file (the loader's entry point).

    ``cache_dir`` is the engine cache (None: ~/.cache/mono_depth_ros/engines); ``threads`` is
    accepted for a uniform loader call and unused; ``build_options``: ``workspace_mb``,
    ``calibration`` (a CalibrationSource).
    """
    del threads
    return TensorRTBackend(model, precision=precision, input_size=input_size,
                           cache_dir=cache_dir, force_rebuild=force_rebuild, device=device,
                           logger=logger, **build_options)
