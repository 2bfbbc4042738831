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

"""triangulation_node over real DDS, fed from a synthetic rosbag2 with exact ground truth."""

import time

from diagnostic_msgs.msg import DiagnosticArray
import numpy as np
import pytest
from rcl_interfaces.msg import ParameterType
from rclpy.parameter import Parameter
from sensor_msgs.msg import Image, PointCloud2

from mono_depth_ros.core.image_codec import image_to_numpy
from mono_depth_ros.core.metrics import compute_metrics
from mono_depth_ros.core.pointcloud import read_cloud
from mono_depth_ros.nodes.triangulation_node import TriangulationNode
from mono_depth_ros.ros.graph import ros_context
from mono_depth_ros.ros.messages import stamp_to_ns
from mono_depth_ros.ros.replay import replay_bag
from mono_depth_ros.synth import FRAME_IDS, render_sequence, write_sequence
from ros_harness import (FRAME_ID, node_under_test, odometry_message, odometry_publisher,
                         triangulation_statuses)
from synthetic_frames import off_centre_camera, textured_rgb

NAMESPACE = '/camera'
REMAPS = ['--ros-args', '-r', 'image:=/camera/image_raw', '-r', 'odom:=/odom']
OUTPUTS = {'triangulation/depth': Image, 'triangulation/sigma': Image,
           'triangulation/points': PointCloud2, 'triangulation/tracks': Image}
DIAGNOSTIC_KEYS = {'time_offset_ms', 'time_offset_sigma_ms', 'time_offset_estimated',
                   'degenerate_tracks', 'odometry_resets'}


@pytest.fixture(scope='module')
def replayed(tmp_path_factory):
    sequence = render_sequence(frames=36, width=640, height=480, seed=0)
    paths = write_sequence(sequence, tmp_path_factory.mktemp('triangulation'))
    collect = {f'{NAMESPACE}/{topic}': kind for topic, kind in OUTPUTS.items()}
    collect['/diagnostics'] = DiagnosticArray
    result = replay_bag(paths['bag'], collect, rate=0.5, make_nodes=lambda context: [
        TriangulationNode(context=context, namespace=NAMESPACE, cli_args=REMAPS)],
        lockstep=('/camera/image_raw', [f'{NAMESPACE}/triangulation/depth']))
    outputs = {topic: result.messages[f'{NAMESPACE}/{topic}'] for topic in OUTPUTS}
    outputs['/diagnostics'] = result.messages['/diagnostics']
    return sequence, outputs


def test_outputs_carry_the_image_stamp_frame_and_size(replayed):
    sequence, outputs = replayed
    stamps = {frame.stamp_ns for frame in sequence.frames}
    for topic in OUTPUTS:
        messages = outputs[topic]
        # Played frame by frame: one answer per frame, unless DDS loses a best-effort one.
        assert len(messages) >= 0.9 * len(sequence.frames), f'{topic}: {len(messages)} messages'
        for message in messages:
            assert stamp_to_ns(message.header.stamp) in stamps
            assert message.header.frame_id == FRAME_IDS['camera']
    depth = outputs['triangulation/depth'][-1]
    assert (depth.encoding, depth.width, depth.height) == ('32FC1', 640, 480)
    tracks = outputs['triangulation/tracks'][-1]
    assert (tracks.encoding, tracks.width, tracks.height) == ('bgr8', 640, 480)


def test_sparse_depth_is_metric_and_accurate_after_warm_up(replayed):
    sequence, outputs = replayed
    truth = {frame.stamp_ns: frame.depth for frame in sequence.frames}
    warm = sorted(truth)[15:]
    per_frame = []
    for message in outputs['triangulation/depth']:
        stamp = stamp_to_ns(message.header.stamp)
        if stamp in warm:
            depth = image_to_numpy(message)
            if np.count_nonzero(np.isfinite(depth)) >= 150:
                per_frame.append(compute_metrics(depth, truth[stamp])['abs_rel'])
    assert len(per_frame) >= 5, 'too few converged frames'
    assert float(np.mean(per_frame)) <= 0.03


def test_points_are_the_sparse_depth_back_projected(replayed):
    sequence, outputs = replayed
    depth_by_stamp = {stamp_to_ns(m.header.stamp): image_to_numpy(m)
                      for m in outputs['triangulation/depth']}
    cloud_message = outputs['triangulation/points'][-1]
    assert cloud_message.height == 1 and cloud_message.is_dense, 'unorganized, no NaN points'
    cloud = read_cloud(cloud_message)
    points = np.stack([cloud['x'], cloud['y'], cloud['z']], axis=-1).reshape(-1, 3)
    depth = depth_by_stamp[stamp_to_ns(cloud_message.header.stamp)]
    k = sequence.k
    columns = np.rint(k[0, 0] * points[:, 0] / points[:, 2] + k[0, 2]).astype(int)
    rows = np.rint(k[1, 1] * points[:, 1] / points[:, 2] + k[1, 2]).astype(int)
    assert len(points) == np.count_nonzero(np.isfinite(depth))
    np.testing.assert_allclose(depth[rows, columns], points[:, 2], rtol=1e-5)


def test_sigma_is_finite_exactly_where_the_depth_is_and_points_carry_it(replayed):
    _, outputs = replayed
    depth_by_stamp = {stamp_to_ns(m.header.stamp): image_to_numpy(m)
                      for m in outputs['triangulation/depth']}
    compared = 0
    for message in outputs['triangulation/sigma']:
        assert (message.encoding, message.width, message.height) == ('32FC1', 640, 480)
        depth = depth_by_stamp.get(stamp_to_ns(message.header.stamp))
        if depth is None:
            continue
        sigma = image_to_numpy(message)
        np.testing.assert_array_equal(np.isfinite(sigma), np.isfinite(depth))
        assert np.all(sigma[np.isfinite(sigma)] > 0)
        compared += int(np.isfinite(depth).any())
    assert compared >= 5, 'too few frames with points to compare'
    cloud_message = outputs['triangulation/points'][-1]
    assert [(f.name, f.offset) for f in cloud_message.fields] == [
        ('x', 0), ('y', 4), ('z', 8), ('sigma', 12)]
    assert cloud_message.point_step == 16
    sigma = read_cloud(cloud_message)['sigma']
    assert sigma.size > 0 and np.all(sigma > 0) and np.all(np.isfinite(sigma))


def test_diagnostics_carry_the_time_offset_degenerate_tracks_and_resets(replayed):
    _, outputs = replayed
    statuses = triangulation_statuses(outputs['/diagnostics'])
    assert statuses, 'no triangulation_node status on /diagnostics'
    last = statuses[-1]
    assert DIAGNOSTIC_KEYS <= set(last)
    assert abs(float(last['time_offset_ms'])) <= 100.0
    assert float(last['time_offset_sigma_ms']) > 0
    assert last['time_offset_estimated'] in ('True', 'False')
    assert int(last['degenerate_tracks']) >= 0 and int(last['odometry_resets']) == 0


def test_the_time_offset_parameters_are_declared_with_their_ranges():
    with ros_context() as context:
        node = TriangulationNode(context=context)
        try:
            offset = node.describe_parameter('camera_time_offset')
            estimate = node.describe_parameter('estimate_time_offset')
            values = (node.get_parameter('camera_time_offset').value,
                      node.get_parameter('estimate_time_offset').value)
            refused = node.set_parameters([Parameter('camera_time_offset', value=0.9)])[0]
            accepted = node.set_parameters([Parameter('camera_time_offset', value=0.02)])[0]
            applied = node._pipeline.params.camera_time_offset
        finally:
            node.destroy_node()
    assert offset.type == ParameterType.PARAMETER_DOUBLE
    float_range = offset.floating_point_range[0]
    assert (float_range.from_value, float_range.to_value) == (-0.5, 0.5)
    assert estimate.type == ParameterType.PARAMETER_BOOL
    assert values == (0.0, True)
    assert not refused.successful and accepted.successful and applied == 0.02


def _make_node(context):
    return TriangulationNode(context=context)


def test_without_odometry_it_warns_and_publishes_nothing(capfd):
    camera = off_centre_camera()
    with node_under_test(_make_node, OUTPUTS) as (node, publisher, collector):
        for index in range(3):
            publisher.publish_frame(textured_rgb(), camera, 1_000_000_000 + index * 66_000_000)
            time.sleep(0.3)
        time.sleep(0.5)
        assert collector.count('triangulation/depth') == 0
    assert capfd.readouterr().err.count('no pose for image') == 1


def test_a_standing_camera_gives_no_points():
    camera = off_centre_camera()
    rgb = textured_rgb()
    with node_under_test(_make_node, OUTPUTS) as (node, publisher, collector):
        odometry = odometry_publisher(publisher)
        start = 2_000_000_000
        # Frames until enough clouds came back: a loaded machine drops some (latest wins).
        for index in range(40):
            stamp = start + index * 66_000_000
            odometry.publish(odometry_message(stamp - 33_000_000, 0.0))
            odometry.publish(odometry_message(stamp + 33_000_000, 0.0))
            publisher.publish_frame(rgb, camera, stamp)
            time.sleep(0.12)
            if collector.count('triangulation/points') >= 8:
                break
        assert collector.wait_for('triangulation/points', 8, timeout=10.0)
        clouds = collector.messages('triangulation/points')
    assert all(cloud.width * cloud.height == 0 for cloud in clouds)


def test_an_odometry_reset_is_warned_once_with_its_reason_and_counted(capfd):
    camera = off_centre_camera()
    rgb = textured_rgb()
    outputs = {**OUTPUTS, '/diagnostics': DiagnosticArray}
    with node_under_test(_make_node, outputs) as (node, publisher, collector):
        odometry = odometry_publisher(publisher)
        start = 2_000_000_000
        for index in range(12):
            stamp = start + index * 66_000_000
            x = 0.0 if index < 6 else 5.0  # the odometry jumps 5 m between two frames
            odometry.publish(odometry_message(stamp - 33_000_000, x))
            odometry.publish(odometry_message(stamp + 33_000_000, x))
            publisher.publish_frame(rgb, camera, stamp)
            time.sleep(0.15)
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline:
            statuses = triangulation_statuses(collector.messages('/diagnostics'))
            if statuses and statuses[-1].get('odometry_resets') == '1':
                break
            time.sleep(0.2)
    assert statuses and statuses[-1]['odometry_resets'] == '1'
    assert capfd.readouterr().err.count(
        'odometry reset (odometry pose jumped): tracks start over') == 1


def test_without_tf2_ros_the_node_says_it_uses_camera_to_base(capfd):
    try:
        import tf2_ros  # noqa: F401
        pytest.skip('tf2_ros is importable here')
    except ImportError:
        pass
    with ros_context() as context:
        TriangulationNode(context=context).destroy_node()
    assert ('camera pose: camera_to_base from parameters (tf2_ros is not available)'
            in capfd.readouterr().err)


def test_tf_replaces_camera_to_base_once_it_has_the_camera_frame(capfd):
    tf2_ros = pytest.importorskip('tf2_ros')
    from geometry_msgs.msg import TransformStamped

    camera = off_centre_camera()
    with node_under_test(_make_node, OUTPUTS) as (node, publisher, collector):
        broadcaster = tf2_ros.StaticTransformBroadcaster(publisher)
        transform = TransformStamped()
        transform.header.frame_id = 'base_link'
        transform.child_frame_id = FRAME_ID
        transform.transform.translation.x = 0.1
        transform.transform.rotation.x, transform.transform.rotation.y = -0.5, 0.5
        transform.transform.rotation.z, transform.transform.rotation.w = -0.5, 0.5
        broadcaster.sendTransform(transform)
        odometry = odometry_publisher(publisher)
        start = 3_000_000_000
        for index in range(20):
            stamp = start + index * 66_000_000
            odometry.publish(odometry_message(stamp - 33_000_000, 0.0))
            odometry.publish(odometry_message(stamp + 33_000_000, 0.0))
            publisher.publish_frame(textured_rgb(), camera, stamp)
            time.sleep(0.12)
            if node._camera_to_base_from_tf is not None:
                break
        from_tf = node._camera_to_base_from_tf
    assert from_tf is not None, 'TF never replaced camera_to_base'
    np.testing.assert_allclose(from_tf, (0.1, 0, 0, -0.5, 0.5, -0.5, 0.5), atol=1e-9)
    assert f'camera pose: TF {FRAME_ID} in base_link' in capfd.readouterr().err
