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

"""The scale-fusion test world: an affine inverse-depth oracle 'network' and the scoring."""

import hashlib

import cv2
import numpy as np

from mono_depth_ros.core.metrics import aggregate_metrics, align_scale_shift, compute_metrics
from mono_depth_ros.core.preprocessing import prepare_input
from mono_depth_ros.inference.base import DepthBackend, InputSpec

SCALE, SHIFT = 3.7, 0.25   # relative = SCALE / depth + SHIFT


class AffineInverseDepthModel(DepthBackend):
    """A relative 'network' whose output is exactly SCALE / depth + SHIFT at its resolution.

    It recognises each synthetic frame by its input tensor and answers from the ground truth,
    like a perfect relative model: what remains is the metric scale, which the node must find.
    """

    name = 'affine-oracle'

    def __init__(self, sequence, input_size: int):
        super().__init__('cpu', 'fp32', InputSpec('pixel_values'))
        self._depth_by_key = {}
        for frame in sequence.frames:
            tensor = prepare_input(frame.rgb, input_size)
            self._depth_by_key[hashlib.sha1(tensor.tobytes()).hexdigest()] = frame.depth

    def _infer(self, tensor: np.ndarray) -> np.ndarray:
        depth = self._depth_by_key[hashlib.sha1(tensor.tobytes()).hexdigest()]
        height, width = tensor.shape[2:]
        inverse = cv2.resize(1.0 / depth, (width, height), interpolation=cv2.INTER_AREA)
        return (SCALE * inverse + SHIFT)[None].astype(np.float32)


def fused_and_oracle(fused_by_stamp: dict, relative_by_stamp: dict, truth: dict,
                     warm: set) -> tuple[float, float, int]:
    """Return (fused AbsRel, oracle AbsRel, frames) over the warm frames with both outputs."""
    fused, oracle = [], []
    for stamp, depth in fused_by_stamp.items():
        if stamp in warm and stamp in relative_by_stamp:
            fused.append(compute_metrics(depth, truth[stamp]))
            aligned, _, _ = align_scale_shift(relative_by_stamp[stamp], truth[stamp],
                                              space='inverse')
            oracle.append(compute_metrics(aligned, truth[stamp]))
    if not fused:
        return float('nan'), float('nan'), 0
    return (aggregate_metrics(fused)['abs_rel'], aggregate_metrics(oracle)['abs_rel'],
            len(fused))


def sequence_truth(sequence) -> tuple[dict, set]:
    """Return the true depth by stamp and the stamps after the warm-up (the ones scored)."""
    truth = {frame.stamp_ns: frame.depth for frame in sequence.frames}
    return truth, set(sorted(truth)[20:])
