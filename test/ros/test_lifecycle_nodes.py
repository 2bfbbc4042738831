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

"""The managed nodes over DDS, driven through their real lifecycle services.

Unconfigured and inactive nodes publish nothing, an active one publishes, cleanup releases the
model (the backend object is gone), and a node configured again works as before.
"""

import gc
import time
import weakref

from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState, GetState
from nav_msgs.msg import Odometry
import pytest
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image, PointCloud2

from mono_depth_ros.nodes.depth_lifecycle_node import DepthLifecycleNode
from mono_depth_ros.nodes.triangulation_lifecycle_node import TriangulationLifecycleNode
from mono_depth_ros.ros.messages import ns_to_stamp
from ros_harness import FRAME_ID, node_under_test
from synthetic_frames import off_centre_camera, textured_rgb

DEPTH_OUTPUTS = {'depth/image': Image, 'points': PointCloud2}
TRIANGULATION_OUTPUTS = {'triangulation/points': PointCloud2, 'triangulation/tracks': Image}
QUIET_S = 1.0  # how long a node that must not publish is watched


class LifecycleClient:
    """Calls a managed node's change_state and get_state services from another node."""

    def __init__(self, client_node, managed_name: str) -> None:
        self._change = client_node.create_client(ChangeState, f'{managed_name}/change_state')
        self._get = client_node.create_client(GetState, f'{managed_name}/get_state')
        assert self._change.wait_for_service(timeout_sec=10.0), 'no change_state service'
        assert self._get.wait_for_service(timeout_sec=10.0), 'no get_state service'

    @staticmethod
    def _call(client, request, timeout: float = 60.0):
        future = client.call_async(request)
        deadline = time.monotonic() + timeout
        while not future.done() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert future.done(), f'{client.srv_name} did not answer'
        return future.result()

    def change(self, transition_id: int) -> bool:
        """Request a transition; return whether it succeeded."""
        return self._call(self._change, ChangeState.Request(
            transition=Transition(id=transition_id))).success

    def state(self) -> str:
        """Return the label of the current state (unconfigured, inactive, active, ...)."""
        return self._call(self._get, GetState.Request()).current_state.label


def _depth_args(model) -> list[str]:
    values = {'model': str(model), 'backend': 'onnxruntime', 'device': 'cpu',
              'input_size': 140, 'points_stride': 4}
    args = ['--ros-args']
    for name, value in values.items():
        args += ['-p', f'{name}:={value}']
    return args


def _publishes(publisher, collector, topic: str, publish_one, frames: int = 30) -> bool:
    """Publish frames until one output arrives on ``topic``; return whether one did."""
    for index in range(frames):
        publish_one(index)
        if collector.wait_for(topic, 1, timeout=0.3):
            return True
    return collector.wait_for(topic, 1, timeout=5.0)


def _quiet(collector, topics, publish_one, frames: int = 5) -> bool:
    """Publish some frames; return whether nothing came out on ``topics``."""
    collector.clear()
    for index in range(frames):
        publish_one(index)
        time.sleep(QUIET_S / frames)
    time.sleep(0.3)
    return all(collector.count(topic) == 0 for topic in topics)


@pytest.fixture(scope='module')
def metric_model():
    pytest.importorskip('onnxruntime')
    import model_fixtures
    return model_fixtures.make_onnx(depth_type='metric')


def test_depth_lifecycle_publishes_only_when_active_and_cleanup_releases_the_model(
        metric_model):
    camera, rgb = off_centre_camera(), textured_rgb()
    with node_under_test(lambda context: DepthLifecycleNode(context=context), DEPTH_OUTPUTS,
                         args=_depth_args(metric_model), wait_for_subscribers=False) as (
                             node, publisher, collector):
        def frame(index: int) -> None:
            publisher.publish_frame(rgb, camera, 1_000_000_000 + index * 50_000_000)

        lifecycle = LifecycleClient(collector, node.get_fully_qualified_name())
        assert lifecycle.state() == 'unconfigured'
        assert node._pipeline is None and node._loop is None, 'no model before configure'
        assert _quiet(collector, DEPTH_OUTPUTS, frame)

        assert lifecycle.change(Transition.TRANSITION_CONFIGURE)
        assert lifecycle.state() == 'inactive'
        assert publisher.wait_for_subscribers(), 'configure creates the subscriptions'
        backend = weakref.ref(node._pipeline.backend)
        assert _quiet(collector, DEPTH_OUTPUTS, frame), 'an inactive node publishes nothing'

        assert lifecycle.change(Transition.TRANSITION_ACTIVATE)
        assert lifecycle.state() == 'active'
        assert _publishes(publisher, collector, 'depth/image', frame)
        depth = collector.messages('depth/image')[-1]
        assert (depth.header.frame_id, depth.width, depth.height) == (FRAME_ID, 320, 240)

        assert lifecycle.change(Transition.TRANSITION_DEACTIVATE)
        assert lifecycle.state() == 'inactive'
        assert _quiet(collector, DEPTH_OUTPUTS, frame), 'nothing after deactivate returns'

        assert lifecycle.change(Transition.TRANSITION_CLEANUP)
        assert lifecycle.state() == 'unconfigured'
        gc.collect()
        assert backend() is None, 'cleanup drops the backend (and with it the model)'
        assert node._pipeline is None and node._loop is None
        deadline = time.monotonic() + 5.0
        while publisher.image.get_subscription_count() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert publisher.image.get_subscription_count() == 0, 'cleanup removes the subscriptions'

        # Configured again, it loads the model again and works as before.
        assert lifecycle.change(Transition.TRANSITION_CONFIGURE)
        assert lifecycle.change(Transition.TRANSITION_ACTIVATE)
        assert publisher.wait_for_subscribers()
        collector.clear()
        assert _publishes(publisher, collector, 'points', frame)


def test_a_model_that_does_not_load_fails_configure_with_one_line(tmp_path, capfd):
    missing = tmp_path / 'missing.onnx'
    with node_under_test(lambda context: DepthLifecycleNode(context=context), DEPTH_OUTPUTS,
                         args=_depth_args(missing), wait_for_subscribers=False) as (
                             node, publisher, collector):
        lifecycle = LifecycleClient(collector, node.get_fully_qualified_name())
        assert not lifecycle.change(Transition.TRANSITION_CONFIGURE)
        assert lifecycle.state() == 'unconfigured'
        assert node._pipeline is None and node._loop is None
    errors = [line for line in capfd.readouterr().err.splitlines() if 'cannot configure' in line]
    assert len(errors) == 1 and 'missing.onnx' in errors[0]


def _odometry(stamp_ns: int) -> Odometry:
    message = Odometry()
    message.header.stamp = ns_to_stamp(stamp_ns)
    message.header.frame_id, message.child_frame_id = 'odom', 'base_link'
    message.pose.pose.orientation.w = 1.0
    return message


def test_triangulation_lifecycle_publishes_only_when_active():
    camera, rgb = off_centre_camera(), textured_rgb()
    with node_under_test(lambda context: TriangulationLifecycleNode(context=context),
                         TRIANGULATION_OUTPUTS, wait_for_subscribers=False) as (
                             node, publisher, collector):
        odometry = publisher.create_publisher(
            Odometry, 'odom', QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE))

        def frame(index: int) -> None:
            stamp = 2_000_000_000 + index * 66_000_000
            odometry.publish(_odometry(stamp - 33_000_000))
            odometry.publish(_odometry(stamp + 33_000_000))
            publisher.publish_frame(rgb, camera, stamp)

        lifecycle = LifecycleClient(collector, node.get_fully_qualified_name())
        assert lifecycle.state() == 'unconfigured'
        assert _quiet(collector, TRIANGULATION_OUTPUTS, frame)
        assert lifecycle.change(Transition.TRANSITION_CONFIGURE)
        assert publisher.wait_for_subscribers() and odometry.get_subscription_count() == 1
        assert _quiet(collector, TRIANGULATION_OUTPUTS, frame), 'inactive: nothing published'
        assert lifecycle.change(Transition.TRANSITION_ACTIVATE)
        assert _publishes(publisher, collector, 'triangulation/tracks', frame)
        tracks = weakref.ref(node._pipeline)
        assert lifecycle.change(Transition.TRANSITION_DEACTIVATE)
        assert _quiet(collector, TRIANGULATION_OUTPUTS, frame)
        assert lifecycle.change(Transition.TRANSITION_CLEANUP)
        assert lifecycle.state() == 'unconfigured' and node._loop is None
        gc.collect()
        assert tracks() is None, 'cleanup drops the tracks and poses'
        deadline = time.monotonic() + 5.0
        while odometry.get_subscription_count() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert odometry.get_subscription_count() == 0
