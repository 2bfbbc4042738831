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

"""The fast CPU path's outputs equal plain references of the code it replaced, bit for bit.

Each reference below is the straightforward numpy/OpenCV formulation the depth node used
before its per-frame overhead was cut (issue 18): float copy, resize, broadcast normalisation
and transpose; inverse depth by a masked divide and a gating copy; points by broadcasting
depth over the rays and the colour bits packed with shifts; the colormap with a boolean-index
fill. The fast path reorders no float arithmetic, so every comparison is exact (byte equality
for the published buffers, NaN where NaN).
"""

import array
import pathlib
import sys

import cv2
import numpy as np
import pytest

from mono_depth_ros.core.camera_model import CameraModel
from mono_depth_ros.core.colorize import colorize_depth
from mono_depth_ros.core.image_codec import numpy_to_image
from mono_depth_ros.core.pointcloud import depth_to_organized_cloud, read_cloud
from mono_depth_ros.core.preprocessing import (IMAGENET_MEAN, IMAGENET_STD, InputBuffers,
                                               network_input_size, prepare_input,
                                               Preprocessing)
from mono_depth_ros.core.relative_depth import relative_to_metric
from mono_depth_ros.inference.selection import load_backend
from mono_depth_ros.pipeline.depth_pipeline import DepthPipeline, DepthResult, DepthSettings
from mono_depth_ros.pipeline.outputs import DEPTH_TOPICS, DepthOutputs, DepthOutputSettings

BENCH_FOLDER = pathlib.Path(__file__).resolve().parents[2] / 'bench'
MIN_DEPTH, MAX_DEPTH = 0.1, 20.0


def _frame(height: int, width: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (max(height // 8, 2), max(width // 8, 2), 3), dtype=np.uint8)
    image = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    image[: height // 10] = rng.integers(0, 256, (height // 10, width, 3), dtype=np.uint8)
    return image


def _depth_with_holes(height: int, width: int) -> np.ndarray:
    rng = np.random.default_rng(3)
    depth = rng.uniform(-1.0, 25.0, (height, width)).astype(np.float32)
    depth[0, :4] = [np.nan, np.inf, -np.inf, 0.0]
    return depth


# The references: the pre-change formulations --------------------------------------------------

def reference_tensor(rgb: np.ndarray, input_size, mean=IMAGENET_MEAN,
                     std=IMAGENET_STD) -> np.ndarray:
    height, width = network_input_size(rgb.shape[0], rgb.shape[1], input_size)
    std64 = np.asarray(std, dtype=np.float64)
    scale = (1.0 / (255.0 * std64)).astype(np.float32)
    offset = (-np.asarray(mean, dtype=np.float64) / std64).astype(np.float32)
    resized = rgb.astype(np.float32)
    if (height, width) != rgb.shape[:2]:
        resized = cv2.resize(resized, (width, height), interpolation=cv2.INTER_CUBIC)
    return np.ascontiguousarray((resized * scale + offset).transpose(2, 0, 1)[np.newaxis])


def reference_metric(relative: np.ndarray, scale: float, shift: float) -> np.ndarray:
    inverse = np.asarray(relative, dtype=np.float32) * np.float32(scale) + np.float32(shift)
    depth = np.full(inverse.shape, np.nan, dtype=np.float32)
    np.divide(1.0, inverse, out=depth, where=inverse > 0)
    return depth


def reference_gate(depth: np.ndarray) -> np.ndarray:
    gated = np.array(depth, dtype=np.float32, copy=True)
    with np.errstate(invalid='ignore'):
        gated[~((gated >= MIN_DEPTH) & (gated <= MAX_DEPTH))] = np.nan
    return gated


def reference_cloud_bytes(depth: np.ndarray, rays: np.ndarray, stride: int,
                          rgb: np.ndarray | None) -> bytes:
    sampled = depth[::stride, ::stride].astype(np.float32)
    with np.errstate(invalid='ignore'):
        sampled = np.where((sampled <= 0) | (sampled == np.inf), np.float32(np.nan), sampled)
    points = sampled[:, :, None] * rays.astype(np.float32)
    if rgb is None:
        return np.ascontiguousarray(points).tobytes()
    colours = rgb[::stride, ::stride].astype(np.uint32)
    packed = (colours[:, :, 0] << 16) | (colours[:, :, 1] << 8) | colours[:, :, 2]
    buffer = np.empty((*points.shape[:2], 4), dtype=np.float32)
    buffer[:, :, :3] = points
    buffer.view(np.uint32)[:, :, 3] = packed
    return buffer.tobytes()


def reference_colorize(depth: np.ndarray, low: float, high: float, inverse: bool = False,
                       invalid=(0, 0, 0)) -> np.ndarray:
    if inverse:
        gain, offset = 255.0 / (high - low), -255.0 * low / (high - low)
    else:
        gain, offset = -255.0 / (high - low), 255.0 * high / (high - low)
    levels = depth.astype(np.float32) * np.float32(gain) + np.float32(offset + 0.5)
    bad = ~np.isfinite(levels)
    np.copyto(levels, 0.0, where=bad)
    np.clip(levels, 0.0, 255.0, out=levels)
    colored = cv2.applyColorMap(levels.astype(np.uint8), cv2.COLORMAP_TURBO)
    colored[bad] = invalid
    return colored


# The comparisons ---------------------------------------------------------------------------

@pytest.mark.parametrize('shape, input_size', [((480, 640), 518), ((720, 1280), 518),
                                               ((518, 686), 518), ((50, 60), (140, 140)),
                                               ((300, 1000), 308)])
def test_prepare_input_equals_the_broadcast_formulation(shape, input_size):
    rgb = _frame(*shape)
    expected = reference_tensor(rgb, input_size)
    assert np.array_equal(prepare_input(rgb, input_size), expected)
    buffers = InputBuffers()
    for _ in range(2):  # reused buffers give the same tensor, without new allocations
        assert np.array_equal(prepare_input(rgb, input_size, buffers=buffers), expected)
    assert buffers.allocations == (3 if expected.shape[2:] != shape else 2)


def test_prepare_input_takes_another_normalisation_and_follows_shape_changes():
    preprocessing = Preprocessing(mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))
    buffers = InputBuffers()
    for shape in ((480, 640), (240, 320), (480, 640)):
        rgb = _frame(*shape, seed=shape[0])
        assert np.array_equal(prepare_input(rgb, 140, preprocessing=preprocessing,
                                            buffers=buffers),
                              reference_tensor(rgb, 140, (0.5,) * 3, (0.5,) * 3))


def test_relative_to_metric_and_gating_equal_the_masked_divide():
    relative = np.random.default_rng(1).normal(0.5, 1.0, (48, 64)).astype(np.float32)
    relative[0, :5] = [np.nan, np.inf, -np.inf, 0.0, -0.0]
    settings = DepthSettings(min_depth=MIN_DEPTH, max_depth=MAX_DEPTH)
    pipeline = DepthPipeline(backend=None, model_info=None, settings=settings)
    for scale, shift in ((1.0, 0.0), (0.3, -0.1), (2.0, 0.5)):
        for values in (relative, relative.astype(np.float64)):
            expected = reference_metric(values, scale, shift)
            np.testing.assert_array_equal(relative_to_metric(values, scale, shift), expected)
        result = DepthResult(prediction=relative, is_metric_model=False, depth=None)
        pipeline.apply_scale(result, (scale, shift))
        np.testing.assert_array_equal(result.depth, reference_gate(expected))
        assert result.depth.dtype == np.float32


@pytest.mark.parametrize('stride', [1, 2, 3])
@pytest.mark.parametrize('coloured', [True, False])
def test_one_pass_cloud_has_the_bytes_of_broadcast_points(stride, coloured):
    camera = CameraModel.from_intrinsics(fx=300.0, fy=310.0, cx=31.5, cy=23.0, width=64,
                                         height=47, distortion_model='plumb_bob',
                                         d=[0.1, -0.05, 0.001, 0.002, 0.0])
    depth, rgb = _depth_with_holes(47, 64), _frame(47, 64)
    rays = camera.pixel_rays(stride)
    fields = depth_to_organized_cloud(depth, rays, stride, rgb if coloured else None)
    expected = reference_cloud_bytes(depth, rays, stride, rgb if coloured else None)
    assert bytes(fields.data) == expected
    assert (fields.height, fields.width) == rays.shape[:2]
    assert fields.point_step == (16 if coloured else 12) and not fields.is_dense
    cloud = read_cloud(fields)
    if coloured:
        np.testing.assert_array_equal(cloud['rgb'], rgb[::stride, ::stride])
    payload = array.array('B', bytes(len(expected)))
    written = depth_to_organized_cloud(depth, rays, stride, rgb if coloured else None,
                                       payload=payload)
    assert written.data.obj is payload and payload.tobytes() == expected, 'no other buffer'


@pytest.mark.parametrize('inverse', [False, True])
def test_colorize_equals_the_boolean_index_fill(inverse):
    depth = _depth_with_holes(48, 64)
    for invalid in ((0, 0, 0), (10, 20, 30)):
        np.testing.assert_array_equal(
            colorize_depth(depth, 0.5, 18.0, inverse=inverse, invalid_color=invalid),
            reference_colorize(depth, 0.5, 18.0, inverse, invalid))


def _near_free_model(tmp_path) -> str:
    if str(BENCH_FOLDER) not in sys.path:
        sys.path.insert(0, str(BENCH_FOLDER))
    from benchmark_model import near_free_onnx

    return str(near_free_onnx(tmp_path))


@pytest.mark.parametrize('stride, coloured', [(1, True), (2, False)])
def test_frame_outputs_equal_the_reference_chain(tmp_path, stride, coloured):
    """A real ONNX Runtime session, the pipeline and the outputs, against the references."""
    backend, info = load_backend(_near_free_model(tmp_path), backend='onnxruntime',
                                 device='cpu', input_size=140)
    settings = DepthSettings(input_size=140, min_depth=MIN_DEPTH, max_depth=MAX_DEPTH,
                             scale_source='fixed', points_stride=stride, points_color=coloured)
    pipeline = DepthPipeline(backend, info, settings)
    outputs = DepthOutputs()
    # The reference chain predates the edge filter (tested on its own in test_depth_edges).
    output_settings = DepthOutputSettings(min_depth=MIN_DEPTH, max_depth=MAX_DEPTH,
                                          points_stride=stride, points_color=coloured,
                                          publish_colored=coloured, edge_filter=False)
    camera = CameraModel.from_intrinsics(fx=120.0, fy=120.0, cx=79.5, cy=59.5, width=160,
                                         height=120)
    with backend:
        for seed in range(3):  # the same buffers serve frame after frame
            rgb = _frame(120, 160, seed)
            result = pipeline.estimate(rgb)
            timings = {}
            fields = outputs.fields(result, camera, rgb, output_settings, DEPTH_TOPICS, timings)
            tensor = reference_tensor(rgb, 140)
            raw = backend.infer(tensor)
            prediction = cv2.resize(raw, (160, 120), interpolation=cv2.INTER_LINEAR)
            depth = reference_gate(reference_metric(prediction, 1.0, 0.0))
            np.testing.assert_array_equal(result.prediction, prediction)
            np.testing.assert_array_equal(result.depth, depth)
            assert fields['depth/image'].data == numpy_to_image(depth, '32FC1').data
            assert fields['depth/relative'].data == numpy_to_image(prediction, '32FC1').data
            assert bytes(fields['points'].data) == reference_cloud_bytes(
                depth, camera.pixel_rays(stride), stride, rgb if coloured else None)
            assert ('depth/colored' in fields) == coloured
            if coloured:
                np.testing.assert_array_equal(
                    np.frombuffer(fields['depth/colored'].data, np.uint8).reshape(120, 160, 3),
                    reference_colorize(depth, MIN_DEPTH, MAX_DEPTH))
            assert set(timings) == {'depth_image', 'cloud', 'colorize'}
            assert set(result.timings_ms) == {'preprocess', 'inference', 'postprocess'}
