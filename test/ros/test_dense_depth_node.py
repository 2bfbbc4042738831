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

"""triangulation_node with dense_depth over real DDS, fed from a synthetic rosbag2."""

import time

from diagnostic_msgs.msg import DiagnosticArray
import numpy as np
import pytest
from sensor_msgs.msg import Image, PointCloud2

from mono_depth_ros.core.image_codec import image_to_numpy
from mono_depth_ros.core.pointcloud import read_cloud
from mono_depth_ros.nodes.triangulation_node import TriangulationNode
from mono_depth_ros.ros.graph import ros_context
from mono_depth_ros.ros.messages import stamp_to_ns
from mono_depth_ros.ros.replay import replay_bag
from mono_depth_ros.synth import FRAME_IDS, render_sequence, write_sequence
from ros_harness import (node_under_test, odometry_message, odometry_publisher,
                         ros_parameter_args, triangulation_statuses)
from synthetic_frames import off_centre_camera, textured_rgb

NAMESPACE = '/camera'
DENSE = ros_parameter_args({'dense_depth': True})
REMAPS = ['-r', 'image:=/camera/image_raw', '-r', 'odom:=/odom']
OUTPUTS = {'triangulation/depth': Image, 'triangulation/dense/depth': Image,
           'triangulation/dense/sigma': Image, 'triangulation/dense/points': PointCloud2,
           'triangulation/dense/reprojected': Image}


@pytest.fixture(scope='module')
def replayed(tmp_path_factory):
    sequence = render_sequence(frames=36, width=640, height=480, seed=0)
    paths = write_sequence(sequence, tmp_path_factory.mktemp('dense'))
    collect = {f'{NAMESPACE}/{topic}': kind for topic, kind in OUTPUTS.items()}
    collect['/diagnostics'] = DiagnosticArray
    result = replay_bag(paths['bag'], collect, rate=0.5, make_nodes=lambda context: [
        TriangulationNode(context=context, namespace=NAMESPACE, cli_args=DENSE + REMAPS)],
        lockstep=('/camera/image_raw', [f'{NAMESPACE}/triangulation/depth']))
    outputs = {topic: result.messages[f'{NAMESPACE}/{topic}'] for topic in OUTPUTS}
    outputs['/diagnostics'] = result.messages['/diagnostics']
    return sequence, outputs


def test_keyframes_get_an_accurate_dense_depth_with_their_stamp(replayed):
    sequence, outputs = replayed
    frames = {frame.stamp_ns: frame for frame in sequence.frames}
    depths = outputs['triangulation/dense/depth']
    sigmas = {stamp_to_ns(m.header.stamp): m for m in outputs['triangulation/dense/sigma']}
    assert len(depths) >= 2
    for message in depths:
        stamp = stamp_to_ns(message.header.stamp)
        assert stamp in frames and message.header.frame_id == FRAME_IDS['camera']
        assert (message.encoding, message.width, message.height) == ('32FC1', 640, 480)
        depth = image_to_numpy(message)
        truth = frames[stamp].depth
        known = np.isfinite(depth)
        error = np.abs(depth - truth)
        # The first dense depth has a window of four keyframes (min_keyframes); later ones
        # of five.
        assert (known & (error <= 0.10 * truth)).mean() >= 0.3, stamp
        sigma = image_to_numpy(sigmas[stamp])
        assert np.array_equal(np.isfinite(sigma), known)
        assert np.mean(error[known] <= 2.0 * sigma[known]) >= 0.9
    depth = image_to_numpy(depths[-1])
    truth = frames[stamp_to_ns(depths[-1].header.stamp)].depth
    assert (np.isfinite(depth) & (np.abs(depth - truth) <= 0.10 * truth)).mean() >= 0.6
    newest = depths[-1]
    cloud = read_cloud(next(m for m in outputs['triangulation/dense/points']
                            if m.header.stamp == newest.header.stamp))
    points = np.column_stack([cloud[axis].ravel() for axis in 'xyz'])
    assert len(points) > 5000 and np.isfinite(points).all()
    assert np.all(cloud['sigma'] > 0)


def test_each_later_frame_gets_the_latest_dense_depth_from_its_pose(replayed):
    sequence, outputs = replayed
    frames = {frame.stamp_ns: frame for frame in sequence.frames}
    first_dense = min(stamp_to_ns(m.header.stamp) for m in outputs['triangulation/dense/depth'])
    reprojected = outputs['triangulation/dense/reprojected']
    later = [stamp for stamp in frames if stamp > first_dense]
    assert len(reprojected) >= 0.5 * len(later)
    for message in reprojected[-5:]:
        depth = image_to_numpy(message)
        truth = frames[stamp_to_ns(message.header.stamp)].depth
        known = np.isfinite(depth)
        assert known.mean() > 0.4
        assert np.median(np.abs(depth[known] - truth[known]) / truth[known]) < 0.05


def test_diagnostics_report_the_dense_step(replayed):
    _, outputs = replayed
    statuses = [s for s in triangulation_statuses(outputs['/diagnostics']) if 'dense_status' in s]
    assert statuses and statuses[-1]['dense_status'] == 'ok'
    assert int(statuses[-1]['dense_keyframes']) >= 2
    assert float(statuses[-1]['dense_valid_fraction']) > 0.5


def test_dense_depth_is_off_by_default_and_read_only():
    with ros_context() as context:
        node = TriangulationNode(context=context)
        try:
            value = node.get_parameter('dense_depth').value
            read_only = node.describe_parameter('dense_depth').read_only
            dense = node._dense
        finally:
            node.destroy_node()
    assert value is False and read_only and dense is None


def test_a_standing_camera_says_why_it_gives_no_new_dense_depth():
    camera = off_centre_camera()
    rgb = textured_rgb()
    outputs = {'triangulation/depth': Image, 'triangulation/dense/depth': Image,
               '/diagnostics': DiagnosticArray}

    def make_node(context):
        return TriangulationNode(context=context, cli_args=DENSE)

    with node_under_test(make_node, outputs) as (node, publisher, collector):
        odometry = odometry_publisher(publisher)
        start = 2_000_000_000
        for index in range(15):
            stamp = start + index * 66_000_000
            odometry.publish(odometry_message(stamp - 33_000_000, 0.0))
            odometry.publish(odometry_message(stamp + 33_000_000, 0.0))
            publisher.publish_frame(rgb, camera, stamp)
            time.sleep(0.12)
        deadline = time.monotonic() + 10.0
        said = False
        while time.monotonic() < deadline and not said:
            said = any(s.get('dense_status') == 'no new dense depth: standing still'
                       for s in triangulation_statuses(collector.messages('/diagnostics')))
            time.sleep(0.2)
        assert said
        assert collector.count('triangulation/dense/depth') == 0
