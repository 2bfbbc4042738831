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

"""The fp16 ONNX conversion behind TensorRT 11's strongly typed fp16 engines, run on ONNX Runtime.

The models are tiny random-initialised Depth Anything exports of the real architecture; ONNX
Runtime on the CPU runs the converted file (its float16 weights and the casts between float16
and float32 are real; the CPU computes some float16 kernels in float32).
"""

import numpy as np
import pytest

from mono_depth_ros.core.metrics import compute_metrics
from mono_depth_ros.core.preprocessing import prepare_input
from mono_depth_ros.inference.onnx_fp16 import convert_to_fp16

onnx = pytest.importorskip('onnx')
onnxruntime = pytest.importorskip('onnxruntime')
helper, TensorProto = onnx.helper, onnx.TensorProto

ABS_REL_LIMIT = 0.01  # the fp16 bound against fp32


def _run(model, tensor: np.ndarray) -> np.ndarray:
    session = onnxruntime.InferenceSession(model.SerializeToString(),
                                           providers=['CPUExecutionProvider'])
    return session.run(None, {session.get_inputs()[0].name: tensor})[0]


def _frame(height: int, width: int, seed: int = 3) -> np.ndarray:
    """Return a smooth random RGB frame (blobs, not noise), as a camera would give."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (height // 16 + 2, width // 16 + 2, 3)).astype(np.float32)
    import cv2

    return cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC).clip(
        0, 255).astype(np.uint8)


def _types(model) -> dict:
    inferred = onnx.shape_inference.infer_shapes(model)
    graph = inferred.graph
    types = {init.name: init.data_type for init in graph.initializer}
    types.update((value.name, value.type.tensor_type.elem_type)
                 for value in (*graph.input, *graph.value_info, *graph.output))
    return types


@pytest.mark.parametrize('fixture', ['tiny_onnx', 'tiny_metric_onnx'])
def test_fp16_copy_matches_fp32_at_any_size(fixture, request):
    source = onnx.load(str(request.getfixturevalue(fixture)))
    half = convert_to_fp16(source)
    for height, width in ((480, 640), (360, 640)):
        tensor = prepare_input(_frame(height, width), 140)
        reference, converted = _run(source, tensor), _run(half, tensor)
        assert converted.dtype == np.float32 and converted.shape == reference.shape
        mask = reference > 1e-3 * reference.max()
        assert mask.mean() > 0.5
        assert compute_metrics(converted, reference, mask)['abs_rel'] <= ABS_REL_LIMIT


def test_image_path_is_fp16_and_shape_arithmetic_and_layer_norm_stay_fp32(tiny_onnx):
    source = onnx.load(str(tiny_onnx))
    half = convert_to_fp16(source)
    types = _types(half)
    graph = half.graph
    io_types = [types[value.name] for value in (*graph.input, *graph.output)]
    assert io_types == [TensorProto.FLOAT] * 2
    initializers = {init.name: init for init in graph.initializer}
    weights = [initializers[name] for node in graph.node if node.op_type in ('Conv', 'MatMul')
               for name in node.input[1:] if name in initializers]
    assert weights and all(init.data_type == TensorProto.FLOAT16 for init in weights)
    sizes = {kind: sum(int(np.prod(init.dims)) for init in graph.initializer
                       if init.data_type == kind) for kind in (TensorProto.FLOAT16,
                                                               TensorProto.FLOAT)}
    # Left in float32: the class token and position embeddings, which the graph expands and
    # interpolates in float32 (shape-dependent), and the layer norms' scales.
    assert sizes[TensorProto.FLOAT16] > 0.9 * (sizes[TensorProto.FLOAT16]
                                               + sizes[TensorProto.FLOAT])
    convs = [node for node in graph.node if node.op_type == 'Conv']
    assert convs and all(types[node.output[0]] == TensorProto.FLOAT16 for node in convs)
    norms = [node for node in graph.node if node.op_type == 'LayerNormalization']
    assert norms and all(types[name] == TensorProto.FLOAT
                         for node in norms for name in (*node.input, *node.output))
    resizes = [node for node in graph.node if node.op_type == 'Resize']
    on_image = [node for node in resizes if 'embeddings' not in node.name]  # neck and head
    assert on_image and all(types[node.input[0]] == TensorProto.FLOAT16 for node in on_image)
    embedding = [node for node in resizes if 'embeddings' in node.name]  # position embeddings
    assert embedding and all(types[node.input[0]] == TensorProto.FLOAT for node in embedding)
    scales = [node.input[2] for node in resizes if len(node.input) > 2 and node.input[2]]
    assert all(types[name] == TensorProto.FLOAT for name in scales)
    original_casts = sum(node.op_type == 'Cast' for node in source.graph.node)
    assert sum(node.op_type == 'Cast' for node in graph.node) - original_casts < 60


def test_attribute_typed_constants_follow_the_image_path():
    """value_float constants and ConstantOfShape defaults join the fp16 path that reads them."""
    nodes = [
        helper.make_node('Constant', [], ['two'], value_float=2.0),
        helper.make_node('Relu', ['image'], ['positive']),
        helper.make_node('Mul', ['positive', 'two'], ['doubled']),
        helper.make_node('Shape', ['image'], ['shape']),
        helper.make_node('ConstantOfShape', ['shape'], ['zeros']),
        helper.make_node('Add', ['doubled', 'zeros'], ['depth']),
    ]
    graph = helper.make_graph(
        nodes, 'constants',
        [helper.make_tensor_value_info('image', TensorProto.FLOAT, [1, 3, 'h', 'w'])],
        [helper.make_tensor_value_info('depth', TensorProto.FLOAT, [1, 3, 'h', 'w'])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 17)])
    half = convert_to_fp16(model)
    types = _types(half)
    assert types['two'] == types['doubled'] == TensorProto.FLOAT16
    assert types['depth'] == TensorProto.FLOAT
    image = np.linspace(-3, 3, 2 * 3 * 4 * 5, dtype=np.float32).reshape(1, 3, 4, 10)
    np.testing.assert_allclose(_run(half, image), 2 * np.maximum(image, 0), rtol=1e-3)


def test_graphs_it_cannot_convert_are_refused_with_the_reason():
    branch = helper.make_graph([helper.make_node('Identity', ['image'], ['out'])], 'branch', [],
                               [helper.make_tensor_value_info('out', TensorProto.FLOAT, None)])
    graph = helper.make_graph(
        [helper.make_node('Constant', [], ['flag'], value=helper.make_tensor(
            'flag', TensorProto.BOOL, [], [True])),
         helper.make_node('If', ['flag'], ['depth'], then_branch=branch, else_branch=branch)],
        'branching',
        [helper.make_tensor_value_info('image', TensorProto.FLOAT, [1, 3, 2, 2])],
        [helper.make_tensor_value_info('depth', TensorProto.FLOAT, [1, 3, 2, 2])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 17)])
    with pytest.raises(ValueError, match='subgraph'):
        convert_to_fp16(model)


def test_a_layer_norm_written_out_in_elementary_ops_keeps_its_variance_in_fp32():
    """Exports before opset 17 spell a layer norm out; activations of 1000 square past fp16."""
    nodes = [
        helper.make_node('Relu', ['image'], ['x']),
        helper.make_node('ReduceMean', ['x'], ['mean'], axes=[-1]),
        helper.make_node('Sub', ['x', 'mean'], ['centred']),
        helper.make_node('Pow', ['centred', 'two'], ['squares']),
        helper.make_node('ReduceMean', ['squares'], ['variance'], axes=[-1]),
        helper.make_node('Add', ['variance', 'eps'], ['variance_eps']),
        helper.make_node('Sqrt', ['variance_eps'], ['std']),
        helper.make_node('Div', ['centred', 'std'], ['depth']),
    ]
    graph = helper.make_graph(
        nodes, 'layer_norm',
        [helper.make_tensor_value_info('image', TensorProto.FLOAT, [1, 4, 64])],
        [helper.make_tensor_value_info('depth', TensorProto.FLOAT, [1, 4, 64])],
        initializer=[onnx.numpy_helper.from_array(np.array(2.0, np.float32), 'two'),
                     onnx.numpy_helper.from_array(np.array(1e-5, np.float32), 'eps')])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 16)])
    half = convert_to_fp16(model)
    types = _types(half)
    assert types['x'] == types['centred'] == types['depth__fp16'] == TensorProto.FLOAT16
    assert all(types[name] == TensorProto.FLOAT
               for name in ('squares', 'variance', 'variance_eps', 'std'))
    image = np.random.default_rng(6).uniform(0, 2000, (1, 4, 64)).astype(np.float32)
    reference, converted = _run(model, image), _run(half, image)
    assert np.isfinite(converted).all()
    np.testing.assert_allclose(converted, reference, atol=2e-2)
