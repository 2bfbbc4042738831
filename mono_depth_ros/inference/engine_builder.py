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

"""Build TensorRT engines from ONNX depth models: shape profile, precision, cache.

:func:`ensure_engine` is the whole job: check the ONNX contract, derive the shape profile from
``input_size``, look the engine up in the cache (:mod:`engine_cache`) and build it there when
missing. Version differences go through :class:`~mono_depth_ros.inference.trt_compat.TensorRT`.
"""

import contextlib
from dataclasses import dataclass
import hashlib
import logging
import math
import os
import pathlib
import tempfile
from typing import Iterator

from mono_depth_ros.core.errors import BadMessageError
from mono_depth_ros.core.preprocessing import network_input_size, PATCH_MULTIPLE
from mono_depth_ros.inference.base import BackendUnavailableError, ModelLoadError, PRECISIONS
from mono_depth_ros.inference.cuda_runtime import CudaRuntime
from mono_depth_ros.inference.engine_cache import (
    cached_engine, cached_engine_any_profile, CachedEngine, calibration_cache_path,
    engine_file_name, EngineKey, ensure_cache_dir, file_lock, get_or_build, read_sidecar,
    sha256_file, write_atomic)
from mono_depth_ros.inference.int8_calibration import (
    CalibrationSource, check_source, make_entropy_calibrator, source_fingerprint)
from mono_depth_ros.inference.trt_compat import import_tensorrt, TensorRT

_LOGGER = logging.getLogger('mono_depth_ros.inference.engine_builder')
CUDA_MISSING = ('no CUDA GPU is usable (cuda-python sees none): TensorRT needs an NVIDIA GPU '
                'and its driver')
# Aspect ratios the dynamic profile is made for: opt is a 4:3 landscape frame; max also fits
# 16:9 in either orientation.
OPT_FRAME = (480, 640)
WIDE_FRAME = (720, 1280)


@dataclass(frozen=True)
class ProfileShapes:
    """A TensorRT optimization profile for the (1, 3, h, w) input: min, opt and max shapes."""

    min_shape: tuple
    opt_shape: tuple
    max_shape: tuple

    def as_tuple(self) -> tuple:
        """Return ((min), (opt), (max))."""
        return self.min_shape, self.opt_shape, self.max_shape

    @property
    def is_fixed(self) -> bool:
        """Return True when the profile allows one shape only."""
        return self.min_shape == self.opt_shape == self.max_shape


def _ceil_to(value: float, multiple: int = PATCH_MULTIPLE) -> int:
    return int(math.ceil(value / multiple)) * multiple


def profile_shapes(input_size: int, network_shape: tuple | None = None,
                   frame_size: tuple[int, int] | None = None) -> ProfileShapes:
    """Return the optimization profile for a Depth Anything input at ``input_size``.

    Dynamic height and width (``network_shape`` None, or None/-1/0 in those places):

    * min: a square of ``14 * ceil(input_size / 2 / 14)`` (half the size, rounded up to 14);
    * opt: what :func:`network_input_size` makes of the camera's ``frame_size`` (height,
      width), the real network shape; without one, of a 640x480 (4:3) frame, e.g. 518x686;
    * max: a square whose side is the larger of 1.5 x ``input_size``, the long side of a
      16:9 frame (e.g. 924 at 518) and the long side of opt, each rounded up to 14, so 4:3
      and 16:9 frames fit in landscape and portrait, and the camera's frames always do.

    Fixed sizes in ``network_shape`` (a fixed-shape ONNX) collapse min/opt/max to them; the
    batch is always 1 and the channels 3.
    """
    if int(input_size) < PATCH_MULTIPLE or int(input_size) % PATCH_MULTIPLE:
        raise BadMessageError('input_size', input_size,
                              f'a positive multiple of {PATCH_MULTIPLE}')
    size = int(input_size)
    small = _ceil_to(size / 2)
    opt = network_input_size(*(frame_size or OPT_FRAME), size)
    large = max(_ceil_to(1.5 * size), _ceil_to(max(network_input_size(*WIDE_FRAME, size))),
                max(opt))
    dynamic = (1, 3, small, small), (1, 3, *opt), (1, 3, large, large)
    shape = tuple(network_shape) if network_shape is not None else (None,) * 4
    if len(shape) != 4:
        raise BadMessageError('input shape', shape, '(1, 3, height, width)')

    def pick(index: int, profile_shape: tuple) -> int:
        fixed = shape[index]
        return int(fixed) if isinstance(fixed, int) and fixed > 0 else profile_shape[index]

    return ProfileShapes(*(tuple(pick(i, each) if i >= 2 else (1, 3)[i] for i in range(4))
                           for each in dynamic))


def builder_options(precision: str, workspace_mb: int | None,
                    strongly_typed: bool = False, fp16_converter: str | None = None,
                    int8_method: str | None = None, frame_io: 'FrameIO | None' = None) -> dict:
    """Return the build settings besides precision and profile that change the engine.

    ``fp16_converter``: what made the fp16 ONNX of a strongly typed fp16 build (ModelOpt
    AutoCast or this package's); ``int8_method``: explicit Q/DQ (ModelOpt) or the implicit
    calibrator; ``frame_io``: the camera frame size the engine's own pre/postprocessing is for.
    """
    return {'workspace_mb': int(workspace_mb) if workspace_mb else None,
            'frame_io': frame_io.record() if frame_io is not None else None,
            'tf32': precision != 'fp32', 'fp16_fallback': precision == 'int8',
            'strongly_typed': bool(strongly_typed),
            'fp16_converter': fp16_converter if precision == 'fp16' and strongly_typed else None,
            'int8_method': int8_method if precision == 'int8' else None}


def builds_strongly_typed(compat: TensorRT) -> bool:
    """Return True when networks compute in their ONNX's types (every build on TensorRT 11).

    An fp16 strongly typed build is made from an fp16 copy of the ONNX (:mod:`onnx_fp16`).
    """
    return not compat.has_precision_flags


def open_cuda() -> CudaRuntime:
    """Return the CUDA runtime (cuda-python), or raise BackendUnavailableError without a GPU."""
    cuda = CudaRuntime()
    if cuda.device_count() < 1:
        raise BackendUnavailableError(CUDA_MISSING)
    return cuda


def runtime_identity(compat: TensorRT, cuda: CudaRuntime, device_index: int | None = None
                     ) -> dict:
    """Return what an engine must match here: TensorRT version and the module's identity.

    GPU name, compute capability, SM count, total memory and (Jetson) the device-tree model:
    every Orin module reports the same name and capability, the rest tells them apart.
    """
    return {'tensorrt_version': compat.version, **cuda.identity(device_index).fields()}


def onnx_sha256(onnx_path: str) -> str:
    """Return the sha256 of an ONNX file and of the external data files it refers to."""
    import onnx

    digest = hashlib.sha256(sha256_file(onnx_path).encode())
    model = onnx.load(str(onnx_path), load_external_data=False)
    locations = sorted({entry.value for tensor in model.graph.initializer
                        for entry in tensor.external_data if entry.key == 'location'})
    base = pathlib.Path(onnx_path).parent
    for location in locations:
        data_path = base / location
        if not data_path.is_file():
            raise ModelLoadError(onnx_path, f'its external data file {location} is missing')
        digest.update(f'|{location}:{sha256_file(data_path)}'.encode())
    return digest.hexdigest() if locations else sha256_file(onnx_path)


def timing_cache_path(cache_dir: pathlib.Path, runtime: dict) -> pathlib.Path:
    """Return the timing cache file for this TensorRT version and GPU, in the cache dir."""
    ident = '|'.join(str(runtime[name]) for name in sorted(runtime))
    return cache_dir / f'timing-{hashlib.sha256(ident.encode()).hexdigest()[:16]}.cache'


def _parse_onnx(compat: TensorRT, builder, onnx_path: str, strongly_typed: bool = False,
                precision: str = 'fp32', parse_path: str | None = None, logger=None,
                frame_io: 'FrameIO | None' = None):
    """Parse the ONNX into a new network (``parse_path``: a Q/DQ copy to parse instead).

    A strongly typed fp16 build parses an fp16 copy; ``frame_io`` puts the frame's
    preprocessing and the resize back to it around the model (:mod:`preprocessing_graph`).
    """
    network = compat.create_network(builder, strongly_typed)
    compat.init_plugins()
    parser = compat.trt.OnnxParser(network, compat.logger())
    as_fp16 = strongly_typed and precision == 'fp16'
    with _graph_to_parse(onnx_path, parse_path or onnx_path, as_fp16, frame_io,
                         logger) as path:
        parsed = parser.parse_from_file(str(path))
    if not parsed:
        errors = [str(parser.get_error(i)) for i in range(parser.num_errors)]
        raise ModelLoadError(onnx_path, 'TensorRT cannot parse it: '
                             + ('; '.join(errors[:5]) or 'no reason given'))
    return network, parser


@dataclass(frozen=True)
class FrameIO:
    """An engine that takes uint8 frames of ``frame_size`` and returns depth at that size."""

    frame_size: tuple
    network_size: tuple

    def record(self) -> dict:
        """Return the builder option that names it in the cache key."""
        return {'frame_size': list(self.frame_size), 'network_size': list(self.network_size)}


@contextlib.contextmanager
def _graph_to_parse(onnx_path: str, source: str, as_fp16: bool, frame_io: FrameIO | None,
                    logger=None) -> Iterator[pathlib.Path]:
    """Yield the file TensorRT parses: ``source`` itself, or a temporary converted copy.

    fp16 (ModelOpt AutoCast, else :mod:`onnx_fp16`) is applied to the model first, then the
    frame's pre- and postprocessing go around it in fp32.
    """
    from mono_depth_ros.inference.onnx_fp16 import tensorrt_fp16_bytes
    from mono_depth_ros.inference.preprocessing_graph import fused_model_bytes

    logger = logger or _LOGGER
    if not as_fp16 and frame_io is None:
        yield pathlib.Path(source)
        return
    data, suffix = None, ''
    try:
        if as_fp16:
            data, converter = tensorrt_fp16_bytes(source, logger)
            logger.info(f'fp16 copy of {pathlib.Path(onnx_path).name} made by {converter}')
            suffix += '.fp16'
        if frame_io is not None:
            data = fused_model_bytes(data if data is not None else source, frame_io.frame_size,
                                     frame_io.network_size)
            suffix += '.frames'
    except ValueError as error:
        raise ModelLoadError(onnx_path, f'cannot convert it for the TensorRT build: '
                                        f'{error}') from error
    with tempfile.TemporaryDirectory(prefix='mono_depth_trt_') as directory:
        path = pathlib.Path(directory) / f'{pathlib.Path(source).name[:-5]}{suffix}.onnx'
        path.write_bytes(data)
        yield path


def _load_timing_cache(compat: TensorRT, config, path: pathlib.Path, logger) -> None:
    data = path.read_bytes() if path.is_file() else b''
    if compat.load_timing_cache(config, data):
        return
    if data:
        logger.warning(f'timing cache {path} is not usable by this TensorRT; starting afresh')
        compat.load_timing_cache(config, b'')


def _save_timing_cache(compat: TensorRT, config, path: pathlib.Path) -> None:
    """Save the build's timing cache, merged with what other builds saved since it started."""
    with file_lock(path.with_suffix('.lock')):
        saved = path.read_bytes() if path.is_file() else b''
        data = compat.timing_cache_bytes(config, saved)
        if data:
            write_atomic(path, data)


def build_serialized_engine(compat: TensorRT, onnx_path: str, precision: str,
                            shapes: ProfileShapes, workspace_mb: int | None = None,
                            timing_cache: pathlib.Path | None = None,
                            calibration: CalibrationSource | None = None,
                            calibration_cache: pathlib.Path | None = None,
                            logger: logging.Logger | None = None,
                            frame_io: FrameIO | None = None) -> bytes:
    """Parse ``onnx_path`` and return a serialised engine for ``precision`` and ``shapes``.

    fp16 sets BuilderFlag.FP16, or where that flag is gone (TensorRT 11) builds a strongly
    typed network from an fp16 copy of the ONNX; int8 with ModelOpt installed parses a Q/DQ
    copy quantized on ``calibration`` frames (explicit quantization: FP16 and INT8 flags where
    they exist, no calibrator), else sets INT8 (plus FP16 for layers that stay in floating
    point) and calibrates implicitly with ``calibration`` frames or an existing
    ``calibration_cache``; fp32 clears TF32 so the engine computes in full fp32.
    ``frame_io``: the engine takes uint8 frames and returns depth at their size (``shapes`` is
    then the frame's (1, H, W, 3) profile).
    """
    from mono_depth_ros.inference.int8_calibration import int8_method, QDQ_METHOD

    logger = logger or _LOGGER
    trt = compat.trt
    method = int8_method(compat) if precision == 'int8' else None
    strongly_typed = builds_strongly_typed(compat)
    builder = trt.Builder(compat.logger())
    network_shape = (1, 3, *frame_io.network_size) if frame_io else shapes.opt_shape
    with _qdq_copy(onnx_path, network_shape, calibration, calibration_cache) if (
            method == QDQ_METHOD) else contextlib.nullcontext(None) as qdq_path:
        network, _parser = _parse_onnx(compat, builder, onnx_path, strongly_typed, precision,
                                       qdq_path and str(qdq_path), logger, frame_io)
    if network.num_inputs != 1:
        raise ModelLoadError(onnx_path, f'{network.num_inputs} network inputs; expected one')
    config = builder.create_builder_config()
    if workspace_mb:
        compat.set_workspace_limit(config, int(workspace_mb) << 20)
    profile = builder.create_optimization_profile()
    profile.set_shape(network.get_input(0).name, *shapes.as_tuple())
    config.add_optimization_profile(profile)
    if precision in ('fp16', 'int8'):
        if not getattr(builder, 'platform_has_fast_fp16', True):
            logger.warning(f'this GPU has no fast fp16; the {precision} engine may be slow')
        if not strongly_typed:
            compat.set_flag(config, 'FP16')
    else:
        compat.clear_flag(config, 'TF32')
    calibrator = None
    if method == QDQ_METHOD and not strongly_typed:
        compat.set_flag(config, 'INT8')  # explicit quantization: the scales are in the ONNX
    elif precision == 'int8' and method != QDQ_METHOD:
        calibrator = _int8_calibrator(compat, onnx_path, shapes, calibration, calibration_cache)
        compat.set_flag(config, 'INT8')
        warning = compat.set_int8_calibrator(config, calibrator, profile)
        if warning:
            logger.warning(warning)
    if timing_cache is not None:
        _load_timing_cache(compat, config, timing_cache, logger)
    compat.recent_errors()
    data = compat.build_serialized_network(builder, network, config)
    if calibrator is not None and calibrator.error is not None:
        raise ModelLoadError(onnx_path, f'INT8 calibration failed reading '
                             f'{calibration.describe()}: {calibrator.error}')
    if not data:
        errors = compat.recent_errors()
        raise ModelLoadError(onnx_path, 'TensorRT could not build an engine: '
                             + ('; '.join(errors[-3:]) or 'see the TensorRT log above'))
    if timing_cache is not None:
        _save_timing_cache(compat, config, timing_cache)
    return data


@contextlib.contextmanager
def _qdq_copy(onnx_path: str, network_shape: tuple, calibration: CalibrationSource | None,
              calibration_cache: pathlib.Path | None) -> Iterator[pathlib.Path]:
    """Yield a temporary Q/DQ copy of ``onnx_path`` quantized by ModelOpt on the frames."""
    from mono_depth_ros.inference.int8_calibration import quantize_to_qdq

    if calibration is None:
        raise ModelLoadError(onnx_path, 'int8 needs calibration frames: run mono-depth-ros '
                                        'build-engine --precision int8 with --calibration-dir '
                                        'DIR or --calibration-bag BAG (or use fp16)')
    del calibration_cache  # ModelOpt keeps no calibration table of its own here
    with tempfile.TemporaryDirectory(prefix='mono_depth_qdq_') as directory:
        path = pathlib.Path(directory) / f'{pathlib.Path(onnx_path).stem}.qdq.onnx'
        try:
            yield quantize_to_qdq(onnx_path, calibration, network_shape, path)
        except ValueError as error:
            raise ModelLoadError(onnx_path, f'ModelOpt could not quantize it: {error}') from error


def _int8_calibrator(compat, onnx_path, shapes, calibration, calibration_cache):
    have_cache = calibration_cache is not None and calibration_cache.is_file()
    if calibration is None and not have_cache:
        raise ModelLoadError(onnx_path, 'int8 needs calibration frames: run mono-depth-ros '
                                        'build-engine --precision int8 with --calibration-dir '
                                        'DIR or --calibration-bag BAG (or use fp16)')
    return make_entropy_calibrator(compat.calibrator_base(), calibration, shapes.opt_shape,
                                   calibration_cache, open_cuda())


def ensure_engine(onnx_path: str, precision: str = 'fp16', input_size: int = 518,
                  cache_dir: str | os.PathLike | None = None, force_rebuild: bool = False,
                  workspace_mb: int | None = None,
                  calibration: CalibrationSource | None = None,
                  logger: logging.Logger | None = None,
                  frame_size: tuple[int, int] | None = None,
                  build: bool = True, frame_io: bool = False) -> CachedEngine | None:
    """Return the cached engine of an ONNX model, building it first when needed.

    ``frame_size``: the camera's (height, width); the profile's opt shape is then its network
    shape (see :func:`profile_shapes`). ``build`` False only looks: None when not cached;
    without a ``frame_size`` it takes the newest engine of any profile (made for the camera).
    ``frame_io`` (with a ``frame_size``): the engine takes that camera's uint8 frames and gives
    depth at their size, pre- and postprocessing inside it (not for implicit int8 calibration,
    which feeds network tensors: that builds a tensor engine).
    Raises BackendUnavailableError without TensorRT or a CUDA GPU, ModelLoadError when the
    ONNX breaks the contract or TensorRT cannot build it, BadMessageError for bad settings.
    """
    from mono_depth_ros.inference.onnx_contract import read_onnx_contract

    logger = logger or _LOGGER
    if precision not in PRECISIONS:
        raise BadMessageError('precision', precision, ' or '.join(PRECISIONS))
    from mono_depth_ros.inference.int8_calibration import IMPLICIT_METHOD, int8_method
    from mono_depth_ros.inference.onnx_fp16 import tensorrt_fp16_converter

    compat = TensorRT(import_tensorrt())
    method = int8_method(compat) if precision == 'int8' else None
    runtime = runtime_identity(compat, open_cuda())
    contract = read_onnx_contract(onnx_path)
    shapes = profile_shapes(input_size, contract.input_shape, frame_size)
    frame_engine = None
    if frame_io and frame_size is not None and method != IMPLICIT_METHOD:
        frame_engine = FrameIO(tuple(int(size) for size in frame_size),
                               tuple(int(size) for size in shapes.opt_shape[2:]))
        frame_shape = (1, *frame_engine.frame_size, 3)
        shapes = ProfileShapes(frame_shape, frame_shape, frame_shape)
    key = EngineKey(onnx_sha256=onnx_sha256(contract.path), precision=precision,
                    profile=shapes.as_tuple(),
                    builder_options=builder_options(
                        precision, workspace_mb, builds_strongly_typed(compat),
                        tensorrt_fp16_converter(), method, frame_engine),
                    **runtime)
    directory = ensure_cache_dir(cache_dir)
    name = pathlib.Path(contract.path).stem
    calibration_record = None
    if precision == 'int8' and calibration is not None:
        frames = check_source(calibration)
        calibration_record = {'source': calibration.describe(), 'frames': frames,
                              'fingerprint': source_fingerprint(calibration)}
        previous = read_sidecar(directory / engine_file_name(name, key)) or {}
        recorded = (previous.get('calibration') or {}).get('fingerprint')
        if previous and recorded != calibration_record['fingerprint']:
            logger.info('calibration frames differ from those of the cached engine; rebuilding')
            force_rebuild = True
    extra = {'onnx_path': contract.path, 'input_name': contract.input_name,
             'output_name': contract.output_name, 'onnx_metadata': contract.metadata,
             'input_size': int(input_size), 'calibration': calibration_record,
             'model_card': contract.card.to_json() if getattr(contract, 'card', None) else None}

    def build_engine(engine_path: pathlib.Path) -> bytes:
        calib_cache = calibration_cache_path(engine_path)
        return build_serialized_engine(
            compat, contract.path, precision, shapes, workspace_mb,
            timing_cache_path(directory, runtime), calibration, calib_cache, logger,
            frame_engine)

    if not build:
        if frame_size is None:  # before the first frame: the engine made for the camera
            return cached_engine_any_profile(directory, key, name)
        return cached_engine(directory, key, name)
    return get_or_build(directory, key, build_engine, name=name, extra=extra,
                        force=force_rebuild, logger=logger)
