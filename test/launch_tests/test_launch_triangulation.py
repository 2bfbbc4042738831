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

"""triangulation.launch.py: triangulation_node turns a camera and odometry into metric points."""

import unittest

import launch_fixtures
import pytest
from sensor_msgs.msg import Image, PointCloud2

from mono_depth_ros.ros.messages import stamp_to_ns
from mono_depth_ros.synth import FRAME_IDS

launch, launch_testing, launch_testing_ros = launch_fixtures.launch_packages_or_skip()

OUTPUTS = {'/camera/triangulation/points': PointCloud2,
           '/camera/triangulation/depth': Image,
           '/camera/triangulation/tracks': Image}


@pytest.mark.launch
@pytest.mark.launch_test
def generate_test_description():
    return launch.LaunchDescription([
        launch.actions.IncludeLaunchDescription(
            launch.launch_description_sources.PythonLaunchDescriptionSource(
                launch_fixtures.launch_file('triangulation.launch.py')),
            launch_arguments={'params_file': 'cpu',
                              'camera_to_base': '0, 0, 0, -0.5, 0.5, -0.5, 0.5'}.items()),
        launch_testing.actions.ReadyToTest(),
    ])


class TestTriangulationLaunch(unittest.TestCase):

    def test_the_node_reads_the_camera_namespace_and_the_given_camera_to_base(self, proc_output):
        proc_output.assertWaitFor(
            'triangulating /camera/image_raw with poses from /odom; '
            'camera_to_base [0.0, 0.0, 0.0, -0.5, 0.5, -0.5, 0.5]', timeout=30)

    def test_it_publishes_points_depth_and_tracks_stamped_like_the_images(self):
        sequence, _ = launch_fixtures.synthetic_sequence()
        received = launch_fixtures.play_and_collect(OUTPUTS)
        image_stamps = {frame.stamp_ns for frame in sequence.frames}
        for topic, messages in received.items():
            self.assertTrue(messages, f'nothing arrived on {topic}')
            for message in messages:
                self.assertEqual(message.header.frame_id, FRAME_IDS['camera'])
                self.assertIn(stamp_to_ns(message.header.stamp), image_stamps)
        depth = received['/camera/triangulation/depth'][-1]
        self.assertEqual((depth.width, depth.height, depth.encoding),
                         (*launch_fixtures.BAG_SIZE, '32FC1'))
        self.assertGreater(max(cloud.width for cloud in received[
            '/camera/triangulation/points']), 0)


@launch_testing.post_shutdown_test()
class TestTriangulationShutdown(unittest.TestCase):

    def test_every_process_exits_cleanly(self, proc_info):
        launch_testing.asserts.assertExitCodes(proc_info)
