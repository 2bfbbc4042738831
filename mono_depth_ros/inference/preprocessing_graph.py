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

"""Fold the frame's preprocessing (and the resize back to the image) into the ONNX graph.

For a camera of a known size the TensorRT engine can take the uint8 RGB frame itself: the
graph made here puts in front of the depth model what
:func:`~mono_depth_ros.core.preprocessing.prepare_input` does (float, HWC to CHW, bicubic
resize with a = -0.75 and half-pixel centres as OpenCV's ``INTER_CUBIC``, RGB/255 normalised
with the ImageNet mean and std), and behind it what
:func:`~mono_depth_ros.core.preprocessing.output_to_input_size` does (bilinear, half-pixel, to
the frame's size). Only the frame crosses to the GPU (a quarter of the float tensor's bytes)
and only the depth image at the camera's size comes back; the CPU resizes nothing and no
PyTorch is needed. Sizes are static, so one engine serves one camera resolution (a new
resolution is a new engine: see :mod:`engine_switch`). Parity with the OpenCV path is measured
with ONNX Runtime in test/unit/test_preprocessing_graph.py.
"""

import numpy as np

from mono_depth_ros.core.preprocessing import normalisation_constants

FRAME_INPUT = 'frame'
DEPTH_OUTPUT = 'depth_at_frame_size'


def _opset(model) -> int:
    return next(entry.version for entry in model.opset_import if entry.domain in ('', 'ai.onnx'))


def _resize(helper, numpy_helper, source: str, target: str, sizes: tuple, mode: str,
            initializers: list) -> list:
    """Return the Resize node(s) of ``source`` to ``sizes`` (N, C, H, W)."""
    sizes_name = f'{target}_sizes'
    initializers.append(numpy_helper.from_array(np.array(sizes, np.int64), sizes_name))
    options = {'mode': mode, 'coordinate_transformation_mode': 'half_pixel'}
    if mode == 'cubic':
        options.update(cubic_coeff_a=-0.75, exclude_outside=0)
    return [helper.make_node('Resize', [source, '', '', sizes_name], [target], **options)]


def fused_model(model, frame_size: tuple[int, int], network_size: tuple[int, int],
                resize_output: bool = True):
    """Return ``model`` (an ONNX ModelProto of the contract) with the frame's pre/postprocessing.

    The result takes ``frame``: uint8 [1, H, W, 3] RGB at ``frame_size`` (H, W) and returns the
    model's output resized to (1, H, W) as ``depth_at_frame_size`` (``resize_output``), or the
    network output itself. ``network_size`` (h, w) is what the model sees.
    """
    import onnx
    from onnx import helper, numpy_helper, TensorProto

    height, width = (int(size) for size in frame_size)
    net_height, net_width = (int(size) for size in network_size)
    graph = model.graph
    if len(graph.input) != 1 or len(graph.output) != 1:
        raise ValueError(f'{len(graph.input)} inputs and {len(graph.output)} outputs; the '
                         'contract has one of each')
    dims = graph.output[0].type.tensor_type.shape.dim
    if len(dims) not in (3, 4) or (len(dims) == 4 and dims[1].HasField('dim_value')
                                   and dims[1].dim_value != 1):
        raise ValueError(f'output of rank {len(dims)}: expected [1, H, W] or [1, 1, H, W]')
    model_input = graph.input[0].name
    model_output = graph.output[0].name
    scale, offset = normalisation_constants()
    initializers = [
        numpy_helper.from_array(scale.reshape(1, 3, 1, 1).astype(np.float32), 'frame_scale'),
        numpy_helper.from_array(offset.reshape(1, 3, 1, 1).astype(np.float32), 'frame_offset')]
    nodes = [helper.make_node('Cast', [FRAME_INPUT], ['frame_float'], to=TensorProto.FLOAT),
             helper.make_node('Transpose', ['frame_float'], ['frame_chw'], perm=[0, 3, 1, 2])]
    resized = 'frame_chw'
    if (net_height, net_width) != (height, width):
        resized = 'frame_resized'
        nodes += _resize(helper, numpy_helper, 'frame_chw', resized,
                         (1, 3, net_height, net_width), 'cubic', initializers)
    nodes += [helper.make_node('Mul', [resized, 'frame_scale'], ['frame_scaled']),
              helper.make_node('Add', ['frame_scaled', 'frame_offset'], [model_input])]
    nodes += list(graph.node)
    if resize_output:
        rank = len(dims)
        nodes.append(helper.make_node('Reshape', [model_output, 'depth_nchw_shape'],
                                      ['depth_nchw']))
        initializers.append(numpy_helper.from_array(
            np.array([1, 1, net_height, net_width], np.int64), 'depth_nchw_shape'))
        nodes += _resize(helper, numpy_helper, 'depth_nchw', 'depth_frame_nchw',
                         (1, 1, height, width), 'linear', initializers)
        initializers.append(numpy_helper.from_array(
            np.array([1, height, width] if rank == 3 else [1, 1, height, width], np.int64),
            'depth_frame_shape'))
        nodes.append(helper.make_node('Reshape', ['depth_frame_nchw', 'depth_frame_shape'],
                                      [DEPTH_OUTPUT]))
        output = helper.make_tensor_value_info(
            DEPTH_OUTPUT, TensorProto.FLOAT,
            [1, height, width] if rank == 3 else [1, 1, height, width])
    else:
        output = graph.output[0]
    fused_graph = helper.make_graph(
        nodes, f'{graph.name}_with_frame_io',
        [helper.make_tensor_value_info(FRAME_INPUT, TensorProto.UINT8, [1, height, width, 3])],
        [output], [*initializers, *graph.initializer])
    fused_graph.value_info.extend(value for value in graph.value_info
                                  if value.name not in (model_input, model_output))
    fused = helper.make_model(fused_graph, opset_imports=list(model.opset_import),
                              ir_version=model.ir_version, producer_name='mono_depth_ros')
    fused.metadata_props.extend(model.metadata_props)
    if _opset(model) < 11:
        raise ValueError(f'opset {_opset(model)}: the preprocessing graph needs opset >= 11')
    onnx.checker.check_model(fused)
    return fused


def fused_model_bytes(onnx_bytes_or_path, frame_size: tuple[int, int],
                      network_size: tuple[int, int], resize_output: bool = True) -> bytes:
    """Return :func:`fused_model` of an ONNX file or serialised model, serialised."""
    import onnx

    if isinstance(onnx_bytes_or_path, (bytes, bytearray)):
        model = onnx.load_from_string(bytes(onnx_bytes_or_path))
    else:
        model = onnx.load(str(onnx_bytes_or_path))
    try:
        return fused_model(model, frame_size, network_size, resize_output).SerializeToString()
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as error:
        raise ValueError(str(error)) from error
