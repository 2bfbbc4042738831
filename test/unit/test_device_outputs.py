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

"""The depth outputs' device stage (torch, on the CPU here) against the OpenCV path, bytewise."""

import array

import cv2
import numpy as np
import pytest

from mono_depth_ros.core.camera_model import CameraModel
from mono_depth_ros.core.colorize import colorize_depth
from mono_depth_ros.core.depth_edges import remove_flying_pixels
from mono_depth_ros.core.pointcloud import depth_to_organized_cloud
from mono_depth_ros.inference.device_outputs import (BUFFER_SETS, CloudRequest, ColorRequest,
                                                     DeviceOutputStage)
from mono_depth_ros.pipeline.depth_pipeline import DepthResult
from mono_depth_ros.pipeline.outputs import DEPTH_TOPICS, DepthOutputs, DepthOutputSettings

torch = pytest.importorskip('torch')  # the stage's array library

HEIGHT, WIDTH = 96, 128


def scene_depth(seed: int = 0) -> np.ndarray:
    """Return metric depth with smeared steps, a slanted floor, holes, zeros and far values."""
    rows, cols = np.mgrid[0:HEIGHT, 0:WIDTH]
    depth = (2.0 + 0.01 * cols + 0.03 * rows).astype(np.float32)
    depth[20:60, 30:80] = 1.0
    depth[65:90, 90:120] = 6.0
    depth = cv2.GaussianBlur(depth, (9, 9), 3)
    rng = np.random.default_rng(seed)
    depth *= rng.uniform(0.995, 1.005, depth.shape).astype(np.float32)
    depth[::11, ::13] = np.nan
    depth[80:, 120:] = np.nan
    depth[:3, :] = 30.0
    depth[50, 50] = 0.0
    return depth


@pytest.fixture(scope='module')
def camera() -> CameraModel:
    return CameraModel.from_intrinsics(fx=90.0, fy=90.0, cx=63.5, cy=47.5, width=WIDTH,
                                       height=HEIGHT)


@pytest.fixture(scope='module')
def rgb() -> np.ndarray:
    return np.random.default_rng(5).integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)


@pytest.mark.parametrize('stride', [1, 2, 3])
@pytest.mark.parametrize('colour', [True, False])
def test_device_stage_gives_the_opencv_bytes(camera, rgb, stride, colour):
    depth = scene_depth()
    stage = DeviceOutputStage('cpu')
    outputs = stage.run(depth, rgb, edge_filter=True,
                        cloud=CloudRequest(stride, camera.pixel_rays(stride), colour),
                        colored=ColorRequest(0.1, 20.0))
    filtered, flying = remove_flying_pixels(depth)
    assert flying > 0, 'the scene has flying pixels to find'
    assert outputs.depth.tobytes() == filtered.tobytes()
    cloud = depth_to_organized_cloud(filtered, camera.pixel_rays(stride), stride,
                                     rgb if colour else None)
    assert outputs.cloud.tobytes() == bytes(cloud.data)
    np.testing.assert_array_equal(outputs.colored, colorize_depth(depth, 0.1, 20.0))


def test_device_stage_without_edge_filter_or_outputs_returns_the_depth(rgb):
    depth = scene_depth(1)
    outputs = DeviceOutputStage('cpu').run(depth, rgb, edge_filter=False)
    assert outputs.depth.tobytes() == depth.tobytes()
    assert outputs.cloud is None and outputs.colored is None


def test_a_frames_outputs_outlive_the_next_frame(camera, rgb):
    stage = DeviceOutputStage('cpu')
    first = stage.run(scene_depth(0), rgb, cloud=CloudRequest(1, camera.pixel_rays(1), True))
    kept = first.depth.copy(), first.cloud.copy()
    for seed in range(1, BUFFER_SETS):
        stage.run(scene_depth(seed), rgb, cloud=CloudRequest(1, camera.pixel_rays(1), True))
    assert first.depth.tobytes() == kept[0].tobytes() and np.array_equal(first.cloud, kept[1])
    allocations = stage.allocations
    stage.run(scene_depth(9), rgb, cloud=CloudRequest(1, camera.pixel_rays(1), True))
    assert stage.allocations == allocations, 'buffers are reused, not made per frame'


@pytest.mark.parametrize('stride, colour', [(1, True), (2, False)])
def test_depth_outputs_on_the_device_equal_the_cpu_fields(camera, rgb, stride, colour):
    depth = scene_depth(2)
    with np.errstate(divide='ignore'):
        relative = 1.0 / depth
    result = DepthResult(prediction=relative, is_metric_model=False, depth=depth,
                         scale_shift=(1.0, 0.0))
    settings = DepthOutputSettings(points_stride=stride, points_color=colour)
    wanted = set(DEPTH_TOPICS)
    payloads = {}

    def payload(topic: str, size: int):
        return payloads.setdefault((topic, size), array.array('B', bytes(size)))

    expected = DepthOutputs().fields(result, camera, rgb, settings, wanted)
    timings = {}
    device = DepthOutputs(payloads=payload, device_stage=DeviceOutputStage('cpu'))
    fields = device.fields(result, camera, rgb, settings, wanted, timings)
    assert set(fields) == set(expected) >= {'depth/image', 'points', 'points/filtered',
                                            'depth/colored', 'depth/relative'}
    for topic, value in expected.items():
        if isinstance(value, dict):
            assert fields[topic] == value
            continue
        assert bytes(fields[topic].data) == bytes(value.data), topic
        assert {key: item for key, item in vars(fields[topic]).items() if key != 'data'} == {
            key: item for key, item in vars(value).items() if key != 'data'}, topic
    assert fields['points'].data.obj is payloads[('points', len(bytes(expected['points'].data)))]
    assert set(timings) == {'depth_image', 'cloud', 'colorize'}
