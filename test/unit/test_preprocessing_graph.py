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

"""The frame's pre- and postprocessing folded into the ONNX graph match the OpenCV path.

Run with ONNX Runtime on a tiny random-initialised Depth Anything V2 export (the real
architecture): the fused graph takes the uint8 frame and returns depth at the frame's size.
"""

import numpy as np
import onnxruntime
import pytest

from model_fixtures import make_onnx
from mono_depth_ros.core.preprocessing import (
    network_input_size, output_to_input_size, prepare_input)
from mono_depth_ros.inference.engine_validation import reference_frames
from mono_depth_ros.inference.preprocessing_graph import DEPTH_OUTPUT, fused_model_bytes


def _session(model):
    return onnxruntime.InferenceSession(model, providers=['CPUExecutionProvider'])


@pytest.mark.parametrize('frame_size, input_size', [
    ((48, 64), 28),   # downscaled
    ((40, 60), 42),   # upscaled
    ((42, 56), 42),   # already the network size: no resize node
])
def test_the_fused_graph_matches_opencv_preprocessing_and_the_resize_back(
        frame_size, input_size):
    path = make_onnx()
    plain = _session(str(path))
    frame = reference_frames(1, frame_size)[0]
    network = network_input_size(*frame_size, input_size)
    reference = plain.run(None, {plain.get_inputs()[0].name: prepare_input(frame, network)})[0]

    network_only = _session(fused_model_bytes(path, frame_size, network, resize_output=False))
    output = network_only.run(None, {'frame': frame[np.newaxis]})[0]
    assert output.shape == reference.shape
    assert float(np.abs(output - reference).max()) <= 1e-4 * float(np.abs(reference).max())

    fused = _session(fused_model_bytes(path, frame_size, network))
    assert [value.name for value in fused.get_outputs()] == [DEPTH_OUTPUT]
    at_frame = fused.run(None, {'frame': frame[np.newaxis]})[0]
    expected = output_to_input_size(reference, frame_size[1], frame_size[0])
    assert at_frame.shape == (1, *frame_size)
    assert float(np.abs(at_frame[0] - expected).max()) <= 1e-4 * float(np.abs(expected).max())


def test_a_graph_that_cannot_take_frames_is_refused_with_the_reason(tmp_path):
    from onnx import helper, save, TensorProto

    graph = helper.make_graph(
        [helper.make_node('Identity', ['image'], ['depth'])], 'bad',
        [helper.make_tensor_value_info('image', TensorProto.FLOAT, [1, 3, 'h', 'w'])],
        [helper.make_tensor_value_info('depth', TensorProto.FLOAT, [1, 3, 'h', 'w'])])
    path = tmp_path / 'bad.onnx'
    save(helper.make_model(graph, opset_imports=[helper.make_opsetid('', 17)]), str(path))
    with pytest.raises(ValueError):
        fused_model_bytes(path, (28, 28), (28, 28))
