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

"""What the launch tests (test_launch_*.py) share: the skip rule, the bag, the collector.

Launch tests need the ROS 2 launch packages (launch, launch_ros, launch_testing,
launch_testing_ros: not on PyPI) and mono_depth_ros in the ament index, where launch_ros finds
``lib/mono_depth_ros/depth_node`` (a colcon build, its install sourced). Elsewhere they skip.
"""

import atexit
import functools
import logging
import pathlib
import shutil
import tempfile
import threading
import time

import pytest
from rclpy.node import Node

from mono_depth_ros.ros.bag_player import BagPlayer
from mono_depth_ros.ros.collector import TopicCollector
from mono_depth_ros.ros.graph import BackgroundExecutor, ros_context
from mono_depth_ros.synth import BAG_TOPICS, render_sequence, write_sequence

ROOT = pathlib.Path(__file__).resolve().parents[2]
BAG_FRAMES = 45
BAG_SIZE = (320, 240)
LAUNCH_MODULES = ('launch_testing', 'launch_testing.actions', 'launch_ros', 'launch',
                  'launch.launch_description_sources', 'launch_testing_ros')


def launch_packages_or_skip():
    """Return the launch, launch_testing and launch_testing_ros modules, or skip the module.

    Also skips when mono_depth_ros is not in the ament index (launch_ros could not start its
    nodes).
    """
    for name in LAUNCH_MODULES:
        pytest.importorskip(name, reason=f'{name} is not installed (ROS 2 launch tests)')
    from ament_index_python.packages import get_package_prefix, PackageNotFoundError
    try:
        get_package_prefix('mono_depth_ros')
    except (PackageNotFoundError, OSError) as error:
        pytest.skip(f'mono_depth_ros is not in the ament index ({error}): colcon build it and '
                    'source install/setup.bash', allow_module_level=True)
    import launch
    import launch_testing
    import launch_testing_ros
    return launch, launch_testing, launch_testing_ros


def launch_file(name: str) -> str:
    """Return the path of one of the package's own launch files (launch/NAME)."""
    return str(ROOT / 'launch' / name)


class LaunchLog(logging.Handler):
    """Keeps what the launch files say through LogInfo (logger launch.user), for assertions.

    Create it in generate_test_description: the LaunchService resets launch's loggers when it
    is created, before it asks for the description.
    """

    LOGGER = 'launch.user'

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self._lines: list[str] = []
        self._changed = threading.Condition()
        logging.getLogger(self.LOGGER).addHandler(self)

    def emit(self, record: logging.LogRecord) -> None:
        with self._changed:
            self._lines.append(record.getMessage())
            self._changed.notify_all()

    @property
    def lines(self) -> list[str]:
        """Return the lines logged so far."""
        with self._changed:
            return list(self._lines)

    def wait_for(self, prefix: str, timeout: float = 30.0) -> str | None:
        """Return the first line that starts with ``prefix``, waiting for it; None if none."""
        def found() -> str | None:
            return next((line for line in self._lines if line.startswith(prefix)), None)

        with self._changed:
            self._changed.wait_for(found, timeout)
            return found()

    def close(self) -> None:
        """Stop listening."""
        logging.getLogger(self.LOGGER).removeHandler(self)
        super().close()


@functools.lru_cache(maxsize=None)
def synthetic_sequence():
    """Return (sequence, bag path): a short synthetic drive, written once per process."""
    directory = pathlib.Path(tempfile.mkdtemp(prefix='mono_depth_launch_'))
    atexit.register(shutil.rmtree, directory, True)
    sequence = render_sequence(frames=BAG_FRAMES, width=BAG_SIZE[0], height=BAG_SIZE[1],
                               seed=5, supersample=1)
    return sequence, str(write_sequence(sequence, directory)['bag'])


class OutputCollector:
    """Subscribes (best effort, as the nodes publish) to output topics while in a with block."""

    def __init__(self, outputs: dict[str, type]) -> None:
        self.outputs = outputs
        self._context = None

    def __enter__(self) -> 'OutputCollector':
        self._context = ros_context()
        context = self._context.__enter__()
        self.collector = TopicCollector(self.outputs, context=context,
                                        name='launch_test_collector')
        self.player_node = Node('launch_test_player', context=context)
        self._executor = BackgroundExecutor(context, [self.collector, self.player_node])
        self._executor.__enter__()
        return self

    def wait_for_all(self, timeout_s: float) -> dict[str, list]:
        """Wait (at most ``timeout_s`` in all) for a message on every output; return them all."""
        deadline = time.monotonic() + timeout_s
        for topic in self.outputs:
            self.collector.wait_for(topic, timeout=max(0.0, deadline - time.monotonic()))
        return {topic: self.collector.messages(topic) for topic in self.outputs}

    def __exit__(self, *exc_info) -> None:
        self._executor.__exit__(*exc_info)
        self._context.__exit__(*exc_info)


def play_and_collect(outputs: dict[str, type], inputs=('image', 'camera_info', 'odom'), *,
                     image_subscribers: int = 1, timeout_s: float = 40.0) -> dict[str, list]:
    """Play the synthetic bag's ``inputs`` into the launched nodes; return what ``outputs`` got.

    Waits until ``image_subscribers`` nodes subscribe to the image topic (a node loading a
    model may come up seconds after another), plays the bag once at its recorded pace, then
    waits (at most ``timeout_s`` in all) until every output topic has had a message.
    """
    _, bag = synthetic_sequence()
    start = time.monotonic()
    with OutputCollector(outputs) as outputs_seen:
        player = BagPlayer(outputs_seen.player_node, bag,
                           topics=[BAG_TOPICS[key] for key in inputs])
        try:
            player.wait_for_subscribers([BAG_TOPICS['image']], timeout=timeout_s / 2,
                                        count=image_subscribers)
            time.sleep(1.0)  # the nodes discover the collector, and their other inputs
            player.play()
        finally:
            player.close()
        return outputs_seen.wait_for_all(timeout_s - (time.monotonic() - start))
