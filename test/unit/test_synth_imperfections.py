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

"""Synthetic sequences with what a robot sees: late image stamps, yaw sway, drifting odometry."""

import math

import cv2
import numpy as np
import pytest

from mono_depth_ros.core.errors import BadMessageError
from mono_depth_ros.core.transforms import invert_pose
from mono_depth_ros.synth import load_sequence, Motion, MOTIONS, render_sequence
from mono_depth_ros.tools import cli, synth_cli

SMALL = {'frames': 8, 'width': 64, 'height': 48, 'seed': 2, 'supersample': 1}


def frames_equal(first, second) -> bool:
    return all(a.stamp_ns == b.stamp_ns and np.array_equal(a.rgb, b.rgb)
               and np.array_equal(a.depth, b.depth) and np.array_equal(a.base_pose, b.base_pose)
               for a, b in zip(first.frames, second.frames))


def yaw_deg(pose: np.ndarray) -> float:
    return math.degrees(math.atan2(pose[1, 0], pose[0, 0]))


def test_default_imperfections_reproduce_the_exact_sequence():
    exact = render_sequence(**SMALL)
    explicit = render_sequence(**SMALL, motion='drive', sway_deg=0.0, camera_latency=0.0,
                               odom_drift=0.0, odom_drift_deg=0.0)
    assert frames_equal(exact, explicit)
    assert [s.stamp_ns for s in exact.odometry] == [s.stamp_ns for s in explicit.odometry]
    assert all(np.array_equal(a.base_pose, b.base_pose)
               for a, b in zip(exact.odometry, explicit.odometry))
    assert all(frame.capture_ns is None for frame in exact.frames)


def test_late_images_show_the_earlier_instant_and_odometry_covers_their_stamps():
    exact = render_sequence(**SMALL)
    late = render_sequence(**SMALL, camera_latency=0.05)
    for before, after in zip(exact.frames, late.frames):
        assert after.stamp_ns == before.stamp_ns + 50_000_000
        assert after.capture_ns == before.stamp_ns
        np.testing.assert_array_equal(after.rgb, before.rgb)  # same instant, later stamp
        np.testing.assert_array_equal(after.camera_pose, before.camera_pose)
    odometry_stamps = [sample.stamp_ns for sample in late.odometry]
    assert odometry_stamps[0] < late.frames[0].capture_ns
    assert odometry_stamps[-1] > late.frames[-1].stamp_ns
    # Odometry stamps stay true: the pose at a capture instant is the frame's ground truth.
    by_stamp = {sample.stamp_ns: sample.base_pose for sample in late.odometry}
    np.testing.assert_allclose(by_stamp[late.frames[3].capture_ns], late.frames[3].base_pose)


def test_sway_rocks_the_yaw_by_its_amplitude_at_one_hertz():
    still = Motion('stop', stop_after_s=0.0)
    swaying = Motion('stop', sway_deg=3.0, stop_after_s=0.0)
    base = yaw_deg(still.base_pose_at(0.25))
    assert yaw_deg(swaying.base_pose_at(0.25)) - base == pytest.approx(3.0, abs=1e-6)
    assert yaw_deg(swaying.base_pose_at(0.75)) - base == pytest.approx(-3.0, abs=1e-6)
    assert yaw_deg(swaying.base_pose_at(1.0)) - base == pytest.approx(0.0, abs=1e-6)
    angular = swaying.base_twist_at(1.0)[1]
    assert angular[2] == pytest.approx(math.radians(3.0) * 2 * math.pi, rel=1e-4)


@pytest.mark.parametrize('kind', MOTIONS)
def test_every_motion_starts_at_the_origin_and_stays_clear_of_the_boxes(kind):
    sequence = render_sequence(frames=6, width=48, height=36, seed=0, fps=1.5, motion=kind,
                               supersample=1)
    np.testing.assert_allclose(sequence.frames[0].base_pose[:3, 3], 0.0, atol=1e-9)
    assert min(frame.depth.min() for frame in sequence.frames) > 1.0


def test_motion_kinds_move_as_named():
    forward, sideways = Motion('forward'), Motion('sideways')
    assert forward.base_twist_at(1.0)[0][0] == pytest.approx(0.5, abs=0.02)
    assert sideways.base_twist_at(1.0)[0][1] == pytest.approx(0.25, abs=0.02)
    assert abs(sideways.base_twist_at(1.0)[0][0]) < 0.02
    turning = Motion('turning')
    assert turning.base_twist_at(1.0)[1][2] > math.radians(6.0)
    stop = Motion('stop', stop_after_s=1.0)
    np.testing.assert_array_equal(stop.base_pose_at(1.5), stop.base_pose_at(3.0))
    assert np.linalg.norm(stop.base_twist_at(2.0)[0]) == 0.0
    with pytest.raises(BadMessageError, match='motion'):
        Motion('flying')
    assert synth_cli.MOTIONS == MOTIONS


def test_drifting_odometry_ends_off_by_the_fraction_of_the_path_and_the_angle():
    exact = render_sequence(**SMALL, fps=2.0)
    drifting = render_sequence(**SMALL, fps=2.0, odom_drift=0.01, odom_drift_deg=0.5)
    assert frames_equal(exact, drifting)  # ground truth stays exact
    np.testing.assert_allclose(drifting.odometry[0].base_pose, exact.odometry[0].base_pose)
    positions = np.array([sample.base_pose[:3, 3] for sample in exact.odometry])
    travelled = np.linalg.norm(np.diff(positions, axis=0), axis=1).sum()
    error = invert_pose(exact.odometry[-1].base_pose) @ drifting.odometry[-1].base_pose
    assert np.linalg.norm(error[:3, 3]) == pytest.approx(0.01 * travelled)
    assert math.degrees(np.linalg.norm(cv2.Rodrigues(error[:3, :3])[0])) == pytest.approx(0.5)


def test_bad_imperfections_raise_bad_message_error():
    with pytest.raises(BadMessageError, match='camera_latency'):
        render_sequence(**SMALL, camera_latency=float('nan'))
    with pytest.raises(BadMessageError, match='odom_drift'):
        render_sequence(**SMALL, odom_drift=-0.1)
    with pytest.raises(BadMessageError, match='sway_deg'):
        render_sequence(**SMALL, sway_deg=float('inf'))


def test_synth_command_writes_late_swaying_drifting_sequences(tmp_path, capsys):
    out = tmp_path / 'imperfect'
    assert cli.main(['synth', '--out', str(out), '--frames', '4', '--width', '64',
                     '--height', '48', '--camera-latency', '0.02', '--sway-deg', '3',
                     '--odom-drift', '0.01', '--odom-drift-deg', '0.5',
                     '--motion', 'forward']) == 0
    assert 'rendered 4 frames' in capsys.readouterr().out
    loaded = load_sequence(out)
    expected = render_sequence(frames=4, width=64, height=48, camera_latency=0.02, sway_deg=3.0,
                               odom_drift=0.01, odom_drift_deg=0.5, motion='forward')
    assert [f.stamp_ns for f in loaded.frames] == [f.stamp_ns for f in expected.frames]
    for got, want in zip(loaded.frames, expected.frames):  # ground truth: the true poses
        np.testing.assert_allclose(got.camera_pose, want.camera_pose, atol=1e-8)
    assert [s.stamp_ns for s in loaded.odometry] == [s.stamp_ns for s in expected.odometry]
    np.testing.assert_allclose(loaded.odometry[-1].base_pose, expected.odometry[-1].base_pose,
                               atol=1e-8)
