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
(chosen in :mod:`trt_compat`): device buffers, pinned host staging arrays, one stream and its
copies go through NVIDIA's cuda-python (:mod:`cuda_runtime`), not PyTorch, and buffers are
reallocated only when the input shape changes. :class:`TensorRTBackend` is the
:class:`DepthBackend` around it; it checks a new engine against ONNX Runtime on the CPU before
use (:mod:`engine_validation`).
"""

import dataclasses
import logging
import os
import pathlib

import cv2
import numpy as np

from mono_depth_ros.core.errors import BadMessageError
from mono_depth_ros.core.preprocessing import check_rgb, network_input_size, prepare_input
from mono_depth_ros.inference import engine_builder
from mono_depth_ros.inference.base import (
    BackendUnavailableError, DepthBackend, InputSpec, ModelInfo, ModelLoadError, prediction_to_2d)
from mono_depth_ros.inference.cuda_runtime import CudaRuntime, stream_handle
from mono_depth_ros.inference.engine_builder import ensure_engine, runtime_identity
from mono_depth_ros.inference.engine_cache import check_engine_sidecar, engine_data_problem
from mono_depth_ros.inference.int8_calibration import CalibrationSource
from mono_depth_ros.inference.model_files import ENGINE_SUFFIXES
from mono_depth_ros.inference.trt_compat import TensorRT

# TensorRT DataType name -> numpy dtype of the host staging array (numpy has no bfloat16).
# The frame size an engine's fixed input is compared with (a 640x480 camera).
REFERENCE_FRAME = (480, 640)
NUMPY_DTYPES = {'FLOAT': np.float32, 'HALF': np.float16, 'INT8': np.int8, 'UINT8': np.uint8,
                'INT32': np.int32, 'INT64': np.int64, 'BOOL': np.bool_}


class EngineRunner:
    """Runs a deserialised engine with one (1, 3, h, w) input; returns its first output.

    ``cuda`` is the :class:`CudaRuntime` (over cuda-python; the tests give one over a
    stand-in module whose device memory is host memory).
    """

    def __init__(self, compat: TensorRT, engine, cuda: CudaRuntime):
        self._cuda = cuda
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
        self._stream = cuda.stream()
        self._shape = None
        self._device_buffers = {}
        self._host_input = self._host_output = None
        self.allocations = 0

    @property
    def api(self) -> str:
        """Return 'tensor' (execute_async_v3) or 'binding' (execute_async_v2)."""
        return self.io.api

    def fits(self, shape: tuple) -> bool:
        """Return True when a (1, 3, h, w) ``shape`` lies within the engine's profile."""
        low, _, high = self.profile
        return len(shape) == len(low) and all(
            lo <= size <= hi for size, lo, hi in zip(shape, low, high))

    def _check_shape(self, shape: tuple) -> None:
        if not self.fits(shape):
            low, _, high = self.profile
            raise BadMessageError('tensor.shape', shape,
                                  f'between {low} and {high}, the engine profile (rebuild the '
                                  'engine with another --input-size for other sizes)')

    @staticmethod
    def _numpy_dtype(dtype_name: str):
        if dtype_name not in NUMPY_DTYPES:
            raise BackendUnavailableError(
                f'the engine has a {dtype_name} input or output; this runner handles '
                f'{", ".join(NUMPY_DTYPES)} (rebuild the engine with float I/O)')
        return NUMPY_DTYPES[dtype_name]

    def _free(self) -> None:
        for buffer in (*self._device_buffers.values(), self._host_input, self._host_output):
            if buffer is not None:
                buffer.free()
        self._device_buffers = {}
        self._host_input = self._host_output = None

    def _allocate(self, shape: tuple) -> None:
        """Set the input shape, then (re)allocate and bind every buffer for it."""
        self._check_shape(shape)
        if not self.io.set_input_shape(self.input, shape):
            raise BadMessageError('tensor.shape', shape, f'a shape within {self.profile}')
        self._cuda.synchronize(self._stream)
        self._free()
        self._shape = None
        sizes = {}
        for tensor in (self.input, *self.outputs):
            size = shape if tensor.is_input else self.io.shape_of(tensor)
            if any(dim < 0 for dim in size):
                raise RuntimeError(f'TensorRT left the shape of {tensor.name!r} undecided: '
                                   f'{size}')
            dtype = np.dtype(self._numpy_dtype(tensor.dtype))
            sizes[tensor.name] = (tuple(size), dtype)
            nbytes = int(np.prod(size, dtype=np.int64)) * dtype.itemsize
            buffer = self._cuda.device_buffer(nbytes)
            self.io.set_address(tensor, buffer.address)
            self._device_buffers[tensor.name] = buffer
        self._host_input = self._cuda.pinned_array(*sizes[self.input.name])
        self._host_output = self._cuda.pinned_array(*sizes[self.outputs[0].name])
        self._shape = shape
        self.allocations += 1

    def run(self, tensor: np.ndarray) -> np.ndarray:
        """Return the first output for a float32 (1, 3, h, w) tensor, as float32 numpy."""
        shape = tuple(int(size) for size in tensor.shape)
        if shape != self._shape:
            self._allocate(shape)
        self._host_input.array[...] = tensor  # casts to the binding's type (fp16 I/O)
        return self._execute()

    def run_rgb(self, rgb: np.ndarray, network_size: tuple[int, int],
                preprocessing=None) -> np.ndarray:
        """Return the first output for a uint8 RGB frame at ``network_size``.

        The frame is resized and normalised on the CPU (the shared OpenCV contract) straight
        into the pinned input array, so one copy crosses to the device.
        """
        shape = (1, 3, *(int(size) for size in network_size))
        if shape != self._shape:
            self._allocate(shape)
        self._host_input.array[...] = prepare_input(rgb, tuple(shape[2:]),
                                                    preprocessing=preprocessing)
        return self._execute()

    @property
    def frame_size(self) -> tuple[int, int] | None:
        """Return (H, W) for an engine that takes uint8 RGB frames [1, H, W, 3], else None."""
        shape = self.profile[2]
        if self.input.dtype == 'UINT8' and len(shape) == 4 and shape[3] == 3:
            return int(shape[1]), int(shape[2])
        return None

    def run_frame(self, rgb: np.ndarray) -> np.ndarray:
        """Return the output for a uint8 RGB frame, for an engine that takes frames itself."""
        shape = (1, *rgb.shape)
        if shape != self._shape:
            self._allocate(shape)
        self._host_input.array[0] = rgb
        return self._execute()

    def _execute(self) -> np.ndarray:
        """Copy the input up, run the bound engine and copy the first output back.

        The stream is synchronised on every exit, failures included, so the next frame never
        overwrites the staging arrays or frees device buffers while work is still queued.
        """
        cuda, stream = self._cuda, self._stream
        try:
            cuda.copy_to_device(self._device_buffers[self.input.name].address, self._host_input,
                                stream)
            if not self.io.execute(stream_handle(stream)):
                raise RuntimeError('TensorRT execution failed (see the TensorRT log)')
            cuda.copy_to_host(self._host_output, self._device_buffers[self.outputs[0].name]
                              .address, stream)
        finally:
            cuda.synchronize(stream)
        return np.array(self._host_output.array, dtype=np.float32)

    def close(self) -> None:
        """Drop the buffers, the context and the engine (in that order), then the stream."""
        if self._stream is None:
            return
        self._cuda.synchronize(self._stream)
        self._free()
        self.io = self._context = self._engine = None
        self._compat = None
        self._cuda.destroy_stream(self._stream)
        self._stream = None


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

    Raises BackendUnavailableError without TensorRT, cuda-python or a CUDA GPU, ModelLoadError
    for a model TensorRT cannot build or load, or an engine that fails validation against ONNX
    Runtime on the CPU (``validate`` False skips that). ``calibration`` is only used by int8
    builds; ``frame_size`` (height, width) is the camera's, for the shape profile; ``build``
    False raises :class:`~mono_depth_ros.inference.engine_switch.EngineNotCached` instead of
    building a missing engine; ``frame_io`` (with a ``frame_size``): the engine takes that
    camera's uint8 frames and returns depth at their size (:mod:`preprocessing_graph`).
    """

    name = 'tensorrt'
    # infer_rgb takes frames: it picks the network size the engine takes and resizes straight
    # into the pinned input array (one copy crosses to the device).
    preprocesses_on_device = True

    def __init__(self, model: str, precision: str = 'fp16', input_size: int = 518,
                 cache_dir: str | None = None, force_rebuild: bool = False,
                 device: str = 'cuda', workspace_mb: int | None = None,
                 calibration: CalibrationSource | None = None,
                 logger: logging.Logger | None = None, validate: bool = True,
                 frame_size: tuple[int, int] | None = None, build: bool = True,
                 frame_io: bool = True):
        if device not in ('auto', 'cuda'):
            raise BackendUnavailableError(f'TensorRT runs on CUDA GPUs only (device is '
                                          f'{device!r})')
        compat = TensorRT(engine_builder.import_tensorrt())
        cuda = engine_builder.open_cuda()
        logger = logger or logging.getLogger('mono_depth_ros.inference.tensorrt')
        path = os.path.expanduser(str(model))
        suffix = pathlib.Path(path).suffix.lower()
        onnx_path = None
        if suffix == '.onnx':
            cached = ensure_engine(path, precision, input_size, cache_dir, force_rebuild,
                                   workspace_mb, calibration, logger, frame_size=frame_size,
                                   build=build, frame_io=frame_io)
            if cached is None:
                from mono_depth_ros.inference.engine_switch import EngineNotCached
                raise EngineNotCached(path)
            onnx_path, path, self.model_format = path, str(cached.path), 'onnx'
        elif suffix in ENGINE_SUFFIXES:
            if not os.path.isfile(path):
                raise ModelLoadError(path, 'file not found')
            self.model_format = 'engine'
        else:
            raise ModelLoadError(model, 'the tensorrt backend runs .onnx models and TensorRT '
                                        'engines; export the model first (mono-depth-ros '
                                        'export --model M --out model.onnx)')
        runtime = runtime_identity(compat, cuda)
        engine, sidecar = _read_engine(compat, path, runtime)
        self.source = str(model)
        self.engine_path = path
        self.sidecar = sidecar or {}
        self.tensorrt_version = compat.version
        self.input_size = int(input_size)
        self._runner = EngineRunner(compat, engine, cuda)
        self.frame_size = self._runner.frame_size
        recorded = ((self.sidecar.get('key_fields') or {}).get('builder_options') or {}).get(
            'frame_io') or {}
        # The network size a frame engine resizes its frames to (recorded at build time).
        self.frame_network_size = (
            tuple(recorded['network_size']) if recorded.get('network_size') else
            network_input_size(*self.frame_size, self.input_size) if self.frame_size else None)
        low, _, high = self._runner.profile
        fixed = low[2:] == high[2:] and self.frame_size is None
        spec = InputSpec(self._runner.input.name, *(low[2:] if fixed else (None, None)))
        built_precision = self.sidecar.get('key_fields', {}).get('precision')
        super().__init__('cuda', built_precision or precision, spec, logger)
        self._warned_sizes = set()
        self.validation = None
        if validate:
            self.validation = self._validate(onnx_path or self.sidecar.get('onnx_path'))
        if fixed and tuple(low[2:]) != network_input_size(*REFERENCE_FRAME, self.input_size):
            self.logger.warning(
                f'{pathlib.Path(path).name} is built for {low[2]}x{low[3]} only: frames run at '
                f'that size, not at input_size {self.input_size} (rebuild it with '
                'mono-depth-ros build-engine --input-size for another)')

    def _validate(self, onnx_path: str | None):
        """Check the engine against ONNX Runtime CPU once per TensorRT version; refuse if bad."""
        from mono_depth_ros.inference.engine_cache import update_sidecar
        from mono_depth_ros.inference.engine_validation import (
            onnxruntime_cpu_reference, reference_frames, refusal, stored_result, validate_engine,
            validation_size)

        result = stored_result(self.sidecar, self.tensorrt_version)
        if result is None:
            if not onnx_path or not os.path.isfile(str(onnx_path)):
                self.logger.warning(
                    f'{pathlib.Path(self.engine_path).name} not validated: its ONNX is not '
                    'known (give the .onnx as the model to have the engine checked)')
                return None
            self.logger.info(f'validating {pathlib.Path(self.engine_path).name} against ONNX '
                             'Runtime on the CPU')
            reference = onnxruntime_cpu_reference(onnx_path)
            if self.frame_size is not None:  # frames in, depth at their size out
                size = self.frame_network_size
                result = validate_engine(self._runner.run_frame, reference, self.precision,
                                         size, self.tensorrt_version,
                                         reference_frames(size=self.frame_size),
                                         at_frame_size=True)
            else:
                size = validation_size(self._runner.profile, self.input_size)
                result = validate_engine(lambda rgb: self._runner.run_rgb(rgb, size), reference,
                                         self.precision, size, self.tensorrt_version)
            self.sidecar = update_sidecar(self.engine_path, {'validation': result.record()}) or (
                self.sidecar)
        if not result.passed:
            self._runner.close()
            raise ModelLoadError(self.engine_path, refusal(self.engine_path, result))
        self.logger.info(f'engine validation {result.describe()}')
        return result

    def fits(self, network_size: tuple[int, int]) -> bool:
        """Return True when the engine's profile takes a network input of ``network_size``."""
        return self._runner.fits((1, 3, *network_size))

    def accepts(self, frame_size: tuple[int, int], input_size: int | tuple[int, int]) -> bool:
        """Return True when frames of ``frame_size`` run on this engine as they are."""
        wanted = network_input_size(*frame_size, input_size)
        if self.frame_size is not None:
            return tuple(frame_size) == self.frame_size and wanted == self.frame_network_size
        return self.fits(wanted)

    def _infer(self, tensor: np.ndarray) -> np.ndarray:
        if self.frame_size is not None:
            raise BadMessageError('tensor', tuple(tensor.shape), 'a uint8 frame: this engine '
                                  'takes frames (infer_rgb), not network tensors')
        return self._runner.run(tensor)

    def network_size_for(self, frame_size: tuple[int, int],
                         input_size: int | tuple[int, int]) -> tuple[int, int]:
        """Return the network (h, w) a frame runs at: its own, or the nearest the engine takes.

        A frame outside the profile of an engine file (nothing here can rebuild it) runs at
        the largest size within the profile with about the frame's aspect, with one warning.
        """
        size = network_input_size(*frame_size, input_size)
        if self.fits(size):
            return size
        low, _, high = self._runner.profile
        scale = min(high[2] / size[0], high[3] / size[1], 1.0)
        fitted = tuple(int(min(max(step * 14, lo), hi)) for step, lo, hi in zip(
            (max(int(size[0] * scale) // 14, 1), max(int(size[1] * scale) // 14, 1)),
            low[2:], high[2:]))
        if size not in self._warned_sizes:
            self._warned_sizes.add(size)
            self.logger.warning(
                f'frames of {frame_size[1]}x{frame_size[0]} need a {size[0]}x{size[1]} network '
                f'input, outside {pathlib.Path(self.engine_path).name} (profile {low[2:]} to '
                f'{high[2:]}): running them at {fitted[0]}x{fitted[1]}')
        return fitted

    def infer_rgb(self, rgb: np.ndarray, input_size: int | tuple[int, int],
                  preprocessing=None) -> np.ndarray:
        """Resize and normalise ``rgb`` into the pinned engine input, then run it.

        ``preprocessing``: a model card's rule (None: Depth Anything's). An engine that takes
        frames has Depth Anything's folded in, so it refuses another.
        """
        self._check_open()
        image = check_rgb(rgb)
        if self.frame_size is not None:
            if preprocessing is not None:
                raise BadMessageError('model card preprocessing', preprocessing,
                                      "Depth Anything's for an engine that takes frames (build "
                                      'one that takes network tensors)')
            return prediction_to_2d(self._runner.run_frame(self._at_engine_frame_size(image)))
        size = self.network_size_for(image.shape[:2], input_size)
        return prediction_to_2d(self._runner.run_rgb(image, size, preprocessing))

    def _at_engine_frame_size(self, image: np.ndarray) -> np.ndarray:
        """Return ``image`` at the frame size the engine takes (resized, one warning)."""
        height, width = self.frame_size
        if image.shape[:2] == (height, width):
            return image
        if image.shape[:2] not in self._warned_sizes:
            self._warned_sizes.add(image.shape[:2])
            self.logger.warning(
                f'{pathlib.Path(self.engine_path).name} takes {width}x{height} frames; '
                f'{image.shape[1]}x{image.shape[0]} frames are resized to that on the CPU '
                '(build an engine for this camera for the full speed)')
        return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)

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
        frames = (f', takes {self.frame_size[1]}x{self.frame_size[0]} frames'
                  if self.frame_size else '')
        return (f'{super().describe()}{frames}, TensorRT {self.tensorrt_version}, '
                f'{pathlib.Path(self.engine_path).name}')

    def close(self) -> None:
        """Release the engine, its context and the GPU buffers."""
        if not self._closed:
            self._runner.close()
        super().close()


def availability() -> tuple[bool, str]:
    """Return (usable, reason) for the TensorRT backend on this machine; never raises."""
    try:
        compat = TensorRT(engine_builder.import_tensorrt())
        cuda = engine_builder.open_cuda()
        return True, f'TensorRT {compat.version} on {cuda.identity().gpu_name}'
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
