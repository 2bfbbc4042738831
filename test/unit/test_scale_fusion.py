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

"""Metric scale for relative depth from triangulated points: core fits and the fused output."""

import sys
import threading

import cv2
import numpy as np
import pytest

from fusion_oracle import (AffineInverseDepthModel, fused_and_oracle, SCALE, sequence_truth,
                           SHIFT)
from mono_depth_ros.core.camera_model import CameraModel
from mono_depth_ros.core.image_codec import image_to_numpy
from mono_depth_ros.core.transforms import matrix_to_quaternion
from mono_depth_ros.core.triangulation.pipeline import TriangulationPipeline
from mono_depth_ros.inference.base import ModelInfo
from mono_depth_ros.offline.processor import InputFrame, OfflineProcessor, OfflineSettings
from mono_depth_ros.pipeline.depth_pipeline import DepthPipeline, DepthSettings
from mono_depth_ros.pipeline.scale_fusion import (fit_frame, FitRefusal, ScaleFusion,
                                                  ScaleFusionSettings)
from mono_depth_ros.synth import render_sequence

CAMERA = CameraModel.from_intrinsics(500.0, 500.0, 300.0, 200.0, 640, 480)


def _scene(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    rows = np.linspace(0.0, 1.0, 480, dtype=np.float32)[:, None]
    bumps = cv2.GaussianBlur(rng.uniform(-0.5, 0.5, (480, 640)).astype(np.float32), (0, 0), 15)
    depth = 1.0 + 7.0 * rows + 20.0 * bumps * np.ones((1, 640), np.float32)
    return depth, (SCALE / depth + SHIFT).astype(np.float32)


def _points(depth: np.ndarray, count: int = 200, noise: float = 0.0, seed: int = 1):
    rng = np.random.default_rng(seed)
    pixels = np.stack([rng.uniform(0, 639, count), rng.uniform(0, 479, count)], axis=-1)
    z = depth[np.rint(pixels[:, 1]).astype(int), np.rint(pixels[:, 0]).astype(int)]
    z = z * (1.0 + noise * rng.standard_normal(count))
    return CAMERA.unproject(pixels, z)


def test_exact_points_recover_the_inverse_depth_scale_and_shift():
    depth, relative = _scene()
    fusion = ScaleFusion()
    fusion.add_points(10, _points(depth))
    estimate = fusion.update(10, relative, CAMERA)
    scale, shift = estimate.scale, estimate.shift
    assert scale == pytest.approx(1.0 / SCALE, rel=2e-3)
    assert shift == pytest.approx(-SHIFT / SCALE, rel=2e-2)


def test_outliers_are_rejected():
    depth, relative = _scene()
    points = _points(depth, noise=0.005)
    points[:20] *= 3.0   # 20 % gross outliers on both sides, still on their rays
    points[20:40] *= 0.4
    fusion = ScaleFusion()
    fusion.add_points(10, points)
    scale = fusion.update(10, relative, CAMERA).scale
    assert scale == pytest.approx(1.0 / SCALE, rel=0.02)
    assert fusion.last_fit.inliers <= 170


def test_no_scale_until_enough_points_and_none_from_other_stamps():
    depth, relative = _scene()
    fusion = ScaleFusion(ScaleFusionSettings(min_points=30))
    fusion.add_points(10, _points(depth, count=10))
    assert fusion.update(10, relative, CAMERA) is None
    fusion.add_points(999_000_000, _points(depth))   # another image's points
    assert fusion.update(20, relative, CAMERA) is None


def test_a_jump_is_smoothed_once_and_adopted_when_it_persists():
    depth, relative = _scene()
    fusion = ScaleFusion(ScaleFusionSettings(jump_frames=3))
    for index in range(3):
        fusion.add_points(index, _points(depth, seed=index))
        fusion.update(index, relative, CAMERA)
    before = fusion.current(2).scale
    doubled = _points(depth) * 2.0   # the scene is suddenly twice as far: half the scale
    for index in range(3, 5):
        fusion.add_points(index, doubled)
        assert fusion.update(index, relative, CAMERA).scale == pytest.approx(before)
    fusion.add_points(5, doubled)
    assert fusion.update(5, relative, CAMERA).scale == pytest.approx(before / 2, rel=1e-2)
    assert fusion.resets == 1


def test_points_and_maps_from_two_threads_keep_the_fusion_consistent():
    """The points callback and the inference worker share one fusion; its lock keeps it whole."""
    depth, relative = _scene()
    relative = relative[::4, ::4].copy()   # small maps: many calls per second
    camera = CameraModel.from_intrinsics(125.0, 125.0, 75.0, 50.0, 160, 120)
    points = _points(depth, count=60)
    points = camera.unproject(CAMERA.project(points) / 4.0, points[:, 2])
    settings = ScaleFusionSettings(min_points=20, min_inliers=15, keep_frames=8)
    fusion = ScaleFusion(settings)
    stamps = 5   # a few stamps over and over: both threads keep meeting on the same pairs
    calls_per_thread = 150
    errors: list[BaseException] = []
    start = threading.Barrier(2)
    calls = {'points': 0, 'maps': 0}

    def hammer(kind: str, step) -> None:
        start.wait()
        try:
            for call in range(calls_per_thread):
                step(call % stamps)
                calls[kind] += 1
        except BaseException as error:  # reported by the test thread
            errors.append(error)

    threads = [
        threading.Thread(target=hammer, args=(
            'points', lambda stamp: fusion.add_points(stamp, points))),
        threading.Thread(target=hammer, args=(
            'maps', lambda stamp: fusion.update(stamp, relative, camera)))]
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)   # switch threads as often as possible
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
    finally:
        sys.setswitchinterval(switch_interval)
    assert not errors, errors
    assert not any(thread.is_alive() for thread in threads)
    # A count, not a time: a slow machine takes longer, it does not fail the test.
    assert calls == {'points': calls_per_thread, 'maps': calls_per_thread}, calls
    with fusion._lock:
        assert len(fusion._points) <= settings.keep_frames
        assert len(fusion._relative) <= settings.keep_frames
        # Every pair that could be matched was fitted: no map waits beside its points.
        assert not set(fusion._points) & set(fusion._relative)
    fit, fits = fusion.fit_summary()
    assert fits > 0 and fit is not None
    estimate = fusion.current(0)
    assert estimate.scale == pytest.approx(1.0 / SCALE, rel=0.02)
    assert estimate.shift == pytest.approx(-SHIFT / SCALE, rel=0.1)


@pytest.fixture(scope='module')
def oracle_sequence():
    return render_sequence(frames=45, width=640, height=480, seed=0)


def test_fused_depth_is_within_1_1x_of_the_oracle_alignment(oracle_sequence):
    """Every frame through the pipelines the nodes run: the accuracy of the method itself."""
    input_size = 140
    model = AffineInverseDepthModel(oracle_sequence, input_size)
    depth = DepthPipeline(model, ModelInfo('relative', None, 'affine inverse-depth oracle'),
                          DepthSettings(input_size=input_size, min_depth=0.2, max_depth=30.0,
                                        scale_source='triangulation'))
    processor = OfflineProcessor(OfflineSettings(mode='both'), depth=depth,
                                 triangulation=TriangulationPipeline())
    info = oracle_sequence.camera_info_fields()
    camera = CameraModel.from_intrinsics(info['k'][0], info['k'][4], info['k'][2],
                                         info['k'][5], info['width'], info['height'])
    odometry = iter(oracle_sequence.odometry)
    pending = next(odometry, None)
    outputs = []
    for frame in oracle_sequence.frames:
        while pending is not None and pending.stamp_ns <= frame.stamp_ns + 40_000_000:
            orientation = matrix_to_quaternion(pending.base_pose[:3, :3])
            outputs += processor.add_odometry(pending.stamp_ns, pending.base_pose[:3, 3],
                                              orientation)
            pending = next(odometry, None)
        outputs += processor.add_frame(InputFrame(frame.stamp_ns, 'camera', frame.rgb, camera,
                                                  frame.stamp_ns))
    outputs += processor.finish()
    fused = {o.frame.stamp_ns: image_to_numpy(o.messages['depth/image'])
             for o in outputs if 'depth/image' in o.messages}
    relative = {o.frame.stamp_ns: image_to_numpy(o.messages['depth/relative'])
                for o in outputs if 'depth/relative' in o.messages}
    truth, warm = sequence_truth(oracle_sequence)
    fused_absrel, oracle_absrel, frames = fused_and_oracle(fused, relative, truth, warm)
    assert frames == len(warm)
    assert fused_absrel <= 1.1 * oracle_absrel, (fused_absrel, oracle_absrel)


def test_refused_fits_say_why():
    depth, relative = _scene()
    settings = ScaleFusionSettings()
    few = fit_frame(1, relative, CAMERA, _points(depth, count=20), settings)
    assert isinstance(few, FitRefusal) and '20 points in the image' in few.reason
    corner = _points(depth, count=200)
    corner = CAMERA.unproject(CAMERA.project(corner) * 0.2, corner[:, 2])  # all top-left
    spread = fit_frame(1, relative, CAMERA, corner, settings)
    assert isinstance(spread, FitRefusal) and 'badly spread' in spread.reason
    scrambled = _points(depth, count=200)
    noise = np.exp(0.6 * np.random.default_rng(5).standard_normal(200))  # 60 % depth noise
    scrambled = CAMERA.unproject(CAMERA.project(scrambled), scrambled[:, 2] * noise)
    inconsistent = fit_frame(1, relative, CAMERA, scrambled, settings)
    assert isinstance(inconsistent, FitRefusal) and 'inconsistent' in inconsistent.reason
    fusion = ScaleFusion()
    fusion.add_points(1, _points(depth, count=20))
    assert fusion.update(1, relative, CAMERA) is None
    assert '20 points' in fusion.refusal().reason and fusion.refusals == 1


def test_the_filter_averages_a_steady_network_and_reports_its_sigma():
    """Noisy points, exact network: the filtered scale beats single fits, its sigma says so."""
    depth, relative = _scene()
    fusion = ScaleFusion()
    single_errors = []
    for index in range(30):
        points = _points(depth, count=80, noise=0.03, seed=index)
        sigmas = 0.03 * points[:, 2]
        fit = fit_frame(index, relative, CAMERA, points, fusion.settings, sigmas)
        single_errors.append(fit.scale * SCALE - 1.0)
        fusion.add_points(index, points, sigmas)
        estimate = fusion.update(index, relative, CAMERA)
    filtered_error = abs(estimate.scale * SCALE - 1.0)
    single = float(np.std(single_errors))
    assert filtered_error < 0.5 * single, (filtered_error, single)
    assert estimate.scale_sigma / estimate.scale < single
    assert abs(estimate.scale * SCALE - 1.0) <= 3 * estimate.scale_sigma / estimate.scale


def test_time_going_back_resets_the_scale():
    depth, relative = _scene()
    fusion = ScaleFusion()
    start = 100_000_000_000
    fusion.add_points(start, _points(depth))
    assert fusion.update(start, relative, CAMERA) is not None
    assert fusion.update(start - 10_000_000_000, relative, CAMERA) is None
    assert fusion.time_resets == 1


def test_sigma_is_nan_where_depth_is_and_grows_away_from_the_points():
    depth, relative = _scene()
    points = _points(depth, count=300, noise=0.01)
    left = CAMERA.project(points)[:, 0] < 320   # points only on the left half
    fusion = ScaleFusion(ScaleFusionSettings(min_regions=2))
    fusion.add_points(1, points[left], 0.01 * points[left, 2])
    estimate = fusion.update(1, relative, CAMERA)
    fused = estimate.depth(relative)
    fused[:10] = np.nan
    sigma = estimate.sigma(relative, fused)
    np.testing.assert_array_equal(np.isnan(sigma), np.isnan(fused))
    relative_sigma = sigma / fused
    assert np.nanmedian(relative_sigma[:, 600:]) > 1.5 * np.nanmedian(relative_sigma[:, :200])
