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

"""Load Depth Anything into PyTorch from a Hugging Face id or directory, a .pth or .safetensors.

Every source becomes the transformers ``DepthAnythingForDepthEstimation`` architecture:

* a Hugging Face id or directory: ``from_pretrained`` (V1 and V2; the config's
  ``depth_estimation_type`` and ``max_depth`` say relative or metric). Never remote code, and
  no network unless ``allow_download``.
* an official Depth-Anything (V1/V2) ``.pth`` or a ``.safetensors`` with official
  (``pretrained.*``, ``depth_head.*``) or transformers (``backbone.*``, ``neck.*``, ``head.*``)
  key names: the architecture is read from the tensor shapes
  (:mod:`~mono_depth_ros.inference.model_architecture`) and the keys renamed to the
  transformers layout (:mod:`~mono_depth_ros.inference.checkpoint_keys`).

Relative or metric comes from :mod:`~mono_depth_ros.inference.depth_type_resolution`. torch and
transformers are imported when a model is loaded.
"""

import dataclasses
import logging
import os
import pathlib

from mono_depth_ros.inference.base import ModelInfo
from mono_depth_ros.inference.checkpoint_keys import normalise_hf_keys, official_to_hf_state_dict
from mono_depth_ros.inference.depth_type_resolution import (Evidence, name_hints,
                                                            recorded_from_metadata,
                                                            resolve_depth_type)
from mono_depth_ros.inference.errors import DownloadDisabledError, error_summary, ModelLoadError
from mono_depth_ros.inference.model_architecture import (config_from_state_dict,
                                                         config_max_depth, config_metric_range,
                                                         DEPTH_FAMILIES, encoder_name,
                                                         family_of_config,
                                                         version_from_feature_layers)
from mono_depth_ros.inference.model_files import model_format

_LOGGER = logging.getLogger('mono_depth_ros.inference.model_loading')


def _apply_max_depth(module, depth_type: str, max_depth: float | None):
    """Set the metric head's scale exactly (the transformers config only stores integers)."""
    if depth_type == 'metric' and max_depth is not None:
        module.head.max_depth = float(max_depth)
    return module


def _read_state_dict(path: str, kind: str) -> tuple[dict, dict]:
    """Return (state dict, metadata) of a .pth or .safetensors file; never unpickles objects."""
    import torch

    if os.path.getsize(path) == 0:
        raise ModelLoadError(path, 'the file is empty')
    metadata = {}
    if kind == 'safetensors':
        from safetensors import safe_open
        try:
            with safe_open(path, framework='pt') as reader:
                metadata = dict(reader.metadata() or {})
                state_dict = {key: reader.get_tensor(key) for key in reader.keys()}
        except Exception as error:
            raise ModelLoadError(path, 'not a readable safetensors file (truncated or corrupt?): '
                                 f'{error_summary(error)}') from error
    else:
        try:
            state_dict = torch.load(path, map_location='cpu', weights_only=True)
        except Exception as error:
            raise ModelLoadError(path, 'not a readable PyTorch weights file (truncated, corrupt '
                                 f'or not plain tensors?): {error_summary(error)}') from error
        for wrapper in ('state_dict', 'model'):
            if isinstance(state_dict, dict) and isinstance(state_dict.get(wrapper), dict):
                state_dict = state_dict[wrapper]
    if not isinstance(state_dict, dict) or not all(
            isinstance(value, torch.Tensor) for value in state_dict.values()):
        raise ModelLoadError(path, 'expected a dictionary of tensors (a state dict)')
    if state_dict and all(key.startswith('module.') for key in state_dict):
        state_dict = {key[len('module.'):]: value for key, value in state_dict.items()}
    return state_dict, metadata


def _hf_state_dict_of(path: str, state_dict: dict) -> dict:
    keys = list(state_dict)
    if any(key.startswith('pretrained.') for key in keys):
        try:
            return official_to_hf_state_dict(state_dict)
        except ValueError as error:
            raise ModelLoadError(path, f'official Depth-Anything keys, but {error}') from error
    if any(key.startswith('backbone.embeddings.') for key in keys):
        return normalise_hf_keys(state_dict)
    sample = ', '.join(keys[:3]) or 'none'
    raise ModelLoadError(path, 'no Depth Anything weights: expected keys starting with '
                               "'pretrained.' (official) or 'backbone.' (transformers); "
                               f'found {len(keys)} keys, e.g. {sample}')


def _build_from_state_dict(path: str, state_dict: dict, config):
    import torch
    from transformers import DepthAnythingForDepthEstimation

    with torch.device('meta'):
        module = DepthAnythingForDepthEstimation(config)
    expected = set(module.state_dict())
    missing = sorted(expected - set(state_dict))
    unexpected = sorted(set(state_dict) - expected)
    if missing or unexpected:
        details = []
        if missing:
            details.append(f'{len(missing)} missing (e.g. {", ".join(missing[:3])})')
        if unexpected:
            details.append(f'{len(unexpected)} unexpected (e.g. {", ".join(unexpected[:3])})')
        raise ModelLoadError(path, 'weights do not fit the Depth Anything architecture read '
                                   f'from their shapes: {"; ".join(details)}')
    try:
        module.load_state_dict({key: value.float() for key, value in state_dict.items()},
                               strict=True, assign=True)
    except RuntimeError as error:
        raise ModelLoadError(path, f'weights do not fit: {error_summary(error)}') from error
    return module.eval()


def _load_state_dict_model(path: str, kind: str, depth_type: str, max_depth: float | None,
                           logger: logging.Logger):
    raw, metadata = _read_state_dict(path, kind)
    state_dict = _hf_state_dict_of(path, raw)
    evidence = Evidence(recorded_from_metadata(metadata), name_hints(path))
    resolved_type, resolved_max = resolve_depth_type(path, evidence, depth_type, max_depth, logger)
    version = evidence.recorded.get('version') or evidence.hinted.get('version') or 'v2'
    try:
        config = config_from_state_dict(state_dict, resolved_type, resolved_max, version)
    except ValueError as error:
        raise ModelLoadError(path, f'not a Depth Anything model: {error}') from error
    module = _apply_max_depth(_build_from_state_dict(path, state_dict, config), resolved_type,
                              resolved_max)
    backbone = config.backbone_config
    info = ModelInfo(depth_type=resolved_type, max_depth=resolved_max, source=str(path),
                     encoder=encoder_name(backbone.hidden_size, backbone.num_hidden_layers),
                     version=version, model_format=kind)
    return module, dataclasses.replace(info, card=module_card(module, info))


def _load_hf_model(model: str, depth_type: str, max_depth: float | None, allow_download: bool,
                   logger: logging.Logger):
    import torch
    from transformers import AutoConfig, DepthAnythingForDepthEstimation
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    is_local = pathlib.Path(os.path.expanduser(model)).is_dir()
    source = os.path.expanduser(model) if is_local else model
    options = {'local_files_only': not allow_download}
    try:
        config = AutoConfig.from_pretrained(source, **options)
    except (OSError, ValueError) as error:
        if not is_local and not allow_download:
            raise DownloadDisabledError(model) from error
        reason = (f'config.json is not a readable model config: {error_summary(error)}'
                  if is_local else
                  f'could not download it from the Hugging Face Hub: {error_summary(error)}')
        raise ModelLoadError(model, reason) from error
    model_type = getattr(config, 'model_type', None)
    if model_type not in DEPTH_FAMILIES:
        raise ModelLoadError(model, f'model_type is {model_type!r}, expected one of '
                                    f'{", ".join(repr(name) for name in DEPTH_FAMILIES)}')
    if model_type != 'depth_anything':
        return _load_family_model(model, source, config, options)
    recorded = {'depth_type': config.depth_estimation_type}
    if config.depth_estimation_type == 'metric' and config.max_depth:
        recorded['max_depth'] = float(config.max_depth)
    evidence = Evidence(recorded, name_hints(model))
    resolved_type, resolved_max = resolve_depth_type(model, evidence, depth_type, max_depth,
                                                     logger)
    if resolved_type == 'metric':
        config.max_depth = config_max_depth(resolved_max)
    elif config.max_depth is None:
        config.max_depth = 1
    try:
        module = DepthAnythingForDepthEstimation.from_pretrained(
            source, config=config, dtype=torch.float32, **options)
    except (OSError, ValueError, RuntimeError) as error:
        raise ModelLoadError(model,
                             f'could not load the weights: {error_summary(error)}') from error
    _apply_max_depth(module, resolved_type, resolved_max)
    backbone = config.backbone_config
    info = ModelInfo(
        depth_type=resolved_type, max_depth=resolved_max, source=model,
        encoder=encoder_name(backbone.hidden_size, backbone.num_hidden_layers),
        version=version_from_feature_layers(backbone.hidden_size, backbone.num_hidden_layers,
                                            backbone.out_indices),
        model_format='hf')
    return module.eval(), dataclasses.replace(info, card=module_card(module, info))


def module_card(module, info: ModelInfo):
    """Return the model card of a transformers depth module (its family's reference contract)."""
    from mono_depth_ros.inference.model_card import (depth_anything_card, family_card,
                                                     known_license)

    if type(module).__name__ == 'DepthAnything3Net':  # package depth-anything-3, no config
        return family_card('depth_anything_3_metric' if info.is_metric else 'depth_anything_3',
                           license=known_license(info.source) or 'Apache-2.0')
    config = module.config
    family = family_of_config(config)
    licence = known_license(info.source, info.encoder, info.version)
    if family in (None, 'depth_anything_v2'):
        return depth_anything_card(info.depth_type, info.max_depth, info.version, licence)
    values = {}
    if family == 'dpt':
        side = int(config.image_size)
        values = {'input_size': (side, side), 'size_multiple': 2 * int(config.patch_size)}
    elif family == 'depth_pro':
        side = int(round(config.patch_size / min(config.scaled_images_ratios)))
        values = {'input_size': (side, side), 'size_multiple': int(config.patch_size)}
    elif family in ('zoedepth', 'glpn', 'prompt_depth_anything'):
        values = {'max_depth': info.max_depth or config_metric_range(config) or 10.0}
    if licence:
        values['license'] = licence
    return family_card(family, **values)


def _load_family_model(model: str, source: str, config, options: dict):
    """Load a DPT, ZoeDepth, GLPN, Depth Pro or Prompt Depth Anything model by its class."""
    import torch
    import transformers

    class_name = DEPTH_FAMILIES[config.model_type][0]
    try:
        module = getattr(transformers, class_name).from_pretrained(
            source, config=config, dtype=torch.float32, **options)
    except (OSError, ValueError, RuntimeError) as error:
        raise ModelLoadError(model,
                             f'could not load the weights: {error_summary(error)}') from error
    metric = family_of_config(config) != 'dpt'
    info = ModelInfo(depth_type='metric' if metric else 'relative',
                     max_depth=config_metric_range(config) if metric else None, source=model,
                     model_format='hf')
    return module.eval(), dataclasses.replace(info, card=module_card(module, info))


def load_torch_model(model: str, depth_type: str = 'auto', max_depth: float | None = None,
                     allow_download: bool = False, logger: logging.Logger | None = None):
    """Return (``DepthAnythingForDepthEstimation`` in eval mode on the CPU, ModelInfo).

    ``model``: a Hugging Face id or directory, a .pth/.pt/.bin or .safetensors file.
    ``depth_type`` 'auto' uses what the model records (see the module docstring); ``max_depth``
    is the metric range in metres for checkpoints that do not record it.
    """
    logger = logger or _LOGGER
    kind = model_format(model)
    if kind in ('onnx', 'engine'):
        raise ModelLoadError(model, f'an {kind.upper()} file has no PyTorch weights; run it '
                                    'with the onnxruntime or tensorrt backend')
    if kind == 'hf':
        return _load_hf_model(model, depth_type, max_depth, allow_download, logger)
    return _load_state_dict_model(os.path.expanduser(model), kind, depth_type, max_depth,
                                  logger)
