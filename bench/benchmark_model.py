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

"""The benchmarks' model and frame: a random-weight Depth Anything V2, a textured test frame.

Not a benchmark (its name does not start with ``bench_``); the benchmarks import it as
``benchmark_model``. The model is built with transformers and exported with the package's
exporter on first use, so no weights are downloaded.
"""

import contextlib
import dataclasses
import os
import pathlib
import sys
from typing import Iterator

import cv2
import numpy as np

FRAME_WIDTH, FRAME_HEIGHT = 640, 480
BENCH_MODEL = 'depth_anything_v2_small_random_seed0.onnx'
V2_SMALL_DESCRIPTION = 'Depth-Anything-V2-Small architecture, random weights'
V2_SMALL = {'hidden_size': 384, 'num_hidden_layers': 12, 'num_attention_heads': 6,
            'neck_hidden_sizes': [48, 96, 192, 384], 'fusion_hidden_size': 64,
            'head_hidden_size': 32}


def textured_rgb(seed: int = 0) -> np.ndarray:
    """Return a smooth, textured 640x480 RGB frame."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (FRAME_HEIGHT // 16, FRAME_WIDTH // 16, 3), dtype=np.uint8)
    return cv2.resize(coarse, (FRAME_WIDTH, FRAME_HEIGHT), interpolation=cv2.INTER_CUBIC)


def abs_rel(prediction: np.ndarray, reference: np.ndarray) -> float:
    """Return mean(|prediction - reference| / reference) over pixels where reference > 0.05."""
    valid = reference > 0.05
    return float(np.mean(np.abs(prediction[valid] - reference[valid]) / reference[valid]))


@contextlib.contextmanager
def raw_backend(model_path: str, input_size: int) -> Iterator[tuple]:
    """Yield (ONNX Runtime CPU backend, preprocessed textured frame) to time ``backend.infer``."""
    from mono_depth_ros.core.preprocessing import prepare_input
    from mono_depth_ros.inference.selection import load_backend

    backend, _ = load_backend(model_path, backend='onnxruntime', device='cpu',
                              input_size=input_size)
    try:
        yield backend, prepare_input(textured_rgb(), backend.input_spec.network_size(input_size))
    finally:
        backend.close()


def random_depth_anything_v2_small(seed: int = 0, sizes: dict | None = None):
    """Return (Depth-Anything-V2-Small with random weights, its ModelInfo), eval, on the CPU.

    The last head convolution is rescaled so the output is about 1 +- 0.3 over an image (with
    the default initialisation it is ~1e-4, too close to fp16's floor for a parity check).
    ``sizes`` replaces the V2-Small widths and depths (keys as ``V2_SMALL``).
    """
    import torch
    from transformers import DepthAnythingConfig, DepthAnythingForDepthEstimation, Dinov2Config

    from mono_depth_ros.inference.base import ModelInfo

    sizes = sizes or V2_SMALL

    torch.manual_seed(seed)
    backbone = Dinov2Config(
        hidden_size=sizes['hidden_size'], num_hidden_layers=sizes['num_hidden_layers'],
        num_attention_heads=sizes['num_attention_heads'], mlp_ratio=4, image_size=518,
        patch_size=14, layerscale_value=1.0, out_indices=[3, 6, 9, 12], apply_layernorm=True,
        reshape_hidden_states=False)
    config = DepthAnythingConfig(
        backbone_config=backbone, patch_size=14, reassemble_hidden_size=sizes['hidden_size'],
        reassemble_factors=[4, 2, 1, 0.5], neck_hidden_sizes=sizes['neck_hidden_sizes'],
        fusion_hidden_size=sizes['fusion_hidden_size'],
        head_hidden_size=sizes['head_hidden_size'], depth_estimation_type='relative')
    model = DepthAnythingForDepthEstimation(config).eval()
    captured = {}
    hook = model.head.conv3.register_forward_hook(
        lambda module, inputs, output: captured.update(pre=output.detach()))
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        model(pixel_values=torch.randn((1, 3, 154, 210), generator=generator))
        hook.remove()
        mean, std = captured['pre'].mean(), captured['pre'].std()
        model.head.conv3.weight.mul_(0.3 / std)
        model.head.conv3.bias.sub_(mean).mul_(0.3 / std).add_(1.0)
    info = ModelInfo(depth_type='relative', max_depth=None,
                     source='Depth-Anything-V2-Small (random weights)', encoder='vits',
                     version='v2', model_format='hf')
    return model, info


def bench_model_path(cache_dir: str | os.PathLike | None = None, *, name: str = BENCH_MODEL,
                     sizes: dict | None = None,
                     source: str | None = None) -> pathlib.Path:
    """Return the cached ONNX export of a random-weight V2 model, exporting it on first use.

    The default is V2-Small, in ``~/.cache/mono_depth_ros/bench``; ``sizes`` (keys as
    ``V2_SMALL``) and ``name`` make another size, described as ``source``.
    """
    from mono_depth_ros.inference.onnx_contract import read_onnx_contract
    from mono_depth_ros.inference.selection import default_cache_dir

    directory = pathlib.Path(cache_dir or pathlib.Path(default_cache_dir()) / 'bench')
    path = directory / name
    if path.is_file():
        try:
            read_onnx_contract(str(path))
            return path
        except Exception as error:  # re-export a damaged file
            print(f're-exporting {path}: {error}', file=sys.stderr)
    from mono_depth_ros.inference.onnx_export import export_onnx

    model, info = random_depth_anything_v2_small(seed=0, sizes=sizes)
    if source:
        info = dataclasses.replace(info, encoder=None, source=source)
    export_onnx(model, path, input_size=266, info=info)
    return path


NEAR_FREE_MODEL = 'near_free_mean_sigmoid.onnx'
NEAR_FREE_DESCRIPTION = ('near-free ONNX model: channel mean, sigmoid, + 0.1 ([1, 3, h, w] -> '
                         '[1, h, w], relative)')


def near_free_onnx(directory: str | os.PathLike) -> pathlib.Path:
    """Write (once) and return a near-free depth model: a real ONNX graph of three cheap ops.

    ``[1, 3, h, w] -> [1, h, w]``: the mean over the channels, a sigmoid and + 0.1, so its
    "relative depth" lies in (0.1, 1.1) and with scale 1, shift 0 the depth in (0.9, 10) m;
    dynamic height and width, ``depth_type`` relative in its metadata.
    """
    import onnx
    from onnx import helper, TensorProto

    path = pathlib.Path(directory) / NEAR_FREE_MODEL
    if path.is_file():
        return path
    pixels = helper.make_tensor_value_info('pixel_values', TensorProto.FLOAT,
                                           [1, 3, 'height', 'width'])
    depth = helper.make_tensor_value_info('predicted_depth', TensorProto.FLOAT,
                                          [1, 'height', 'width'])
    nodes = [helper.make_node('ReduceMean', ['pixel_values'], ['mean'], axes=[1], keepdims=0),
             helper.make_node('Sigmoid', ['mean'], ['squashed']),
             helper.make_node('Add', ['squashed', 'floor'], ['predicted_depth'])]
    floor = helper.make_tensor('floor', TensorProto.FLOAT, [], [0.1])
    graph = helper.make_graph(nodes, 'near_free_depth', [pixels], [depth], [floor])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 17)])
    model.ir_version = 8
    for key, value in (('depth_type', 'relative'), ('source', 'near-free bench model')):
        model.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix('.tmp')
    onnx.save(model, str(temporary))
    temporary.replace(path)
    return path
