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

"""ROS-free test frames: a textured RGB image and a camera whose principal point is off centre."""

import cv2
import numpy as np

from mono_depth_ros.core.camera_model import CameraModel


def off_centre_camera(width: int = 320, height: int = 240) -> CameraModel:
    """Return a camera whose principal point is far from the image centre."""
    return CameraModel.from_intrinsics(fx=0.9 * width, fy=0.9 * width, cx=0.2 * width,
                                       cy=0.8 * height, width=width, height=height)


def textured_rgb(width: int = 320, height: int = 240, seed: int = 0) -> np.ndarray:
    """Return a smooth, textured RGB test image."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, size=(height // 8 + 1, width // 8 + 1, 3), dtype=np.uint8)
    return cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
