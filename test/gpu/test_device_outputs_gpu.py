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

"""The depth outputs' device stage on a CUDA GPU (``make test-gpu``) against the OpenCV path."""

import numpy as np
import pytest

pytestmark = pytest.mark.gpu
torch = pytest.importorskip('torch')
if not torch.cuda.is_available():
    pytest.skip('needs a CUDA GPU', allow_module_level=True)

from mono_depth_ros.core.camera_model import CameraModel  # noqa: E402
from mono_depth_ros.core.colorize import colorize_depth  # noqa: E402
from mono_depth_ros.core.depth_edges import flying_pixel_mask  # noqa: E402
from mono_depth_ros.core.pointcloud import depth_to_organized_cloud  # noqa: E402
from mono_depth_ros.inference.device_outputs import (  # noqa: E402
    CloudRequest, ColorRequest, DeviceOutputStage)


@pytest.mark.parametrize('size', [(480, 640), (720, 1280)])
def test_cuda_outputs_match_the_opencv_path(size):
    height, width = size
    rows, cols = np.mgrid[0:height, 0:width]
    depth = (2.0 + 3.0 * rows / height).astype(np.float32)
    depth[height // 4:height // 2, width // 4:width // 2] = 1.0
    depth[::17, ::19] = np.nan
    rgb = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
    camera = CameraModel.from_intrinsics(fx=0.8 * width, fy=0.8 * width, cx=width / 2,
                                         cy=height / 2, width=width, height=height)
    stage = DeviceOutputStage('cuda')
    outputs = stage.run(depth, rgb, cloud=CloudRequest(1, camera.pixel_rays(1), True),
                        colored=ColorRequest(0.1, 20.0))
    flying = flying_pixel_mask(depth)
    on_device = np.isnan(outputs.depth) & ~np.isnan(depth)
    # The laplacian may round differently on the GPU (fused multiply-adds): a few pixels
    # right at max_kink can differ.
    assert np.count_nonzero(on_device != flying) <= 1e-3 * depth.size
    same = ~(on_device ^ flying)
    filtered = np.where(flying, np.float32(np.nan), depth)
    np.testing.assert_array_equal(outputs.depth[same], filtered[same])
    cloud = np.frombuffer(bytes(depth_to_organized_cloud(
        outputs.depth, camera.pixel_rays(1), 1, rgb).data), np.float32)
    np.testing.assert_array_equal(outputs.cloud.view(np.float32), cloud)
    np.testing.assert_array_equal(outputs.colored, colorize_depth(depth, 0.1, 20.0))
