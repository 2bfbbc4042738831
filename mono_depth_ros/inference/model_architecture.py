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

"""The Depth Anything architecture that a set of weights has, read from the tensor shapes.

The encoder is named from its width (384/768/1024/1536 -> vits/vitb/vitl/vitg, 64 channels per
attention head); V1 and V2 differ only in which encoder layers feed the head. transformers is
imported only to build a config.
"""

import math
import re

HEAD_DIM = 64
# transformers ``model_type`` -> (its depth estimation class, the model card family).
DEPTH_FAMILIES = {
    'depth_anything': ('DepthAnythingForDepthEstimation', 'depth_anything_v2'),
    'dpt': ('DPTForDepthEstimation', 'dpt'),
    'zoedepth': ('ZoeDepthForDepthEstimation', 'zoedepth'),
    'glpn': ('GLPNForDepthEstimation', 'glpn'),
    'depth_pro': ('DepthProForDepthEstimation', 'depth_pro'),
    'prompt_depth_anything': ('PromptDepthAnythingForDepthEstimation', 'prompt_depth_anything'),
}
# Official DINOv2 encoders: width -> (name, depth, V2 feature layers, 1-based as in transformers).
ENCODERS = {
    384: ('vits', 12, (3, 6, 9, 12)),
    768: ('vitb', 12, (3, 6, 9, 12)),
    1024: ('vitl', 24, (5, 12, 18, 24)),
    1536: ('vitg', 40, (10, 20, 30, 40)),
}


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


def version_from_feature_layers(hidden_size: int, num_layers: int, out_indices) -> str | None:
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
        max_depth=config_max_depth(max_depth if depth_type == 'metric' else 1))


def config_max_depth(value: float | None) -> int:
    """Return ``value`` as the config accepts it (an int); loading sets the exact value after."""
    return int(value) if value is not None and float(value).is_integer() else 1


def family_of_config(config) -> str | None:
    """Return the model card family of a transformers config, None when not a depth family."""
    entry = DEPTH_FAMILIES.get(getattr(config, 'model_type', None))
    return entry[1] if entry else None


def config_metric_range(config) -> float | None:
    """Return the metric range (m) a family's config records: max_depth or the largest bin."""
    bins = getattr(config, 'bin_configurations', None)
    if bins:
        return float(max(entry['max_depth'] for entry in bins))
    value = getattr(config, 'max_depth', None)
    return float(value) if value else None
