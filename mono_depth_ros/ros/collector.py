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

"""A node that keeps the messages it receives on chosen topics: for the demo, tools and tests."""

import threading
import time
from typing import Callable

from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy


# Best effort matches every publisher; the deep history keeps a stalled executor from losing
# messages that already arrived.
COLLECTOR_QOS = QoSProfile(depth=100, reliability=ReliabilityPolicy.BEST_EFFORT)


class TopicCollector(Node):
    """Subscribes to topics and keeps what arrives, with the wall time of arrival."""

    def __init__(self, topics: dict[str, type], *, name: str = 'topic_collector',
                 qos: QoSProfile = COLLECTOR_QOS, context=None, keep: int = 10_000,
                 on_message: Callable[[str, object], None] | None = None) -> None:
        super().__init__(name, context=context)
        self._lock = threading.Condition()
        self._messages: dict[str, list[tuple[float, object]]] = {topic: [] for topic in topics}
        self._keep = keep
        self._on_message = on_message
        for topic, message_type in topics.items():
            self.create_subscription(message_type, topic, self._callback_for(topic), qos)

    def _callback_for(self, topic: str) -> Callable[[object], None]:
        def callback(message) -> None:
            with self._lock:
                bucket = self._messages[topic]
                bucket.append((time.monotonic(), message))
                if len(bucket) > self._keep:
                    del bucket[0]
                self._lock.notify_all()
            if self._on_message is not None:
                self._on_message(topic, message)
        return callback

    def messages(self, topic: str) -> list:
        """Return the messages received on ``topic`` so far, oldest first."""
        with self._lock:
            return [message for _, message in self._messages[topic]]

    def arrivals(self, topic: str) -> list[tuple[float, object]]:
        """Return (monotonic arrival time, message) pairs for ``topic``."""
        with self._lock:
            return list(self._messages[topic])

    def count(self, topic: str) -> int:
        """Return how many messages arrived on ``topic``."""
        with self._lock:
            return len(self._messages[topic])

    def wait_for(self, topic: str, count: int = 1, timeout: float = 10.0) -> bool:
        """Block until ``count`` messages arrived on ``topic`` (needs a spinning executor)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self._messages[topic]) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._lock.wait(remaining)
            return True

    def clear(self) -> None:
        """Forget everything received so far."""
        with self._lock:
            for bucket in self._messages.values():
                bucket.clear()
