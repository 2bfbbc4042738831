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

"""Official Depth-Anything <-> transformers checkpoint key names, without building a model.

Official (V1/V2) checkpoints name their weights ``pretrained.*`` and ``depth_head.*``; the
transformers ``DepthAnythingForDepthEstimation`` names them ``backbone.*``, ``neck.*`` and
``head.*``, splits the fused attention ``qkv`` (and SwiGLU ``w12``) tensors, and numbers the
fusion stages the other way round. torch is imported only to split and concatenate tensors.
"""

import functools
import re

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
