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

"""Export a Depth Anything PyTorch model to ONNX in the package's model contract, and check it.

The file has one float32 input ``pixel_values`` [1, 3, H, W] (H and W dynamic unless asked
otherwise) and one output ``depth`` [1, H, W], plus metadata (depth_type, max_depth, encoder,
version, source) that the loader reads back. Each export is checked with ``onnx.checker`` and by
running ONNX Runtime and PyTorch on the same random image at a size other than the traced one.

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

from mono_depth_ros.core.preprocessing import network_input_size, prepare_input
from mono_depth_ros.inference.base import ModelInfo, ModelLoadError

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


def random_image(height: int, width: int, seed: int = 0) -> np.ndarray:
    """Return a smooth random RGB image with some texture (the parity test input)."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (max(2, height // 16), max(2, width // 16), 3), dtype=np.uint8)
    image = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    noise = rng.integers(-12, 13, image.shape)
    return np.clip(image.astype(np.int16) + noise, 0, 255).astype(np.uint8)


def parity(onnx_path: str, model, size: tuple[int, int], seed: int = 0) -> float:
    """Return max |onnxruntime - torch| / max |torch| on one random image of ``size``."""
    import onnxruntime
    import torch

    tensor = prepare_input(random_image(size[0], size[1], seed), size)
    with torch.inference_mode():
        reference = model(pixel_values=torch.from_numpy(tensor)).predicted_depth.numpy()
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    session = onnxruntime.InferenceSession(str(onnx_path), sess_options=options,
                                           providers=['CPUExecutionProvider'])
    result = session.run(None, {session.get_inputs()[0].name: tensor})[0]
    result = result.reshape(reference.shape)
    scale = max(float(np.abs(reference).max()), 1e-12)
    return float(np.abs(result - reference).max()) / scale


def finalise_onnx(path: pathlib.Path, info: ModelInfo, input_size) -> None:
    """Pin the output batch size, write the metadata, check and save the ONNX file."""
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
        'preprocessing': 'RGB/255, ImageNet mean/std, H and W multiples of 14',
    }
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
                logger: logging.Logger | None = None) -> ExportResult:
    """Export a Depth Anything model to ONNX, check it, and return an :class:`ExportResult`.

    ``model_source``: anything :func:`load_torch_model` takes (Hugging Face id or directory,
    .pth, .safetensors), or a ``DepthAnythingForDepthEstimation`` with its ``info``. The graph
    is traced at input_size x input_size; with ``dynamic`` H and W are free (multiples of 14),
    else fixed at that size. Raises ExportError when ONNX Runtime and PyTorch differ by more
    than ``parity_tolerance`` (relative to the largest output); the file is not written then.
    """
    import torch

    from mono_depth_ros.inference.model_loading import load_torch_model

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
    traced_size = network_input_size(input_size, input_size, input_size)
    example = torch.from_numpy(prepare_input(random_image(*traced_size, seed=1), traced_size))
    out_path = pathlib.Path(out_path).expanduser()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    dynamic_axes = ({INPUT_NAME: {2: 'height', 3: 'width'},
                     OUTPUT_NAME: {1: 'height', 2: 'width'}} if dynamic else None)
    handle, temporary = tempfile.mkstemp(suffix='.onnx', prefix=f'.{out_path.stem}-',
                                         dir=out_path.parent)
    os.close(handle)
    temporary = pathlib.Path(temporary)
    try:
        with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
            warnings.simplefilter('ignore')
            torch.onnx.export(_export_module(model), (example,), str(temporary), dynamo=False,
                              opset_version=opset, input_names=[INPUT_NAME],
                              output_names=[OUTPUT_NAME], dynamic_axes=dynamic_axes,
                              do_constant_folding=True)
        finalise_onnx(temporary, info, input_size)
        check_size = traced_size
        if dynamic:
            check_size = network_input_size(3 * traced_size[0], 4 * traced_size[1],
                                            traced_size[0])
        difference = parity(str(temporary), model, check_size)
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
