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

"""The contract an ONNX depth model must meet (INTERFACE.md), checked, and what it records.

One float32 input [1, 3, H, W], one output [1, H, W] or [1, 1, H, W]; the metadata written by
our export says relative or metric, the encoder and the version. A model card (in the metadata,
or given with ``card=``) adds the card's extra inputs and its size multiple to the check, and
decides relative or metric.
"""

from dataclasses import dataclass
import logging
import os

from mono_depth_ros.core.preprocessing import PATCH_MULTIPLE
from mono_depth_ros.inference.base import InputSpec, ModelInfo
from mono_depth_ros.inference.depth_type_resolution import (Evidence, name_hints,
                                                            recorded_from_metadata,
                                                            resolve_depth_type)
from mono_depth_ros.inference.errors import error_summary, ModelLoadError
from mono_depth_ros.inference.model_card import card_from_metadata, ModelCard, ModelCardError

_LOGGER = logging.getLogger('mono_depth_ros.inference.onnx_contract')


@dataclass(frozen=True)
class OnnxContract:
    """The checked input/output of an ONNX depth model and its metadata."""

    path: str
    input_name: str
    input_shape: tuple
    output_name: str
    output_shape: tuple
    metadata: dict
    # The model card (from the metadata or given), None: the Depth Anything contract.
    card: ModelCard | None = None
    # The card's extra inputs (e.g. prompt_depth) by name, in the order the file lists them.
    extra_input_names: tuple[str, ...] = ()

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


def _card_of(path: str, metadata: dict, card: ModelCard | None) -> ModelCard | None:
    """Return the card that applies: ``card`` if given, else the file's; raise ModelLoadError."""
    if card is not None:
        return card
    try:
        return card_from_metadata(metadata)
    except ModelCardError as error:
        raise ModelLoadError(path, str(error)) from None


def read_onnx_contract(path: str, card: ModelCard | None = None) -> OnnxContract:
    """Check an ONNX file against the depth model contract; raise one clear ModelLoadError.

    Contract: one float32 input [1, 3, H, W] (H, W fixed multiples of 14 or dynamic), one
    float32 output [1, H, W] or [1, 1, H, W]. With a model card (``card``, else the file's
    own), H and W are multiples of its ``size_multiple`` and its ``extra_inputs`` are inputs.
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
                                   f'{error_summary(error)}') from error
    graph = proto.graph
    if not graph.node:
        raise ModelLoadError(path, 'the ONNX graph is empty (truncated or corrupt?)')
    initializers = {tensor.name for tensor in graph.initializer}
    inputs = [value for value in graph.input if value.name not in initializers]
    outputs = list(graph.output)
    metadata = {prop.key: prop.value for prop in proto.metadata_props}
    card = _card_of(path, metadata, card)
    extra_names = tuple(card.extra_inputs) if card else ()
    names = [value.name for value in inputs]
    for name in extra_names:
        if name not in names:
            raise ModelLoadError(path, f"model card field 'extra_inputs' names {name!r}, but "
                                       f'the file has the inputs {", ".join(names)}')
    inputs = [value for value in inputs if value.name not in extra_names]
    multiple = card.size_multiple if card else PATCH_MULTIPLE
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
        if isinstance(size, int) and size > 0 and size % multiple:
            field = " (model card field 'size_multiple')" if card else ''
            raise ModelLoadError(path, f'input {name} is {size}, expected a multiple of '
                                       f'{multiple}{field}')
    output_shape = _dims(result)
    if output_shape is not None and len(output_shape) not in (3, 4):
        raise ModelLoadError(path, f'output {result.name!r} has rank {len(output_shape)} '
                                   f'({list(output_shape)}); the contract is [1, H, W] or '
                                   '[1, 1, H, W]')
    normalised_input = tuple(None if size in (0, None) else size for size in input_shape)
    return OnnxContract(path=path, input_name=source.name, input_shape=normalised_input,
                        output_name=result.name, output_shape=output_shape or (),
                        metadata=metadata, card=card, extra_input_names=extra_names)


def onnx_model_info(contract: OnnxContract, depth_type: str = 'auto',
                    max_depth: float | None = None,
                    logger: logging.Logger | None = None) -> ModelInfo:
    """Return the ModelInfo of a checked ONNX model (metadata, then arguments, then its name).

    With a model card, the card decides relative or metric (``metric`` none or not) and gives
    ``max_depth`` where it records one.
    """
    logger = logger or _LOGGER
    card = contract.card or _card_of(contract.path, contract.metadata, None)
    if card is not None:
        kind = 'metric' if card.is_metric else 'relative'
        if depth_type not in ('auto', kind):
            logger.warning('depth_type %s ignored: the model card of %s says %s (metric %s)',
                           depth_type, contract.path, kind, card.metric)
        recorded = recorded_from_metadata(contract.metadata)
        return ModelInfo(depth_type=kind, max_depth=card.max_depth or (
                             max_depth if kind == 'metric' else None),
                         source=contract.path, encoder=recorded.get('encoder'),
                         version=recorded.get('version'), model_format='onnx', card=card)
    evidence = Evidence(recorded_from_metadata(contract.metadata), name_hints(contract.path))
    resolved_type, resolved_max = resolve_depth_type(contract.path, evidence, depth_type,
                                                     max_depth, logger)
    return ModelInfo(depth_type=resolved_type, max_depth=resolved_max, source=contract.path,
                     encoder=evidence.recorded.get('encoder'),
                     version=evidence.recorded.get('version') or evidence.hinted.get('version'),
                     model_format='onnx')
