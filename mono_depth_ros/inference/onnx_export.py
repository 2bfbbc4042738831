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

"""Export a PyTorch depth model to ONNX in the package's model contract, and check it.

The file has one float32 input ``pixel_values`` [1, 3, H, W] (H and W dynamic unless asked
otherwise; plus the card's extra inputs, e.g. ``prompt_depth`` [1, 1, h, w]) and one output
``depth`` [1, H, W], plus metadata (depth_type, max_depth, encoder, version, source, and the
model card under ``mono_depth_ros.model_card``) that the loader reads back. Depth Anything and
the other families of :data:`~mono_depth_ros.inference.model_architecture.DEPTH_FAMILIES`
(DPT, ZoeDepth, GLPN, Depth Pro, Prompt Depth Anything) are exported from their transformers
classes; a fixed-size card (DPT, Depth Pro) gives a fixed-size file. Each export is checked with
``onnx.checker`` and by running ONNX Runtime and PyTorch on the same random image at a size
other than the traced one.

Exporter: the TorchScript-based ``torch.onnx.export(..., dynamo=False)``. The dynamo exporter
needs the ``onnxscript`` package, which is not a dependency here. The transformers head computes
its upsampling size with ``int()``, which tracing freezes into a constant; the export module
below computes it from the input shape instead, and the parity check proves it equal.
"""

from dataclasses import dataclass
import logging
import os
import pathlib
import tempfile
import time
import warnings

import cv2
import numpy as np

from mono_depth_ros.core.preprocessing import (DEFAULT_PREPROCESSING, network_input_size,
                                               prepare_input)
from mono_depth_ros.inference.base import ModelInfo, ModelLoadError
from mono_depth_ros.inference.model_card import METADATA_KEY, ModelCard

INPUT_NAME = 'pixel_values'
OUTPUT_NAME = 'depth'
DEFAULT_OPSET = 17
PARITY_TOLERANCE = 1e-4
_TWO_GIB = 2 ** 31
_LOGGER = logging.getLogger('mono_depth_ros.inference.onnx_export')


class ExportError(RuntimeError):
    """An export that failed or whose ONNX model disagrees with PyTorch."""


@dataclass(frozen=True)
class ExportResult:
    """Where the model went and how closely ONNX Runtime reproduces PyTorch.

    ``parity`` is max |onnxruntime - torch| / max |torch| over one random image of
    ``parity_size`` (height, width).
    """

    path: str
    opset: int
    dynamic: bool
    parity: float
    parity_size: tuple[int, int]
    info: ModelInfo
    seconds: float


def _export_module(model):
    """Return a module whose forward(pixel_values) -> (1, H, W) traces with dynamic H and W."""
    import torch
    from torch.nn import functional

    class DepthOutput(torch.nn.Module):
        """The transformers model's forward with the head's output size taken from the input."""

        def __init__(self, depth_model):
            super().__init__()
            self.model = depth_model

        def forward(self, pixel_values):
            model = self.model
            patch = model.config.patch_size
            height, width = pixel_values.shape[-2:]
            patch_height, patch_width = height // patch, width // patch
            features = model.backbone(pixel_values).feature_maps
            hidden = model.neck(features, patch_height, patch_width)
            head = model.head
            depth = head.conv1(hidden[head.head_in_index])
            depth = functional.interpolate(depth, size=(patch_height * patch, patch_width * patch),
                                           mode='bilinear', align_corners=True)
            depth = head.activation1(head.conv2(depth))
            depth = head.activation2(head.conv3(depth)) * head.max_depth
            return depth[:, 0]

    return DepthOutput(model).eval()


def _family_export_module(model, extra_inputs: tuple[str, ...]):
    """Return a module whose forward(pixel_values[, prompt_depth]) -> (1, H', W') depth."""
    import torch

    class FamilyOutput(torch.nn.Module):
        """The transformers model's ``predicted_depth`` as (1, H', W')."""

        def __init__(self, depth_model):
            super().__init__()
            self.model = depth_model

        def forward(self, pixel_values, prompt_depth=None):
            extras = {} if prompt_depth is None else {'prompt_depth': prompt_depth}
            depth = self.model(pixel_values=pixel_values, **extras).predicted_depth
            return depth.reshape(1, depth.shape[-2], depth.shape[-1])

    return FamilyOutput(model).eval()


def _depth_anything_3_export_module(model):
    """Return forward(pixel_values) -> (1, H, W) of a Depth Anything 3 ``DepthAnything3Net``.

    The backbone and depth head of its own forward, on one view; the sky handling that the
    package's forward applies afterwards (a data-dependent quantile) is postprocessing and is
    left out of the graph.
    """
    import torch

    class DepthAnything3Output(torch.nn.Module):
        """Depth Anything 3's depth for one image."""

        def __init__(self, depth_model):
            super().__init__()
            self.model = depth_model

        def forward(self, pixel_values):
            height, width = pixel_values.shape[-2:]
            features, _ = self.model.backbone(pixel_values[:, None], cam_token=None,
                                              export_feat_layers=[])
            depth = self.model._process_depth_head(features, height, width).depth
            return depth.reshape(1, depth.shape[-2], depth.shape[-1])

    return DepthAnything3Output(model).eval()


def is_depth_anything_3(model) -> bool:
    """Return True for Depth Anything 3's ``DepthAnything3Net`` (package depth-anything-3)."""
    return type(model).__name__ == 'DepthAnything3Net'


def is_depth_anything(model) -> bool:
    """Return True for a transformers ``DepthAnythingForDepthEstimation``."""
    return getattr(getattr(model, 'config', None), 'model_type', None) == 'depth_anything'


def example_prompt(height: int, width: int, seed: int = 0) -> np.ndarray:
    """Return a (1, 1, h, w) float32 metric depth prompt (0.5-4.5 m) for traces and checks."""
    rng = np.random.default_rng(seed)
    return (0.5 + 4.0 * rng.random((1, 1, max(2, height // 8), max(2, width // 8)))
            ).astype(np.float32)


def random_image(height: int, width: int, seed: int = 0) -> np.ndarray:
    """Return a smooth random RGB image with some texture (the parity test input)."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (max(2, height // 16), max(2, width // 16), 3), dtype=np.uint8)
    image = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    noise = rng.integers(-12, 13, image.shape)
    return np.clip(image.astype(np.int16) + noise, 0, 255).astype(np.uint8)


def parity(onnx_path: str, model, size: tuple[int, int], seed: int = 0,
           card: ModelCard | None = None, reference=None) -> float:
    """Return max |onnxruntime - torch| / max |torch| on one random image of ``size``.

    ``reference``: a torch module computing the same output (default: ``model``'s own
    ``predicted_depth``).
    """
    import onnxruntime
    import torch

    preprocessing = card.preprocessing if card is not None else None
    tensor = prepare_input(random_image(size[0], size[1], seed), size,
                           preprocessing=preprocessing)
    feeds = {INPUT_NAME: tensor}
    extras = {}
    if card is not None and 'prompt_depth' in card.extra_inputs:
        feeds['prompt_depth'] = example_prompt(*size, seed=seed)
        extras['prompt_depth'] = torch.from_numpy(feeds['prompt_depth'])
    with torch.inference_mode():
        if reference is not None:
            reference = reference(torch.from_numpy(tensor)).numpy()
        else:
            reference = model(pixel_values=torch.from_numpy(tensor),
                              **extras).predicted_depth.numpy()
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    session = onnxruntime.InferenceSession(str(onnx_path), sess_options=options,
                                           providers=['CPUExecutionProvider'])
    result = session.run(None, feeds)[0]
    result = result.reshape(reference.shape)
    scale = max(float(np.abs(reference).max()), 1e-12)
    return float(np.abs(result - reference).max()) / scale


def finalise_onnx(path: pathlib.Path, info: ModelInfo, input_size,
                  card: ModelCard | None = None) -> None:
    """Pin the output batch size, write the metadata (and the card), check and save the ONNX.

    Without ``card`` the file gets none: the Depth Anything contract (the package's own trained
    networks follow it).
    """
    import onnx

    proto = onnx.load(str(path))
    output_dims = proto.graph.output[0].type.tensor_type.shape.dim
    if output_dims and not output_dims[0].HasField('dim_value'):
        output_dims[0].dim_value = 1
    metadata = {
        'producer': 'mono_depth_ros', 'depth_type': info.depth_type,
        'max_depth': '' if info.max_depth is None else f'{info.max_depth:g}',
        'encoder': info.encoder or '', 'version': info.version or '',
        'source': info.source, 'input_size': str(input_size),
    }
    rule = card.preprocessing if card is not None else DEFAULT_PREPROCESSING
    metadata['preprocessing'] = (f'RGB * {rule.input_scale:.6g}, mean {list(rule.mean)}, std '
                                 f'{list(rule.std)}, H and W multiples of {rule.size_multiple}')
    if card is not None:
        metadata[METADATA_KEY] = card.to_json()
    del proto.metadata_props[:]
    for key, value in metadata.items():
        proto.metadata_props.add(key=key, value=value)
    large = proto.ByteSize() > _TWO_GIB - 2 ** 26
    if large:
        onnx.save(proto, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                  location=path.name + '.data')
        onnx.checker.check_model(str(path))
    else:
        onnx.checker.check_model(proto)
        onnx.save(proto, str(path))


def export_onnx(model_source, out_path, input_size: int = 518, opset: int = DEFAULT_OPSET,
                dynamic: bool = True, *, info: ModelInfo | None = None,
                depth_type: str = 'auto', max_depth: float | None = None,
                allow_download: bool = False, parity_tolerance: float = PARITY_TOLERANCE,
                logger: logging.Logger | None = None,
                card: ModelCard | None = None) -> ExportResult:
    """Export a depth model to ONNX, check it, and return an :class:`ExportResult`.

    ``model_source``: anything :func:`load_torch_model` takes (Hugging Face id or directory,
    .pth, .safetensors), or a transformers depth model (``DepthAnythingForDepthEstimation``,
    ``DPTForDepthEstimation``, ...) with its ``info``. ``card``: the model card to write
    (default: the family's, :func:`~mono_depth_ros.inference.model_loading.module_card`).
    The graph is traced at input_size x input_size (the card's size when fixed); with
    ``dynamic`` H and W are free (multiples of the card's ``size_multiple``), else fixed.
    Raises ExportError when ONNX Runtime and PyTorch differ by more than ``parity_tolerance``
    (relative to the largest output); the file is not written then.
    """
    import torch

    from mono_depth_ros.inference.model_loading import load_torch_model, module_card

    logger = logger or _LOGGER
    started = time.monotonic()
    if opset < 17:
        raise ExportError(f'opset {opset} is too old; 17 or newer is needed')
    if isinstance(model_source, (str, os.PathLike)):
        model, info = load_torch_model(str(model_source), depth_type=depth_type,
                                       max_depth=max_depth, allow_download=allow_download,
                                       logger=logger)
    else:
        model = model_source
        if info is None:
            raise ExportError('export_onnx needs info (a ModelInfo) with a model object')
    model = model.float().eval().to('cpu')
    card = card or module_card(model, info)
    if is_depth_anything_3(model) and card.resize != 'fixed':
        raise ExportError('Depth Anything 3 exports at a fixed size (its position embeddings '
                          'trace to constants): give a card with resize fixed and input_size '
                          '[height, width], the network size of your camera')
    if card.resize == 'fixed':
        dynamic, traced_size = False, tuple(card.input_size)
    else:
        traced_size = network_input_size(input_size, input_size, input_size, card.size_multiple)
    example = (torch.from_numpy(prepare_input(random_image(*traced_size, seed=1), traced_size,
                                              preprocessing=card.preprocessing)),)
    input_names = [INPUT_NAME]
    if 'prompt_depth' in card.extra_inputs:
        example += (torch.from_numpy(example_prompt(*traced_size, seed=1)),)
        input_names.append('prompt_depth')
    out_path = pathlib.Path(out_path).expanduser()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    dynamic_axes = ({INPUT_NAME: {2: 'height', 3: 'width'},
                     OUTPUT_NAME: {1: 'height', 2: 'width'}} if dynamic else None)
    if len(input_names) > 1:
        dynamic_axes = {**(dynamic_axes or {}),
                        'prompt_depth': {2: 'prompt_height', 3: 'prompt_width'}}
    reference = None
    if is_depth_anything(model):
        module = _export_module(model)
    elif is_depth_anything_3(model):
        module = reference = _depth_anything_3_export_module(model)
    else:
        module = _family_export_module(model, card.extra_inputs)
    handle, temporary = tempfile.mkstemp(suffix='.onnx', prefix=f'.{out_path.stem}-',
                                         dir=out_path.parent)
    os.close(handle)
    temporary = pathlib.Path(temporary)
    try:
        with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
            warnings.simplefilter('ignore')
            torch.onnx.export(module, example, str(temporary), dynamo=False,
                              opset_version=opset, input_names=input_names,
                              output_names=[OUTPUT_NAME], dynamic_axes=dynamic_axes,
                              do_constant_folding=True)
        finalise_onnx(temporary, info, input_size, card)
        check_size = traced_size
        if dynamic:
            check_size = network_input_size(3 * traced_size[0], 4 * traced_size[1],
                                            traced_size[0], card.size_multiple)
        difference = parity(str(temporary), model, check_size, card=card, reference=reference)
        if not difference <= parity_tolerance:
            raise ExportError(f'ONNX Runtime and PyTorch differ by {difference:.2e} (relative) '
                              f'at {check_size[0]}x{check_size[1]}; tolerance '
                              f'{parity_tolerance:.0e}')
        os.replace(temporary, out_path)
        data = temporary.with_name(temporary.name + '.data')
        if data.exists():
            os.replace(data, out_path.with_name(out_path.name + '.data'))
    except ModelLoadError:
        raise
    except ExportError:
        raise
    except Exception as error:
        raise ExportError(f'exporting {info.source} failed: {type(error).__name__}: '
                          f'{error}') from error
    finally:
        for leftover in (temporary, temporary.with_name(temporary.name + '.data')):
            if leftover.exists():
                leftover.unlink()
    seconds = time.monotonic() - started
    logger.info('exported %s to %s in %.1f s (opset %d, %s); ONNX Runtime vs PyTorch max '
                'relative difference %.2e at %dx%d', info.source, out_path, seconds, opset,
                'dynamic H, W' if dynamic else f'fixed {traced_size[0]}x{traced_size[1]}',
                difference, *check_size)
    return ExportResult(path=str(out_path), opset=opset, dynamic=dynamic, parity=difference,
                        parity_size=tuple(check_size), info=info, seconds=seconds)
