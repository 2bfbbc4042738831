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

"""depth.launch.py: depth_node with a metric model publishes depth, its CameraInfo and clouds."""

import math
import unittest

import launch_fixtures
import pytest
from sensor_msgs.msg import CameraInfo, Image, PointCloud2

import model_fixtures
from mono_depth_ros.launch_support import node_parameters, resolve_params_file
from mono_depth_ros.synth import FRAME_IDS

launch, launch_testing, launch_testing_ros = launch_fixtures.launch_packages_or_skip()

OUTPUTS = {'/camera/depth/image': Image, '/camera/depth/camera_info': CameraInfo,
           '/camera/depth/colored': Image, '/camera/points': PointCloud2}


@pytest.mark.launch
@pytest.mark.launch_test
def generate_test_description():
    model = model_fixtures.make_onnx(depth_type='metric')
    return launch.LaunchDescription([
        launch.actions.IncludeLaunchDescription(
            launch.launch_description_sources.PythonLaunchDescriptionSource(
                launch_fixtures.launch_file('depth.launch.py')),
            launch_arguments={'model': str(model), 'params_file': 'cpu'}.items()),
        launch_testing.actions.ReadyToTest(),
    ]), {'model': model}


class TestDepthLaunch(unittest.TestCase):

    def test_the_node_loads_the_given_model_on_the_cpu_profile_backend(self, proc_output, model):
        proc_output.assertWaitFor(f'depth from {model}', timeout=60)
        proc_output.assertWaitFor('onnxruntime on cpu', timeout=5)

    def test_it_publishes_depth_camera_info_colored_depth_and_points(self):
        received = launch_fixtures.play_and_collect(OUTPUTS, inputs=('image', 'camera_info'))
        for topic, messages in received.items():
            self.assertTrue(messages, f'nothing arrived on {topic}')
            self.assertEqual(messages[-1].header.frame_id, FRAME_IDS['camera'])
        width, height = launch_fixtures.BAG_SIZE
        depth = received['/camera/depth/image'][-1]
        self.assertEqual((depth.width, depth.height, depth.encoding), (width, height, '32FC1'))
        info = received['/camera/depth/camera_info'][-1]
        self.assertEqual((info.width, info.height), (width, height))
        colored = received['/camera/depth/colored'][-1]
        self.assertEqual(colored.encoding, 'bgr8')
        stride = node_parameters(resolve_params_file('cpu'), 'depth_node')['points_stride']
        cloud = received['/camera/points'][-1]
        self.assertEqual((cloud.width, cloud.height),
                         (math.ceil(width / stride), math.ceil(height / stride)))
        self.assertEqual([field.name for field in cloud.fields], ['x', 'y', 'z', 'rgb'])


@launch_testing.post_shutdown_test()
class TestDepthShutdown(unittest.TestCase):

    def test_every_process_exits_cleanly(self, proc_info):
        launch_testing.asserts.assertExitCodes(proc_info)
