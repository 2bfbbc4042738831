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

"""mono_depth.launch.py with scale_points:=dense: the dense fallback's points scale the network."""

import unittest

import launch_fixtures
import pytest
from sensor_msgs.msg import Image, PointCloud2

from mono_depth_ros.demo.stages import DEMO_MODEL
from mono_depth_ros.resources import package_file
from mono_depth_ros.synth import FRAME_IDS

launch, launch_testing, launch_testing_ros = launch_fixtures.launch_packages_or_skip()

OUTPUTS = {'/camera/depth/image': Image, '/camera/triangulation/dense/points': PointCloud2}


@pytest.mark.launch
@pytest.mark.launch_test
def generate_test_description():
    launch_log = launch_fixtures.LaunchLog()
    return launch.LaunchDescription([
        launch.actions.IncludeLaunchDescription(
            launch.launch_description_sources.PythonLaunchDescriptionSource(
                launch_fixtures.launch_file('mono_depth.launch.py')),
            launch_arguments={'pipeline': 'auto', 'model': str(package_file(DEMO_MODEL)),
                              'scale_points': 'dense', 'params_file': 'cpu',
                              'rviz': 'false'}.items()),
        launch_testing.actions.ReadyToTest(),
    ]), {'launch_log': launch_log}


class TestDenseScaleLaunch(unittest.TestCase):

    def test_the_network_is_scaled_by_the_dense_points(self, proc_output):
        received = launch_fixtures.play_and_collect(OUTPUTS, image_subscribers=2)
        for topic, messages in received.items():
            self.assertTrue(messages, f'nothing arrived on {topic}')
            self.assertEqual(messages[-1].header.frame_id, FRAME_IDS['camera'])
        proc_output.assertWaitFor(
            'subscribes to /camera/image_raw, /camera/camera_info, '
            '/camera/triangulation/dense/points', timeout=5)
        proc_output.assertWaitFor('metric scale from triangulation', timeout=5)


@launch_testing.post_shutdown_test()
class TestDenseScaleShutdown(unittest.TestCase):

    def test_every_process_exits_cleanly(self, proc_info, launch_log):
        launch_log.close()
        launch_testing.asserts.assertExitCodes(proc_info)
