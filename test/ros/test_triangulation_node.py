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

from nav_msgs.msg import Odometry
import numpy as np
import pytest
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image, PointCloud2

from mono_depth_ros.core.image_codec import image_to_numpy
from mono_depth_ros.core.metrics import compute_metrics
from mono_depth_ros.core.pointcloud import read_cloud
from mono_depth_ros.nodes.triangulation_node import TriangulationNode
from mono_depth_ros.ros.messages import ns_to_stamp, stamp_to_ns
from mono_depth_ros.ros.replay import replay_bag
from mono_depth_ros.synth import FRAME_IDS, render_sequence, write_sequence
from ros_harness import node_under_test
from synthetic_frames import off_centre_camera, textured_rgb

NAMESPACE = '/camera'
REMAPS = ['--ros-args', '-r', 'image:=/camera/image_raw', '-r', 'odom:=/odom']
OUTPUTS = {'triangulation/depth': Image, 'triangulation/points': PointCloud2,
           'triangulation/tracks': Image}


@pytest.fixture(scope='module')
def replayed(tmp_path_factory):
    sequence = render_sequence(frames=36, width=640, height=480, seed=0)
    paths = write_sequence(sequence, tmp_path_factory.mktemp('triangulation'))
    collect = {f'{NAMESPACE}/{topic}': kind for topic, kind in OUTPUTS.items()}
    result = replay_bag(paths['bag'], collect, rate=0.5, make_nodes=lambda context: [
        TriangulationNode(context=context, namespace=NAMESPACE, cli_args=REMAPS)],
        lockstep=('/camera/image_raw', [f'{NAMESPACE}/triangulation/depth']))
    return sequence, {topic: result.messages[f'{NAMESPACE}/{topic}'] for topic in OUTPUTS}


def test_outputs_carry_the_image_stamp_frame_and_size(replayed):
    sequence, outputs = replayed
    stamps = {frame.stamp_ns for frame in sequence.frames}
    for topic, messages in outputs.items():
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


def _odometry(stamp_ns: int, x: float) -> Odometry:
    message = Odometry()
    message.header.stamp = ns_to_stamp(stamp_ns)
    message.header.frame_id = 'odom'
    message.child_frame_id = 'base_link'
    message.pose.pose.position.x = x
    message.pose.pose.orientation.w = 1.0
    return message


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
    qos = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)
    with node_under_test(_make_node, OUTPUTS) as (node, publisher, collector):
        odometry = publisher.create_publisher(Odometry, 'odom', qos)
        deadline = time.monotonic() + 10.0
        while not odometry.get_subscription_count() and time.monotonic() < deadline:
            time.sleep(0.05)
        start = 2_000_000_000
        # Frames until enough clouds came back: a loaded machine drops some (latest wins).
        for index in range(40):
            stamp = start + index * 66_000_000
            odometry.publish(_odometry(stamp - 33_000_000, 0.0))
            odometry.publish(_odometry(stamp + 33_000_000, 0.0))
            publisher.publish_frame(rgb, camera, stamp)
            time.sleep(0.12)
            if collector.count('triangulation/points') >= 8:
                break
        assert collector.wait_for('triangulation/points', 8, timeout=10.0)
        clouds = collector.messages('triangulation/points')
    assert all(cloud.width * cloud.height == 0 for cloud in clouds)
