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

"""Tiny random-initialised Depth Anything models in every supported file format, for tests.

The architecture is the real one (transformers ``DepthAnythingForDepthEstimation``: DINOv2
backbone, DPT neck and head) with tiny sizes: width 64 (one 64-channel attention head, the
DINOv2 head width), 4 layers, patch 14, 10x10 position grid, neck 8/16/32/32, fusion 16. It
runs in a few milliseconds at 140x140. Weights are seeded and scaled so the output varies over
the image (relative: roughly 0-10; metric: 0-``max_depth`` metres).

Every ``make_*`` function writes a file made from :func:`tiny_model`, so a test compares a
loaded file against ``tiny_model(...)`` with the same arguments. The official ``.pth`` is the
tiny model's state dict renamed to the official Depth-Anything key names by
``hf_to_official_state_dict``; its width (64) is not an official encoder, so the loader reports
encoder None for it (``encoder='vits'`` builds a real vits-sized backbone instead, 85 MB, for the
one test that checks the encoder is read from the keys).

Files are cached for the session: called without a directory, each function writes once into
one temporary directory (removed at exit) and then returns the same path.
"""

import atexit
import functools
import pathlib
import shutil
import tempfile

import numpy as np

TINY_HIDDEN = 64
TINY_LAYERS = 4
TINY_IMAGE = 140
TINY_MAX_DEPTH = 20
TINY_SIZE = (140, 182)  # a network input size (height, width) for quick inference

_SESSION_DIR: pathlib.Path | None = None


def session_dir() -> pathlib.Path:
    """Return this process's model cache directory, created on first use and removed at exit."""
    global _SESSION_DIR
    if _SESSION_DIR is None:
        _SESSION_DIR = pathlib.Path(tempfile.mkdtemp(prefix='mono_depth_models_'))
        atexit.register(shutil.rmtree, _SESSION_DIR, True)
    return _SESSION_DIR


def tiny_depth_anything_config(version: str = 'v2', depth_type: str = 'relative',
                               encoder: str = 'tiny', max_depth: int = TINY_MAX_DEPTH):
    """Return a ``DepthAnythingConfig`` of the real architecture with tiny sizes.

    ``encoder='vits'`` gives the real ViT-S/14 backbone (384 wide, 12 layers, 6 heads).
    """
    from transformers import DepthAnythingConfig, Dinov2Config

    from mono_depth_ros.inference.model_architecture import feature_layers

    hidden, layers, image = ((384, 12, 518) if encoder == 'vits'
                             else (TINY_HIDDEN, TINY_LAYERS, TINY_IMAGE))
    backbone = Dinov2Config(
        hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=hidden // 64,
        mlp_ratio=2 if encoder == 'tiny' else 4, image_size=image, patch_size=14,
        out_indices=feature_layers(hidden, layers, version), apply_layernorm=True,
        reshape_hidden_states=False)
    return DepthAnythingConfig(
        backbone_config=backbone, reassemble_hidden_size=hidden, patch_size=14,
        neck_hidden_sizes=[8, 16, 32, 32], fusion_hidden_size=16, head_hidden_size=8,
        depth_estimation_type=depth_type,
        max_depth=max_depth if depth_type == 'metric' else 1)


@functools.lru_cache(maxsize=None)
def _tiny_state(version: str, depth_type: str, encoder: str, seed: int) -> dict:
    import torch
    from transformers import DepthAnythingForDepthEstimation

    generator = torch.Generator().manual_seed(seed)
    module = DepthAnythingForDepthEstimation(
        tiny_depth_anything_config(version, depth_type, encoder))
    with torch.no_grad():
        for name, parameter in module.named_parameters():
            if parameter.ndim >= 2 and 'embeddings.' not in name and 'mask_token' not in name:
                fan_in = parameter[0].numel()
                gain = 1.0 if 'reassemble' in name else 1.4
                parameter.copy_(torch.randn(parameter.shape, generator=generator)
                                * gain / fan_in ** 0.5)
            elif 'position_embeddings' in name or 'cls_token' in name:
                parameter.copy_(torch.randn(parameter.shape, generator=generator))
            elif name.endswith('lambda1'):
                parameter.fill_(1.0)
            elif 'norm' in name and name.endswith('weight'):
                parameter.fill_(1.0)
            else:
                parameter.copy_(0.1 * torch.randn(parameter.shape, generator=generator))
        if depth_type == 'relative':
            module.head.conv3.bias.fill_(1.0)
        else:
            module.head.conv3.weight.mul_(0.15)  # keep the sigmoid out of saturation
            module.head.conv3.bias.fill_(-1.5)
    return {key: value.clone() for key, value in module.state_dict().items()}


def tiny_model(version: str = 'v2', depth_type: str = 'relative', encoder: str = 'tiny',
               seed: int = 0):
    """Return the seeded tiny ``DepthAnythingForDepthEstimation`` (eval, CPU, float32)."""
    from transformers import DepthAnythingForDepthEstimation

    module = DepthAnythingForDepthEstimation(
        tiny_depth_anything_config(version, depth_type, encoder))
    module.load_state_dict(_tiny_state(version, depth_type, encoder, seed))
    return module.eval()


def reference_output(module, tensor: np.ndarray) -> np.ndarray:
    """Return the (h, w) prediction of ``module`` for a (1, 3, h, w) numpy tensor."""
    import torch

    with torch.inference_mode():
        return module(pixel_values=torch.from_numpy(tensor)).predicted_depth[0].numpy()


_CACHE: dict[tuple, pathlib.Path] = {}


def _cached(kind: str, directory, key: tuple, write) -> pathlib.Path:
    if directory is not None:
        return write(pathlib.Path(directory))
    cache_key = (kind, *key)
    if cache_key not in _CACHE or not _CACHE[cache_key].exists():
        _CACHE[cache_key] = write(session_dir())
    return _CACHE[cache_key]


def make_hf_dir(directory=None, depth_type: str = 'relative', version: str = 'v2',
                legacy_keys: bool = False) -> pathlib.Path:
    """Write a Hugging Face model directory (config.json + model.safetensors); return it.

    ``legacy_keys`` rewrites the weights with the pre-5.0 transformers names
    (``attention.attention.query`` ...), as in the checkpoints on the Hub.
    """
    def write(base: pathlib.Path) -> pathlib.Path:
        from safetensors.torch import load_file, save_file
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        target = base / f'tiny-depth-anything-{version}-{depth_type}'
        target = target.with_name(target.name + ('-legacy' if legacy_keys else '') + '-hf')
        tiny_model(version, depth_type).save_pretrained(target)
        if legacy_keys:
            weights = target / 'model.safetensors'
            renamed = {}
            for key, value in load_file(weights).items():
                for new, old in (('attention.q_proj', 'attention.attention.query'),
                                 ('attention.k_proj', 'attention.attention.key'),
                                 ('attention.v_proj', 'attention.attention.value'),
                                 ('attention.o_proj', 'attention.output.dense')):
                    key = key.replace(new, old)
                renamed[key] = value
            save_file(renamed, weights, metadata={'format': 'pt'})
        return target
    return _cached('hf', directory, (depth_type, version, legacy_keys), write)


def official_state_dict(version: str = 'v2', depth_type: str = 'relative',
                        encoder: str = 'tiny') -> dict:
    """Return the tiny model's weights under the official Depth-Anything key names."""
    from mono_depth_ros.inference.checkpoint_keys import hf_to_official_state_dict

    return hf_to_official_state_dict(_tiny_state(version, depth_type, encoder, 0))


def _official_name(metric: bool, encoder: str, suffix: str) -> str:
    kind = 'metric_hypersim_' if metric else ''
    size = 'vits' if encoder == 'vits' else 'vits_tiny'
    return f'depth_anything_v2_{kind}{size}{suffix}'


def make_official_pth(directory=None, encoder: str = 'tiny', metric: bool = False,
                      name: str | None = None) -> pathlib.Path:
    """Write an official-style V2 ``.pth`` (official key names, plain tensors); return it.

    Named like the released files (``depth_anything_v2_metric_hypersim_...`` when metric, so the
    loader infers metric and 20 m from the name) unless ``name`` is given.
    """
    depth_type = 'metric' if metric else 'relative'

    def write(base: pathlib.Path) -> pathlib.Path:
        import torch

        path = base / (name or _official_name(metric, encoder, '.pth'))
        torch.save(official_state_dict('v2', depth_type, encoder), path)
        return path
    return _cached('pth', directory, (encoder, metric, name), write)


def make_safetensors(directory=None, style: str = 'official', metric: bool = False,
                     record_type: bool = True) -> pathlib.Path:
    """Write a ``.safetensors`` with official or transformers (``style='hf'``) key names.

    ``record_type`` stores depth_type and max_depth in the file's metadata; without it the
    name is neutral, so the loader has nothing to go on but its arguments.
    """
    from safetensors.torch import save_file

    depth_type = 'metric' if metric else 'relative'

    def write(base: pathlib.Path) -> pathlib.Path:
        weights = (official_state_dict('v2', depth_type) if style == 'official'
                   else _tiny_state('v2', depth_type, 'tiny', 0))
        metadata = {'format': 'pt'}
        if record_type:
            metadata['depth_type'] = depth_type
            if metric:
                metadata['max_depth'] = str(TINY_MAX_DEPTH)
        path = base / f'tiny_{style}_{depth_type}{"" if record_type else "_bare"}.safetensors'
        save_file({key: value.contiguous() for key, value in weights.items()}, path,
                  metadata=metadata)
        return path
    return _cached('safetensors', directory, (style, metric, record_type), write)


def make_onnx(directory=None, depth_type: str = 'relative', input_size: int = TINY_IMAGE,
              dynamic: bool = True) -> pathlib.Path:
    """Export the tiny model to ONNX with the package's exporter; return the path."""
    from mono_depth_ros.inference.base import ModelInfo
    from mono_depth_ros.inference.onnx_export import export_onnx

    def write(base: pathlib.Path) -> pathlib.Path:
        path = base / f'tiny_{depth_type}_{"dynamic" if dynamic else "static"}.onnx'
        info = ModelInfo(depth_type=depth_type,
                         max_depth=TINY_MAX_DEPTH if depth_type == 'metric' else None,
                         source='tiny', version='v2', model_format='hf')
        export_onnx(tiny_model('v2', depth_type), path, input_size=input_size, dynamic=dynamic,
                    info=info)
        return path
    return _cached('onnx', directory, (depth_type, input_size, dynamic), write)


# Tiny random-initialised models of the other families (issue 23), built as transformers' own
# tests build theirs: the real classes with tiny sizes. Each runs in milliseconds at its
# TINY_FAMILY_SIZES input and exports to ONNX in a few seconds.
FAMILIES = ('dpt', 'zoedepth', 'glpn', 'depth_pro', 'prompt_depth_anything')
TINY_FAMILY_SIZES = {'dpt': (64, 64), 'zoedepth': (64, 96), 'glpn': (64, 96),
                     'depth_pro': (64, 64), 'prompt_depth_anything': (56, 84)}
TINY_FAMILY_MAX_DEPTH = 10.0


def tiny_family_config(family: str):
    """Return the transformers config of ``family`` with tiny sizes."""
    import transformers

    if family == 'dpt':
        return transformers.DPTConfig(
            image_size=64, patch_size=16, hidden_size=32, num_hidden_layers=4,
            backbone_out_indices=[0, 1, 2, 3], num_attention_heads=4, intermediate_size=37,
            neck_hidden_sizes=[16, 16, 32, 32], fusion_hidden_size=16, is_hybrid=False,
            reassemble_factors=[4, 2, 1, 0.5])
    if family == 'glpn':
        return transformers.GLPNConfig(
            num_encoder_blocks=4, depths=[1, 1, 1, 1], sr_ratios=[8, 4, 2, 1],
            hidden_sizes=[8, 16, 32, 64], patch_sizes=[7, 3, 3, 3], strides=[4, 2, 2, 2],
            num_attention_heads=[1, 1, 2, 4], mlp_ratios=[2, 2, 2, 2], decoder_hidden_size=16,
            max_depth=int(TINY_FAMILY_MAX_DEPTH))
    if family == 'zoedepth':
        backbone = transformers.BeitConfig(
            image_size=64, patch_size=16, hidden_size=32, num_hidden_layers=4,
            num_attention_heads=4, intermediate_size=37, reshape_hidden_states=False,
            out_features=['stage1', 'stage2', 'stage3', 'stage4'],
            use_relative_position_bias=True)
        return transformers.ZoeDepthConfig(
            backbone_config=backbone, neck_hidden_sizes=[16, 16, 32, 32], fusion_hidden_size=16,
            bottleneck_features=16, num_relative_features=8, bin_embedding_dim=8,
            num_attractors=[4, 4, 2, 1], num_patch_transformer_layers=1,
            patch_transformer_hidden_size=16, patch_transformer_intermediate_size=16,
            patch_transformer_num_attention_heads=2,
            bin_configurations=[{'n_bins': 16, 'min_depth': 0.001,
                                 'max_depth': TINY_FAMILY_MAX_DEPTH, 'name': 'nyu'}])
    if family == 'depth_pro':
        encoder = {'model_type': 'dinov2', 'hidden_size': 32, 'num_hidden_layers': 2,
                   'num_attention_heads': 2, 'mlp_ratio': 2, 'image_size': 32, 'patch_size': 16}
        return transformers.DepthProConfig(
            patch_size=32, fusion_hidden_size=16, intermediate_hook_ids=[1, 0],
            intermediate_feature_dims=[8, 8], scaled_images_ratios=[0.5, 1.0],
            scaled_images_overlap_ratios=[0.0, 0.5], scaled_images_feature_dims=[16, 16],
            use_fov_model=False, image_model_config=encoder, patch_model_config=encoder,
            fov_model_config=encoder)
    if family == 'prompt_depth_anything':
        backbone = transformers.Dinov2Config(
            hidden_size=TINY_HIDDEN, num_hidden_layers=TINY_LAYERS, num_attention_heads=1,
            mlp_ratio=2, image_size=56, patch_size=14, out_indices=[1, 2, 3, 4],
            apply_layernorm=True, reshape_hidden_states=False)
        return transformers.PromptDepthAnythingConfig(
            backbone_config=backbone, reassemble_hidden_size=TINY_HIDDEN, patch_size=14,
            neck_hidden_sizes=[8, 16, 32, 32], fusion_hidden_size=16, head_hidden_size=8,
            depth_estimation_type='metric', max_depth=1)
    raise ValueError(f'family {family!r}: expected one of {", ".join(FAMILIES)}')


def tiny_family_model(family: str, seed: int = 0):
    """Return the seeded tiny model of ``family`` (eval, CPU, float32), outputs varying."""
    import torch
    import transformers

    from mono_depth_ros.inference.model_architecture import DEPTH_FAMILIES

    config = tiny_family_config(family)
    module = getattr(transformers, DEPTH_FAMILIES[config.model_type][0])(config)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in module.named_parameters():
            if parameter.ndim >= 2:
                fan_in = max(1, parameter[0].numel())
                parameter.copy_(torch.randn(parameter.shape, generator=generator)
                                * 1.2 / fan_in ** 0.5)
            elif 'norm' in name and name.endswith('weight'):
                parameter.fill_(1.0)
            else:
                parameter.copy_(0.1 * torch.randn(parameter.shape, generator=generator))
        head = getattr(module, 'head', torch.nn.Identity())
        convolutions = [layer for layer in head.modules() if isinstance(layer, torch.nn.Conv2d)]
        if family == 'dpt':
            convolutions[-1].bias.fill_(8.0)  # relative inverse depth behind a ReLU
        elif family == 'depth_pro':
            convolutions[-1].bias.fill_(0.5)
    return module.eval()


def make_family_onnx(family: str, directory=None, licence: str = '') -> pathlib.Path:
    """Export the tiny model of ``family`` with the package's exporter; return the path.

    The card is the family's reference card at the tiny input size (``licence`` added).
    """
    from dataclasses import replace

    from mono_depth_ros.inference.base import ModelInfo
    from mono_depth_ros.inference.model_loading import module_card
    from mono_depth_ros.inference.onnx_export import export_onnx

    def write(base: pathlib.Path) -> pathlib.Path:
        module = tiny_family_model(family)
        metric = family != 'dpt'
        info = ModelInfo(depth_type='metric' if metric else 'relative',
                         max_depth=TINY_FAMILY_MAX_DEPTH if metric else None,
                         source=f'tiny-{family}', model_format='hf')
        card = module_card(module, info)
        height, width = TINY_FAMILY_SIZES[family]
        if card.resize != 'fixed':
            card = replace(card, input_size=min(height, width))
        card = replace(card, license=licence or card.license)
        path = base / f'tiny_{family}.onnx'
        export_onnx(module, path, input_size=min(height, width), info=info, card=card,
                    parity_tolerance=5e-3)
        return path
    return _cached('family_onnx', directory, (family, licence), write)


def make_constant_output_onnx(path, output: np.ndarray, card=None,
                              input_names: tuple[str, ...] = ('pixel_values',)) -> pathlib.Path:
    """Write a fixed-size ONNX model whose output is ``output`` (h, w) for any input.

    The image input's channel mean times 0 is added, so the graph really reads its input;
    ``card`` (a ModelCard) is written to the metadata. For disparity, focal and FoV tests: the
    expected depth follows from ``output`` and the camera alone.
    """
    import onnx
    from onnx import helper, numpy_helper, TensorProto

    from mono_depth_ros.inference.model_card import METADATA_KEY

    height, width = output.shape
    inputs = [helper.make_tensor_value_info(input_names[0], TensorProto.FLOAT,
                                            [1, 3, height, width])]
    inputs += [helper.make_tensor_value_info(name, TensorProto.FLOAT, [1, 1, 'h', 'w'])
               for name in input_names[1:]]
    nodes = [helper.make_node('ReduceMean', [input_names[0]], ['mean'], axes=[1], keepdims=0),
             helper.make_node('Mul', ['mean', 'zero'], ['nothing']),
             helper.make_node('Add', ['nothing', 'map'], ['depth'])]
    initializers = [numpy_helper.from_array(np.zeros(1, np.float32), 'zero'),
                    numpy_helper.from_array(output.astype(np.float32)[np.newaxis], 'map')]
    graph = helper.make_graph(
        nodes, 'constant_output', inputs,
        [helper.make_tensor_value_info('depth', TensorProto.FLOAT, [1, height, width])],
        initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 17)])
    model.ir_version = 8
    if card is not None:
        model.metadata_props.add(key=METADATA_KEY, value=card.to_json())
    onnx.checker.check_model(model)
    path = pathlib.Path(path)
    onnx.save(model, str(path))
    return path


def tiny_depth_anything_3(metric: bool = False, seed: int = 0):
    """Return a seeded tiny Depth Anything 3 ``DepthAnything3Net`` (package depth-anything-3).

    Its own classes (DinoV2 wrapper, DinoVisionTransformer, DPT head) with tiny sizes: width 64,
    4 layers, patch 14, fusion 16. The package installs with ``--no-deps`` plus einops, addict
    and omegaconf; tests that need it skip where it is missing.
    """
    import torch
    from depth_anything_3.model.da3 import DepthAnything3Net
    from depth_anything_3.model.dinov2.dinov2 import DinoV2
    from depth_anything_3.model.dinov2.vision_transformer import DinoVisionTransformer
    from depth_anything_3.model.dpt import DPT

    torch.manual_seed(seed)
    backbone = DinoV2.__new__(DinoV2)  # its __init__ only builds the full-size encoders
    torch.nn.Module.__init__(backbone)
    backbone.name, backbone.out_layers, backbone.cat_token = 'vits', [0, 1, 2, 3], False
    backbone.alt_start = backbone.qknorm_start = backbone.rope_start = -1
    backbone.pretrained = DinoVisionTransformer(
        img_size=56, patch_size=14, embed_dim=TINY_HIDDEN, depth=TINY_LAYERS, num_heads=1,
        mlp_ratio=2, ffn_layer='mlp', alt_start=-1, qknorm_start=-1, rope_start=-1,
        cat_token=False)
    head = DPT(dim_in=TINY_HIDDEN, output_dim=1, features=16, out_channels=[8, 16, 32, 32])
    module = DepthAnything3Net(net=backbone, head=head).eval()
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in module.named_parameters():
            if parameter.ndim >= 2:
                parameter.copy_(torch.randn(parameter.shape, generator=generator)
                                * 1.2 / max(1, parameter[0].numel()) ** 0.5)
    return module


def make_depth_anything_3_onnx(metric: bool = False, directory=None) -> pathlib.Path:
    """Export the tiny Depth Anything 3 (mono, or metric via the focal length); return it.

    The file has a fixed 56 x 84 input, as a real export would have its camera's network size.
    """
    from dataclasses import replace

    from mono_depth_ros.inference.base import ModelInfo
    from mono_depth_ros.inference.model_card import family_card
    from mono_depth_ros.inference.onnx_export import export_onnx

    def write(base: pathlib.Path) -> pathlib.Path:
        family = 'depth_anything_3_metric' if metric else 'depth_anything_3'
        info = ModelInfo(depth_type='metric' if metric else 'relative', max_depth=None,
                         source=f'tiny-{family}', model_format='pth')
        # Fixed size: its position-embedding interpolation traces to constants.
        card = replace(family_card(family), resize='fixed', input_size=(56, 84))
        path = base / f'tiny_{family}.onnx'
        export_onnx(tiny_depth_anything_3(metric), path, input_size=56, info=info, card=card,
                    parity_tolerance=5e-3)
        return path
    return _cached('da3_onnx', directory, (metric,), write)
