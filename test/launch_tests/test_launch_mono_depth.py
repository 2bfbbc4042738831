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

"""mono_depth.launch.py, pipeline auto with a relative model: triangulation scales its depth."""

import unittest

import launch_fixtures
import pytest
from sensor_msgs.msg import Image, PointCloud2

from mono_depth_ros.demo.stages import DEMO_MODEL
from mono_depth_ros.resources import package_file
from mono_depth_ros.synth import FRAME_IDS

launch, launch_testing, launch_testing_ros = launch_fixtures.launch_packages_or_skip()

# depth/image carries metres only once depth_node has a scale from triangulation/points.
OUTPUTS = {'/camera/depth/image': Image, '/camera/points': PointCloud2,
           '/camera/triangulation/points': PointCloud2}


@pytest.mark.launch
@pytest.mark.launch_test
def generate_test_description():
    # The committed trained network: a random one's output does not grow with inverse depth,
    # and the scale fit rightly refuses it.
    model = package_file(DEMO_MODEL)
    launch_log = launch_fixtures.LaunchLog()
    return launch.LaunchDescription([
        launch.actions.IncludeLaunchDescription(
            launch.launch_description_sources.PythonLaunchDescriptionSource(
                launch_fixtures.launch_file('mono_depth.launch.py')),
            launch_arguments={'pipeline': 'auto', 'model': str(model),
                              'params_file': 'cpu', 'rviz': 'false'}.items()),
        launch_testing.actions.ReadyToTest(),
    ]), {'launch_log': launch_log}


class TestMonoDepthLaunch(unittest.TestCase):

    def test_the_launch_says_it_found_the_model_and_runs_both_nodes(self, launch_log):
        line = launch_log.wait_for('pipeline auto: model ')
        self.assertIsNotNone(line, launch_log.lines)
        self.assertIn('depth_node + triangulation_node', line)

    def test_relative_depth_becomes_metric_with_the_triangulated_scale(self, proc_output):
        received = launch_fixtures.play_and_collect(OUTPUTS, image_subscribers=2)
        for topic, messages in received.items():
            self.assertTrue(messages, f'nothing arrived on {topic}')
            self.assertEqual(messages[-1].header.frame_id, FRAME_IDS['camera'])
        proc_output.assertWaitFor('metric scale from triangulation', timeout=5)


@launch_testing.post_shutdown_test()
class TestMonoDepthShutdown(unittest.TestCase):

    def test_every_process_exits_cleanly(self, proc_info, launch_log):
        launch_log.close()
        launch_testing.asserts.assertExitCodes(proc_info)
