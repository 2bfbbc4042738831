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

"""The trained network as an ONNX model in the node's contract, checked by ONNX Runtime.

One float32 input ``pixel_values`` [1, 3, H, W] (dynamic H, W) and one output ``depth``
[1, H, W]: relative inverse depth (``exp`` of the network's log inverse depth) for a network
trained on ground truth up to scale, metric depth in metres (``exp(-...)``) for one trained with
known poses. The metadata says which (``depth_type``), so the node needs no flag.
"""

import logging
import os
import pathlib
import tempfile
import warnings

import numpy as np

from mono_depth_ros.core.preprocessing import prepare_input
from mono_depth_ros.inference.base import ModelInfo
from mono_depth_ros.inference.onnx_export import (DEFAULT_OPSET, ExportError, finalise_onnx,
                                                  INPUT_NAME, OUTPUT_NAME, PARITY_TOLERANCE,
                                                  random_image)
from mono_depth_ros.training.network import ARCHITECTURE

MAX_DEPTH_METRIC = 100.0  # the metric range recorded for a self-supervised model, m
_LOGGER = logging.getLogger('mono_depth_ros.training.export')


def output_module(model, depth_type: str):
    """Return a module pixel_values -> (1, H, W) in the contract for ``depth_type``."""
    import torch

    sign = 1.0 if depth_type == 'relative' else -1.0

    class ContractOutput(torch.nn.Module):
        """The network's log inverse depth turned into the contract's output."""

        def __init__(self, network):
            super().__init__()
            self.network = network

        def forward(self, pixel_values):
            return torch.exp(sign * self.network(pixel_values))[:, 0]

    return ContractOutput(model).eval()


def export_network(model, out_path, *, depth_type: str = 'relative', source: str = '',
                   traced_size: tuple[int, int] = (140, 182),
                   logger: logging.Logger | None = None) -> pathlib.Path:
    """Write the network to ``out_path`` as ONNX; check it against PyTorch at another size."""
    import onnxruntime
    import torch

    logger = logger or _LOGGER
    module = output_module(model.float().eval().to('cpu'), depth_type)
    out_path = pathlib.Path(out_path).expanduser()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    example = torch.from_numpy(prepare_input(random_image(*traced_size, seed=1), traced_size))
    handle, temporary = tempfile.mkstemp(suffix='.onnx', prefix=f'.{out_path.stem}-',
                                         dir=out_path.parent)
    os.close(handle)
    temporary = pathlib.Path(temporary)
    info = ModelInfo(depth_type=depth_type,
                     max_depth=MAX_DEPTH_METRIC if depth_type == 'metric' else None,
                     source=source or str(out_path), encoder=ARCHITECTURE, version='1',
                     model_format='onnx')
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter('ignore')
            torch.onnx.export(module, (example,), str(temporary), dynamo=False,
                              opset_version=DEFAULT_OPSET, input_names=[INPUT_NAME],
                              output_names=[OUTPUT_NAME],
                              dynamic_axes={INPUT_NAME: {2: 'height', 3: 'width'},
                                            OUTPUT_NAME: {1: 'height', 2: 'width'}},
                              do_constant_folding=True)
        finalise_onnx(temporary, info, traced_size[0])
        check_size = (2 * traced_size[0] + 14, 2 * traced_size[1] - 14)
        tensor = prepare_input(random_image(*check_size, seed=2), check_size)
        with torch.no_grad():
            reference = module(torch.from_numpy(tensor)).numpy()
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        session = onnxruntime.InferenceSession(str(temporary), sess_options=options,
                                               providers=['CPUExecutionProvider'])
        result = session.run(None, {INPUT_NAME: tensor})[0]
        difference = float(np.abs(result - reference).max() / max(np.abs(reference).max(),
                                                                  1e-12))
        if not difference <= PARITY_TOLERANCE:
            raise ExportError(f'ONNX Runtime and PyTorch differ by {difference:.2e} at '
                              f'{check_size[0]}x{check_size[1]}')
        os.replace(temporary, out_path)
    finally:
        if temporary.exists():
            temporary.unlink()
    logger.info('wrote %s (%s, dynamic H, W); ONNX Runtime vs PyTorch %.1e', out_path,
                depth_type, difference)
    return out_path
