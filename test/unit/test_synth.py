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

"""Tests of the synthetic sequence: exact depth and poses, determinism, bag and TUM files."""

import cv2
import numpy as np
import pytest
import yaml

from mono_depth_ros.core.errors import BadMessageError
from mono_depth_ros.core.transforms import default_camera_to_base, invert_pose
from mono_depth_ros.synth import (BAG_TOPICS, FRAME_IDS, intrinsics, load_sequence,
                                  parse_tum_stamp, render_sequence, tum_stamp, write_sequence)
from mono_depth_ros.synth.renderer import Renderer
from mono_depth_ros.synth.scene import base_pose_at, build_scene, ROOM_MAX, ROOM_MIN
from mono_depth_ros.tools import cli

WIDTH, HEIGHT = 160, 120
SEED = 3


@pytest.fixture(scope='module')
def sequence():
    return render_sequence(frames=12, width=WIDTH, height=HEIGHT, seed=SEED)


@pytest.fixture(scope='module')
def written(sequence, tmp_path_factory):
    out = tmp_path_factory.mktemp('synth')
    return out, write_sequence(sequence, out)


def back_project(sequence, frame, stride: int = 1) -> np.ndarray:
    """Return the (N, 3) odometry-frame points of a frame's pixel centres at their depth."""
    v, u = np.mgrid[0:sequence.height:stride, 0:sequence.width:stride]
    rays = np.stack([u.ravel(), v.ravel(), np.ones(u.size)]) .T @ np.linalg.inv(sequence.k).T
    points = rays * frame.depth[v.ravel(), u.ravel()].astype(np.float64)[:, None]
    return points @ frame.camera_pose[:3, :3].T + frame.camera_pose[:3, 3]


def box_excess(box, points: np.ndarray) -> np.ndarray:
    """Return how far points stick out of a box (0 on its surface, negative inside)."""
    local = (points - box.center) @ box.rotation
    return np.max(np.abs(local) - box.half_extent, axis=-1)


def test_same_seed_renders_identical_frames_and_other_seeds_differ():
    first = render_sequence(frames=3, width=64, height=48, seed=7)
    again = render_sequence(frames=3, width=64, height=48, seed=7)
    other = render_sequence(frames=3, width=64, height=48, seed=8)
    for a, b, c in zip(first.frames, again.frames, other.frames):
        assert np.array_equal(a.rgb, b.rgb) and np.array_equal(a.depth, b.depth)
        assert np.array_equal(a.camera_pose, b.camera_pose)
        assert not np.array_equal(a.rgb, c.rgb)
    assert not np.array_equal(first.frames[0].depth, other.frames[0].depth)


def test_frames_have_finite_positive_depth_and_textured_colour(sequence):
    for frame in sequence.frames:
        assert frame.rgb.shape == (HEIGHT, WIDTH, 3) and frame.rgb.dtype == np.uint8
        assert frame.depth.shape == (HEIGHT, WIDTH) and frame.depth.dtype == np.float32
        assert np.all(np.isfinite(frame.depth))
        assert 1.0 < frame.depth.min() and frame.depth.max() < 13.0
        assert frame.rgb.std() > 20.0
        corners = cv2.goodFeaturesToTrack(cv2.cvtColor(frame.rgb, cv2.COLOR_RGB2GRAY), 200,
                                          0.01, 3)
        assert corners is not None and len(corners) > 50


def test_intrinsics_have_off_centre_principal_point(sequence):
    k = sequence.k
    assert k[0, 0] == k[1, 1] == pytest.approx(0.8 * WIDTH)
    assert k[0, 2] == pytest.approx(WIDTH / 2 + 7.3)
    assert k[1, 2] == pytest.approx(HEIGHT / 2 - 5.1)
    info = sequence.camera_info_fields()
    assert info['distortion_model'] == 'plumb_bob' and info['d'] == [0.0] * 5
    assert info['k'] == k.ravel().tolist()
    assert info['p'] == [k[0, 0], 0.0, k[0, 2], 0.0, 0.0, k[1, 1], k[1, 2], 0.0, 0, 0, 1, 0]
    assert (info['width'], info['height']) == (WIDTH, HEIGHT)


def test_first_frame_sees_the_far_wall_at_its_exact_z_depth(sequence):
    # At time zero the base is at the odometry origin facing +x: the wall at x = ROOM_MAX[0]
    # faces the camera, so its z-depth is the same at every pixel that sees it.
    frame = sequence.frames[0]
    assert np.allclose(frame.base_pose, np.eye(4))
    far_wall = frame.depth > ROOM_MAX[0] - 1e-3
    assert far_wall.sum() > 100
    assert np.abs(frame.depth[far_wall] - ROOM_MAX[0]).max() < 2e-6


def assert_pixels_see_the_nearest_scene_surface(sequence, frame, seed: int) -> None:
    """Check that every pixel's depth puts it on a surface with nothing in front of it."""
    scene = build_scene(seed)
    points = back_project(sequence, frame)
    room = scene.room
    room_local = np.abs((points - room.center) @ room.rotation) - room.half_extent
    on_room = np.abs(room_local.max(axis=1)) < 1e-4
    excess = np.stack([box_excess(box, points) for box in scene.boxes])
    on_box = np.abs(excess).min(axis=0) < 1e-4
    assert np.all(on_room | on_box)
    assert np.all(excess > -1e-4), 'a point lies inside a box'
    assert np.all(room_local.max(axis=1) < 1e-4), 'a point lies outside the room'
    # Nothing stands between the camera and the point it sees.
    sparse = back_project(sequence, frame, stride=3)
    centre = frame.camera_pose[:3, 3]
    distances = np.linalg.norm(sparse - centre, axis=1)
    fractions = np.linspace(0.0, 1.0, 80)[:, None] * (1.0 - 1e-3 / distances)
    along = centre + fractions[..., None] * (sparse - centre)
    assert min(box_excess(box, along).min() for box in scene.boxes) > 0.0


def test_back_projected_pixels_lie_on_the_nearest_scene_surface(sequence):
    for frame in sequence.frames[::5]:
        assert_pixels_see_the_nearest_scene_surface(sequence, frame, SEED)


def test_depth_is_exact_for_a_raised_pitched_camera():
    camera_to_base = default_camera_to_base()
    camera_to_base[:3, :3] = camera_to_base[:3, :3] @ cv2.Rodrigues(np.array([0.2, 0.0, 0.0]))[0]
    camera_to_base[:3, 3] = (0.1, -0.05, 0.4)
    raised = render_sequence(frames=20, width=64, height=48, seed=4, fps=3.0,
                             camera_to_base=camera_to_base)
    assert np.allclose(raised.camera_to_base, camera_to_base)
    for frame in raised.frames[::6]:
        assert np.allclose(frame.camera_pose, frame.base_pose @ camera_to_base)
        assert_pixels_see_the_nearest_scene_surface(raised, frame, 4)


def test_box_screen_bounds_never_cut_off_a_visible_box():
    class Unbounded(Renderer):
        def _screen_bounds(self, box, camera_pose):
            return 0, self._x_norm.size, 0, self._y_norm.size

    scene = build_scene(6)
    k = intrinsics(48, 36)
    bounded, unbounded = Renderer(scene, k, 48, 36), Unbounded(scene, k, 48, 36)
    poses = [base_pose_at(time_s) @ default_camera_to_base() for time_s in np.arange(0, 44, 1.1)]
    for box in scene.boxes:
        # Beside the box, looking along it: half of the box is behind the camera.
        forward = box.rotation @ np.array([-np.sin(0.3), np.cos(0.3), 0.0])
        down = np.array([0.0, 0.0, -1.0])
        pose = np.eye(4)
        pose[:3, :3] = np.column_stack([np.cross(down, forward), down, forward])
        pose[:3, 3] = box.center + box.rotation @ np.array([box.half_extent[0] + 0.5, 0, 0])
        poses.append(pose)
    for camera_pose in poses:
        rgb, depth = bounded.render(camera_pose)
        expected_rgb, expected_depth = unbounded.render(camera_pose)
        assert np.array_equal(rgb, expected_rgb) and np.array_equal(depth, expected_depth)


def test_world_points_reproject_between_frames_with_matching_depth_and_colour(sequence):
    first, later = sequence.frames[0], sequence.frames[8]
    points = back_project(sequence, first)
    to_later = invert_pose(later.camera_pose)
    in_later = points @ to_later[:3, :3].T + to_later[:3, 3]
    pixels = in_later @ sequence.k.T
    u, v = pixels[:, 0] / pixels[:, 2], pixels[:, 1] / pixels[:, 2]
    inside = (u > 1) & (u < WIDTH - 2) & (v > 1) & (v < HEIGHT - 2)
    u, v = u.astype(np.float32)[:, None], v.astype(np.float32)[:, None]
    later_depth = cv2.remap(later.depth, u, v, cv2.INTER_LINEAR)[:, 0]
    relative_error = np.abs(later_depth - in_later[:, 2]) / in_later[:, 2]
    visible = inside & (relative_error < 0.02)
    assert visible.sum() > 0.6 * WIDTH * HEIGHT
    # Depth is piecewise planar, so away from edges the interpolated depth is all but exact.
    assert np.median(relative_error[visible]) < 1e-4
    later_colour = cv2.remap(later.rgb.astype(np.float32), u, v, cv2.INTER_LINEAR)[:, 0]
    first_colour = first.rgb.reshape(-1, 3).astype(np.float32)
    matched = np.abs(later_colour - first_colour)[visible].mean()
    shuffled = np.abs(later_colour[visible] - np.roll(first_colour[visible], 997, axis=0))
    assert matched < 12.0 and matched < 0.3 * shuffled.mean()


def test_camera_pose_is_the_base_pose_composed_with_camera_to_base(sequence):
    assert np.allclose(sequence.camera_to_base, default_camera_to_base())
    for frame in sequence.frames:
        assert np.allclose(frame.camera_pose, frame.base_pose @ sequence.camera_to_base)
        assert np.allclose(frame.base_pose[:3, :3] @ frame.base_pose[:3, :3].T, np.eye(3))


def test_odometry_runs_at_twice_the_frame_rate_and_its_twist_matches_the_motion(sequence):
    frame_stamps = [frame.stamp_ns for frame in sequence.frames]
    odometry = sequence.odometry
    assert len(odometry) == 2 * len(frame_stamps) + 1
    stamps = [sample.stamp_ns for sample in odometry]
    assert stamps == sorted(stamps) and stamps[0] < frame_stamps[0] < frame_stamps[-1] < stamps[-1]
    assert set(frame_stamps) <= set(stamps)
    assert abs(np.diff(stamps).mean() - 0.5e9 / sequence.fps) < 1e3
    for before, sample, after in zip(odometry, odometry[1:], odometry[2:]):
        dt = (after.stamp_ns - before.stamp_ns) * 1e-9
        rotation = sample.base_pose[:3, :3]
        velocity = rotation.T @ (after.base_pose[:3, 3] - before.base_pose[:3, 3]) / dt
        assert np.allclose(sample.base_twist[0], velocity, atol=5e-3)
        spin = rotation.T @ (after.base_pose[:3, :3] - before.base_pose[:3, :3]) / dt
        angular = 0.5 * np.array([spin[2, 1] - spin[1, 2], spin[0, 2] - spin[2, 0],
                                  spin[1, 0] - spin[0, 1]])
        assert np.allclose(sample.base_twist[1], angular, atol=5e-3)
    speed = np.linalg.norm(odometry[1].base_twist[0])
    assert 0.4 < speed < 0.6 and odometry[1].base_twist[0][0] > 0.4


def test_long_sequences_stay_in_the_room_within_depth_png_range():
    # One frame every 2 s covers the whole loop of the path (about 44 s).
    long_run = render_sequence(frames=24, width=48, height=36, seed=5, fps=0.5, supersample=1)
    depths = np.stack([frame.depth for frame in long_run.frames])
    assert depths.min() > 1.0 and depths.max() < 65535 / 5000
    positions = np.stack([frame.base_pose[:3, 3] for frame in long_run.frames])
    assert np.all(positions[:, :2] > np.array(ROOM_MIN[:2]) + 2.0)
    assert np.all(positions[:, :2] < np.array(ROOM_MAX[:2]) - 2.0)
    assert np.all(np.abs(positions[:, 2]) < 0.1)


def test_bad_arguments_raise_bad_message_error():
    with pytest.raises(BadMessageError, match='frames'):
        render_sequence(frames=0)
    with pytest.raises(BadMessageError, match='fps'):
        render_sequence(frames=1, width=8, height=8, fps=0.0)


def test_written_bag_reads_back_with_rosbags(sequence, written):
    from mono_depth_ros import bags

    out, paths = written
    assert paths['bag'] == out / 'sequence.mcap' and paths['bag'].is_file()
    metadata = yaml.safe_load((paths['bag_dir'] / 'metadata.yaml').read_text())
    info = metadata['rosbag2_bagfile_information']
    # Version 8 keeps each topic's QoS profiles as one YAML string, which Humble can read.
    assert info['version'] == 8
    assert all(isinstance(topic['topic_metadata']['offered_qos_profiles'], str)
               for topic in info['topics_with_message_count'])
    frames = {frame.stamp_ns: frame for frame in sequence.frames}
    for bag in (paths['bag'], paths['bag_dir']):
        with bags.open_reader(bag) as reader:
            counts = {topic: count for topic, (_, count) in reader.topics.items()}
            assert counts == {BAG_TOPICS['image']: 12, BAG_TOPICS['camera_info']: 12,
                              BAG_TOPICS['odom']: 25}
            log_times = []
            for record in reader.messages():
                log_time = record.log_time_ns
                message = bags.deserialize(record.data, record.msgtype)
                stamp = message.header.stamp.sec * 10**9 + message.header.stamp.nanosec
                assert stamp == log_time
                log_times.append(log_time)
                if record.topic == BAG_TOPICS['image']:
                    assert message.encoding == 'rgb8' and message.step == 3 * WIDTH
                    assert message.header.frame_id == FRAME_IDS['camera']
                    image = message.data.reshape(message.height, message.width, 3)
                    assert np.array_equal(image, frames[stamp].rgb)
                elif record.topic == BAG_TOPICS['camera_info']:
                    assert message.k.tolist() == sequence.k.ravel().tolist()
                    assert message.header.frame_id == FRAME_IDS['camera']
                else:
                    assert message.header.frame_id == FRAME_IDS['odom']
                    assert message.child_frame_id == FRAME_IDS['base']
                    if stamp in frames:
                        position = message.pose.pose.position
                        assert np.allclose([position.x, position.y, position.z],
                                           frames[stamp].base_pose[:3, 3], atol=1e-12)
                        assert message.twist.twist.linear.x == pytest.approx(
                            frames[stamp].base_twist[0][0])
            assert log_times == sorted(log_times)


def test_tum_files_hold_depth_poses_and_calibration(sequence, written):
    out, paths = written
    first = sequence.frames[0]
    depth_png = cv2.imread(str(out / 'depth' / f'{tum_stamp(first.stamp_ns)}.png'),
                           cv2.IMREAD_UNCHANGED)
    assert depth_png.dtype == np.uint16
    assert np.abs(depth_png / 5000.0 - first.depth).max() <= 0.5 / 5000 + 1e-6
    lines = paths['groundtruth'].read_text().splitlines()
    assert lines[0].startswith('#') and 'camera optical frame' in lines[0]
    rows = [line.split() for line in lines if not line.startswith('#')]
    assert len(rows) == len(sequence.frames) and all(len(row) == 8 for row in rows)
    for row, frame in zip(rows, sequence.frames):
        assert parse_tum_stamp(row[0]) == frame.stamp_ns
        assert np.allclose([float(value) for value in row[1:4]], frame.camera_pose[:3, 3],
                           atol=1e-8)
        assert abs(np.linalg.norm([float(value) for value in row[4:]]) - 1.0) < 1e-8
    listed = [line.split() for line in paths['rgb_list'].read_text().splitlines()
              if not line.startswith('#')]
    assert [entry[1] for entry in listed] == [f'rgb/{row[0]}.png' for row in rows]
    calibration = yaml.safe_load(paths['camera_yaml'].read_text())
    assert (calibration['image_width'], calibration['image_height']) == (WIDTH, HEIGHT)
    assert calibration['camera_matrix']['data'] == sequence.k.ravel().tolist()
    assert calibration['projection_matrix']['cols'] == 4
    assert calibration['distortion_model'] == 'plumb_bob'


def test_load_sequence_round_trips_what_was_written(sequence, written):
    out, _ = written
    loaded = load_sequence(out)
    assert (loaded.width, loaded.height, loaded.fps) == (WIDTH, HEIGHT, sequence.fps)
    assert np.allclose(loaded.k, sequence.k, atol=0, rtol=0)
    assert np.allclose(loaded.camera_to_base, sequence.camera_to_base, atol=1e-12)
    assert len(loaded.odometry) == len(sequence.odometry)
    for original, copy in zip(sequence.frames, loaded.frames):
        assert copy.stamp_ns == original.stamp_ns and copy.index == original.index
        assert np.array_equal(copy.rgb, original.rgb)
        assert np.abs(copy.depth - original.depth).max() <= 0.5 / 5000 + 1e-6
        assert np.allclose(copy.camera_pose, original.camera_pose, atol=1e-8)
        assert np.allclose(copy.base_pose, original.base_pose, atol=1e-8)
        assert np.allclose(copy.base_twist[0], original.base_twist[0], atol=1e-12)
        assert np.allclose(copy.base_twist[1], original.base_twist[1], atol=1e-12)


def test_load_sequence_without_a_bag_estimates_twist_from_poses(sequence, written, tmp_path):
    out, paths = written
    for key in ('rgb', 'depth'):
        (tmp_path / key).mkdir()
        for png in paths[key].glob('*.png'):
            (tmp_path / key / png.name).write_bytes(png.read_bytes())
    for key in ('rgb_list', 'depth_list', 'groundtruth', 'camera_yaml'):
        (tmp_path / paths[key].name).write_text(paths[key].read_text())
    loaded = load_sequence(tmp_path)
    assert loaded.odometry == []
    for original, copy in zip(sequence.frames[1:-1], loaded.frames[1:-1]):
        assert np.allclose(copy.base_twist[0], original.base_twist[0], atol=5e-3)
        assert np.allclose(copy.base_twist[1], original.base_twist[1], atol=5e-3)


def test_tum_stamps_name_microsecond_stamps_exactly():
    assert tum_stamp(1_700_000_000_066_667_000) == '1700000000.066667'
    assert parse_tum_stamp('1700000000.066667') == 1_700_000_000_066_667_000
    with pytest.raises(BadMessageError):
        parse_tum_stamp('yesterday')


def test_synth_command_writes_the_sequence(tmp_path, capsys):
    out = tmp_path / 'cli'
    assert cli.main(['synth', '--out', str(out), '--frames', '3', '--width', '64',
                     '--height', '48', '--seed', '2']) == 0
    printed = capsys.readouterr().out
    assert 'sequence.mcap' in printed and 'rendered 3 frames' in printed
    assert len(list((out / 'rgb').glob('*.png'))) == 3
    assert len(list((out / 'depth').glob('*.png'))) == 3
    # Writing again is refused, as process-bag refuses, and --overwrite replaces the output.
    again = ['synth', '--out', str(out), '--frames', '2', '--width', '64', '--height', '48']
    assert cli.main(again) == 2
    assert 'exists and is not empty' in capsys.readouterr().err
    assert len(list((out / 'rgb').glob('*.png'))) == 3
    assert cli.main([*again, '--overwrite']) == 0
    assert len(list((out / 'rgb').glob('*.png'))) == 2
