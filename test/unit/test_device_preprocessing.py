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

"""Preprocessing on the inference device (torch) against the shared OpenCV contract, on the CPU."""

import cv2
import numpy as np
import pytest
import torch

from mono_depth_ros.core.errors import BadMessageError
from mono_depth_ros.core.preprocessing import network_input_size, prepare_input
from mono_depth_ros.inference.base import ModelInfo
from mono_depth_ros.inference.device_preprocessing import DevicePreprocessor
from mono_depth_ros.inference.onnxruntime_backend import OnnxRuntimeBackend
from mono_depth_ros.inference.torch_backend import TorchBackend
from mono_depth_ros.pipeline.depth_pipeline import DepthPipeline, DepthSettings

# One grey level is 1 / (255 * std) ~ 0.017 in the normalised tensor.
SMOOTH_TOLERANCE = 2e-4
NOISE_TOLERANCE = 2e-3


def _smooth(height: int, width: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (height // 8 + 1, width // 8 + 1, 3), dtype=np.uint8)
    return cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)


def _noise(height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


@pytest.mark.parametrize('shape', [(480, 640), (720, 1280), (240, 320), (100, 700)])
@pytest.mark.parametrize('input_size', [518, 308, 140])
def test_matches_the_opencv_contract(shape, input_size):
    preprocessor = DevicePreprocessor('cpu')
    size = network_input_size(*shape, input_size)
    for image, tolerance in ((_smooth(*shape), SMOOTH_TOLERANCE),
                             (_noise(*shape), NOISE_TOLERANCE)):
        expected = prepare_input(image, input_size)
        actual = preprocessor.prepare(image, size).numpy()
        assert actual.shape == expected.shape == (1, 3, *size)
        np.testing.assert_allclose(actual, expected, atol=tolerance, rtol=0)


def test_without_a_resize_it_only_normalises():
    image = _noise(518, 518)
    actual = DevicePreprocessor('cpu').prepare(image, (518, 518)).numpy()
    np.testing.assert_allclose(actual, prepare_input(image, 518), atol=1e-6, rtol=0)


def test_writes_into_a_given_binding_and_reuses_its_staging_buffer():
    preprocessor = DevicePreprocessor('cpu')
    binding = torch.zeros((1, 3, 140, 182), dtype=torch.float16)
    for seed in range(3):
        image = _smooth(480, 640, seed)
        assert preprocessor.prepare(image, (140, 182), out=binding) is binding
    np.testing.assert_allclose(binding.float().numpy(), prepare_input(image, 140), atol=1e-2)
    assert preprocessor.allocations == 1
    preprocessor.prepare(_smooth(240, 320), (140, 182))
    assert preprocessor.allocations == 2


@pytest.mark.parametrize('bad', [np.zeros((4, 4), np.uint8), np.zeros((4, 4, 3), np.float32),
                                 np.zeros((0, 4, 3), np.uint8)])
def test_malformed_frames_are_refused(bad):
    with pytest.raises(BadMessageError):
        DevicePreprocessor('cpu').prepare(bad, (14, 14))


class DevicePreprocessingOnnx(OnnxRuntimeBackend):
    """ONNX Runtime fed by the device preprocessor, as the TensorRT backend is on a GPU."""

    preprocesses_on_device = True

    def infer_rgb(self, rgb, input_size):
        rgb, size = self._frame_and_network_size(rgb, input_size)
        self.calls = getattr(self, 'calls', 0) + 1
        tensor = DevicePreprocessor('cpu').prepare(rgb, size).numpy()
        return self.infer(tensor)


def test_the_depth_pipeline_hands_frames_to_a_device_preprocessing_backend(tiny_onnx):
    info = ModelInfo('relative', None, 'tiny')
    settings = DepthSettings(input_size=140)
    image = _smooth(480, 640)
    with OnnxRuntimeBackend(str(tiny_onnx), device='cpu') as host, \
            DevicePreprocessingOnnx(str(tiny_onnx), device='cpu') as device:
        expected, _ = DepthPipeline(host, info, settings).predict(image)
        actual, timings = DepthPipeline(device, info, settings).predict(image)
    assert device.calls == 1 and timings['preprocess'] == 0.0
    np.testing.assert_allclose(actual, expected, rtol=1e-3, atol=1e-3 * np.abs(expected).max())


def test_torch_on_the_cpu_keeps_the_opencv_path(tiny_hf_dir):
    from transformers import AutoModelForDepthEstimation

    model = AutoModelForDepthEstimation.from_pretrained(str(tiny_hf_dir))
    with TorchBackend(model, device='cpu') as backend:
        assert not backend.preprocesses_on_device
        image = _smooth(240, 320)
        np.testing.assert_array_equal(backend.infer_rgb(image, 140),
                                      backend.infer(prepare_input(image, 140)))
