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

"""PyTorch backend: a transformers Depth Anything model on the CPU, or a CUDA GPU in fp16.

torch is imported here only, when a backend is created.
"""

import logging

import numpy as np

from mono_depth_ros.inference.base import (
    BackendUnavailableError, DepthBackend, InputSpec, prediction_to_2d)

INPUT_NAME = 'pixel_values'


def cuda_available() -> bool:
    """Return True when torch is installed and sees a CUDA device."""
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


class TorchBackend(DepthBackend):
    """Runs a ``DepthAnythingForDepthEstimation`` module under ``torch.inference_mode``.

    ``device`` auto: CUDA when available, else the CPU. ``precision`` fp16 applies on CUDA only
    (the CPU runs fp32). ``threads`` > 0 sets torch's intra-op threads (process-wide).
    """

    name = 'torch'

    def __init__(self, model, device: str = 'auto', precision: str = 'fp32', threads: int = 0,
                 logger: logging.Logger | None = None, card=None):
        import torch

        use_cuda = device == 'cuda' or (device == 'auto' and torch.cuda.is_available())
        if use_cuda and not torch.cuda.is_available():
            raise BackendUnavailableError('device cuda: torch sees no CUDA device '
                                          f'(torch {torch.__version__})')
        effective = 'fp16' if use_cuda and precision == 'fp16' else 'fp32'
        super().__init__('cuda' if use_cuda else 'cpu', effective, InputSpec(INPUT_NAME), logger)
        if effective != precision:
            self.logger.warning('torch on %s runs %s; precision %s is not applied', self.device,
                                effective, precision)
        if threads > 0:
            torch.set_num_threads(int(threads))
        self._dtype = torch.float16 if effective == 'fp16' else torch.float32
        self._torch_device = torch.device(self.device)
        self._model = model.eval().to(device=self._torch_device, dtype=self._dtype)
        self._preprocessor = None
        self.card = card

    @property
    def preprocesses_on_device(self) -> bool:
        """Return True on CUDA, where frames are resized and normalised on the GPU."""
        return self.device == 'cuda'

    def infer_rgb(self, rgb: np.ndarray, input_size: int | tuple[int, int],
                  preprocessing=None) -> np.ndarray:
        """Run on a uint8 RGB frame; on CUDA the preprocessing runs on the GPU too."""
        if not self.preprocesses_on_device:
            return super().infer_rgb(rgb, input_size, preprocessing)
        import torch

        image, size = self._frame_and_network_size(rgb, input_size, preprocessing)
        if self._preprocessor is None:
            from mono_depth_ros.inference.device_preprocessing import DevicePreprocessor
            self._preprocessor = DevicePreprocessor(self.device, preprocessing)
        with torch.inference_mode():
            return prediction_to_2d(self._predict(self._preprocessor.prepare(image, size)))

    def _infer(self, tensor: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            return self._predict(torch.from_numpy(tensor).to(self._torch_device, self._dtype,
                                                             non_blocking=True))

    def _infer_with(self, tensor: np.ndarray, extras: dict) -> np.ndarray:
        import torch

        inputs = {name: torch.from_numpy(np.ascontiguousarray(value, dtype=np.float32)).to(
            self._torch_device, self._dtype) for name, value in extras.items()}
        with torch.inference_mode():
            return self._predict(torch.from_numpy(tensor).to(self._torch_device, self._dtype),
                                 **inputs)

    def _predict(self, pixels, **extras) -> np.ndarray:
        """Run the model on a (1, 3, h, w) tensor on its device (call in inference mode)."""
        depth = self._model(pixel_values=pixels.to(self._dtype), **extras).predicted_depth
        return depth.float().cpu().numpy()

    def close(self) -> None:
        """Drop the model and return cached GPU memory."""
        self._model = None
        if self.device == 'cuda':
            import torch
            torch.cuda.empty_cache()
        super().close()
