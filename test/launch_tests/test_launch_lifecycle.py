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

"""depth.launch.py lifecycle:=true autostart:=false: the managed node, driven state by state.

The transitions go through the node's real change_state / get_state services; the synthetic
bag is played in each state: unconfigured and inactive publish nothing, active publishes,
cleanup releases the model.
"""

import time
import unittest

import launch_fixtures
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState, GetState
import pytest
from sensor_msgs.msg import Image, PointCloud2

import model_fixtures
from mono_depth_ros.ros.bag_player import BagPlayer
from mono_depth_ros.synth import BAG_TOPICS, FRAME_IDS

launch, launch_testing, launch_testing_ros = launch_fixtures.launch_packages_or_skip()

NODE = '/camera/depth_node'
OUTPUTS = {'/camera/depth/image': Image, '/camera/points': PointCloud2}


@pytest.mark.launch
@pytest.mark.launch_test
def generate_test_description():
    model = model_fixtures.make_onnx(depth_type='metric')
    return launch.LaunchDescription([
        launch.actions.IncludeLaunchDescription(
            launch.launch_description_sources.PythonLaunchDescriptionSource(
                launch_fixtures.launch_file('depth.launch.py')),
            launch_arguments={'model': str(model), 'params_file': 'cpu', 'lifecycle': 'true',
                              'autostart': 'false'}.items()),
        launch_testing.actions.ReadyToTest(),
    ]), {'model': model}


def _call(client, request, timeout: float = 60.0):
    assert client.wait_for_service(timeout_sec=30.0), f'no {client.srv_name}'
    future = client.call_async(request)
    deadline = time.monotonic() + timeout
    while not future.done() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert future.done(), f'{client.srv_name} did not answer'
    return future.result()


class TestLifecycleLaunch(unittest.TestCase):

    def test_outputs_follow_the_lifecycle_states(self, proc_output, model):
        _, bag = launch_fixtures.synthetic_sequence()
        with launch_fixtures.OutputCollector(OUTPUTS) as outputs:
            node = outputs.player_node
            change = node.create_client(ChangeState, f'{NODE}/change_state')
            get = node.create_client(GetState, f'{NODE}/get_state')

            def state() -> str:
                return _call(get, GetState.Request()).current_state.label

            def transition(transition_id: int) -> bool:
                return _call(change, ChangeState.Request(
                    transition=Transition(id=transition_id))).success

            def play() -> dict[str, int]:
                outputs.collector.clear()
                player = BagPlayer(node, bag, topics=[BAG_TOPICS['image'],
                                                      BAG_TOPICS['camera_info']])
                try:
                    player.wait_for_subscribers([BAG_TOPICS['image']], timeout=5.0)
                    time.sleep(0.5)
                    player.play()
                finally:
                    player.close()
                time.sleep(1.5)
                return {topic: outputs.collector.count(topic) for topic in OUTPUTS}

            self.assertEqual(state(), 'unconfigured')
            self.assertEqual(set(play().values()), {0}, 'unconfigured: nothing published')
            self.assertTrue(transition(Transition.TRANSITION_CONFIGURE))
            proc_output.assertWaitFor(f'depth from {model}', timeout=10)
            self.assertEqual(state(), 'inactive')
            self.assertEqual(set(play().values()), {0}, 'inactive: nothing published')
            self.assertTrue(transition(Transition.TRANSITION_ACTIVATE))
            counts = play()
            self.assertTrue(all(counts.values()), f'active: outputs on every topic {counts}')
            depth = outputs.collector.messages('/camera/depth/image')[-1]
            self.assertEqual(depth.header.frame_id, FRAME_IDS['camera'])
            self.assertEqual((depth.width, depth.height), launch_fixtures.BAG_SIZE)
            self.assertTrue(transition(Transition.TRANSITION_DEACTIVATE))
            self.assertEqual(set(play().values()), {0}, 'deactivated: nothing published')
            self.assertTrue(transition(Transition.TRANSITION_CLEANUP))
            proc_output.assertWaitFor('cleaned up: model released', timeout=10)
            self.assertEqual(state(), 'unconfigured')


@launch_testing.post_shutdown_test()
class TestLifecycleShutdown(unittest.TestCase):

    def test_every_process_exits_cleanly(self, proc_info):
        launch_testing.asserts.assertExitCodes(proc_info)
