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

"""Tests of the TUM RGB-D reader: stamps, lists, association, trajectories and cameras."""

import shutil

import numpy as np
import pytest

from mono_depth_ros.core import tum
from mono_depth_ros.core.errors import BadMessageError
from mono_depth_ros.core.transforms import default_camera_to_base, pose_matrix
from mono_depth_ros.synth import render_sequence, write_sequence


@pytest.fixture(scope='module')
def synthetic_dir(tmp_path_factory):
    sequence = render_sequence(frames=4, width=64, height=48, seed=1, supersample=1)
    out = tmp_path_factory.mktemp('tum') / 'sequence'
    write_sequence(sequence, out)
    return out, sequence


def test_stamps_parse_to_exact_nanoseconds_and_format_back():
    assert tum.parse_stamp('1305031102.175304') == 1_305_031_102_175_304_000
    assert tum.parse_stamp('12') == 12_000_000_000
    assert tum.parse_stamp('-1.5') == -1_500_000_000
    assert tum.parse_stamp('0.1234567891') == 123_456_789
    assert tum.format_stamp(1_305_031_102_175_304_999) == '1305031102.175304'
    with pytest.raises(BadMessageError, match='timestamp'):
        tum.parse_stamp('1.2e3')


def test_lists_skip_comments_keep_the_header_and_sort_by_stamp(tmp_path):
    path = tmp_path / 'rgb.txt'
    path.write_text('# color images\n# sequence: fr1_xyz\n# timestamp filename\n'
                    '2.000000 rgb/2.png\n\n1.500000 rgb/1.5.png\n')
    entries, header = tum.read_list(path)
    assert [e.stamp_ns for e in entries] == [1_500_000_000, 2_000_000_000]
    assert entries[0].values == ('rgb/1.5.png',)
    assert entries[0].stamp_text == '1.500000'
    assert header == {'sequence': 'fr1_xyz'}


def test_a_list_line_without_a_timestamp_names_the_file_and_line(tmp_path):
    path = tmp_path / 'depth.txt'
    path.write_text('1.0 depth/1.png\nnot-a-stamp depth/2.png\n')
    with pytest.raises(BadMessageError, match='depth.txt line 2'):
        tum.read_list(path)


def test_association_is_greedy_one_to_one_by_time_difference():
    ms = 1_000_000
    first = [0, 10 * ms, 20 * ms, 100 * ms]
    second = [9 * ms, 12 * ms, 19 * ms, 400 * ms]
    # By difference: (1,0) 1 ms and (2,2) 1 ms are taken; (1,1) 2 ms, (2,1) 8 ms, (0,0) 9 ms ...
    # reuse a taken stamp; (0,1) 12 ms is free. 100 ms and 400 ms have no partner within 20 ms.
    assert tum.associate(first, second, 20 * ms) == [(0, 1), (1, 0), (2, 2)]
    assert tum.associate(first, second, 5 * ms) == [(1, 0), (2, 2)]
    assert tum.associate(first, second, 0) == []
    # The offset is added to the second list before matching.
    assert tum.associate([100 * ms], [0], 1 * ms, offset_ns=100 * ms) == [(0, 0)]
    assert tum.associate([], second) == []


def test_association_breaks_equal_differences_towards_lower_indices():
    ms = 1_000_000
    assert tum.associate([10 * ms], [5 * ms, 15 * ms], 20 * ms) == [(0, 0)]
    assert tum.associate([5 * ms, 15 * ms], [10 * ms], 20 * ms) == [(0, 0)]


def test_trajectory_reads_normalised_poses_and_converts_them_to_base_poses(tmp_path):
    path = tmp_path / 'groundtruth.txt'
    path.write_text('# timestamp tx ty tz qx qy qz qw\n'
                    '1.0 1 2 3 0 0 0 2\n'
                    '1.1 1.5 2 3 0 0 0.7071068 0.7071068\n')
    trajectory = tum.read_trajectory(path)
    assert list(trajectory.stamps_ns) == [1_000_000_000, 1_100_000_000]
    np.testing.assert_allclose(trajectory.quaternions[0], [0, 0, 0, 1])
    camera_to_base = default_camera_to_base()
    camera_to_base[:3, 3] = (0.2, 0.0, 0.5)
    base = tum.base_trajectory(trajectory, camera_to_base)
    for camera_pose, base_pose in zip(trajectory.poses(), base.poses()):
        np.testing.assert_allclose(base_pose @ camera_to_base, camera_pose, atol=1e-9)


def test_a_trajectory_line_with_missing_values_is_refused(tmp_path):
    path = tmp_path / 'groundtruth.txt'
    path.write_text('1.0 1 2 3 0 0 0\n')
    with pytest.raises(BadMessageError, match='tx ty tz qx qy qz qw'):
        tum.read_trajectory(path)


def test_tum_cameras_have_the_published_intrinsics_and_scale_to_other_sizes():
    fr1 = tum.tum_camera('fr1')
    assert (fr1.width, fr1.height) == (640, 480)
    np.testing.assert_allclose([fr1.fx, fr1.fy, fr1.cx, fr1.cy],
                               [517.306408, 516.469215, 318.643040, 255.313989])
    assert fr1.is_distorted
    assert not tum.tum_camera('fr3').is_distorted
    half = tum.tum_camera('ros', 320, 240)
    np.testing.assert_allclose([half.fx, half.cx], [262.5, (319.5 + 0.5) * 0.5 - 0.5])
    with pytest.raises(BadMessageError, match='fr1'):
        tum.tum_camera('fr9')


def test_the_synthetic_directory_reads_as_a_tum_dataset(synthetic_dir):
    root, sequence = synthetic_dir
    dataset = tum.read_tum_directory(root)
    assert dataset.camera_source.endswith('camera.yaml')
    np.testing.assert_allclose(dataset.camera.intrinsic_matrix, sequence.k)
    assert [e.stamp_ns for e in dataset.rgb] == [f.stamp_ns for f in sequence.frames]
    assert len(dataset.rgb_depth_pairs()) == len(sequence.frames)
    assert dataset.path(dataset.rgb[0]).is_file()
    np.testing.assert_allclose(dataset.camera_to_base(), sequence.camera_to_base, atol=1e-9)
    camera_poses = dataset.groundtruth.poses()
    for frame, pose in zip(sequence.frames, camera_poses):
        np.testing.assert_allclose(pose, frame.camera_pose, atol=1e-6)


def test_without_camera_yaml_the_directory_name_or_an_option_picks_the_camera(
        synthetic_dir, tmp_path):
    root, _ = synthetic_dir
    named = tmp_path / 'rgbd_dataset_freiburg2_desk'
    shutil.copytree(root, named)
    (named / 'camera.yaml').unlink()
    dataset = tum.read_tum_directory(named)
    assert dataset.camera_source == 'TUM fr2 calibration'
    assert (dataset.camera.width, dataset.camera.height) == (64, 48)  # scaled to the images
    assert tum.read_tum_directory(named, 'fr3').camera_source == 'TUM fr3 calibration'
    anonymous = tmp_path / 'recording'
    named.rename(anonymous)
    with pytest.raises(BadMessageError, match='camera.yaml'):
        tum.read_tum_directory(anonymous)


def test_camera_yaml_round_trips_the_calibration(synthetic_dir):
    root, sequence = synthetic_dir
    camera = tum.camera_from_yaml(root / 'camera.yaml')
    assert (camera.width, camera.height) == (sequence.width, sequence.height)
    np.testing.assert_allclose(camera.p[:, :3], sequence.k)


def test_header_pose_is_read_from_groundtruth(tmp_path):
    (tmp_path / 'rgb.txt').write_text('1.0 rgb/1.png\n')
    (tmp_path / 'camera.yaml').write_text(
        'image_width: 4\nimage_height: 3\ncamera_matrix:\n  data: [2, 0, 2, 0, 2, 1.5, 0, 0, 1]\n')
    (tmp_path / 'groundtruth.txt').write_text(
        '# camera_to_base: 0.1 0 0.3 0 0 0 1\n1.0 0 0 0 0 0 0 1\n')
    dataset = tum.read_tum_directory(tmp_path)
    np.testing.assert_allclose(dataset.camera_to_base(),
                               pose_matrix((0.1, 0, 0.3), (0, 0, 0, 1)))
    assert dataset.depth == []


def test_written_lists_and_trajectories_read_back(tmp_path):
    stamps = [1_305_031_102_175_304_000, 1_305_031_102_211_214_000]
    tum.write_list(tmp_path / 'rgb.txt', stamps, ['rgb/a.png', 'rgb/b.png'], 'color images')
    entries, _ = tum.read_list(tmp_path / 'rgb.txt')
    assert [(e.stamp_ns, e.values) for e in entries] == [(stamps[0], ('rgb/a.png',)),
                                                         (stamps[1], ('rgb/b.png',))]
    poses = [pose_matrix((1, 2, 3), (0, 0, 0, 1)),
             pose_matrix((0.5, -1, 2), (0.1, -0.2, 0.3, 0.927362))]
    tum.write_trajectory(tmp_path / 'groundtruth.txt', stamps, [p[:3] for p in poses])
    trajectory = tum.read_trajectory(tmp_path / 'groundtruth.txt')
    assert list(trajectory.stamps_ns) == stamps
    for read, written in zip(trajectory.poses(), poses):
        np.testing.assert_allclose(read, written, atol=1e-6)


def test_pose_at_interpolates_between_samples_and_refuses_a_gap():
    from mono_depth_ros.core.tum import Trajectory

    half_turn_z = [0.0, 0.0, 1.0, 0.0]
    trajectory = Trajectory(np.array([0, 1_000_000_000], dtype=np.int64),
                            np.array([[0.0, 0.0, 0.0], [2.0, 0.0, 0.0]]),
                            np.array([[0.0, 0.0, 0.0, 1.0], half_turn_z]))
    middle = trajectory.pose_at(500_000_000, max_gap_ns=2_000_000_000)
    np.testing.assert_allclose(middle[:3, 3], [1.0, 0.0, 0.0])
    np.testing.assert_allclose(middle[:2, :2], [[0.0, -1.0], [1.0, 0.0]], atol=1e-12)
    assert trajectory.pose_at(500_000_000, max_gap_ns=100_000_000) is None
    assert trajectory.pose_at(5_000_000_000) is None
