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

"""Run rclpy nodes inside a Python program (demo, tools, tests) with a clean start and shutdown."""

import contextlib
import threading
import time
from typing import Callable, Iterator

import rclpy
from rclpy.context import Context
from rclpy.executors import MultiThreadedExecutor, SingleThreadedExecutor
from rclpy.node import Node

from mono_depth_ros.resources import apply_fastdds_profile
from mono_depth_ros.ros.messages import ns_to_stamp


@contextlib.contextmanager
def ros_context(args: list[str] | None = None,
                domain_id: int | None = None) -> Iterator[Context]:
    """Yield an initialised rclpy context of its own and shut it down afterwards.

    The process gets the package's large-data Fast DDS profile first, unless the user chose one
    (it applies from the process's first participant on).
    """
    apply_fastdds_profile()
    context = Context()
    rclpy.init(args=args, context=context, domain_id=domain_id)
    try:
        yield context
    finally:
        rclpy.try_shutdown(context=context)


@contextlib.contextmanager
def spinning_node(name: str, setup: Callable[[Node], None] | None = None, *,
                  domain_id: int | None = None, num_threads: int = 2) -> Iterator[Node]:
    """Yield a node in a context of its own, spun in the background, and tear both down.

    ``setup(node)`` creates its publishers and subscriptions before spinning starts;
    ``num_threads`` 1 spins it on a single-threaded executor (see :class:`BackgroundExecutor`).
    """
    with ros_context(domain_id=domain_id) as context:
        node = rclpy.create_node(name, context=context)
        if setup is not None:
            setup(node)
        with BackgroundExecutor(context, [node], num_threads=num_threads):
            yield node


class BackgroundCamera:
    """A camera node of its own, spun in the background while in a ``with`` block.

    It publishes ``image`` (sensor_msgs/Image) and ``camera_info`` with sensor-data QoS
    through ``self._image_publisher`` and ``self._info_publisher``; subclasses name the node
    and add their own endpoints in :meth:`_add_endpoints`.
    """

    node_name = 'camera'
    # Threads spinning the node: 1 (a single-threaded executor) for callbacks that only note
    # what arrived, which then take each message as soon as it is there.
    executor_threads = 2

    def __init__(self, domain_id: int | None = None) -> None:
        self._domain_id = domain_id
        self._spinning = None
        self._node = None
        self._subscriptions = []

    def __enter__(self):
        self._spinning = spinning_node(self.node_name, self._setup, domain_id=self._domain_id,
                                       num_threads=self.executor_threads)
        self._node = self._spinning.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._spinning.__exit__(*exc)

    def _setup(self, node: Node) -> None:
        from rclpy.qos import qos_profile_sensor_data
        from sensor_msgs.msg import CameraInfo, Image

        self._image_publisher = node.create_publisher(Image, 'image', qos_profile_sensor_data)
        self._info_publisher = node.create_publisher(CameraInfo, 'camera_info',
                                                     qos_profile_sensor_data)
        self._add_endpoints(node)

    def _add_endpoints(self, node: Node) -> None:
        """Create the subclass's other publishers and subscriptions (before spinning)."""

    def publish_frame(self, image, info) -> tuple[int, float]:
        """Stamp ``info`` and ``image`` with the next stamp (1 ms apart) and publish both.

        Return (stamp in ns, ``time.perf_counter()`` just before the image went out). The
        first stamp is ``self._next_stamp_ns`` + 1 ms (subclasses set the start).
        """
        self._next_stamp_ns = getattr(self, '_next_stamp_ns', 0) + 1_000_000
        stamp = ns_to_stamp(self._next_stamp_ns)
        info.header.stamp = stamp
        image.header.stamp = stamp
        self._info_publisher.publish(info)
        started = time.perf_counter()
        self._image_publisher.publish(image)
        return self._next_stamp_ns, started

    def _outputs_connected(self) -> bool:
        """Return whether every subscription in ``self._subscriptions`` has a publisher.

        ``Node.count_publishers``, not ``Subscription.get_publisher_count`` (not in Humble).
        """
        return all(self._node.count_publishers(subscription.topic_name)
                   for subscription in self._subscriptions)


class BackgroundExecutor:
    """Spins nodes on an executor in a daemon thread until stopped.

    ``num_threads`` above 1: a multi-threaded executor (callbacks may block one another's
    threads only); 1: a single-threaded one, for callbacks that return at once. rclpy's
    multi-threaded executor hands every callback to a thread pool: with a 5 MB cloud, an image
    and camera_info arriving together it took each message 10-18 ms later than the
    single-threaded one (1.5-3.6 ms) on the 2-core development machine.
    """

    def __init__(self, context: Context, nodes: list[Node] | None = None,
                 num_threads: int = 4) -> None:
        self._executor = (SingleThreadedExecutor(context=context) if num_threads == 1 else
                          MultiThreadedExecutor(num_threads=num_threads, context=context))
        for node in nodes or []:
            self._executor.add_node(node)
        self._thread = threading.Thread(target=self._spin, name='ros-executor', daemon=True)
        self._context = context
        self._stopped = threading.Event()

    def _spin(self) -> None:
        while self._context.ok() and not self._stopped.is_set():
            try:
                self._executor.spin_once(timeout_sec=0.05)
            except Exception:  # a shutdown race inside rclpy; stop spinning
                if not self._context.ok():
                    return
                raise

    def add_node(self, node: Node) -> None:
        """Add a node to the running executor."""
        self._executor.add_node(node)

    def remove_node(self, node: Node) -> None:
        """Stop spinning a node (it is not destroyed)."""
        self._executor.remove_node(node)

    def __enter__(self) -> 'BackgroundExecutor':
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()

    def shutdown(self) -> None:
        """Stop spinning and destroy every node the executor holds."""
        self._stopped.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=2.0)
        nodes = list(self._executor.get_nodes())
        self._executor.shutdown(timeout_sec=2.0)
        for node in nodes:
            node.destroy_node()
