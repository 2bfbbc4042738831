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

"""mono_depth.launch.py cameras:=camera,rear lifecycle:=true: two managed depth nodes.

autostart configures and activates both; the synthetic bag plays into /camera only, so
/camera's outputs arrive and /rear's stay empty: the cameras never cross.
"""

import time
import unittest

import launch_fixtures
import pytest
from sensor_msgs.msg import Image

import model_fixtures
from mono_depth_ros.ros.bag_player import BagPlayer
from mono_depth_ros.synth import BAG_TOPICS, FRAME_IDS

launch, launch_testing, launch_testing_ros = launch_fixtures.launch_packages_or_skip()

OUTPUTS = {'/camera/depth/image': Image, '/rear/depth/image': Image}


@pytest.mark.launch
@pytest.mark.launch_test
def generate_test_description():
    model = model_fixtures.make_onnx(depth_type='metric')
    launch_log = launch_fixtures.LaunchLog()
    return launch.LaunchDescription([
        launch.actions.IncludeLaunchDescription(
            launch.launch_description_sources.PythonLaunchDescriptionSource(
                launch_fixtures.launch_file('mono_depth.launch.py')),
            launch_arguments={'pipeline': 'depth', 'model': str(model), 'params_file': 'cpu',
                              'cameras': 'camera,rear', 'lifecycle': 'true'}.items()),
        launch_testing.actions.ReadyToTest(),
    ]), {'launch_log': launch_log}


class TestCamerasLaunch(unittest.TestCase):

    def test_each_camera_publishes_only_what_its_own_camera_sees(self, proc_output,
                                                                 launch_log):
        self.assertIsNotNone(launch_log.wait_for('cameras: /camera, /rear'), launch_log.lines)
        proc_output.assertWaitFor('active: publishing', timeout=60)
        time.sleep(2.0)  # both nodes active
        _, bag = launch_fixtures.synthetic_sequence()
        with launch_fixtures.OutputCollector(OUTPUTS) as outputs:
            player = BagPlayer(outputs.player_node, bag,
                               topics=[BAG_TOPICS['image'], BAG_TOPICS['camera_info']])
            try:
                player.wait_for_subscribers([BAG_TOPICS['image']], timeout=20.0)
                time.sleep(1.0)
                player.play()
            finally:
                player.close()
            self.assertTrue(outputs.collector.wait_for('/camera/depth/image', 1, timeout=20.0),
                            'nothing on /camera/depth/image')
            time.sleep(1.0)
            depth = outputs.collector.messages('/camera/depth/image')
            rear = outputs.collector.count('/rear/depth/image')
        self.assertEqual(depth[-1].header.frame_id, FRAME_IDS['camera'])
        self.assertEqual(rear, 0, "/rear's node saw /camera's images")


@launch_testing.post_shutdown_test()
class TestCamerasShutdown(unittest.TestCase):

    def test_every_process_exits_cleanly(self, proc_info):
        launch_testing.asserts.assertExitCodes(proc_info)
