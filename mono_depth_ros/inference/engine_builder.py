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
from mono_depth_ros.inference.base import ModelLoadError, PRECISIONS
from mono_depth_ros.inference.engine_cache import (
    CachedEngine, calibration_cache_path, engine_file_name, EngineKey, ensure_cache_dir,
    file_lock, get_or_build, read_sidecar, sha256_file, write_atomic)
from mono_depth_ros.inference.int8_calibration import (
    CalibrationSource, check_source, make_entropy_calibrator, source_fingerprint)
from mono_depth_ros.inference.trt_compat import import_cuda_torch, import_tensorrt, TensorRT

_LOGGER = logging.getLogger('mono_depth_ros.inference.engine_builder')
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


def profile_shapes(input_size: int, network_shape: tuple | None = None) -> ProfileShapes:
    """Return the optimization profile for a Depth Anything input at ``input_size``.

    Dynamic height and width (``network_shape`` None, or None/-1/0 in those places):

    * min: a square of ``14 * ceil(input_size / 2 / 14)`` (half the size, rounded up to 14);
    * opt: what :func:`network_input_size` makes of a 640x480 (4:3) frame, e.g. 518x686;
    * max: a square whose side is the larger of 1.5 x ``input_size`` and the long side of a
      16:9 frame (e.g. 924 at 518), each rounded up to 14, so 4:3 and 16:9 frames fit in
      landscape and portrait.

    Fixed sizes in ``network_shape`` (a fixed-shape ONNX) collapse min/opt/max to them; the
    batch is always 1 and the channels 3.
    """
    if int(input_size) < PATCH_MULTIPLE or int(input_size) % PATCH_MULTIPLE:
        raise BadMessageError('input_size', input_size,
                              f'a positive multiple of {PATCH_MULTIPLE}')
    size = int(input_size)
    small = _ceil_to(size / 2)
    opt = network_input_size(*OPT_FRAME, size)
    large = max(_ceil_to(1.5 * size), _ceil_to(max(network_input_size(*WIDE_FRAME, size))))
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
                    strongly_typed: bool = False) -> dict:
    """Return the build settings besides precision and profile that change the engine."""
    return {'workspace_mb': int(workspace_mb) if workspace_mb else None,
            'tf32': precision != 'fp32', 'fp16_fallback': precision == 'int8',
            'strongly_typed': bool(strongly_typed)}


def builds_strongly_typed(compat: TensorRT) -> bool:
    """Return True when networks compute in their ONNX's types (every build on TensorRT 11).

    An fp16 strongly typed build is made from an fp16 copy of the ONNX (:mod:`onnx_fp16`).
    """
    return not compat.has_precision_flags


def runtime_identity(compat: TensorRT, torch, device_index: int | None = None) -> dict:
    """Return this machine's TensorRT version, GPU name and compute capability."""
    index = torch.cuda.current_device() if device_index is None else int(device_index)
    major, minor = torch.cuda.get_device_capability(index)
    return {'tensorrt_version': compat.version, 'gpu_name': torch.cuda.get_device_name(index),
            'compute_capability': f'{major}.{minor}'}


def timing_cache_path(cache_dir: pathlib.Path, runtime: dict) -> pathlib.Path:
    """Return the timing cache file for this TensorRT version and GPU, in the cache dir."""
    ident = '|'.join(str(runtime[name]) for name in sorted(runtime))
    return cache_dir / f'timing-{hashlib.sha256(ident.encode()).hexdigest()[:16]}.cache'


def _parse_onnx(compat: TensorRT, builder, onnx_path: str, strongly_typed: bool = False,
                precision: str = 'fp32'):
    network = compat.create_network(builder, strongly_typed)
    compat.init_plugins()
    parser = compat.trt.OnnxParser(network, compat.logger())
    as_fp16 = strongly_typed and precision == 'fp16'
    with _fp16_copy(onnx_path) if as_fp16 else contextlib.nullcontext(onnx_path) as path:
        parsed = parser.parse_from_file(str(path))
    if not parsed:
        errors = [str(parser.get_error(i)) for i in range(parser.num_errors)]
        raise ModelLoadError(onnx_path, 'TensorRT cannot parse it: '
                             + ('; '.join(errors[:5]) or 'no reason given'))
    return network, parser


@contextlib.contextmanager
def _fp16_copy(onnx_path: str) -> Iterator[pathlib.Path]:
    """Yield a temporary float16 copy of ``onnx_path`` (see :mod:`onnx_fp16`)."""
    from mono_depth_ros.inference.onnx_fp16 import fp16_model_bytes

    try:
        converted = fp16_model_bytes(onnx_path)
    except ValueError as error:
        raise ModelLoadError(onnx_path, f'cannot convert it to fp16 for a strongly typed '
                                        f'TensorRT build: {error}') from error
    with tempfile.TemporaryDirectory(prefix='mono_depth_fp16_') as directory:
        path = pathlib.Path(directory) / f'{pathlib.Path(onnx_path).stem}.fp16.onnx'
        path.write_bytes(converted)
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
                            logger: logging.Logger | None = None) -> bytes:
    """Parse ``onnx_path`` and return a serialised engine for ``precision`` and ``shapes``.

    fp16 sets BuilderFlag.FP16, or where that flag is gone (TensorRT 11) builds a strongly
    typed network from an fp16 copy of the ONNX; int8 sets INT8 (plus FP16 for layers that stay
    in floating point) and calibrates with ``calibration`` frames or an existing
    ``calibration_cache``; fp32 clears TF32 so the engine computes in full fp32.
    """
    logger = logger or _LOGGER
    trt = compat.trt
    if precision == 'int8':
        compat.check_int8_support()
    strongly_typed = builds_strongly_typed(compat)
    builder = trt.Builder(compat.logger())
    network, _parser = _parse_onnx(compat, builder, onnx_path, strongly_typed, precision)
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
    if precision == 'int8':
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


def _int8_calibrator(compat, onnx_path, shapes, calibration, calibration_cache):
    have_cache = calibration_cache is not None and calibration_cache.is_file()
    if calibration is None and not have_cache:
        raise ModelLoadError(onnx_path, 'int8 needs calibration frames: run mono-depth-ros '
                                        'build-engine --precision int8 with --calibration-dir '
                                        'DIR or --calibration-bag BAG (or use fp16)')
    return make_entropy_calibrator(compat.calibrator_base(), calibration, shapes.opt_shape,
                                   calibration_cache)


def ensure_engine(onnx_path: str, precision: str = 'fp16', input_size: int = 518,
                  cache_dir: str | os.PathLike | None = None, force_rebuild: bool = False,
                  workspace_mb: int | None = None,
                  calibration: CalibrationSource | None = None,
                  logger: logging.Logger | None = None) -> CachedEngine:
    """Return the cached engine of an ONNX model, building it first when needed.

    Raises BackendUnavailableError without TensorRT or a CUDA GPU, ModelLoadError when the
    ONNX breaks the contract or TensorRT cannot build it, BadMessageError for bad settings.
    """
    from mono_depth_ros.inference.onnx_contract import read_onnx_contract

    logger = logger or _LOGGER
    if precision not in PRECISIONS:
        raise BadMessageError('precision', precision, ' or '.join(PRECISIONS))
    compat = TensorRT(import_tensorrt())
    if precision == 'int8':
        compat.check_int8_support()
    runtime = runtime_identity(compat, import_cuda_torch())
    contract = read_onnx_contract(onnx_path)
    shapes = profile_shapes(input_size, contract.input_shape)
    key = EngineKey(onnx_sha256=sha256_file(contract.path), precision=precision,
                    profile=shapes.as_tuple(),
                    builder_options=builder_options(
                        precision, workspace_mb, builds_strongly_typed(compat)),
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

    def build(engine_path: pathlib.Path) -> bytes:
        calib_cache = calibration_cache_path(engine_path)
        return build_serialized_engine(
            compat, contract.path, precision, shapes, workspace_mb,
            timing_cache_path(directory, runtime), calibration, calib_cache, logger)

    return get_or_build(directory, key, build, name=name, extra=extra, force=force_rebuild,
                        logger=logger)
