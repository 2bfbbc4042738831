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

"""The temporal alignment error (TAE) and ``eval --tae`` on scenes with known motion."""

import json

import numpy as np
import pytest

from mono_depth_ros.core import tum
from mono_depth_ros.core.camera_model import CameraModel
from mono_depth_ros.core.temporal_consistency import (OnlineFlicker, temporal_alignment_error,
                                                      warp_depth)
from mono_depth_ros.core.transforms import pose_matrix
from mono_depth_ros.synth import render_sequence
from mono_depth_ros.tools import cli

WIDTH, HEIGHT = 160, 120


def camera() -> CameraModel:
    return CameraModel.from_intrinsics(128.0, 128.0, 80.5, 59.5, WIDTH, HEIGHT)


@pytest.fixture(scope='module')
def sequence():
    return render_sequence(frames=4, width=WIDTH, height=HEIGHT, seed=3, supersample=1)


def sequence_camera(sequence) -> CameraModel:
    k = sequence.k
    return CameraModel.from_intrinsics(k[0, 0], k[1, 1], k[0, 2], k[1, 2], sequence.width,
                                       sequence.height)


def test_a_warp_without_motion_returns_the_same_depth():
    depth = np.random.default_rng(0).uniform(1.0, 5.0, (HEIGHT, WIDTH)).astype(np.float32)
    np.testing.assert_array_equal(warp_depth(depth, camera(), np.eye(4)), depth)


def test_moving_towards_a_wall_brings_it_closer_by_the_distance_moved():
    wall = np.full((HEIGHT, WIDTH), 3.0, dtype=np.float32)
    forward = pose_matrix([0.0, 0.0, 0.2], [0.0, 0.0, 0.0, 1.0])  # the target is 0.2 m ahead
    warped = warp_depth(wall, camera(), np.linalg.inv(forward))
    seen = np.isfinite(warped)
    assert seen.mean() > 0.8  # a closer view of the wall: the border is not covered
    np.testing.assert_allclose(warped[seen], 2.8, rtol=1e-6)


def test_the_nearest_surface_wins_where_two_pixels_land_on_one():
    depth = np.full((HEIGHT, WIDTH), 4.0, dtype=np.float32)
    depth[:, 80:] = 2.0  # a closer box on the right
    shifted = pose_matrix([0.3, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0])  # the target is 0.3 m right
    warped = warp_depth(depth, camera(), np.linalg.inv(shifted))
    # Moving right shifts the image left by f * 0.3 / z: 19.2 px for the box, 9.6 px for the
    # wall, so wall pixels 70-79 and box pixels 80-89 both land on columns 61-70.
    np.testing.assert_allclose(warped[:, 62:70], 2.0)
    np.testing.assert_allclose(warped[:, 10:55], 4.0)


def test_true_depth_with_true_poses_is_consistent_and_flicker_is_measured(sequence):
    first, second = sequence.frames[0], sequence.frames[1]
    model = sequence_camera(sequence)
    exact = temporal_alignment_error(first.depth, second.depth, model, first.camera_pose,
                                     second.camera_pose)
    assert exact.count > 0.8 * 2 * WIDTH * HEIGHT
    assert exact.absrel < 0.01  # nearest-pixel splatting at depth edges only
    flicker = temporal_alignment_error(first.depth, 1.1 * second.depth, model,
                                       first.camera_pose, second.camera_pose)
    # Forward: |d - 1.1 d| / 1.1 d = 0.0909; backward: 0.1; the mean of the two.
    assert flicker.absrel == pytest.approx((0.1 / 1.1 + 0.1) / 2, abs=0.01)


def write_predictions(tmp_path, sequence, scales) -> tuple:
    from mono_depth_ros.synth import write_sequence

    gt = tmp_path / 'gt'
    write_sequence(sequence, gt)
    entries, _ = tum.read_list(gt / 'depth.txt')
    pred = tmp_path / 'pred'
    pred.mkdir()
    for entry, frame, scale in zip(entries, sequence.frames, scales):
        np.save(pred / f'{entry.stamp_text}.npy', (scale * frame.depth).astype(np.float32))
    return pred, gt


def test_eval_tae_scores_flicker_and_median_alignment_removes_it(tmp_path, sequence, capsys):
    pred, gt = write_predictions(tmp_path, sequence, [1.0, 1.1, 1.0, 1.1])
    assert cli.main(['eval', '--pred', str(pred), '--gt', str(gt), '--tae',
                     '--per-frame']) == 0
    result = json.loads(capsys.readouterr().out)
    assert result['tae_pairs'] == 3 and result['tae_frames_without_pose'] == 0
    assert result['tae'] == pytest.approx(0.095, abs=0.01)
    assert np.isnan(result['per_frame'][0]['tae'] or np.nan)  # the first frame has no pair
    assert cli.main(['eval', '--pred', str(pred), '--gt', str(gt), '--tae',
                     '--align', 'median']) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)['tae'] < 0.01
    assert 'TAE' in captured.err


def test_eval_tae_without_poses_says_what_it_needs(tmp_path, sequence, capsys):
    pred, gt = write_predictions(tmp_path, sequence, [1.0] * 4)
    (gt / 'groundtruth.txt').unlink()
    assert cli.main(['eval', '--pred', str(pred), '--gt', str(gt), '--tae']) == 2
    assert '--poses' in capsys.readouterr().err


@pytest.fixture(scope='module')
def drive():
    return render_sequence(frames=10, width=320, height=240, seed=5, supersample=1)


def online_flicker(sequence, scales) -> tuple[OnlineFlicker, list]:
    """Feed ``scale * true depth`` with the true camera poses (base pose @ camera_to_base)."""
    flicker = OnlineFlicker()
    model = sequence_camera(sequence)
    errors = [flicker.add(frame.stamp_ns, scale * frame.depth, model,
                          frame.base_pose @ sequence.camera_to_base)
              for frame, scale in zip(sequence.frames, scales)]
    return flicker, errors


def test_the_online_flicker_of_true_depth_is_near_zero(drive):
    flicker, errors = online_flicker(drive, [1.0] * len(drive.frames))
    assert errors[0] is None and flicker.pairs == len(drive.frames) - 1 and not flicker.skipped
    # Only the 4-pixel grid's rounding (depth edges, slanted floor): 0.0105 here, 0.0049 at
    # 640x480, 0.0026 with every pixel.
    assert 0.0 <= flicker.value() < 0.02


def test_the_online_flicker_measures_a_per_frame_scale_jitter(drive):
    scales = 1.0 + np.random.default_rng(1).uniform(-0.1, 0.1, len(drive.frames))
    flicker, _ = online_flicker(drive, scales)
    # Each pair: forward |s_a / s_b - 1|, backward |s_b / s_a - 1|, their mean.
    expected = np.mean([0.5 * (abs(a / b - 1.0) + abs(b / a - 1.0))
                        for a, b in zip(scales[:-1], scales[1:])])
    assert flicker.value() == pytest.approx(expected, abs=0.01)
    assert 0.03 < flicker.value() < 0.15


def test_the_online_flicker_skips_bad_pairs_and_never_raises(drive):
    model = sequence_camera(drive)
    first, second, third = drive.frames[:3]
    flicker = OnlineFlicker()
    assert flicker.add(first.stamp_ns, first.depth, model, first.camera_pose) is None
    assert flicker.add(second.stamp_ns, second.depth, model, None) is None  # no pose
    assert flicker.last_skip == 'no camera pose'
    # The next frame starts over: nothing to compare with.
    assert flicker.add(third.stamp_ns, third.depth, model, third.camera_pose) is None
    unknown = np.full_like(first.depth, np.nan)
    assert flicker.add(third.stamp_ns + 1, unknown, model, third.camera_pose) is None
    assert flicker.last_skip.startswith('too little overlap')
    bad_pose = np.full((4, 4), np.nan)
    assert flicker.add(third.stamp_ns + 2, first.depth, model, bad_pose) is None
    assert flicker.add(third.stamp_ns + 3, first.depth[:10], model, np.eye(4)) is None
    assert flicker.skipped == 4 and flicker.pairs == 0 and np.isnan(flicker.value())


def test_a_strided_warp_is_the_full_warp_at_every_strided_pixel(sequence):
    first, second = sequence.frames[0], sequence.frames[1]
    model = sequence_camera(sequence)
    second_from_first = np.linalg.inv(second.camera_pose) @ first.camera_pose
    coarse = warp_depth(first.depth, model, second_from_first, stride=4)
    assert coarse.shape == (HEIGHT // 4, WIDTH // 4)
    fine = warp_depth(first.depth, model, second_from_first)[::4, ::4]
    both = np.isfinite(coarse) & np.isfinite(fine)
    assert both.mean() > 0.8
    # The same surfaces: within the depth change of a pixel's neighbourhood.
    assert np.median(np.abs(coarse[both] - fine[both]) / fine[both]) < 0.01
