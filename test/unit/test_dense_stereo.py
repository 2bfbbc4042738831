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

"""Keyframe window and plane-sweep stereo on views with exactly known geometry."""

import cv2
import numpy as np
import pytest

from mono_depth_ros.core.camera_model import CameraModel
from mono_depth_ros.core.dense_stereo import (DenseStereoParams, plane_homography, plane_sweep,
                                              relative_pose, StereoView)
from mono_depth_ros.core.errors import BadMessageError
from mono_depth_ros.core.triangulation.dense import (DenseKeyframeDepth, DenseMapper,
                                                     reproject)
from mono_depth_ros.core.triangulation.keyframes import (BASELINE, FIRST, KeyframeParams,
                                                         KeyframeWindow, MOVING, RESTARTED,
                                                         ROTATING, STANDING)
from mono_depth_ros.core.triangulation.result import TriangulationResult

WIDTH, HEIGHT = 320, 240
K = np.array([[256.0, 0.0, 160.3], [0.0, 256.0, 119.7], [0.0, 0.0, 1.0]])
PLANE_DEPTH = 4.0


def camera(width=WIDTH, height=HEIGHT) -> CameraModel:
    scale = width / WIDTH
    return CameraModel.from_intrinsics(K[0, 0] * scale, K[1, 1] * scale, K[0, 2] * scale,
                                       K[1, 2] * scale, width, height)


def world_to_camera(x: float = 0.0, y: float = 0.0, z: float = 0.0, yaw_deg: float = 0.0):
    """The optical frame at (x, y, z) in the world, turned about its y axis."""
    rotation = cv2.Rodrigues(np.array([0.0, np.radians(yaw_deg), 0.0]))[0]
    centre = np.array([x, y, z])
    return np.column_stack([rotation, -rotation @ centre])


def texture(seed: int = 0, flat: tuple | None = None) -> np.ndarray:
    """Smoothed noise in [0, 1]; ``flat`` (x0, y0, x1, y1) is set to a constant grey."""
    rng = np.random.default_rng(seed)
    image = cv2.GaussianBlur(rng.random((HEIGHT, WIDTH)).astype(np.float32), (0, 0), 1.2)
    image = (image - image.min()) / (image.max() - image.min())
    if flat is not None:
        x0, y0, x1, y1 = flat
        image[y0:y1, x0:x1] = 0.5
    return image


def plane_views(centres, flat=None):
    """A fronto-parallel textured plane at PLANE_DEPTH seen from the first pose and others."""
    reference_pose = world_to_camera(*centres[0])
    reference = texture(flat=flat)
    views = [StereoView(reference, K, reference_pose)]
    for centre in centres[1:]:
        pose = world_to_camera(*centre)
        rotation, translation = relative_pose(pose, reference_pose)
        # The other image: each of its pixels shows the plane point the reference saw at H x.
        homography = plane_homography(K, K, rotation, translation, 1.0 / PLANE_DEPTH)
        image = cv2.warpPerspective(reference, homography, (WIDTH, HEIGHT),
                                    flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                    borderMode=cv2.BORDER_REFLECT)
        views.append(StereoView(image, K, pose))
    return views


def test_the_sweep_finds_a_textured_plane_and_leaves_the_flat_patch_unknown():
    flat = (40, 40, 120, 120)
    views = plane_views([(0.0, 0.0, 0.0), (-0.1, 0.0, 0.0), (-0.2, 0.02, 0.0),
                         (-0.3, 0.0, 0.0)], flat=flat)
    dense = plane_sweep(views[0], views[1:], (2.0, 8.0))
    assert dense.stats['status'] == 'ok' and dense.stats['views'] == 3
    depth, sigma = dense.depth, dense.sigma
    textured = np.ones_like(depth, bool)
    textured[flat[1] - 4:flat[3] + 4, flat[0] - 4:flat[2] + 4] = False
    textured[:, -40:] = False  # the longest baseline sees nothing there
    known = np.isfinite(depth)
    assert known[textured].mean() > 0.9
    inner = (slice(flat[1] + 4, flat[3] - 4), slice(flat[0] + 4, flat[2] - 4))
    assert not known[inner].any()  # textureless: NaN
    relative = np.abs(depth[known] - PLANE_DEPTH) / PLANE_DEPTH
    assert np.median(relative) < 0.005 and np.mean(relative < 0.05) > 0.99
    assert np.isfinite(sigma[known]).all() and (sigma[known] > 0).all()
    assert np.isnan(sigma[~known]).all()
    assert np.mean(np.abs(depth[known] - PLANE_DEPTH) <= 2 * sigma[known]) > 0.9


def test_the_sweep_says_why_it_cannot_run():
    views = plane_views([(0.0, 0.0, 0.0), (0.0, 0.0, 0.0)])
    dense = plane_sweep(views[0], views[1:], (2.0, 8.0))
    assert dense.stats['status'] == 'no view with a baseline'
    assert np.isnan(dense.depth).all()
    dense = plane_sweep(views[0], views[1:], (float('nan'), 8.0))
    assert dense.stats['status'].startswith('no depth range')


def test_stereo_params_are_checked():
    with pytest.raises(BadMessageError):
        DenseStereoParams(window_px=4)
    with pytest.raises(BadMessageError):
        DenseStereoParams(max_relative_sigma=0.0)
    with pytest.raises(BadMessageError):
        KeyframeParams(window_size=1)


def offer(window, pose, stamp, depths=(4.0,) * 20):
    return window.offer(stamp, np.full((HEIGHT, WIDTH), 128, np.uint8), pose, camera(),
                        np.asarray(depths))


def test_keyframes_come_with_the_baseline_and_the_window_is_bounded():
    window = KeyframeWindow(KeyframeParams(min_baseline_ratio=0.05, window_size=3,
                                           stereo_width=160))
    assert offer(window, None, 0).reason == 'no pose'
    decision = offer(window, world_to_camera(), 1)
    assert decision.taken and decision.reason == FIRST
    assert decision.keyframe.image.shape == (120, 160)
    assert decision.keyframe.k[0, 0] == pytest.approx(128.0)
    # 4 m scene depth: 0.2 m of travel is a 0.05 ratio.
    decision = offer(window, world_to_camera(x=0.1), 2)
    assert not decision.taken and decision.reason == MOVING
    assert decision.baseline_ratio == pytest.approx(0.025)
    for step, x in enumerate((0.21, 0.42, 0.63, 0.84)):
        decision = offer(window, world_to_camera(x=x), 3 + step)
        assert decision.taken and decision.reason == BASELINE
    assert len(window) == 3 and [k.stamp_ns for k in window.keyframes] == [4, 5, 6]
    assert window.taken_total == 5


def test_standing_still_and_turning_take_no_keyframe_and_say_why():
    window = KeyframeWindow(KeyframeParams(window_size=3))
    offer(window, world_to_camera(), 0)
    assert offer(window, world_to_camera(), 1).reason == STANDING
    decision = offer(window, world_to_camera(yaw_deg=5.0), 2)
    assert decision.reason == ROTATING and not decision.taken
    assert decision.rotation_deg == pytest.approx(5.0)
    decision = offer(window, world_to_camera(yaw_deg=25.0), 3)
    assert decision.taken and decision.reason == RESTARTED and len(window) == 1


def test_refresh_replaces_the_poses():
    window = KeyframeWindow()
    offer(window, world_to_camera(), 10)
    moved = world_to_camera(x=1.0)
    assert window.refresh(lambda stamp: moved if stamp == 10 else None) == 1
    assert np.allclose(window.newest.world_to_camera, moved)


def result_for(stamp, pose, depths=(4.0,) * 20):
    depths = np.asarray(depths, np.float32)
    return TriangulationResult(stamp_ns=stamp, pixels=np.zeros((len(depths), 2), np.float32),
                               depths=depths, points_camera=np.zeros((len(depths), 3)),
                               track_ids=np.arange(len(depths)), world_to_camera=pose,
                               stats={'time_offset_s': 0.0})


def test_the_mapper_gives_the_newest_keyframe_a_dense_depth_at_image_size():
    centres = [(-0.3, 0.0, 0.0), (-0.2, 0.0, 0.0), (-0.1, 0.0, 0.0), (0.0, 0.0, 0.0)]
    views = plane_views(centres[::-1])[::-1]  # the reference (last centre) is the newest
    mapper = DenseMapper(KeyframeParams(min_baseline_ratio=0.02, window_size=4,
                                        stereo_width=WIDTH))
    full = camera(2 * WIDTH, 2 * HEIGHT)
    assert mapper.compute() is None
    for index, view in enumerate(views):
        grey = cv2.resize((view.image * 255).astype(np.uint8), (2 * WIDTH, 2 * HEIGHT))
        decision = mapper.offer(result_for(index, view.world_to_camera), grey, full)
        assert decision.taken
        if index < 3:   # the window of 4 is what a dense depth needs
            assert mapper.compute().status == 'waiting for more keyframes'
    dense = mapper.compute()
    assert dense.ok and dense.stamp_ns == 3
    depth, sigma = dense.at_image_size()
    assert depth.shape == (2 * HEIGHT, 2 * WIDTH) and sigma.shape == depth.shape
    known = np.isfinite(depth)
    assert known.mean() > 0.7
    assert np.median(np.abs(depth[known] - PLANE_DEPTH)) < 0.02
    points = dense.points()
    assert points.shape[1] == 3 and np.median(points[:, 2]) == pytest.approx(PLANE_DEPTH,
                                                                             rel=0.01)

    # Seen from 1 m closer, the plane is at 3 m; from the same pose, as it was.
    again, _ = reproject(dense, dense.world_to_camera, full)
    both = np.isfinite(again) & known
    assert both.mean() > 0.6 and np.median(np.abs(again[both] - depth[both])) < 1e-3
    closer, closer_sigma = reproject(dense, world_to_camera(z=1.0), full)
    seen = np.isfinite(closer)
    assert seen.mean() > 0.3
    assert np.median(closer[seen]) == pytest.approx(PLANE_DEPTH - 1.0, rel=0.01)
    assert np.isfinite(closer_sigma[seen]).all()


def test_the_mapper_needs_sparse_points_for_the_depth_range():
    mapper = DenseMapper(KeyframeParams(min_baseline_ratio=0.02, min_keyframes=2))
    grey = np.full((HEIGHT, WIDTH), 100, np.uint8)
    mapper.offer(result_for(0, world_to_camera(), depths=()), grey, camera())
    mapper.offer(result_for(1, world_to_camera(x=0.5), depths=()), grey, camera())
    dense = mapper.compute()
    assert isinstance(dense, DenseKeyframeDepth) and not dense.ok
    assert dense.status == 'too few sparse points for the depth range'
    assert np.isnan(dense.at_image_size()[0]).all()
