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

"""PyTorch on a CUDA GPU (``make test-gpu``): preprocessing on the device gives the same depth."""

import cv2
import numpy as np
import pytest

pytestmark = pytest.mark.gpu
torch = pytest.importorskip('torch')
if not torch.cuda.is_available():
    pytest.skip('needs a CUDA GPU', allow_module_level=True)

from mono_depth_ros.core.preprocessing import prepare_input  # noqa: E402
from mono_depth_ros.inference.torch_backend import TorchBackend  # noqa: E402


@pytest.mark.parametrize('shape', [(480, 640), (720, 1280)])
def test_cuda_preprocessing_matches_the_opencv_path(tiny_hf_dir, shape):
    from transformers import AutoModelForDepthEstimation

    model = AutoModelForDepthEstimation.from_pretrained(str(tiny_hf_dir))
    height, width = shape
    coarse = np.random.default_rng(2).integers(0, 256, (height // 40, width // 40, 3),
                                               dtype=np.uint8)
    rgb = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    with TorchBackend(model, device='cuda', precision='fp32') as backend:
        assert backend.preprocesses_on_device
        on_host = backend.infer(prepare_input(rgb, 518))
        on_device = backend.infer_rgb(rgb, 518)
    assert on_device.shape == on_host.shape
    scale = float(np.abs(on_host).max())
    np.testing.assert_allclose(on_device, on_host, atol=1e-3 * scale, rtol=0)
