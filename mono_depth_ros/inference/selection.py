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

"""Choose a backend for this machine and load a model into it: the one entry point for callers.

``backend`` auto picks, best first: tensorrt (its module imports and a CUDA device is there) >
onnxruntime with the CUDA execution provider > torch with CUDA > onnxruntime on the CPU (torch
on the CPU when onnxruntime is missing). ONNX files run on tensorrt or onnxruntime only,
TensorRT engine files on tensorrt only; PyTorch sources (Hugging Face, .pth, .safetensors) given
to those are exported to ONNX once and cached in ``cache_dir``/onnx.

TensorRT seam: the name 'tensorrt' imports ``mono_depth_ros.inference.tensorrt_backend`` when
first needed and builds its ``TensorRTBackend(model, precision=, input_size=, cache_dir=,
device=, logger=)`` (or calls ``open_backend`` with the same keywords plus ``threads`` if the
module defines one). An optional module function ``availability() -> (bool, reason)`` decides
whether auto may pick it; without one, an installed ``tensorrt`` package and a CUDA device
seen by onnxruntime or torch do. If the import fails, tensorrt is reported as not available,
with the import error. With ``background_build`` (the node), an ONNX model on tensorrt is
wrapped in an :class:`~mono_depth_ros.inference.engine_switch.EngineSwitch`: ONNX Runtime
serves while the engine for the camera's frames builds and is validated.
"""

import dataclasses
import hashlib
import importlib
import importlib.util
import logging
import os
import pathlib
import re

from mono_depth_ros.core.errors import BadMessageError
from mono_depth_ros.inference.base import (BackendUnavailableError, DepthBackend, DEVICES,
                                           ModelInfo, ModelLoadError, PRECISIONS)

BACKENDS = ('tensorrt', 'onnxruntime', 'torch')
TENSORRT_MODULE = 'mono_depth_ros.inference.tensorrt_backend'
EXPORT_OPSET = 17
_LOGGER = logging.getLogger('mono_depth_ros.inference')


def default_cache_dir() -> str:
    """Return the cache for ONNX exports and engines: ``$XDG_CACHE_HOME/mono_depth_ros``."""
    base = os.environ.get('XDG_CACHE_HOME') or os.path.join(os.path.expanduser('~'), '.cache')
    return os.path.join(base, 'mono_depth_ros')


def tensorrt_status() -> tuple[bool, str]:
    """Return (available, reason) for the tensorrt backend; never raises."""
    try:
        module = importlib.import_module(TENSORRT_MODULE)
    except Exception as error:
        return False, f'tensorrt backend not available ({type(error).__name__}: {error})'
    check = getattr(module, 'availability', None)
    if check is None:
        if importlib.util.find_spec('tensorrt') is None:
            return False, 'the tensorrt Python package is not installed'
        return (True, 'TensorRT installed and a CUDA device present') if _cuda_present() else (
            False, 'TensorRT installed but no CUDA device')
    try:
        available, reason = check()
    except Exception as error:
        return False, f'tensorrt availability check failed ({type(error).__name__}: {error})'
    return bool(available), str(reason)


def onnxruntime_status(device: str) -> tuple[bool, str]:
    """Return (usable on ``device``, reason) for onnxruntime; device 'cuda' or 'cpu'."""
    from mono_depth_ros.inference.onnxruntime_backend import available_providers, CUDA_PROVIDER

    providers = available_providers()
    if not providers:
        return False, 'onnxruntime is not installed'
    if device == 'cuda' and CUDA_PROVIDER not in providers:
        return False, f'onnxruntime has no CUDA execution provider ({", ".join(providers)})'
    return True, f'onnxruntime providers {", ".join(providers)}'


def torch_status(device: str) -> tuple[bool, str]:
    """Return (usable on ``device``, reason) for torch; device 'cuda' or 'cpu'."""
    if importlib.util.find_spec('torch') is None:
        return False, 'torch is not installed'
    if device == 'cuda':
        from mono_depth_ros.inference.torch_backend import cuda_available
        if not cuda_available():
            return False, 'torch sees no CUDA device'
    return True, f'torch on {device}'


def _cuda_present() -> bool:
    from mono_depth_ros.inference.onnxruntime_backend import available_providers, CUDA_PROVIDER

    if CUDA_PROVIDER in available_providers():
        return True
    return torch_status('cuda')[0]


def select_backend(requested: str = 'auto', device: str = 'auto', *,
                   model_is_onnx: bool = False, model_is_engine: bool = False) -> tuple[str, str]:
    """Return (backend name, human reason to log) for this machine.

    An explicit ``requested`` backend that cannot run raises BackendUnavailableError with the
    reason; so does device 'cuda' when no backend can use a GPU.
    """
    if requested not in ('auto', *BACKENDS):
        raise BadMessageError('backend', requested, f'auto or one of {", ".join(BACKENDS)}')
    if device not in DEVICES:
        raise BadMessageError('device', device, 'auto, cuda or cpu')
    if requested == 'torch' and model_is_onnx:
        raise BackendUnavailableError('backend torch cannot run an ONNX file; use onnxruntime '
                                      'or tensorrt, or give a PyTorch model')
    if model_is_engine:
        if requested not in ('auto', 'tensorrt'):
            raise BackendUnavailableError(f'backend {requested} cannot run a TensorRT engine '
                                          'file; use tensorrt or give an ONNX model')
        requested = 'tensorrt'
    if requested != 'auto':
        return _check_requested(requested, device)

    notes = []
    candidates = []
    if device != 'cpu':
        candidates += [('tensorrt', tensorrt_status, 'on CUDA'),
                       ('onnxruntime', lambda: onnxruntime_status('cuda'), 'with CUDA'),
                       ('torch', lambda: torch_status('cuda'), 'on CUDA')]
    if device != 'cuda':
        candidates += [('onnxruntime', lambda: onnxruntime_status('cpu'), 'on the CPU'),
                       ('torch', lambda: torch_status('cpu'), 'on the CPU')]
    for name, status, where in candidates:
        if name == 'torch' and model_is_onnx:
            continue
        available, reason = status()
        if available:
            passed = f' (not chosen: {"; ".join(notes)})' if notes else ''
            return name, f'auto: {name} {where}{passed}'
        notes.append(reason)
    raise BackendUnavailableError(f'no backend can run on device {device}: {"; ".join(notes)}')


def _check_requested(name: str, device: str) -> tuple[str, str]:
    if name == 'tensorrt':
        available, reason = tensorrt_status()
        if not available or device == 'cpu':
            raise BackendUnavailableError(reason if not available
                                          else 'backend tensorrt needs device cuda or auto')
        return name, f'requested: {reason}'
    runs_on = 'cpu' if device == 'cpu' else 'cuda'
    status = onnxruntime_status if name == 'onnxruntime' else torch_status
    available, reason = status(runs_on)
    if not available and device == 'auto':
        runs_on = 'cpu'
        available, cpu_reason = status('cpu')
        reason = f'{reason}; {cpu_reason}'
    if not available:
        raise BackendUnavailableError(f'backend {name} on device {device}: {reason}')
    return name, f'requested: {name} on {runs_on} ({reason})'


def _check_arguments(precision: str, input_size: int) -> None:
    if precision not in PRECISIONS:
        raise BadMessageError('precision', precision, ', '.join(PRECISIONS))
    if not isinstance(input_size, int) or input_size < 14 or input_size % 14:
        raise BadMessageError('input_size', input_size, 'a positive multiple of 14')


def exported_onnx(module, info: ModelInfo, model: str, cache_dir: str, input_size: int = 518,
                  logger: logging.Logger | None = None) -> str:
    """Return the cached ONNX export of a PyTorch model, exporting it on first use."""
    import torch
    import transformers

    from mono_depth_ros.inference.model_files import source_fingerprint
    from mono_depth_ros.inference.onnx_contract import read_onnx_contract
    from mono_depth_ros.inference.onnx_export import export_onnx

    logger = logger or _LOGGER
    identity = '|'.join((source_fingerprint(model), info.depth_type, str(info.max_depth),
                         str(info.version), torch.__version__, transformers.__version__,
                         str(EXPORT_OPSET)))
    digest = hashlib.sha256(identity.encode()).hexdigest()[:16]
    stem = re.sub(r'[^A-Za-z0-9_.-]+', '_', pathlib.Path(str(model).rstrip('/')).name)[:60]
    path = pathlib.Path(cache_dir) / 'onnx' / f'{stem}-{digest}.onnx'
    if path.is_file():
        try:
            read_onnx_contract(str(path))
            logger.info('using cached ONNX export %s', path)
            return str(path)
        except Exception as error:
            logger.warning('re-exporting: cached %s is unusable (%s)', path, error)
    logger.info('exporting %s to ONNX (once; cached in %s)', model, path.parent)
    export_onnx(module, path, input_size=input_size, opset=EXPORT_OPSET, info=info,
                logger=logger)
    return str(path)


def _open_tensorrt(model: str, device: str, precision: str, input_size: int, cache_dir: str,
                   threads: int, logger: logging.Logger, force_rebuild: bool = False,
                   engine_cache_dir: str | None = None, **engine_options) -> DepthBackend:
    """Return the TensorRT backend; ``engine_options``: validate, frame_size, build."""
    module = importlib.import_module(TENSORRT_MODULE)
    options = {'precision': precision, 'input_size': input_size,
               'cache_dir': (os.path.expanduser(engine_cache_dir) if engine_cache_dir
                             else os.path.join(cache_dir, 'engines')),
               'device': device, 'logger': logger, 'force_rebuild': force_rebuild,
               **engine_options}
    if hasattr(module, 'open_backend'):
        return module.open_backend(model, threads=threads, **options)
    return module.TensorRTBackend(model, **options)


def _engine_switch(onnx_path: str, contract, device: str, precision: str, input_size: int,
                   cache_dir: str, threads: int, logger: logging.Logger, force_rebuild: bool,
                   engine_cache_dir: str | None, validate_engine: bool) -> DepthBackend:
    """Return an EngineSwitch: the cached engine, else ONNX Runtime while the engine builds."""
    from mono_depth_ros.inference.engine_switch import EngineNotCached, EngineSwitch
    from mono_depth_ros.inference.onnx_contract import read_onnx_contract
    from mono_depth_ros.inference.onnxruntime_backend import OnnxRuntimeBackend

    contract = contract or read_onnx_contract(onnx_path)
    forced = {'pending': bool(force_rebuild)}

    def open_engine(frame_size, build):
        if not build and forced['pending']:
            raise EngineNotCached(onnx_path)  # force_engine_rebuild: build from the first frame

        def engine(frame_io: bool):
            return _open_tensorrt(onnx_path, device, precision, input_size, cache_dir, threads,
                                  logger, forced['pending'] and build, engine_cache_dir,
                                  validate=validate_engine, frame_size=frame_size, build=build,
                                  frame_io=frame_io)

        try:
            backend = engine(frame_io=True)
        except ModelLoadError as error:
            if frame_size is None or not build:
                raise
            # A TensorRT that cannot build (or builds wrong) the frame's own resizes: the
            # network tensor engine for this camera, the CPU resizing.
            logger.warning(f'TensorRT engine taking {frame_size[1]}x{frame_size[0]} frames not '
                           f'used ({error}); building one that takes network tensors')
            backend = engine(frame_io=False)
        forced['pending'] = False
        return backend

    def open_serving():
        on_gpu = onnxruntime_status('cuda')[0]
        return OnnxRuntimeBackend(onnx_path, 'cuda' if on_gpu else 'cpu',
                                  precision if on_gpu else 'fp32', threads, cache_dir=None,
                                  logger=logger, contract=contract)

    return EngineSwitch(open_engine, open_serving, contract.input_spec, precision, logger)


def _given_card(model: str, path: str):
    """Return the card of the YAML file ``path`` (None when ''), or raise ModelLoadError."""
    if not path:
        return None
    from mono_depth_ros.inference.model_card import load_card_file, ModelCardError

    try:
        return load_card_file(path)
    except (ModelCardError, OSError) as error:
        raise ModelLoadError(model, f'model_card {path}: {error}') from None


def _with_card(info: ModelInfo, card, max_depth: float | None) -> ModelInfo:
    """Return ``info`` decided by ``card``: relative or metric, and its range."""
    kind = 'metric' if card.is_metric else 'relative'
    return dataclasses.replace(info, depth_type=kind, card=card,
                               max_depth=card.max_depth or (max_depth if card.is_metric
                                                            else None))


def load_backend(model: str, backend: str = 'auto', device: str = 'auto',
                 precision: str = 'fp32', input_size: int = 518, depth_type: str = 'auto',
                 allow_download: bool = False, cache_dir: str | None = None,
                 logger: logging.Logger | None = None, *, max_depth: float | None = None,
                 threads: int = 0, force_rebuild: bool = False,
                 engine_cache_dir: str | None = None, background_build: bool = False,
                 validate_engine: bool = True,
                 model_card: str = '') -> tuple[DepthBackend, ModelInfo]:
    """Load ``model`` into the chosen backend; return (backend, ModelInfo).

    ``model``: a Hugging Face id or directory, .pth/.pt, .safetensors, .onnx, or a TensorRT
    engine (tensorrt backend only). ``cache_dir`` holds ONNX exports (``onnx/``) and engines
    (``engines/``, ``ort_tensorrt/``); default :func:`default_cache_dir`; Hugging Face downloads,
    only with ``allow_download``, go to the usual Hugging Face cache. ``max_depth`` (metres) is
    used for metric checkpoints that do not record it; ``threads`` > 0 sets intra-op threads;
    ``force_rebuild`` rebuilds a cached TensorRT engine; ``engine_cache_dir`` holds the engines
    themselves (default ``cache_dir``/engines, where ``build-engine`` puts them too).
    ``background_build`` (the node): on tensorrt, an engine not cached yet is built in the
    background while ONNX Runtime serves (:mod:`engine_switch`); ``validate_engine`` False
    skips the check of new engines against ONNX Runtime on the CPU.
    ``model_card``: a YAML card (inference.model_card) for a file that carries none; it
    replaces the file's own card.
    Raises ModelLoadError (naming the model and the reason), BackendUnavailableError or
    BadMessageError (a bad argument).
    """
    from mono_depth_ros.inference.model_files import model_format
    from mono_depth_ros.inference.model_loading import load_torch_model
    from mono_depth_ros.inference.onnx_contract import onnx_model_info, read_onnx_contract

    logger = logger or _LOGGER
    _check_arguments(precision, input_size)
    kind = model_format(model)
    given_card = _given_card(model, model_card)
    name, reason = select_backend(backend, device, model_is_onnx=kind == 'onnx',
                                  model_is_engine=kind == 'engine')
    if backend == 'auto' and name != 'tensorrt' and device != 'cpu':
        logger.warning('TensorRT not used (%s); falling back to %s',
                       tensorrt_status()[1], name)
    logger.info('inference backend %s; %s', name, reason)
    cache = os.path.expanduser(cache_dir) if cache_dir else default_cache_dir()
    loader_options = {'depth_type': depth_type, 'max_depth': max_depth,
                      'allow_download': allow_download, 'logger': logger}
    if name == 'torch':
        from mono_depth_ros.inference.torch_backend import TorchBackend
        module, info = load_torch_model(model, **loader_options)
        if given_card is not None:
            info = _with_card(info, given_card, max_depth)
        return TorchBackend(module, device, precision, threads, logger, card=info.card), info
    contract = None
    if kind == 'engine':
        runner = _open_tensorrt(model, device, precision, input_size, cache, threads, logger,
                                force_rebuild, engine_cache_dir, validate=validate_engine)
        describe_model = getattr(runner, 'model_info', None)
        info = (describe_model(depth_type, max_depth) if describe_model else
                ModelInfo(depth_type if depth_type != 'auto' else 'relative', max_depth,
                          str(model), model_format='engine'))
        if given_card is not None:
            info = _with_card(info, given_card, max_depth)
        logger.info('model %s on %s', info.describe(), runner.describe())
        return runner, info
    if kind == 'onnx':
        contract = read_onnx_contract(model, given_card)
        info = onnx_model_info(contract, depth_type, max_depth, logger)
        onnx_path = contract.path
    else:
        module, info = load_torch_model(model, **loader_options)
        onnx_path = exported_onnx(module, info, model, cache, input_size, logger)
        del module
        if given_card is not None:
            contract = read_onnx_contract(onnx_path, given_card)
            info = _with_card(info, given_card, max_depth)
    extra_inputs = getattr(info.card, 'extra_inputs', ())
    if name == 'tensorrt' and extra_inputs:
        why = ('the tensorrt backend runs single-input models; this one also takes '
               f'{", ".join(extra_inputs)} (model card extra_inputs)')
        if backend != 'auto':
            raise BackendUnavailableError(f'{why}: use backend onnxruntime')
        logger.info('%s: using onnxruntime', why)
        name = 'onnxruntime'
    if name == 'onnxruntime':
        from mono_depth_ros.inference.onnxruntime_backend import OnnxRuntimeBackend
        runner = OnnxRuntimeBackend(onnx_path, device, precision, threads,
                                    cache_dir=None if device == 'cpu' else cache, logger=logger,
                                    contract=contract)
    elif background_build:
        runner = _engine_switch(onnx_path, contract, device, precision, input_size, cache,
                                threads, logger, force_rebuild, engine_cache_dir,
                                validate_engine)
    else:
        runner = _open_tensorrt(onnx_path, device, precision, input_size, cache, threads, logger,
                                force_rebuild, engine_cache_dir, validate=validate_engine)
    logger.info('model %s on %s', info.describe(), runner.describe())
    return runner, info
