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

"""Load Depth Anything from any common source: Hugging Face, official .pth, .safetensors, ONNX.

Every PyTorch source becomes the transformers ``DepthAnythingForDepthEstimation`` architecture:

* a Hugging Face id or directory: ``from_pretrained`` (V1 and V2; the config's
  ``depth_estimation_type`` and ``max_depth`` say relative or metric). Never remote code, and
  no network unless ``allow_download``.
* an official Depth-Anything (V1/V2) ``.pth`` or a ``.safetensors`` with official
  (``pretrained.*``, ``depth_head.*``) or transformers (``backbone.*``, ``neck.*``, ``head.*``)
  key names: the architecture is read from the tensor shapes (width, depth, patch size,
  neck and head sizes), the encoder named from the width (384/768/1024/1536 -> vits/vitb/vitl/
  vitg, 64 channels per attention head), and the keys renamed to the transformers layout.

Relative vs metric in official checkpoints: the metric head differs from the relative one only
by a final sigmoid (times ``max_depth``) instead of a ReLU, neither of which has weights, so the
state dict cannot tell them apart. The answer comes, in this order, from what the file records
(safetensors metadata ``depth_type``/``max_depth``), the ``depth_type``/``max_depth``
arguments, then the file name as released ("metric" in it; "hypersim"/"indoor" -> 20 m,
"vkitti"/"outdoor" -> 80 m), else relative. V1 vs V2 (which encoder layers feed the head) is
likewise not in the weights: V1 for the released ``depth_anything_vit?14`` names, else V2.

ONNX files are checked against the contract in INTERFACE.md (one float32 input [1, 3, H, W],
one output [1, H, W] or [1, 1, H, W]) and their metadata (written by our export) is read.
"""

from dataclasses import dataclass, field
import functools
import logging
import math
import os
import pathlib
import re

from mono_depth_ros.inference.base import DEPTH_TYPES, InputSpec, ModelInfo, ModelLoadError

_LOGGER = logging.getLogger('mono_depth_ros.inference.model_loading')

PATCH_SIZE = 14
HEAD_DIM = 64
# Official DINOv2 encoders: width -> (name, depth, V2 feature layers, 1-based as in transformers).
ENCODERS = {
    384: ('vits', 12, (3, 6, 9, 12)),
    768: ('vitb', 12, (3, 6, 9, 12)),
    1024: ('vitl', 24, (5, 12, 18, 24)),
    1536: ('vitg', 40, (10, 20, 30, 40)),
}
PTH_SUFFIXES = ('.pth', '.pt', '.bin', '.ckpt')
ENGINE_SUFFIXES = ('.engine', '.plan', '.trt')
_HF_ID = re.compile(r'^[A-Za-z0-9][\w.-]*/[\w.-]+$')

# Official name <-> transformers name. A trailing '.' matches a prefix (weight/bias follow).
# Placeholders: {n} a block number kept as is; {r} refinenet k <-> fusion layer 4 - k;
# {c} scratch layer k_rn <-> neck conv k - 1.
_RENAMES = (
    ('pretrained.cls_token', 'backbone.embeddings.cls_token'),
    ('pretrained.mask_token', 'backbone.embeddings.mask_token'),
    ('pretrained.pos_embed', 'backbone.embeddings.position_embeddings'),
    ('pretrained.patch_embed.proj.', 'backbone.embeddings.patch_embeddings.projection.'),
    ('pretrained.blocks.{n}.norm1.', 'backbone.encoder.layer.{n}.norm1.'),
    ('pretrained.blocks.{n}.norm2.', 'backbone.encoder.layer.{n}.norm2.'),
    ('pretrained.blocks.{n}.ls1.gamma', 'backbone.encoder.layer.{n}.layer_scale1.lambda1'),
    ('pretrained.blocks.{n}.ls2.gamma', 'backbone.encoder.layer.{n}.layer_scale2.lambda1'),
    ('pretrained.blocks.{n}.attn.proj.', 'backbone.encoder.layer.{n}.attention.o_proj.'),
    ('pretrained.blocks.{n}.mlp.fc1.', 'backbone.encoder.layer.{n}.mlp.fc1.'),
    ('pretrained.blocks.{n}.mlp.fc2.', 'backbone.encoder.layer.{n}.mlp.fc2.'),
    ('pretrained.blocks.{n}.mlp.w3.', 'backbone.encoder.layer.{n}.mlp.down_proj.'),
    ('pretrained.norm.', 'backbone.layernorm.'),
    ('depth_head.projects.{n}.', 'neck.reassemble_stage.layers.{n}.projection.'),
    ('depth_head.resize_layers.{n}.', 'neck.reassemble_stage.layers.{n}.resize.'),
    ('depth_head.scratch.layer{c}_rn.', 'neck.convs.{c}.'),
    ('depth_head.scratch.refinenet{r}.out_conv.', 'neck.fusion_stage.layers.{r}.projection.'),
    ('depth_head.scratch.refinenet{r}.resConfUnit1.conv1.',
     'neck.fusion_stage.layers.{r}.residual_layer1.convolution1.'),
    ('depth_head.scratch.refinenet{r}.resConfUnit1.conv2.',
     'neck.fusion_stage.layers.{r}.residual_layer1.convolution2.'),
    ('depth_head.scratch.refinenet{r}.resConfUnit2.conv1.',
     'neck.fusion_stage.layers.{r}.residual_layer2.convolution1.'),
    ('depth_head.scratch.refinenet{r}.resConfUnit2.conv2.',
     'neck.fusion_stage.layers.{r}.residual_layer2.convolution2.'),
    ('depth_head.scratch.output_conv1.', 'head.conv1.'),
    ('depth_head.scratch.output_conv2.0.', 'head.conv2.'),
    ('depth_head.scratch.output_conv2.2.', 'head.conv3.'),
)
# One official tensor <-> several transformers tensors, concatenated along dim 0.
_FUSED = (
    ('pretrained.blocks.{n}.attn.qkv.', ('backbone.encoder.layer.{n}.attention.q_proj.',
                                         'backbone.encoder.layer.{n}.attention.k_proj.',
                                         'backbone.encoder.layer.{n}.attention.v_proj.')),
    ('pretrained.blocks.{n}.mlp.w12.', ('backbone.encoder.layer.{n}.mlp.gate_proj.',
                                        'backbone.encoder.layer.{n}.mlp.up_proj.')),
)
# Placeholder -> (official index -> transformers index, transformers -> official).
_INDEX_MAPS = {
    'n': (lambda i: i, lambda i: i),
    'r': (lambda i: 4 - i, lambda i: 4 - i),
    'c': (lambda i: i - 1, lambda i: i + 1),
}
# Names written by transformers before 5.0 -> current names (whole-key substrings).
_LEGACY_HF_RENAMES = (
    ('.attention.attention.query.', '.attention.q_proj.'),
    ('.attention.attention.key.', '.attention.k_proj.'),
    ('.attention.attention.value.', '.attention.v_proj.'),
    ('.attention.output.dense.', '.attention.o_proj.'),
    ('.mlp.weights_out.', '.mlp.down_proj.'),
)


@functools.lru_cache(maxsize=None)
def _pattern(template: str) -> tuple[re.Pattern, str | None]:
    """Return (regex, placeholder letter or None) matching the keys a template describes."""
    placeholder = None
    regex = ''
    for position, part in enumerate(re.split(r'\{([nrc])\}', template)):
        if position % 2:
            placeholder = part
            regex += r'(?P<index>\d+)'
        else:
            regex += re.escape(part)
    suffix = r'(?P<rest>.*)' if template.endswith('.') else ''
    return re.compile(f'^{regex}{suffix}$'), placeholder


def _fill(template: str, index: int | None, rest: str) -> str:
    if index is not None:
        template = re.sub(r'\{[nrc]\}', str(index), template)
    return template + rest


def _renamed(key: str, to_hf: bool) -> str | None:
    side = 0 if to_hf else 1
    for pair in _RENAMES:
        regex, placeholder = _pattern(pair[side])
        match = regex.match(key)
        if match:
            index = match.groupdict().get('index')
            if index is not None:
                index = _INDEX_MAPS[placeholder][side](int(index))
            return _fill(pair[1 - side], index, match.groupdict().get('rest', ''))
    return None


def _split_fused(key: str, tensor) -> dict | None:
    """Return the transformers pieces of a fused official tensor (qkv, w12), or None."""
    import torch

    for official, pieces in _FUSED:
        match = _pattern(official)[0].match(key)
        if match:
            chunks = torch.chunk(tensor, len(pieces), dim=0)
            return {_fill(piece, int(match['index']), match['rest']): chunk.contiguous()
                    for piece, chunk in zip(pieces, chunks)}
    return None


def _fused_part(key: str) -> tuple[tuple[str, int, str], int] | None:
    """Return ((official template, layer, rest), part number) of a transformers piece, or None."""
    for official, pieces in _FUSED:
        for part, piece in enumerate(pieces):
            match = _pattern(piece)[0].match(key)
            if match:
                return (official, int(match['index']), match['rest']), part
    return None


def _convert_keys(state_dict: dict, to_hf: bool) -> tuple[dict, list[str]]:
    """Rename one layout into the other; return the new dict and the keys nothing matched."""
    import torch

    converted, unmatched = {}, []
    fused_parts: dict[tuple[str, int, str], dict[int, object]] = {}
    for key, tensor in state_dict.items():
        renamed = _renamed(key, to_hf)
        if renamed is not None:
            converted[renamed] = tensor
            continue
        if to_hf:
            pieces = _split_fused(key, tensor)
            if pieces is not None:
                converted.update(pieces)
                continue
        else:
            found = _fused_part(key)
            if found is not None:
                fused_parts.setdefault(found[0], {})[found[1]] = tensor
                continue
        unmatched.append(key)
    piece_counts = {official: len(pieces) for official, pieces in _FUSED}
    for (official, index, rest), parts in fused_parts.items():
        name = _fill(official, index, rest)
        if len(parts) == piece_counts[official]:
            converted[name] = torch.cat([parts[part] for part in sorted(parts)], dim=0)
        else:
            unmatched.append(f'{name} (only {len(parts)} of its parts)')
    return converted, unmatched


def official_to_hf_state_dict(state_dict: dict) -> dict:
    """Return an official Depth-Anything state dict renamed to the transformers layout.

    Raises ValueError naming the keys that have no transformers counterpart.
    """
    converted, unmatched = _convert_keys(state_dict, to_hf=True)
    if unmatched:
        raise ValueError(f'{len(unmatched)} weights have no transformers counterpart, e.g. '
                         f'{", ".join(sorted(unmatched)[:4])}')
    return converted


def hf_to_official_state_dict(state_dict: dict) -> dict:
    """Return a transformers Depth Anything state dict with the official Depth-Anything names.

    The inverse of :func:`official_to_hf_state_dict` (q/k/v and SwiGLU gate/up are fused back).
    """
    converted, unmatched = _convert_keys(normalise_hf_keys(state_dict), to_hf=False)
    if unmatched:
        raise ValueError(f'{len(unmatched)} weights have no official counterpart, e.g. '
                         f'{", ".join(sorted(unmatched)[:4])}')
    return converted


def normalise_hf_keys(state_dict: dict) -> dict:
    """Return a transformers state dict with pre-5.0 Dinov2 names renamed to the current ones."""
    import torch

    result = {}
    for key, tensor in state_dict.items():
        if '.mlp.weights_in.' in key:
            gate, up = torch.chunk(tensor, 2, dim=0)
            result[key.replace('.mlp.weights_in.', '.mlp.gate_proj.')] = gate.contiguous()
            result[key.replace('.mlp.weights_in.', '.mlp.up_proj.')] = up.contiguous()
            continue
        for old, new in _LEGACY_HF_RENAMES:
            key = key.replace(old, new)
        result[key] = tensor
    return result


def encoder_name(hidden_size: int, num_layers: int | None = None) -> str | None:
    """Return vits/vitb/vitl/vitg for an official DINOv2 width (and depth), else None."""
    entry = ENCODERS.get(int(hidden_size))
    if entry is None or (num_layers is not None and int(num_layers) != entry[1]):
        return None
    return entry[0]


def feature_layers(hidden_size: int, num_layers: int, version: str = 'v2') -> list[int]:
    """Return the four encoder layers (1-based) whose outputs feed the DPT head.

    V2: the official table for vits/vitb/vitl/vitg, else four evenly spaced layers; V1: the
    last four layers.
    """
    if version == 'v1':
        return [num_layers - 3 + i for i in range(4)]
    entry = ENCODERS.get(int(hidden_size))
    if entry is not None and entry[1] == num_layers:
        return list(entry[2])
    return [max(1, round(num_layers * (i + 1) / 4)) for i in range(4)]


def _version_of(hidden_size: int, num_layers: int, out_indices) -> str | None:
    indices = list(out_indices or [])
    for version in ('v2', 'v1'):
        if indices == feature_layers(hidden_size, num_layers, version):
            return version
    return None


def config_from_state_dict(state_dict: dict, depth_type: str = 'relative',
                           max_depth: float | None = None, version: str = 'v2'):
    """Return the ``DepthAnythingConfig`` whose model has exactly these (transformers) weights.

    The architecture is read from the tensor shapes; the attention heads are width / 64, as in
    every DINOv2 encoder.
    """
    from transformers import DepthAnythingConfig, Dinov2Config

    def shape(key: str) -> tuple[int, ...]:
        if key not in state_dict:
            raise ValueError(f'weight {key!r} is missing')
        return tuple(state_dict[key].shape)

    hidden = shape('backbone.embeddings.cls_token')[-1]
    patch = shape('backbone.embeddings.patch_embeddings.projection.weight')[-1]
    positions = shape('backbone.embeddings.position_embeddings')[1] - 1
    grid = math.isqrt(positions)
    if grid * grid != positions:
        raise ValueError(f'position embeddings for {positions} patches are not a square grid')
    layer_numbers = {int(m.group(1)) for m in
                     (re.match(r'backbone\.encoder\.layer\.(\d+)\.', key) for key in state_dict)
                     if m}
    num_layers = max(layer_numbers) + 1 if layer_numbers else 0
    if num_layers < 4:
        raise ValueError(f'{num_layers} encoder layers found, at least 4 expected')
    swiglu = 'backbone.encoder.layer.0.mlp.gate_proj.weight' in state_dict
    mlp_ratio = 4 if swiglu else shape('backbone.encoder.layer.0.mlp.fc1.weight')[0] / hidden
    if mlp_ratio == int(mlp_ratio):
        mlp_ratio = int(mlp_ratio)
    heads = max(1, hidden // HEAD_DIM)
    backbone = Dinov2Config(
        hidden_size=hidden, num_hidden_layers=num_layers, num_attention_heads=heads,
        mlp_ratio=mlp_ratio, image_size=grid * patch, patch_size=patch,
        use_swiglu_ffn=swiglu, use_mask_token='backbone.embeddings.mask_token' in state_dict,
        out_indices=feature_layers(hidden, num_layers, version),
        apply_layernorm=True, reshape_hidden_states=False)
    return DepthAnythingConfig(
        backbone_config=backbone, reassemble_hidden_size=hidden, patch_size=patch,
        neck_hidden_sizes=[shape(f'neck.reassemble_stage.layers.{i}.projection.weight')[0]
                           for i in range(4)],
        fusion_hidden_size=shape('neck.convs.0.weight')[0],
        head_hidden_size=shape('head.conv2.weight')[0],
        depth_estimation_type=depth_type,
        max_depth=_config_max_depth(max_depth if depth_type == 'metric' else 1))


def _config_max_depth(value: float | None) -> int:
    """Return ``value`` as the config accepts it (an int); see :func:`_apply_max_depth`."""
    return int(value) if value is not None and float(value).is_integer() else 1


def _apply_max_depth(module, depth_type: str, max_depth: float | None):
    """Set the metric head's scale exactly (the transformers config only stores integers)."""
    if depth_type == 'metric' and max_depth is not None:
        module.head.max_depth = float(max_depth)
    return module


@dataclass(frozen=True)
class _Evidence:
    """What a model says about itself: ``recorded`` (config/metadata) beats ``hinted`` (name)."""

    recorded: dict = field(default_factory=dict)
    hinted: dict = field(default_factory=dict)


def _name_hints(path: str) -> dict:
    name = pathlib.Path(path).name.lower()
    hints = {}
    if 'metric' in name:
        hints['depth_type'] = 'metric'
    if 'hypersim' in name or 'indoor' in name:
        hints['max_depth'] = 20.0
    elif 'vkitti' in name or 'outdoor' in name:
        hints['max_depth'] = 80.0
    if re.search(r'depth_anything_vit[sblg]14', name):
        hints['version'] = 'v1'
    elif re.search(r'v2', name):
        hints['version'] = 'v2'
    return hints


def _recorded_from_metadata(metadata: dict | None) -> dict:
    metadata = metadata or {}
    recorded = {}
    depth_type = metadata.get('depth_type') or metadata.get('depth_estimation_type')
    if depth_type in DEPTH_TYPES:
        recorded['depth_type'] = depth_type
    if metadata.get('max_depth') not in (None, '', 'None'):
        try:
            recorded['max_depth'] = float(metadata['max_depth'])
        except ValueError:
            pass
    for key in ('version', 'encoder'):
        if metadata.get(key):
            recorded[key] = metadata[key]
    return recorded


def _check_depth_type_argument(depth_type: str) -> None:
    if depth_type not in ('auto', *DEPTH_TYPES):
        from mono_depth_ros.core.errors import BadMessageError
        raise BadMessageError('depth_type', depth_type, 'auto, relative or metric')


def _resolve(model: str, evidence: _Evidence, depth_type: str, max_depth: float | None,
             logger: logging.Logger) -> tuple[str, float | None]:
    """Return (depth_type, max_depth) from the evidence and the caller's arguments."""
    _check_depth_type_argument(depth_type)
    recorded_type = evidence.recorded.get('depth_type')
    if recorded_type and depth_type not in ('auto', recorded_type):
        raise ModelLoadError(model, f'depth_type is {depth_type!r} but the model records '
                                    f'{recorded_type!r}; use depth_type auto')
    resolved = recorded_type or (depth_type if depth_type != 'auto' else None)
    resolved = resolved or evidence.hinted.get('depth_type')
    if resolved is None:
        logger.info('%s does not record relative or metric; assuming relative (set depth_type '
                    'metric for a metric model)', model)
        resolved = 'relative'
    if resolved == 'relative':
        return resolved, None
    recorded_max = evidence.recorded.get('max_depth')
    if recorded_max is not None:
        if max_depth is not None and float(max_depth) != recorded_max:
            logger.warning('%s records max_depth %g m; ignoring max_depth %g', model,
                           recorded_max, max_depth)
        return resolved, float(recorded_max)
    chosen = max_depth if max_depth is not None else evidence.hinted.get('max_depth')
    if chosen is None or not float(chosen) > 0:
        raise ModelLoadError(model, 'a metric model whose maximum depth is not recorded: pass '
                                    'max_depth (20 for the Hypersim/indoor models, 80 for '
                                    'VKITTI/outdoor)')
    return resolved, float(chosen)


def model_format(model: str) -> str:
    """Return 'onnx', 'pth', 'safetensors', 'engine' or 'hf' for a model (else ModelLoadError)."""
    text = str(model).strip()
    if not text:
        raise ModelLoadError(text, 'no model given')
    path = pathlib.Path(os.path.expanduser(text))
    suffix = path.suffix.lower()
    if path.is_dir():
        if (path / 'config.json').is_file():
            return 'hf'
        raise ModelLoadError(text, 'a directory without config.json (a Hugging Face model '
                                   'directory was expected)')
    kind = ('onnx' if suffix == '.onnx' else 'safetensors' if suffix == '.safetensors'
            else 'pth' if suffix in PTH_SUFFIXES else 'engine' if suffix in ENGINE_SUFFIXES
            else None)
    if path.is_file():
        if kind is None:
            raise ModelLoadError(text, f'unknown model file type {suffix!r} (expected .onnx, '
                                       '.pth, .pt, .safetensors, a TensorRT .engine or a '
                                       'Hugging Face directory)')
        return kind
    if kind is not None or text.startswith(('/', '.', '~')) or not _HF_ID.match(text):
        raise ModelLoadError(text, 'file not found')
    return 'hf'


def _first_line(error: BaseException) -> str:
    """Return 'ErrorType: first sentence' of an exception, for one-line error messages."""
    lines = str(error).strip().splitlines()
    text = lines[0] if lines else ''
    if len(text) > 160 and '. ' in text:
        text = text[:text.index('. ') + 1]
    return f'{type(error).__name__}: {text}'.rstrip(': ')


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
                                 f'{_first_line(error)}') from error
    else:
        try:
            state_dict = torch.load(path, map_location='cpu', weights_only=True)
        except Exception as error:
            raise ModelLoadError(path, 'not a readable PyTorch weights file (truncated, corrupt '
                                 f'or not plain tensors?): {_first_line(error)}') from error
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
        raise ModelLoadError(path, f'weights do not fit: {_first_line(error)}') from error
    return module.eval()


def _load_state_dict_model(path: str, kind: str, depth_type: str, max_depth: float | None,
                           logger: logging.Logger):
    raw, metadata = _read_state_dict(path, kind)
    state_dict = _hf_state_dict_of(path, raw)
    evidence = _Evidence(_recorded_from_metadata(metadata), _name_hints(path))
    resolved_type, resolved_max = _resolve(path, evidence, depth_type, max_depth, logger)
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
    return module, info


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
        if is_local:
            reason = f'config.json is not a readable model config: {_first_line(error)}'
        elif allow_download:
            reason = f'could not download it from the Hugging Face Hub: {_first_line(error)}'
        else:
            reason = ('not a local path and not in the Hugging Face cache, and downloads are '
                      'off (allow_download false): download it once or pass a local path')
        raise ModelLoadError(model, reason) from error
    if getattr(config, 'model_type', None) != 'depth_anything':
        raise ModelLoadError(model, f'model_type is {getattr(config, "model_type", None)!r}, '
                                    "expected 'depth_anything'")
    recorded = {'depth_type': config.depth_estimation_type}
    if config.depth_estimation_type == 'metric' and config.max_depth:
        recorded['max_depth'] = float(config.max_depth)
    evidence = _Evidence(recorded, _name_hints(model))
    resolved_type, resolved_max = _resolve(model, evidence, depth_type, max_depth, logger)
    if resolved_type == 'metric':
        config.max_depth = _config_max_depth(resolved_max)
    elif config.max_depth is None:
        config.max_depth = 1
    try:
        module = DepthAnythingForDepthEstimation.from_pretrained(
            source, config=config, dtype=torch.float32, **options)
    except (OSError, ValueError, RuntimeError) as error:
        raise ModelLoadError(model, f'could not load the weights: {_first_line(error)}') from error
    _apply_max_depth(module, resolved_type, resolved_max)
    backbone = config.backbone_config
    info = ModelInfo(
        depth_type=resolved_type, max_depth=resolved_max, source=model,
        encoder=encoder_name(backbone.hidden_size, backbone.num_hidden_layers),
        version=_version_of(backbone.hidden_size, backbone.num_hidden_layers,
                            backbone.out_indices),
        model_format='hf')
    return module.eval(), info


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


@dataclass(frozen=True)
class OnnxContract:
    """The checked input/output of an ONNX depth model and its metadata."""

    path: str
    input_name: str
    input_shape: tuple
    output_name: str
    output_shape: tuple
    metadata: dict

    @property
    def input_spec(self) -> InputSpec:
        """Return the InputSpec: fixed (height, width) when both are numbers, else dynamic."""
        height, width = self.input_shape[2], self.input_shape[3]
        if isinstance(height, int) and isinstance(width, int):
            return InputSpec(self.input_name, height, width)
        return InputSpec(self.input_name)


def _dims(value_info) -> tuple | None:
    tensor_type = value_info.type.tensor_type
    if not tensor_type.HasField('shape'):
        return None
    return tuple(dim.dim_value if dim.HasField('dim_value') else (dim.dim_param or None)
                 for dim in tensor_type.shape.dim)


def read_onnx_contract(path: str) -> OnnxContract:
    """Check an ONNX file against the depth model contract; raise one clear ModelLoadError.

    Contract: one float32 input [1, 3, H, W] (H, W fixed multiples of 14 or dynamic), one
    float32 output [1, H, W] or [1, 1, H, W].
    """
    import onnx

    path = os.path.expanduser(str(path))
    if not os.path.isfile(path):
        raise ModelLoadError(path, 'file not found')
    if os.path.getsize(path) == 0:
        raise ModelLoadError(path, 'the file is empty')
    try:
        proto = onnx.load(path, load_external_data=False)
    except Exception as error:
        raise ModelLoadError(path, 'not a readable ONNX file (truncated or corrupt?): '
                                   f'{_first_line(error)}') from error
    graph = proto.graph
    if not graph.node:
        raise ModelLoadError(path, 'the ONNX graph is empty (truncated or corrupt?)')
    initializers = {tensor.name for tensor in graph.initializer}
    inputs = [value for value in graph.input if value.name not in initializers]
    outputs = list(graph.output)
    if len(inputs) != 1:
        raise ModelLoadError(path, f'{len(inputs)} inputs ({", ".join(v.name for v in inputs)}); '
                                   'the contract is one float32 input [1, 3, H, W]')
    if len(outputs) != 1:
        raise ModelLoadError(path, f'{len(outputs)} outputs '
                                   f'({", ".join(v.name for v in outputs)}); the contract is one '
                                   'output [1, H, W] or [1, 1, H, W]')
    source, result = inputs[0], outputs[0]
    for role, value in (('input', source), ('output', result)):
        elem_type = value.type.tensor_type.elem_type
        if elem_type != onnx.TensorProto.FLOAT:
            type_name = onnx.TensorProto.DataType.Name(elem_type) if elem_type else 'not a tensor'
            raise ModelLoadError(path, f'{role} {value.name!r} is {type_name}, expected float32')
    input_shape = _dims(source)
    if input_shape is None or len(input_shape) != 4:
        shown = list(input_shape) if input_shape is not None else 'unknown'
        raise ModelLoadError(path, f'input {source.name!r} has shape {shown}; the contract '
                                   'is [1, 3, H, W]')
    batch, channels, height, width = input_shape
    if (isinstance(batch, int) and batch not in (0, 1)) or (
            isinstance(channels, int) and channels not in (0, 3)):
        raise ModelLoadError(path, f'input {source.name!r} has shape {list(input_shape)}; the '
                                   'contract is [1, 3, H, W]')
    for name, size in (('height', height), ('width', width)):
        if isinstance(size, int) and size > 0 and size % PATCH_SIZE:
            raise ModelLoadError(path, f'input {name} is {size}, expected a multiple of '
                                       f'{PATCH_SIZE}')
    output_shape = _dims(result)
    if output_shape is not None and len(output_shape) not in (3, 4):
        raise ModelLoadError(path, f'output {result.name!r} has rank {len(output_shape)} '
                                   f'({list(output_shape)}); the contract is [1, H, W] or '
                                   '[1, 1, H, W]')
    normalised_input = tuple(None if size in (0, None) else size for size in input_shape)
    return OnnxContract(path=path, input_name=source.name, input_shape=normalised_input,
                        output_name=result.name, output_shape=output_shape or (),
                        metadata={prop.key: prop.value for prop in proto.metadata_props})


def onnx_model_info(contract: OnnxContract, depth_type: str = 'auto',
                    max_depth: float | None = None,
                    logger: logging.Logger | None = None) -> ModelInfo:
    """Return the ModelInfo of a checked ONNX model (metadata, then arguments, then its name)."""
    logger = logger or _LOGGER
    evidence = _Evidence(_recorded_from_metadata(contract.metadata), _name_hints(contract.path))
    resolved_type, resolved_max = _resolve(contract.path, evidence, depth_type, max_depth,
                                           logger)
    return ModelInfo(depth_type=resolved_type, max_depth=resolved_max, source=contract.path,
                     encoder=evidence.recorded.get('encoder'),
                     version=evidence.recorded.get('version') or evidence.hinted.get('version'),
                     model_format='onnx')


def source_fingerprint(model: str) -> str:
    """Return a string that changes when the model's files change (for export caches)."""
    path = pathlib.Path(os.path.expanduser(str(model)))
    if path.is_file():
        stat = path.stat()
        return f'{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}'
    if path.is_dir():
        entries = sorted(
            f'{child.name}|{child.stat().st_size}|{child.stat().st_mtime_ns}'
            for child in path.iterdir() if child.is_file())
        return f'{path.resolve()}|' + ';'.join(entries)
    try:
        from huggingface_hub import try_to_load_from_cache
        cached = try_to_load_from_cache(str(model), 'config.json')
        if isinstance(cached, str):
            return f'{model}|{pathlib.Path(cached).parent.name}'
    except ImportError:
        pass
    return str(model)
