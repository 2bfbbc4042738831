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

"""Scores of a depth model on held-out sequences with ground truth.

Relative scores fit a scale and shift of the prediction (as inverse depth) to each frame's
ground truth first, as the evaluation module does for relative models; metric scores take the
prediction as it is. Both use :mod:`mono_depth_ros.core.metrics`.
"""

import numpy as np

from mono_depth_ros.core.metrics import aggregate_metrics, align_scale_shift, compute_metrics
from mono_depth_ros.core.preprocessing import prepare_input
from mono_depth_ros.training.datasets import TrainingSequence

REPORTED = ('abs_rel', 'rmse', 'delta1')


def onnx_predictor(path, input_size: int = 140, threads: int = 1):
    """Return rgb -> the ONNX model's output at the image size (the node's preprocessing)."""
    import onnxruntime

    from mono_depth_ros.core.preprocessing import output_to_input_size

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads = threads
    session = onnxruntime.InferenceSession(str(path), sess_options=options,
                                           providers=['CPUExecutionProvider'])
    name = session.get_inputs()[0].name

    def predict(rgb: np.ndarray) -> np.ndarray:
        output = session.run(None, {name: prepare_input(rgb, input_size)})[0]
        return output_to_input_size(output, rgb.shape[1], rgb.shape[0])
    return predict


def torch_predictor(model, depth_type: str = 'relative'):
    """Return rgb -> the network's relative inverse depth (or metric depth) at the image size."""
    import torch

    from mono_depth_ros.training.trainer import normalise

    def predict(rgb: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            log_inverse = model(normalise(rgb[None]))[0, 0].numpy()
        return np.exp(log_inverse if depth_type == 'relative' else -log_inverse)
    return predict


def assess(predict, sequences: list[TrainingSequence], depth_type: str = 'relative',
           every: int = 1) -> dict:
    """Return aggregate metrics of ``predict`` over every ``every``-th frame with depth.

    ``depth_type`` 'relative': scale and shift fitted per frame in inverse depth (the oracle
    alignment); 'metric': none.
    """
    per_frame = []
    for sequence in sequences:
        for frame in sequence.frames[::every]:
            if frame.depth is None:
                continue
            prediction = predict(frame.rgb)
            if depth_type == 'relative':
                prediction, _, _ = align_scale_shift(prediction, frame.depth, space='inverse')
            per_frame.append(compute_metrics(prediction, frame.depth))
    return aggregate_metrics(per_frame) if per_frame else {}
