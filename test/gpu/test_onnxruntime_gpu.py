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

"""ONNX Runtime on a CUDA GPU (``make test-gpu``): fp16 runs an fp16 copy, close to fp32."""

import cv2
import numpy as np
import pytest

from mono_depth_ros.core.metrics import compute_metrics
from mono_depth_ros.core.preprocessing import prepare_input

pytestmark = pytest.mark.gpu
onnxruntime = pytest.importorskip('onnxruntime')
if 'CUDAExecutionProvider' not in onnxruntime.get_available_providers():
    pytest.skip('needs onnxruntime-gpu with a CUDA GPU', allow_module_level=True)

from mono_depth_ros.inference.onnxruntime_backend import OnnxRuntimeBackend  # noqa: E402


def test_fp16_on_cuda_matches_fp32(tiny_onnx):
    coarse = np.random.default_rng(4).integers(0, 256, (12, 16, 3), dtype=np.uint8)
    tensor = prepare_input(cv2.resize(coarse, (640, 480), interpolation=cv2.INTER_CUBIC), 140)
    with OnnxRuntimeBackend(str(tiny_onnx), device='cuda', precision='fp32') as full, \
            OnnxRuntimeBackend(str(tiny_onnx), device='cuda', precision='fp16') as half:
        assert half.precision == 'fp16' and half.providers[0] == 'CUDAExecutionProvider'
        reference, prediction = full.infer(tensor), half.infer(tensor)
    mask = reference > 1e-3 * reference.max()
    assert compute_metrics(prediction, reference, mask)['abs_rel'] <= 0.01
