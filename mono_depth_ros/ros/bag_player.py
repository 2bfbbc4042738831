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

"""Play a rosbag2 (mcap or sqlite3) over DDS, like ``ros2 bag play``.

The bag is read through :mod:`mono_depth_ros.bags`. Messages are published as the serialized
CDR bytes stored in the bag, so nothing is decoded on the way. Used by the demo and the tests;
on a full ROS install ``ros2 bag play`` does the same job.
"""

import importlib
import pathlib
import threading
import time
from typing import Callable, Iterable

from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rosgraph_msgs.msg import Clock

from mono_depth_ros.ros.messages import ns_to_stamp

# A reliable publisher matches both reliable and best-effort (sensor_data) subscribers.
PLAYBACK_QOS = QoSProfile(depth=20, reliability=ReliabilityPolicy.RELIABLE)


def message_class(message_type: str) -> type:
    """Return the rclpy class of a ROS type name such as ``sensor_msgs/msg/Image``."""
    package, _, name = message_type.split('/')
    return getattr(importlib.import_module(f'{package}.msg'), name)


class BagPlayer:
    """Publishes a bag's messages at their recorded pace, optionally with /clock."""

    def __init__(self, node: Node, bag_path: str | pathlib.Path, *,
                 topics: Iterable[str] | None = None, remap: dict[str, str] | None = None,
                 rate: float = 1.0, publish_clock: bool = False) -> None:
        from mono_depth_ros.bags import open_reader

        self._node = node
        self._reader = open_reader(pathlib.Path(bag_path))
        wanted = set(topics) if topics is not None else None
        connections = [c for c in self._reader.connections
                       if wanted is None or c.topic in wanted]
        self._topics = sorted({c.topic for c in connections})
        remap = remap or {}
        self._publishers = {}
        for connection in connections:
            if connection.topic not in self._publishers:
                self._publishers[connection.topic] = node.create_publisher(
                    message_class(connection.msgtype),
                    remap.get(connection.topic, connection.topic), PLAYBACK_QOS)
        self._clock = node.create_publisher(Clock, '/clock', 10) if publish_clock else None
        self._rate = rate

    @property
    def topics(self) -> list[str]:
        """Return the topics this player publishes (names as recorded)."""
        return sorted(self._publishers)

    def wait_for_subscribers(self, topics: Iterable[str], timeout: float = 10.0,
                             count: int = 1) -> bool:
        """Wait until every named topic has ``count`` subscribers; return whether they do."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(self._publishers[t].get_subscription_count() >= count for t in topics):
                return True
            time.sleep(0.05)
        return False

    def play(self, stop: threading.Event | None = None,
             on_published: Callable[[str, int], None] | None = None,
             gate: Callable[[str], float] | None = None) -> int:
        """Publish every message in bag order, paced by the recorded stamps; return the count.

        ``gate(topic)``, when given, is called before each message and may hold it back; it
        returns the seconds it waited, and the rest of the schedule moves by that much, so the
        recorded spacing of the messages after it is kept.
        """
        count = 0
        first_bag_ns = None
        start_wall = time.monotonic()
        for record in self._reader.messages(self._topics):
            if stop is not None and stop.is_set():
                break
            bag_ns = record.log_time_ns
            if first_bag_ns is None:
                first_bag_ns = bag_ns
            if gate is not None:
                start_wall += gate(record.topic)
            if self._rate > 0:
                due = start_wall + (bag_ns - first_bag_ns) * 1e-9 / self._rate
                delay = due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            if self._clock is not None:
                self._clock.publish(Clock(clock=ns_to_stamp(bag_ns)))
            self._publishers[record.topic].publish(bytes(record.data))
            count += 1
            if on_published is not None:
                on_published(record.topic, bag_ns)
        return count

    def close(self) -> None:
        """Close the bag and destroy the publishers (on a node that no executor spins)."""
        for publisher in self._publishers.values():
            self._node.destroy_publisher(publisher)
        if self._clock is not None:
            self._node.destroy_publisher(self._clock)
        self.close_bag()

    def close_bag(self) -> None:
        """Close the bag only: the publishers go with their node."""
        self._reader.close()
