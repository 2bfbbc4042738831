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

"""Tests of ``mono-depth-ros process-bag``: real bags in, real bags out, read back."""

from collections import defaultdict
import json
import shutil

import cv2
import numpy as np
import pytest

from mono_depth_ros import bags
from mono_depth_ros.core.camera_model import CameraModel
from mono_depth_ros.core.image_codec import image_to_numpy, numpy_to_image
from mono_depth_ros.core.pointcloud import read_cloud
from mono_depth_ros.core.transforms import matrix_to_quaternion
from mono_depth_ros.core.triangulation.pipeline import (sparse_depth_image, sparse_sigma_image,
                                                        TriangulationParams, TriangulationPipeline)
from mono_depth_ros.synth import BAG_TOPICS, FRAME_IDS, render_sequence, write_sequence
from mono_depth_ros.tools import cli

rosbags = pytest.importorskip('rosbags')

WIDTH, HEIGHT, FRAMES = 320, 240, 52
TRIANGULATION_TOPICS = {'/camera/triangulation/depth', '/camera/triangulation/sigma',
                        '/camera/triangulation/points', '/camera/triangulation/tracks'}
INPUT_TOPICS = set(BAG_TOPICS.values())


@pytest.fixture(scope='module')
def synthetic(tmp_path_factory):
    sequence = render_sequence(frames=FRAMES, width=WIDTH, height=HEIGHT, seed=0, supersample=1)
    root = tmp_path_factory.mktemp('process_bag') / 'synthetic'
    paths = write_sequence(sequence, root)
    return sequence, paths


@pytest.fixture(scope='module')
def triangulated(synthetic, tmp_path_factory):
    """The triangulation-mode output of the synthetic single-file MCAP bag."""
    _, paths = synthetic
    out = tmp_path_factory.mktemp('triangulated') / 'out'
    assert cli.main(['process-bag', str(paths['bag']), '--out', str(out), '--quiet']) == 0
    return out


def read_bag(path):
    """Return {topic: [(log time, message)]}, {topic: connection} and whether log times rise."""
    messages = defaultdict(list)
    with bags.open_reader(path) as reader:
        connections = {c.topic: c for c in reader.connections}
        last, ordered = -1, True
        for record in reader.messages():
            ordered &= record.log_time_ns >= last
            last = record.log_time_ns
            messages[record.topic].append((record.log_time_ns, reader.deserialize(record)))
    return messages, connections, ordered


def stamp_of(message) -> int:
    return message.header.stamp.sec * 1_000_000_000 + message.header.stamp.nanosec


def depth_by_stamp(messages, topic: str) -> dict[int, np.ndarray]:
    return {stamp_of(m): image_to_numpy(m) for _, m in messages[topic]}


def write_input_bag(path, sequence, *, image_topic=None, info_topic=None, odom_topic=None,
                    compressed=False, frames=None, odom_delay_ns=0):
    """Write chosen topics of a sequence to a bag (receive time = stamp, + delay for odom)."""
    build = bags.messages
    info = sequence.camera_info_fields()
    events = []
    chosen = sequence.frames[:frames] if frames else sequence.frames
    for frame in chosen:
        camera = build.header(frame.stamp_ns, FRAME_IDS['camera'])
        if info_topic:
            events.append((frame.stamp_ns, 1, info_topic, 'sensor_msgs/msg/CameraInfo',
                           build.camera_info(info, camera)))
        if image_topic and compressed:
            ok, png = cv2.imencode('.png', cv2.cvtColor(frame.rgb, cv2.COLOR_RGB2BGR))
            assert ok
            events.append((frame.stamp_ns, 2, image_topic, 'sensor_msgs/msg/CompressedImage',
                           build.compressed_image('rgb8; png compressed bgr8', png.reshape(-1),
                                                  camera)))
        elif image_topic:
            events.append((frame.stamp_ns, 2, image_topic, 'sensor_msgs/msg/Image',
                           build.image(numpy_to_image(frame.rgb, 'rgb8'), camera)))
    if odom_topic:
        for sample in sequence.odometry:
            q = matrix_to_quaternion(sample.base_pose[:3, :3])
            events.append((sample.stamp_ns + odom_delay_ns, 0, odom_topic,
                           'nav_msgs/msg/Odometry',
                           build.odometry(build.header(sample.stamp_ns, 'odom'), 'base',
                                          sample.base_pose[:3, 3], q)))
    events.sort(key=lambda event: event[:2])
    # Version 9, as Jazzy and Kilted record: process-bag reads what they write.
    with bags.BagWriter(path, 'mcap', version=9) as writer:
        connections = {}
        for stamp, _, topic, msgtype, message in events:
            if topic not in connections:
                connections[topic] = writer.add_topic(topic, msgtype)
            writer.write_message(connections[topic], stamp, message)
    return path


def test_triangulation_mode_writes_the_node_topics_at_the_input_stamps(synthetic, triangulated):
    sequence, _ = synthetic
    messages, connections, ordered = read_bag(triangulated)
    assert set(messages) == INPUT_TOPICS | TRIANGULATION_TOPICS
    assert ordered
    stamps = [frame.stamp_ns for frame in sequence.frames]
    for topic in TRIANGULATION_TOPICS:
        assert [stamp_of(m) for _, m in messages[topic]] == stamps
        assert [t for t, _ in messages[topic]] == stamps  # recorded at the images' receive time
        assert {m.header.frame_id for _, m in messages[topic]} == {FRAME_IDS['camera']}
        # Standard definitions and type hashes, so that ros2 bag info and play read the bag.
        assert connections[topic].msgdef.data and connections[topic].digest.startswith('RIHS01')
    depth = messages['/camera/triangulation/depth'][-1][1]
    tracks = messages['/camera/triangulation/tracks'][-1][1]
    assert (depth.encoding, depth.width, depth.height) == ('32FC1', WIDTH, HEIGHT)
    assert (tracks.encoding, tracks.width, tracks.height) == ('bgr8', WIDTH, HEIGHT)
    cloud = messages['/camera/triangulation/points'][-1][1]
    assert [f.name for f in cloud.fields] == ['x', 'y', 'z', 'sigma'] and cloud.height == 1
    sigma = messages['/camera/triangulation/sigma'][-1][1]
    assert (sigma.encoding, sigma.width, sigma.height) == ('32FC1', WIDTH, HEIGHT)
    np.testing.assert_array_equal(np.isfinite(image_to_numpy(sigma)),
                                  np.isfinite(image_to_numpy(depth)))
    assert cloud.width == np.count_nonzero(np.isfinite(image_to_numpy(depth))) > 20
    assert len(messages['/odom']) == len(sequence.odometry)
    assert (triangulated / 'metadata.yaml').is_file()
    assert list(triangulated.glob('*.mcap'))


def test_triangulated_depth_is_what_the_core_pipeline_gives_directly(synthetic, triangulated):
    sequence, _ = synthetic
    k = sequence.k
    camera = CameraModel.from_intrinsics(k[0, 0], k[1, 1], k[0, 2], k[1, 2], WIDTH, HEIGHT)
    pipeline = TriangulationPipeline(TriangulationParams())
    odometry = iter(sequence.odometry)
    pending = next(odometry)
    expected, expected_sigma = {}, {}
    for frame in sequence.frames:
        while pending is not None and pending.stamp_ns <= frame.stamp_ns:
            pipeline.add_odometry(pending.stamp_ns, pending.base_pose[:3, 3],
                                  matrix_to_quaternion(pending.base_pose[:3, :3]))
            pending = next(odometry, None)
        result = pipeline.process_frame(frame.stamp_ns,
                                        cv2.cvtColor(frame.rgb, cv2.COLOR_RGB2GRAY), camera)
        expected[frame.stamp_ns] = sparse_depth_image(result, WIDTH, HEIGHT)
        expected_sigma[frame.stamp_ns] = sparse_sigma_image(result, WIDTH, HEIGHT)
    messages, _, _ = read_bag(triangulated)
    written = depth_by_stamp(messages, '/camera/triangulation/depth')
    assert written.keys() == expected.keys()
    for stamp, depth in expected.items():
        np.testing.assert_array_equal(written[stamp], depth)
    written_sigma = depth_by_stamp(messages, '/camera/triangulation/sigma')
    for stamp, sigma in expected_sigma.items():
        np.testing.assert_array_equal(written_sigma[stamp], sigma)
    errors = [np.abs(written[f.stamp_ns] - f.depth) / f.depth for f in sequence.frames]
    assert np.nanmedian(np.concatenate([e[np.isfinite(e)] for e in errors])) < 0.05


def test_both_mode_with_a_relative_model_scales_the_network_by_triangulation(
        synthetic, package_root, tmp_path, capsys):
    """The committed demo network (a real relative model: random weights are not inverse-depth
    like, and their fits are refused) scaled by the triangulated points."""
    sequence, paths = synthetic
    out = tmp_path / 'both'
    model = package_root / 'models' / 'demo' / 'model.onnx'
    code = cli.main(['process-bag', str(paths['bag_dir']), '--out', str(out), '--quiet',
                     '--model', str(model), '--input-size', '140', '--storage', 'sqlite3'])
    assert code == 0
    assert 'last scale' in capsys.readouterr().out
    assert list(out.glob('*.db3'))
    messages, _, ordered = read_bag(out)
    assert ordered
    for topic in ('depth/relative', 'depth/colored', 'triangulation/depth'):
        assert len(messages[f'/camera/{topic}']) == FRAMES
    metric = messages['/camera/depth/image']
    assert 0 < len(metric) == len(messages['/camera/depth/camera_info']) \
        == len(messages['/camera/points'])
    relative = depth_by_stamp(messages, '/camera/depth/relative')
    stamp, depth = next(iter(depth_by_stamp(messages, '/camera/depth/image').items()))
    valid = np.isfinite(depth)
    assert valid.mean() > 0.5
    # depth = exp(c) / (scale * relative + shift), c the local scale map: a smooth field, so
    # depth times an affine function of the relative output changes little between pixels.
    design = np.stack([relative[stamp][valid], np.ones(valid.sum())], axis=1)
    fit, _, _, _ = np.linalg.lstsq(design, 1.0 / depth[valid], rcond=None)
    assert fit[0] > 0
    with np.errstate(invalid='ignore', divide='ignore'):
        correction = np.log(depth * (fit[0] * relative[stamp] + fit[1]))
    steps = np.abs(np.diff(correction, axis=1))
    assert np.nanmedian(steps) < 1e-2, np.nanmedian(steps)
    assert len(messages['/camera/depth/sigma']) == len(metric)
    info = messages['/camera/depth/camera_info'][0][1]
    np.testing.assert_allclose(np.reshape(info.k, (3, 3)), sequence.k)
    cloud = messages['/camera/points'][0][1]
    assert (cloud.height, cloud.width) == (HEIGHT // 2, WIDTH // 2)
    assert [f.name for f in cloud.fields] == ['x', 'y', 'z', 'rgb']
    z = read_cloud(cloud)['z']
    np.testing.assert_allclose(z, depth[::2, ::2], equal_nan=True)


def test_depth_mode_with_a_metric_model_writes_only_the_depth_topics(
        synthetic, tiny_metric_onnx, tmp_path):
    _, paths = synthetic
    out = tmp_path / 'depth'
    code = cli.main(['process-bag', str(paths['bag']), '--out', str(out), '--quiet',
                     '--model', str(tiny_metric_onnx), '--mode', 'depth', '--input-size', '140',
                     '--no-copy', '--no-colored', '--max-depth', '15', '--max-frames', '6'])
    assert code == 0
    messages, _, _ = read_bag(out)
    assert set(messages) == {'/camera/depth/image', '/camera/depth/camera_info',
                             '/camera/points', '/camera/points/filtered'}
    assert all(len(items) == 6 for items in messages.values())
    depth = image_to_numpy(messages['/camera/depth/image'][0][1])
    finite = depth[np.isfinite(depth)]
    assert finite.size and finite.min() >= 0.1 and finite.max() <= 15.0


def test_compressed_images_in_another_namespace_give_the_same_triangulation(
        synthetic, triangulated, tmp_path):
    sequence, _ = synthetic
    bag = write_input_bag(tmp_path / 'compressed', sequence,
                          image_topic='/robot/cam/image_raw/compressed',
                          info_topic='/robot/cam/camera_info', odom_topic='/robot/odom',
                          compressed=True)
    out = tmp_path / 'out'
    assert cli.main(['process-bag', str(bag), '--out', str(out), '--quiet']) == 0
    messages, _, _ = read_bag(out)
    assert {'/robot/cam/triangulation/depth', '/robot/cam/triangulation/points',
            '/robot/cam/triangulation/tracks', '/robot/cam/image_raw/compressed'} <= set(messages)
    reference, _, _ = read_bag(triangulated)
    expected = depth_by_stamp(reference, '/camera/triangulation/depth')
    written = depth_by_stamp(messages, '/robot/cam/triangulation/depth')
    assert written.keys() == expected.keys()
    for stamp, depth in written.items():
        np.testing.assert_array_equal(depth, expected[stamp])  # PNG is lossless


def test_frames_wait_for_odometry_recorded_after_them(synthetic, triangulated, tmp_path):
    sequence, _ = synthetic
    bag = write_input_bag(tmp_path / 'late', sequence, image_topic='/camera/image_raw',
                          info_topic='/camera/camera_info', odom_topic='/odom',
                          odom_delay_ns=120_000_000)  # within odom_max_gap (0.2 s)
    out = tmp_path / 'out'
    assert cli.main(['process-bag', str(bag), '--out', str(out), '--quiet']) == 0
    messages, _, ordered = read_bag(out)
    assert ordered
    reference, _, _ = read_bag(triangulated)
    expected = depth_by_stamp(reference, '/camera/triangulation/depth')
    written = depth_by_stamp(messages, '/camera/triangulation/depth')
    assert written.keys() == expected.keys()
    for stamp, depth in written.items():
        np.testing.assert_array_equal(depth, expected[stamp])
    assert [t for t, _ in messages['/camera/triangulation/depth']] == sorted(expected)


def test_output_namespace_and_topic_options_override_detection(synthetic, tmp_path):
    _, paths = synthetic
    out = tmp_path / 'renamed'
    assert cli.main(['process-bag', str(paths['bag']), '--out', str(out), '--quiet', '--no-copy',
                     '--image-topic', '/camera/image_raw', '--odom-topic', '/odom',
                     '--camera-info-topic', '/camera/camera_info',
                     '--output-namespace', 'processed/', '--max-frames', '3']) == 0
    messages, _, _ = read_bag(out)
    assert set(messages) == {'/processed/triangulation/depth', '/processed/triangulation/sigma',
                             '/processed/triangulation/points', '/processed/triangulation/tracks'}
    assert all(len(items) == 3 for items in messages.values())


def test_a_bag_without_the_needed_topics_exits_2_and_lists_its_topics(
        synthetic, tmp_path, capsys):
    sequence, _ = synthetic
    no_image = write_input_bag(tmp_path / 'no_image', sequence,
                               info_topic='/camera/camera_info', odom_topic='/odom', frames=2)
    assert cli.main(['process-bag', str(no_image), '--out', str(tmp_path / 'a')]) == 2
    error = capsys.readouterr().err
    assert 'no camera image' in error
    assert '/camera/camera_info' in error and 'sensor_msgs/msg/CameraInfo' in error
    assert '/odom' in error and 'nav_msgs/msg/Odometry' in error

    no_odometry = write_input_bag(tmp_path / 'no_odom', sequence, image_topic='/cam/image',
                                  info_topic='/cam/camera_info', frames=2)
    assert cli.main(['process-bag', str(no_odometry), '--out', str(tmp_path / 'b')]) == 2
    error = capsys.readouterr().err
    assert 'no nav_msgs/msg/Odometry topic' in error and '/cam/image' in error

    assert cli.main(['process-bag', str(no_odometry), '--out', str(tmp_path / 'c'),
                     '--odom-topic', '/cam/camera_info']) == 2
    assert '--odom-topic /cam/camera_info' in capsys.readouterr().err
    assert not any((tmp_path / name).exists() for name in 'abc')


def test_an_existing_output_is_kept_unless_overwrite(synthetic, tmp_path, capsys):
    _, paths = synthetic
    out = tmp_path / 'out'
    out.mkdir()
    (out / 'notes.txt').write_text('mine')
    args = ['process-bag', str(paths['bag']), '--out', str(out), '--quiet', '--max-frames', '2']
    assert cli.main(args) == 2
    assert 'exists' in capsys.readouterr().err
    assert cli.main([*args, '--overwrite']) == 2  # not a rosbag2: never deleted
    assert (out / 'notes.txt').read_text() == 'mine'
    shutil.rmtree(out)
    assert cli.main(args) == 0
    assert cli.main([*args, '--overwrite']) == 0


def test_a_tum_directory_gives_the_same_triangulation_as_the_bag(synthetic, triangulated,
                                                                 tmp_path):
    sequence, paths = synthetic
    out = tmp_path / 'tum'
    root = paths['rgb'].parent
    assert cli.main(['process-bag', str(root), '--out', str(out), '--quiet']) == 0
    messages, _, ordered = read_bag(out)
    assert ordered
    assert set(messages) == INPUT_TOPICS | TRIANGULATION_TOPICS
    assert len(messages['/odom']) == FRAMES  # one ground-truth pose per frame
    image = messages['/camera/image_raw'][3][1]
    np.testing.assert_array_equal(image_to_numpy(image), sequence.frames[3].rgb)
    reference, _, _ = read_bag(triangulated)
    expected = depth_by_stamp(reference, '/camera/triangulation/depth')
    # groundtruth.txt rounds poses to 1e-9: the same points to float precision.
    written = depth_by_stamp(messages, '/camera/triangulation/depth')
    assert written.keys() == expected.keys()
    for stamp, depth in written.items():
        np.testing.assert_array_equal(np.isfinite(depth), np.isfinite(expected[stamp]))
        np.testing.assert_allclose(depth, expected[stamp], rtol=1e-5, equal_nan=True)


def test_a_tum_directory_without_calibration_takes_the_tum_camera_option(
        synthetic, tmp_path, capsys):
    _, paths = synthetic
    root = tmp_path / 'recording'
    root.mkdir()
    for name in ('rgb', 'rgb.txt', 'groundtruth.txt'):
        source = paths['rgb'].parent / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, root / name)
    args = ['process-bag', str(root), '--out', str(tmp_path / 'out'), '--quiet',
            '--max-frames', '3']
    assert cli.main(args) == 2
    assert 'camera.yaml' in capsys.readouterr().err
    assert cli.main([*args, '--tum-camera', 'ros']) == 0
    messages, _, _ = read_bag(tmp_path / 'out')
    info = messages['/camera/camera_info'][0][1]
    assert (info.width, info.height) == (WIDTH, HEIGHT)
    assert info.k[0] == pytest.approx(525.0 * WIDTH / 640)


def test_eval_scores_the_processed_bag_against_the_directory_ground_truth(
        synthetic, triangulated, capsys):
    _, paths = synthetic
    capsys.readouterr()
    code = cli.main(['eval', '--pred-bag', str(triangulated), '--gt', str(paths['rgb'].parent),
                     '--topic', '/camera/triangulation/depth', '--json', '-'])
    result = json.loads(capsys.readouterr().out)
    assert code == 0
    assert result['frames_matched'] == FRAMES and result['matched_by'] == 'stamp'
    assert result['frames_scored'] >= FRAMES // 2
    assert result['metrics']['abs_rel'] < 0.05 and result['metrics']['delta1'] > 0.9


def test_dense_depth_writes_the_keyframes_dense_topics_and_one_reprojection_per_frame(
        synthetic, tmp_path):
    sequence, paths = synthetic
    out = tmp_path / 'dense'
    assert cli.main(['process-bag', str(paths['bag']), '--out', str(out), '--quiet',
                     '--dense-depth']) == 0
    messages, _, _ = read_bag(out)
    dense = {f'/camera/triangulation/dense/{name}'
             for name in ('depth', 'sigma', 'points', 'reprojected')}
    assert set(messages) == INPUT_TOPICS | TRIANGULATION_TOPICS | dense
    truth = {frame.stamp_ns: frame.depth for frame in sequence.frames}
    depths = depth_by_stamp(messages, '/camera/triangulation/dense/depth')
    sigmas = depth_by_stamp(messages, '/camera/triangulation/dense/sigma')
    assert len(depths) >= 3 and set(depths) == set(sigmas)
    for stamp, depth in depths.items():  # a keyframe's dense depth has the keyframe's stamp
        known = np.isfinite(depth)
        assert depth.shape == (HEIGHT, WIDTH)
        np.testing.assert_array_equal(np.isfinite(sigmas[stamp]), known)
        error = np.abs(depth[known] - truth[stamp][known]) / truth[stamp][known]
        assert known.mean() > 0.2 and np.median(error) < 0.05
    newest = depths[max(depths)]  # a window of five keyframes by then
    assert np.isfinite(newest).mean() > 0.5
    reprojected = depth_by_stamp(messages, '/camera/triangulation/dense/reprojected')
    first = min(depths)
    assert set(reprojected) == {stamp for stamp in truth if stamp >= first}
