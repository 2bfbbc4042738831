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

"""Turn a float32 ONNX depth model into a float16 one, for TensorRT's strongly typed networks.

TensorRT 11 has no FP16 builder flag: a network computes in the types its ONNX file has. An
fp16 engine therefore starts from an fp16 ONNX. :func:`convert_to_fp16` makes one:

* the image path computes in float16: every node with a float input that depends on the image
  (an *activation*); the weights and constants only such nodes read are stored as float16;
* shape arithmetic stays float32 (``Shape`` -> ``Cast`` -> ``Div`` ... -> ``Resize`` scales, as
  torch exports interpolation): float16 would round the sizes it computes;
* layer norms stay float32 (:data:`FLOAT32_OPS`): a ViT's activations can be large enough for
  the variance to overflow float16. That covers ``LayerNormalization`` and the same computed
  from ``ReduceMean``, ``Pow``, ``Add`` and ``Sqrt`` (exports before opset 17);
* the graph's inputs and outputs stay float32, so the engine's I/O is the same as at fp32.

Casts go only where a tensor's type and its reader's differ, one per tensor and type. The
result is checked with ``onnx.checker`` (full type and shape inference).
"""

import numpy as np

# Kept in float32 on the image path: normalisation and the squares and means of a layer norm
# written out in elementary ops (exports before opset 17), whose variance can pass 65504.
FLOAT32_OPS = frozenset({'LayerNormalization', 'Pow', 'ReduceMean', 'Sqrt'})
# Elementwise ops that stay in float32 when every image input they read is float32 (the
# ``+ eps`` between a variance and its square root).
FOLLOWING_OPS = frozenset({'Add', 'Sub', 'Mul', 'Div', 'Reciprocal'})
# (op_type, input index) that ONNX types as tensor(float) whatever the data's type is.
FLOAT32_ONLY_INPUTS = frozenset({('Resize', 2), ('Upsample', 1)})
_FP16_MAX = float(np.finfo(np.float16).max)


def _half_tensor(tensor):
    """Return a float16 copy of a float32 TensorProto (same name, values clipped to fp16)."""
    from onnx import numpy_helper

    values = numpy_helper.to_array(tensor)
    half = np.clip(values, -_FP16_MAX, _FP16_MAX).astype(np.float16)
    return numpy_helper.from_array(half, tensor.name)


def _tensor_types(model) -> dict:
    """Return {tensor name: ONNX elem type} for every typed tensor of the (inferred) graph."""
    import onnx

    inferred = onnx.shape_inference.infer_shapes(model)
    graph = inferred.graph
    types = {init.name: init.data_type for init in graph.initializer}
    for value in (*graph.input, *graph.value_info, *graph.output):
        types[value.name] = value.type.tensor_type.elem_type
    return types


def _cast_node(onnx, source: str, target: str, to: int):
    return onnx.helper.make_node('Cast', [source], [target], name=f'{target}/Cast', to=to)


def _constant_values_as_tensor(onnx, node) -> None:
    """Rewrite a Constant's value_float/value_floats attribute as a float32 ``value`` tensor."""
    for attr in list(node.attribute):
        if attr.name in ('value_float', 'value_floats'):
            values = attr.f if attr.name == 'value_float' else list(attr.floats)
            node.attribute.remove(attr)
            node.attribute.append(onnx.helper.make_attribute(
                'value', onnx.numpy_helper.from_array(np.array(values, np.float32))))


def _plan(graph, is_float: set) -> tuple[list, dict]:
    """Return (which nodes compute in float16, {float tensor: types its readers want})."""
    activations = {value.name for value in graph.input if value.name in is_float}
    float32_activations = set(activations)
    half_nodes, wanted = [], {}
    for node in graph.node:
        float_inputs = [name for name in node.input if name in is_float]
        image_inputs = [name for name in float_inputs if name in activations]
        keeps_float32 = node.op_type in FLOAT32_OPS or (
            node.op_type in FOLLOWING_OPS
            and all(name in float32_activations for name in image_inputs))
        half = bool(image_inputs) and not keeps_float32
        half_nodes.append(half)
        if image_inputs:
            outputs = [name for name in node.output if name in is_float]
            activations.update(outputs)
            if not half:
                float32_activations.update(outputs)
        for slot, name in enumerate(node.input):
            if name in is_float:
                fp32_only = (node.op_type, slot) in FLOAT32_ONLY_INPUTS
                wanted.setdefault(name, set()).add('fp16' if half and not fp32_only else 'fp32')
    for value in graph.output:
        wanted.setdefault(value.name, set()).add('fp32')
    return half_nodes, wanted


def convert_to_fp16(model):
    """Return a float16 copy of ``model`` (an onnx.ModelProto), with float32 graph I/O.

    Raises ValueError for graphs this conversion does not cover (subgraphs, external data).
    """
    import onnx

    float32, float16 = onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16
    converted = onnx.ModelProto()
    converted.CopyFrom(model)
    graph = converted.graph
    for node in graph.node:
        if any(attr.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS)
               for attr in node.attribute):
            raise ValueError(f'node {node.name!r} ({node.op_type}) has a subgraph; the fp16 '
                             'conversion covers flat graphs only')
        if node.op_type == 'Constant':
            _constant_values_as_tensor(onnx, node)
    is_float = {name for name, elem in _tensor_types(converted).items() if elem == float32}
    half_nodes, wanted = _plan(graph, is_float)
    only_half = {name for name, wants in wanted.items() if wants == {'fp16'}}

    holds_half = set()
    for init in graph.initializer:
        if init.data_location == onnx.TensorProto.EXTERNAL:
            raise ValueError(f'initializer {init.name!r} keeps its data in an external file; '
                             'load the model with its external data first')
        if init.name in only_half:
            init.CopyFrom(_half_tensor(init))
            holds_half.add(init.name)
    nodes, casts = [], {}

    def reading(name: str, want_half: bool) -> str:
        """Return a tensor holding ``name`` in the wanted type, adding a shared cast if needed."""
        if name not in is_float or (name in holds_half) == want_half:
            return name
        key = (name, want_half)
        if key not in casts:
            casts[key] = f"{name}__{'fp16' if want_half else 'fp32'}"
            nodes.append(_cast_node(onnx, name, casts[key], float16 if want_half else float32))
        return casts[key]

    for node, half in zip(graph.node, half_nodes):
        for slot, name in enumerate(node.input):
            if name:
                fp32_only = (node.op_type, slot) in FLOAT32_ONLY_INPUTS
                node.input[slot] = reading(name, half and not fp32_only)
        constant = node.op_type == 'Constant' and node.output[0] in only_half
        if half or constant:
            for attr in node.attribute:
                if attr.type == onnx.AttributeProto.TENSOR and attr.t.data_type == float32:
                    attr.t.CopyFrom(_half_tensor(attr.t))
                elif attr.name in ('to', 'dtype') and attr.i == float32:
                    attr.i = float16
            holds_half.update(name for name in node.output if name in is_float)
        nodes.append(node)

    _float32_outputs(onnx, graph, nodes, holds_half)
    del graph.value_info[:]
    onnx.checker.check_model(converted, full_check=True)
    return converted


def _float32_outputs(onnx, graph, nodes: list, holds_half: set) -> None:
    """Replace ``graph.node`` by ``nodes``, casting float16 graph outputs back to float32."""
    renamed = {value.name: f'{value.name}__fp16' for value in graph.output
               if value.name in holds_half}
    for node in nodes:
        node.input[:] = [renamed.get(name, name) for name in node.input]
        node.output[:] = [renamed.get(name, name) for name in node.output]
    for public, internal in renamed.items():
        nodes.append(_cast_node(onnx, internal, public, onnx.TensorProto.FLOAT))
    del graph.node[:]
    graph.node.extend(nodes)


def fp16_model_bytes(path: str) -> bytes:
    """Return the serialised fp16 copy of the ONNX file at ``path``.

    Raises ValueError (with onnx's reason) when the file cannot be converted.
    """
    import onnx

    try:
        return convert_to_fp16(onnx.load(str(path))).SerializeToString()
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as error:
        raise ValueError(str(error)) from error


# NVIDIA's converter, where it is installed -----------------------------------------------------
PACKAGE_CONVERTER = 'mono_depth_ros'
AUTOCAST_CONVERTER = 'modelopt-autocast'


def modelopt_autocast():
    """Return ModelOpt AutoCast's ``convert_to_mixed_precision``, or None where not installed."""
    try:
        from modelopt.onnx.autocast import convert_to_mixed_precision
    except Exception:  # not installed, or its own dependencies (torch, graphsurgeon) missing
        return None
    return convert_to_mixed_precision


def tensorrt_fp16_converter() -> str:
    """Return the name of the converter :func:`tensorrt_fp16_bytes` uses here."""
    return AUTOCAST_CONVERTER if modelopt_autocast() is not None else PACKAGE_CONVERTER


def tensorrt_fp16_bytes(path: str, logger=None) -> tuple[bytes, str]:
    """Return (fp16 ONNX bytes, converter name) for a strongly typed TensorRT build.

    ModelOpt AutoCast where it is installed: it keeps in fp32 the nodes whose outputs or
    weights would overflow fp16 (``data_max``, ``init_max``) and keeps the I/O types. Else,
    or when AutoCast fails on the model, this package's :func:`convert_to_fp16`.
    Raises ValueError when neither can convert the model.
    """
    convert = modelopt_autocast()
    if convert is not None:
        try:
            model = convert(onnx_path=str(path), low_precision_type='fp16', keep_io_types=True,
                            data_max=512, init_max=65504)
            return model.SerializeToString(), AUTOCAST_CONVERTER
        except Exception as error:  # noqa: B902 (any failure: the package's converter)
            if logger is not None:
                logger.warning(f'ModelOpt AutoCast could not convert {path} '
                               f'({type(error).__name__}: {error}); using the package '
                               'converter')
    return fp16_model_bytes(path), PACKAGE_CONVERTER
