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

"""The Depth Anything input contract computed by torch on the inference device.

Same rule as :func:`mono_depth_ros.core.preprocessing.prepare_input`: bicubic resize (a = -0.75,
half-pixel centres, as OpenCV's ``INTER_CUBIC``) of the float image to the network size, then
RGB/255 normalised with the ImageNet mean and std. On a GPU only the uint8 frame crosses the
bus (a quarter of the float tensor's bytes, and usually fewer pixels than the network's) and
the CPU does no resize. Parity with the OpenCV path is measured in
test/test_device_preprocessing.py. torch is imported when a preprocessor is made. This is the
torch backend's; the TensorRT path does the same without torch, inside the engine
(:mod:`mono_depth_ros.inference.preprocessing_graph`).
"""

import numpy as np

from mono_depth_ros.core.preprocessing import check_rgb, normalisation_constants, Preprocessing

# A model card's interpolation as torch ``interpolate`` modes (pixel centres, as OpenCV's).
_TORCH_MODES = {'cubic': 'bicubic', 'linear': 'bilinear', 'area': 'area'}


class DevicePreprocessor:
    """Turns (H, W, 3) uint8 RGB frames into (1, 3, h, w) network tensors on ``device``.

    A pinned host staging buffer is kept for the frame size and reallocated only when that
    changes; callers that reuse it must have finished the previous upload.
    """

    def __init__(self, device: str = 'cuda', preprocessing: Preprocessing | None = None) -> None:
        import torch

        self._torch = torch
        self.device = torch.device(device)
        self._pinned = self.device.type == 'cuda'
        self._mode = _TORCH_MODES[preprocessing.interpolation if preprocessing else 'cubic']
        scale, offset = normalisation_constants(preprocessing)
        self._scale = torch.from_numpy(scale).view(1, 3, 1, 1).to(self.device)
        self._offset = torch.from_numpy(offset).view(1, 3, 1, 1).to(self.device)
        self._host = None
        self.allocations = 0

    def prepare(self, rgb: np.ndarray, network_size: tuple[int, int], out=None):
        """Return the normalised (1, 3, h, w) float tensor of ``rgb`` at ``network_size``.

        With ``out`` (a device tensor of that shape, any float dtype) the result is written
        there and ``out`` is returned: the engine's input binding needs no further copy.
        """
        torch = self._torch
        image = check_rgb(rgb)
        if self._host is None or tuple(self._host.shape) != image.shape:
            self._host = torch.empty(image.shape, dtype=torch.uint8, pin_memory=self._pinned)
            self.allocations += 1
        self._host.numpy()[...] = image
        frame = self._host.to(self.device, non_blocking=self._pinned)
        tensor = frame.permute(2, 0, 1).unsqueeze(0).to(torch.float32)
        height, width = (int(size) for size in network_size)
        if (height, width) != image.shape[:2]:
            corners = None if self._mode == 'area' else False
            tensor = torch.nn.functional.interpolate(tensor, size=(height, width),
                                                     mode=self._mode, align_corners=corners)
        tensor = torch.addcmul(self._offset, tensor, self._scale)
        if out is None:
            return tensor
        out.copy_(tensor)
        return out
