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

"""The triangulation pipeline end to end: motion, no motion, missing odometry, resets, outputs.

Most tests use a small scene rendered here exactly: a textured wall 6 m ahead and a poster 3 m
ahead, drawn by warping textures with the homographies of their planes. The accuracy targets
are checked on the package's synthetic room sequence.
"""

import math
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from mono_depth_ros.core.camera_model import CameraModel
from mono_depth_ros.core.errors import BadMessageError
from mono_depth_ros.core.transforms import (invert_pose, matrix_to_quaternion,
                                            pose_from_xyz_quaternion)
from mono_depth_ros.core.triangulation import (draw_tracks, sparse_depth_image,
                                               sparse_sigma_image, TriangulationParams,
                                               TriangulationPipeline, TriangulationResult)
from mono_depth_ros.core.triangulation.evaluation import drifting_odometry, evaluate_sequence

WIDTH, HEIGHT, FOCAL = 320, 240, 250.0
FRAME_NS = 100_000_000  # 10 fps
CAMERA = CameraModel.from_intrinsics(FOCAL, FOCAL, 159.5, 119.5, WIDTH, HEIGHT)
K = CAMERA.intrinsic_matrix
DEFAULT_EXTRINSICS = (0.0, 0.0, 0.0, -0.5, 0.5, -0.5, 0.5)
TILTED_EXTRINSICS = (0.2, -0.1, 0.4, *matrix_to_quaternion(
    pose_from_xyz_quaternion(DEFAULT_EXTRINSICS)[:3, :3]
    @ cv2.Rodrigues(np.array([0.2, 0.1, 0.0]))[0]))


def texture(seed: int, shape: tuple[int, int]) -> np.ndarray:
    rng = np.random.default_rng(seed)
    image = np.zeros(shape, np.float32)
    for sigma in (1.2, 3.0, 8.0):
        layer = cv2.GaussianBlur(rng.standard_normal(shape).astype(np.float32), (0, 0), sigma)
        image += layer / layer.std()
    return np.clip(128 + 35 * image, 0, 255).astype(np.float32)


# Planes z = depth in the first camera's optical frame: (depth, x range, y range, texture seed).
WALL = (6.0, (-6.0, 6.0), (-4.0, 4.0), 10)
POSTER = (3.0, (-1.2, 0.4), (-0.7, 0.5), 11)


def render(camera_from_reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the (gray uint8, z-depth float32) image of a camera posed in the first frame."""
    world_to_camera = invert_pose(camera_from_reference)
    rotation, translation = world_to_camera[:3, :3], world_to_camera[:3, 3]
    u, v = np.meshgrid(np.arange(WIDTH, dtype=np.float64), np.arange(HEIGHT, dtype=np.float64))
    rays = np.stack([(u - K[0, 2]) / FOCAL, (v - K[1, 2]) / FOCAL, np.ones_like(u)], axis=-1)
    world_rays = rays @ rotation  # R^T r for every pixel
    centre = camera_from_reference[:3, 3]
    gray = np.zeros((HEIGHT, WIDTH), np.float32)
    depth = np.full((HEIGHT, WIDTH), np.inf, np.float32)
    for plane_depth, (x0, x1), (y0, y1), seed in (WALL, POSTER):
        metres_per_texel = plane_depth / (1.5 * FOCAL)
        size = (int((y1 - y0) / metres_per_texel), int((x1 - x0) / metres_per_texel))
        to_plane = np.array([[metres_per_texel, 0, x0], [0, metres_per_texel, y0], [0, 0, 1.0]])
        homography = K @ np.column_stack(
            [rotation[:, 0], rotation[:, 1], rotation[:, 2] * plane_depth + translation]) \
            @ to_plane
        colour = cv2.warpPerspective(texture(seed, size), homography, (WIDTH, HEIGHT),
                                     flags=cv2.INTER_LINEAR)
        coverage = cv2.warpPerspective(np.ones(size, np.float32), homography, (WIDTH, HEIGHT),
                                       flags=cv2.INTER_LINEAR)
        with np.errstate(divide='ignore'):
            z = (plane_depth - centre[2]) / world_rays[..., 2]
        nearer = (coverage > 0.5) & (z > 0) & (z < depth)
        gray = np.where(nearer, colour, gray)
        depth = np.where(nearer, z, depth).astype(np.float32)
    return np.clip(np.rint(gray), 0, 255).astype(np.uint8), depth


def camera_motion(frame: int, kind: str) -> np.ndarray:
    """Return the optical->first-optical pose of a frame for a kind of motion."""
    pose = np.eye(4)
    if kind == 'sideways':
        pose[:3, 3] = (0.04 * frame, 0.005 * frame, 0.02 * frame)
        pose[:3, :3] = cv2.Rodrigues(np.array([0.0, -0.002 * frame, 0.0]))[0]
    elif kind == 'rotation':
        pose[:3, :3] = cv2.Rodrigues(np.array([0.001 * frame, math.radians(0.5) * frame, 0.0]))[0]
    elif kind == 'move_then_stop':  # sideways for 24 frames, then standing
        return camera_motion(min(frame, 24), 'sideways')
    return pose


def feed_odometry(pipeline: TriangulationPipeline, stamp_ns: int, camera_pose: np.ndarray,
                  extrinsics) -> None:
    """Give the pipeline the base pose that puts the camera at ``camera_pose`` (in odom)."""
    camera_to_base = pose_from_xyz_quaternion(extrinsics)
    base = camera_to_base @ camera_pose @ invert_pose(camera_to_base)
    pipeline.add_odometry(stamp_ns, base[:3, 3], matrix_to_quaternion(base[:3, :3]))


def run_scene(kind: str, frames: int, extrinsics=DEFAULT_EXTRINSICS, jitter_deg: float = 0.0,
              jitter_from: int = 0, **params):
    """Run the pipeline over the plane scene; return the results and ground-truth depths.

    ``jitter_deg`` turns the odometry at each frame stamp from frame ``jitter_from`` on by a
    random rotation of that size.
    """
    pipeline = TriangulationPipeline(TriangulationParams(camera_to_base=extrinsics, **params))
    rng = np.random.default_rng(0)
    # Odometry at twice the frame rate: the poses at frames are interpolated half the time.
    for half_step in range(2 * frames):
        pose = camera_motion(half_step / 2, kind)
        if jitter_deg and half_step % 2 == 0 and half_step >= 2 * jitter_from:
            axis = rng.normal(size=3)
            pose[:3, :3] = pose[:3, :3] @ cv2.Rodrigues(
                axis / np.linalg.norm(axis) * math.radians(jitter_deg))[0]
        feed_odometry(pipeline, half_step * FRAME_NS // 2, pose, extrinsics)
    results, truths = [], []
    for frame in range(frames):
        gray, depth = render(camera_motion(frame, kind))
        results.append(pipeline.process_frame(frame * FRAME_NS, gray, CAMERA))
        truths.append(depth)
    return results, truths


def absolute_relative_error(result: TriangulationResult, truth: np.ndarray) -> np.ndarray:
    columns, rows = np.rint(result.pixels).astype(np.int64).T
    return np.abs(result.depths - truth[rows, columns]) / truth[rows, columns]


# Tracks converge once their sigma (image noise and the pose error budget) is below 3 %: at
# 4 cm a frame, 3-6 m away and f = 250 px, from about frame 20 on.
SETTLED = 22


@pytest.fixture(scope='module')
def sideways():
    return run_scene('sideways', 30, max_features=300)


def test_moving_camera_publishes_accurate_metric_depth(sideways):
    results, truths = sideways
    assert all(result.ok for result in results)
    late = results[SETTLED:]
    assert min(len(result) for result in late) >= 100
    errors = np.concatenate([absolute_relative_error(r, t)
                             for r, t in zip(late, truths[SETTLED:])])
    assert errors.mean() < 0.01
    assert np.median(errors) < 0.005


def test_published_points_project_onto_their_pixels(sideways):
    result = sideways[0][-1]
    np.testing.assert_allclose(result.points_camera[:, 2], result.depths, rtol=1e-6)
    projected = CAMERA.project(result.points_camera)
    assert np.percentile(np.linalg.norm(projected - result.pixels, axis=1), 95) < 1.5
    assert result.track_ids.dtype == np.int64 and len(np.unique(result.track_ids)) == len(result)
    assert result.depths.dtype == np.float32 and result.points_camera.dtype == np.float32


def test_result_stats_count_tracks_and_time_each_stage(sideways):
    stats = sideways[0][-1].stats
    assert stats['tracks'] <= 300
    assert stats['published'] == len(sideways[0][-1]) <= stats['converged']
    for key in ('tracking_ms', 'triangulation_ms', 'filter_ms', 'total_ms'):
        assert stats[key] >= 0


def test_camera_to_base_extrinsics_are_honoured():
    results, truths = run_scene('sideways', 30, extrinsics=TILTED_EXTRINSICS, max_features=200)
    late = results[SETTLED:]
    assert min(len(result) for result in late) >= 100
    errors = np.concatenate([absolute_relative_error(r, t)
                             for r, t in zip(late, truths[SETTLED:])])
    assert errors.mean() < 0.01


def test_rotation_refinement_absorbs_odometry_heading_jitter(sideways):
    # Once points have converged, 0.3 deg of rotation error at every frame (about 1.3 px). The
    # jitter is at the frame stamps only, so a time offset of half a frame period, onto the
    # clean samples between them, would genuinely fit this odometry better: the offset is
    # given, not estimated, here.
    refined, truths = run_scene('sideways', 30, jitter_deg=0.3, jitter_from=12,
                                max_features=300, estimate_time_offset=False)
    raw, _ = run_scene('sideways', 30, jitter_deg=0.3, jitter_from=12, max_features=300,
                       refine_rotation=False, estimate_time_offset=False)
    late = slice(SETTLED, None)

    def summary(results):
        errors = np.concatenate([absolute_relative_error(r, t)
                                 for r, t in zip(results[late], truths[late])])
        return errors.mean(), min(len(result) for result in results[late])

    refined_error, refined_count = summary(refined)
    raw_error, raw_count = summary(raw)
    corrections = [r.stats['rotation_correction_deg'] for r in refined[late]]
    assert min(corrections) == pytest.approx(0.3, abs=0.03)
    assert max(corrections) == pytest.approx(0.3, abs=0.03)
    assert refined_error < 0.005 and refined_count >= 150
    # Without the refinement the jitter shows in the views' residuals, which widen the sigmas:
    # fewer points converge (138 against 208 with the 3 % gate), and those are not the wrong
    # ones, though four times less accurate than the refined ones.
    assert raw_count < 0.75 * refined_count and raw_error < 0.01
    assert refined_error < raw_error / 2
    exact_corrections = [r.stats['rotation_correction_deg'] for r in sideways[0]]
    assert max(exact_corrections) < 0.02


def test_standing_camera_gives_no_points_and_no_garbage():
    results, _ = run_scene('standing', 12, max_features=200)
    assert all(result.ok for result in results)
    assert all(result.stats['triangulated'] == 0 for result in results)
    assert all(len(result) == 0 for result in results)
    assert results[-1].stats['tracks'] == 200


def test_published_sigmas_cover_the_error_and_standing_still_adds_no_certainty():
    results, truths = run_scene('move_then_stop', 40, max_features=300)
    moving, standing = results[SETTLED:25], results[26:]
    errors = np.concatenate([np.abs(r.depths - t[tuple(np.rint(r.pixels[:, ::-1]).astype(int).T)])
                             for r, t in zip(results[SETTLED:], truths[SETTLED:])])
    sigmas = np.concatenate([r.sigmas for r in results[SETTLED:]])
    assert np.all(sigmas > 0) and np.mean(errors <= 2 * sigmas) >= 0.95
    converged = set(results[25].track_ids.tolist())
    for result in standing:  # no new information: no new points, no shrinking sigma
        assert result.stats['new_views'] == 0 and result.stats['triangulated'] == 0
        assert set(result.track_ids.tolist()) <= converged
    last, settled = standing[-1], results[25]
    common, here, there = np.intersect1d(last.track_ids, settled.track_ids,
                                         return_indices=True)
    assert len(common) >= 0.9 * len(settled) and len(moving[-1]) >= 100
    np.testing.assert_allclose(last.sigmas[here], settled.sigmas[there], rtol=1e-3)


def test_pure_rotation_triangulates_nothing():
    results, _ = run_scene('rotation', 12, max_features=200)
    assert all(result.ok for result in results)
    assert sum(result.stats['triangulated'] for result in results) == 0
    assert sum(len(result) for result in results) == 0
    assert results[-1].stats['tracks'] > 100


def test_frames_without_a_pose_say_why_and_keep_tracking():
    pipeline = TriangulationPipeline(TriangulationParams(max_features=100))
    gray, _ = render(np.eye(4))
    first = pipeline.process_frame(0, gray, CAMERA)
    assert not first.ok and first.status == 'no pose: no odometry received yet'
    assert len(first) == 0 and first.stats['tracks'] == 100
    pipeline.add_odometry(0, [0, 0, 0], [0, 0, 0, 1])
    pipeline.add_odometry(FRAME_NS * 5, [0, 0, 0], [0, 0, 0, 1])
    gap = pipeline.process_frame(FRAME_NS, gray, CAMERA)
    assert gap.status.startswith('no pose: odometry gap of 0.500 s')
    assert set(gap.tracks.ids) == set(first.tracks.ids)  # the tracks lived on
    late = pipeline.process_frame(FRAME_NS * 6, gray, CAMERA)
    assert 'after the newest odometry sample' in late.status


def test_time_going_backwards_resets_the_tracks():
    pipeline = TriangulationPipeline(TriangulationParams(max_features=100, odom_history=2.0))
    gray, _ = render(np.eye(4))
    for stamp in range(0, 3 * FRAME_NS, FRAME_NS // 2):
        pipeline.add_odometry(stamp, [0, 0, 0], [0, 0, 0, 1])
    pipeline.process_frame(FRAME_NS, gray, CAMERA)
    before = pipeline.process_frame(2 * FRAME_NS, gray, CAMERA)
    assert before.ok
    back = pipeline.process_frame(FRAME_NS, gray, CAMERA)
    assert back.status == 'reset: image time went backwards'
    assert set(back.tracks.ids).isdisjoint(before.tracks.ids)
    # Odometry older than the buffer's history: a restarted bag. The next frame resets.
    pipeline.add_odometry(-10 * FRAME_NS * 10, [0, 0, 0], [0, 0, 0, 1])
    restarted = pipeline.process_frame(-10 * FRAME_NS * 10, gray, CAMERA)
    assert restarted.status == 'reset: odometry time went backwards'
    assert pipeline.process_frame(-10 * FRAME_NS * 10 + 1, gray, CAMERA).ok


def test_image_that_does_not_match_the_camera_is_rejected():
    pipeline = TriangulationPipeline()
    with pytest.raises(BadMessageError, match='camera_info image size 320x240'):
        pipeline.process_frame(0, np.zeros((100, 100), np.uint8), CAMERA)
    with pytest.raises(BadMessageError, match='gray'):
        pipeline.process_frame(0, np.zeros((240, 320, 3), np.uint8), CAMERA)


def test_bad_parameters_are_rejected_by_name():
    with pytest.raises(BadMessageError, match='max_depth'):
        TriangulationParams(min_depth=5.0, max_depth=2.0)
    with pytest.raises(BadMessageError, match='odom_max_gap'):
        TriangulationParams(odom_max_gap=0.0)
    with pytest.raises(BadMessageError, match='camera_to_base'):
        TriangulationParams(camera_to_base=(0, 0, 0, 0, 0, 0, 2))
    with pytest.raises(BadMessageError, match='camera_to_base'):
        TriangulationParams(camera_to_base=(0, 0, 0, 1))
    params = TriangulationParams.from_dict({'max_features': 80, 'unrelated': 1,
                                            'camera_to_base': [0, 0, 0, 0, 0, 0, 1]})
    assert params.max_features == 80 and params.camera_to_base == (0, 0, 0, 0, 0, 0, 1.0)


def test_sparse_depth_image_puts_depths_at_rounded_pixels():
    result = TriangulationResult(
        stamp_ns=0, pixels=np.float32([[1.4, 2.6], [5.0, 0.0], [1.2, 3.4], [50, 50], [-3, 1]]),
        depths=np.float32([2.0, 3.0, 1.5, 4.0, 1.0]), points_camera=np.zeros((5, 3), np.float32),
        track_ids=np.arange(5))
    image = sparse_depth_image(result, width=8, height=6)
    assert image.shape == (6, 8) and image.dtype == np.float32
    assert image[3, 1] == 1.5  # two tracks round to (1, 3): the nearer wins
    assert image[0, 5] == 3.0
    assert np.isfinite(image).sum() == 2


def test_sparse_sigma_image_follows_the_depth_kept_at_each_pixel():
    result = TriangulationResult(
        stamp_ns=0, pixels=np.float32([[1.4, 2.6], [5.0, 0.0], [1.2, 3.4]]),
        depths=np.float32([2.0, 3.0, 1.5]), points_camera=np.zeros((3, 3), np.float32),
        track_ids=np.arange(3), sigmas=np.float32([0.02, 0.03, 0.01]))
    sigma = sparse_sigma_image(result, width=8, height=6)
    depth = sparse_depth_image(result, width=8, height=6)
    np.testing.assert_array_equal(np.isfinite(sigma), np.isfinite(depth))
    assert sigma[3, 1] == np.float32(0.01) and sigma[0, 5] == np.float32(0.03)
    assert TriangulationResult(0, np.zeros((0, 2)), np.zeros(0), np.zeros((0, 3)),
                               np.zeros(0, np.int64)).sigmas.shape == (0,)


def test_draw_tracks_colours_tracks_and_leaves_the_input_alone(sideways):
    result = sideways[0][-1]
    gray, _ = render(camera_motion(len(sideways[0]) - 1, 'sideways'))
    bgr = cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)
    original = bgr.copy()
    drawn = draw_tracks(bgr, result)
    np.testing.assert_array_equal(bgr, original)
    assert drawn.shape == bgr.shape and drawn.dtype == np.uint8
    columns, rows = np.rint(result.pixels).astype(np.int64).T
    coloured = drawn[rows, columns]
    assert (coloured.max(axis=1) - coloured.min(axis=1) > 30).mean() > 0.9  # not grey
    assert (drawn != bgr).any(axis=2).sum() > len(result) * 9


# ---------------------------------------------------------------------------------------------
# Accuracy targets on the synthetic room sequence (640x480)


@pytest.fixture(scope='module')
def room_sequence():
    synth = pytest.importorskip('mono_depth_ros.synth')
    return synth.render_sequence(frames=60, width=640, height=480, seed=0)


@pytest.mark.slow
def test_room_sequence_with_exact_odometry_meets_the_accuracy_target(room_sequence):
    evaluation = evaluate_sequence(room_sequence, warmup_frames=30)
    assert evaluation.absrel <= 0.03
    # Was >= 300 while the sigmas were 2.5-4.5x too small (issue 16); with honest sigmas
    # fewer tracks pass the 2 % gate this early on the drive: about 150-260 a frame.
    assert min(evaluation.points_per_frame) >= 120
    assert evaluation.coverage == pytest.approx(0.95, abs=0.03)


@pytest.mark.slow
def test_room_sequence_with_drifting_odometry_meets_the_accuracy_target(room_sequence):
    odometry = drifting_odometry(room_sequence.odometry, translation_drift=0.01,
                                 rotation_drift_deg=0.5, seed=0)
    evaluation = evaluate_sequence(room_sequence, odometry=odometry, warmup_frames=30)
    assert evaluation.absrel <= 0.08


def test_drifting_odometry_ends_off_by_the_stated_amounts():
    samples = []
    for index in range(51):  # 5 m straight ahead
        pose = np.eye(4)
        pose[0, 3] = 0.1 * index
        samples.append(SimpleNamespace(stamp_ns=index * FRAME_NS, base_pose=pose))
    drifted = drifting_odometry(samples, translation_drift=0.01, rotation_drift_deg=0.5, seed=3)
    assert [stamp for stamp, _ in drifted] == [sample.stamp_ns for sample in samples]
    np.testing.assert_allclose(drifted[0][1], samples[0].base_pose)
    error = invert_pose(samples[-1].base_pose) @ drifted[-1][1]
    assert np.linalg.norm(error[:3, 3]) == pytest.approx(0.01 * 5.0)
    angle = math.degrees(np.linalg.norm(cv2.Rodrigues(error[:3, :3])[0]))
    assert angle == pytest.approx(0.5)
