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

"""Odometry buffering and pose interpolation at image stamps."""

import math
from types import SimpleNamespace

import numpy as np
import pytest

from mono_depth_ros.core.errors import BadMessageError
from mono_depth_ros.core.transforms import matrix_to_quaternion, quaternion_to_matrix
from mono_depth_ros.core.triangulation import TriangulationParams, TriangulationPipeline
from mono_depth_ros.core.triangulation.pose_buffer import PoseBuffer

MS = 1_000_000


def yaw_quaternion(yaw: float) -> np.ndarray:
    return np.array([0.0, 0.0, math.sin(yaw / 2), math.cos(yaw / 2)])


def yaw_of(pose: np.ndarray) -> float:
    return math.atan2(pose[1, 0], pose[0, 0])


def test_interpolates_translation_linearly_and_rotation_by_slerp():
    buffer = PoseBuffer(max_gap_s=0.2)
    buffer.add(0, [0.0, 0.0, 0.0], yaw_quaternion(0.0))
    buffer.add(100 * MS, [1.0, 2.0, 0.0], yaw_quaternion(1.0))
    lookup = buffer.lookup(25 * MS)
    assert lookup and lookup.reason == ''
    np.testing.assert_allclose(lookup.pose[:3, 3], [0.25, 0.5, 0.0])
    assert yaw_of(lookup.pose) == pytest.approx(0.25)


def test_exact_stamp_returns_the_sample():
    buffer = PoseBuffer()
    q = matrix_to_quaternion(quaternion_to_matrix([0.1, 0.2, 0.3, 0.9273618495495703]))
    buffer.add(5 * MS, [1.0, 2.0, 3.0], q)
    pose = buffer.lookup(5 * MS).pose
    np.testing.assert_allclose(pose[:3, 3], [1, 2, 3])
    np.testing.assert_allclose(matrix_to_quaternion(pose[:3, :3]), q, atol=1e-12)


def test_odometry_in_any_arrival_order_gives_the_same_pose():
    stamps = np.arange(0, 200 * MS, 20 * MS)
    in_order, shuffled = PoseBuffer(), PoseBuffer()
    for stamp in stamps:
        in_order.add(stamp, [stamp / 1e9, 0, 0], yaw_quaternion(stamp / 1e9))
    for stamp in np.random.default_rng(0).permutation(stamps):
        shuffled.add(stamp, [stamp / 1e9, 0, 0], yaw_quaternion(stamp / 1e9))
    for query in (3 * MS, 77 * MS, 179 * MS):
        np.testing.assert_allclose(shuffled.lookup(query).pose, in_order.lookup(query).pose)


def test_gap_longer_than_odom_max_gap_is_refused_with_a_reason():
    buffer = PoseBuffer(max_gap_s=0.2)
    buffer.add(0, [0, 0, 0], yaw_quaternion(0))
    buffer.add(300 * MS, [1, 0, 0], yaw_quaternion(0))
    lookup = buffer.lookup(150 * MS)
    assert lookup.pose is None and not lookup
    assert 'gap of 0.300 s' in lookup.reason and 'odom_max_gap 0.200 s' in lookup.reason


def test_extrapolation_only_within_the_tolerance():
    buffer = PoseBuffer(extrapolation_tolerance_s=0.01)
    buffer.add(0, [0, 0, 0], yaw_quaternion(0))
    buffer.add(100 * MS, [1, 0, 0], yaw_quaternion(0))
    near = buffer.lookup(105 * MS)
    assert near.pose is not None
    assert near.pose[0, 3] == pytest.approx(1.05)  # continues the motion
    late = buffer.lookup(150 * MS)
    assert late.pose is None and 'after the newest' in late.reason
    early = buffer.lookup(-50 * MS)
    assert early.pose is None and 'before the oldest' in early.reason


def test_empty_buffer_says_no_odometry_yet():
    assert PoseBuffer().lookup(0).reason == 'no odometry received yet'


def test_time_going_backwards_clears_the_buffer_and_says_so():
    buffer = PoseBuffer(history_s=1.0)
    assert not buffer.add(5_000 * MS, [0, 0, 0], yaw_quaternion(0))
    assert not buffer.add(4_500 * MS, [0, 0, 0], yaw_quaternion(0))  # late, within history
    assert buffer.add(1_000 * MS, [3, 0, 0], yaw_quaternion(0))  # a bag started over
    assert len(buffer) == 1
    assert buffer.newest_stamp_ns == 1_000 * MS


def test_a_simulation_reset_shorter_than_the_history_starts_the_buffer_over():
    buffer = PoseBuffer(history_s=10.0)
    for stamp in range(0, 4_000 * MS, 50 * MS):  # driving at 1 m/s along x
        assert not buffer.add(stamp, [stamp / 1e9, 0, 0], yaw_quaternion(0))
    # The simulator restarts at t = 1 s with the robot back at the origin: time went back by
    # less than the history, and the pose disagrees with what the buffer holds there.
    assert buffer.add(1_000 * MS, [0, 0, 0], yaw_quaternion(0))
    assert buffer.resets == 1 and buffer.last_reset_reason == 'odometry pose jumped'
    assert len(buffer) == 1
    assert not buffer.add(1_050 * MS, [0.05, 0, 0], yaw_quaternion(0))
    # A jump without any clock jump (a relocalised odometry), and a sudden turn.
    assert buffer.add(1_100 * MS, [2.0, 0, 0], yaw_quaternion(0))
    assert buffer.add(1_150 * MS, [2.0, 0, 0], yaw_quaternion(1.0))
    assert buffer.resets == 3


def test_the_pipeline_resets_once_and_counts_odometry_resets():
    pipeline = TriangulationPipeline(TriangulationParams(max_features=50))
    gray = np.random.default_rng(0).integers(0, 255, (60, 80), np.uint8)
    for stamp in range(0, 300 * MS, 50 * MS):
        pipeline.add_odometry(stamp, [stamp / 1e9, 0, 0], yaw_quaternion(0))
    camera = SimpleNamespace(fx=50.0, fy=50.0, undistort_points=lambda p: (p - 40.0) / 50.0)
    assert pipeline.process_frame(100 * MS, gray, camera).ok
    pipeline.add_odometry(150 * MS, [5.0, 0, 0], yaw_quaternion(0))
    pipeline.add_odometry(200 * MS, [5.0, 0, 0], yaw_quaternion(0))
    jumped = pipeline.process_frame(200 * MS, gray, camera)
    assert jumped.status == 'reset: odometry pose jumped'
    assert jumped.stats['odometry_resets'] == pipeline.odometry_resets == 1
    assert pipeline.process_frame(200 * MS + 1, gray, camera).ok


def test_buffer_keeps_only_its_history():
    buffer = PoseBuffer(history_s=1.0)
    for stamp in range(0, 5_000 * MS, 10 * MS):
        buffer.add(stamp, [0, 0, 0], yaw_quaternion(0))
    assert len(buffer) == 101  # the newest second, both ends included
    assert buffer.lookup(1_000 * MS).pose is None


@pytest.mark.parametrize('position, orientation, field', [
    ([float('nan'), 0, 0], [0, 0, 0, 1], 'Odometry.pose.pose.position'),
    ([0, 0, 0], [0, 0, 0, 2.0], 'Odometry.pose.pose.orientation'),
    ([0, 0, 0], [0, 0, float('nan'), 1], 'Odometry.pose.pose.orientation'),
    ([0, 0, 0], [0, 0, 0, 0], 'Odometry.pose.pose.orientation'),
])
def test_bad_odometry_is_rejected_naming_the_field(position, orientation, field):
    with pytest.raises(BadMessageError, match=field.replace('.', r'\.')):
        PoseBuffer().add(0, position, orientation)


def test_pipeline_camera_pose_applies_camera_to_base():
    pipeline = TriangulationPipeline(TriangulationParams())
    pipeline.add_odometry(0, [1.0, 2.0, 0.5], yaw_quaternion(math.pi / 2))
    camera_pose, reason = pipeline.camera_pose(0)
    assert reason == ''
    np.testing.assert_allclose(camera_pose[:3, 3], [1.0, 2.0, 0.5])
    # Default extrinsics: the optical z axis looks along base +x, which the yaw turns to +y.
    np.testing.assert_allclose(camera_pose[:3, 2], [0.0, 1.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(camera_pose[:3, 0], [1.0, 0.0, 0.0], atol=1e-12)  # x right


def test_pipeline_rejects_bad_odometry():
    with pytest.raises(BadMessageError):
        TriangulationPipeline().add_odometry(0, [0, 0, 0], [0, 0, 0.5, 0.5])
