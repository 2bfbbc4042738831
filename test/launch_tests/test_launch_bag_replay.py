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

"""bag_replay.launch.py plays a bag on simulated time; with no model, triangulation runs alone."""

import unittest

import launch_fixtures
import pytest
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import Image, PointCloud2

from mono_depth_ros.ros.messages import stamp_to_ns

launch, launch_testing, launch_testing_ros = launch_fixtures.launch_packages_or_skip()

OUTPUTS = {'/camera/triangulation/points': PointCloud2, '/camera/triangulation/depth': Image}


@pytest.mark.launch
@pytest.mark.launch_test
def generate_test_description():
    _, bag = launch_fixtures.synthetic_sequence()
    launch_log = launch_fixtures.LaunchLog()
    return launch.LaunchDescription([
        launch.actions.IncludeLaunchDescription(
            launch.launch_description_sources.PythonLaunchDescriptionSource(
                launch_fixtures.launch_file('bag_replay.launch.py')),
            # `ros2 bag play` is not needed: the package's player plays the bag.
            launch_arguments={'bag': bag, 'player': 'python', 'rviz': 'false',
                              'model': '/no/such/model.onnx'}.items()),
        launch_testing.actions.ReadyToTest(),
    ]), {'launch_log': launch_log}


class TestBagReplayLaunch(unittest.TestCase):

    def test_the_launch_says_there_is_no_model_and_runs_triangulation_only(
            self, launch_log, proc_info):
        line = launch_log.wait_for('pipeline auto: no depth model')
        self.assertIsNotNone(line, launch_log.lines)
        self.assertIn('/no/such/model.onnx', line)
        self.assertIn('triangulation_node only', line)
        self.assertFalse([name for name in proc_info.process_names()
                          if name.startswith('depth_node')])

    def test_the_bag_plays_with_clock_and_triangulation_publishes_its_frames(self):
        sequence, _ = launch_fixtures.synthetic_sequence()
        with launch_fixtures.OutputCollector(OUTPUTS) as outputs:
            with launch_testing_ros.WaitForTopics([('/clock', Clock)], timeout=40.0) as clock:
                first_clock = stamp_to_ns(clock.received_messages('/clock')[0].clock)
            received = outputs.wait_for_all(timeout_s=40.0)
        recorded = [sample.stamp_ns for sample in sequence.odometry]
        recorded += [frame.stamp_ns for frame in sequence.frames]
        self.assertTrue(min(recorded) <= first_clock <= max(recorded), first_clock)
        frame_stamps = {frame.stamp_ns for frame in sequence.frames}
        for topic, messages in received.items():
            self.assertTrue(messages, f'nothing arrived on {topic}')
            for message in messages:
                self.assertIn(stamp_to_ns(message.header.stamp), frame_stamps)


@launch_testing.post_shutdown_test()
class TestBagReplayShutdown(unittest.TestCase):

    def test_the_player_and_the_node_exit_cleanly(self, proc_info, launch_log):
        launch_log.close()
        launch_testing.asserts.assertExitCodes(proc_info)
