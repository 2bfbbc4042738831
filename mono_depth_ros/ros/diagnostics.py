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

"""Publish a node's health on /diagnostics: rates, drops, latency and whatever the node adds."""

import collections
import threading
import time
from typing import Callable

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.node import Node

OK = DiagnosticStatus.OK
WARN = DiagnosticStatus.WARN
ERROR = DiagnosticStatus.ERROR


class RateMeter:
    """Events per second over a sliding window of wall time."""

    def __init__(self, window_s: float = 5.0) -> None:
        self._window_s = window_s
        self._times: collections.deque[float] = collections.deque()
        self._lock = threading.Lock()

    def tick(self) -> None:
        """Record one event now."""
        now = time.monotonic()
        with self._lock:
            self._times.append(now)
            self._trim(now)

    def _trim(self, now: float) -> None:
        while self._times and now - self._times[0] > self._window_s:
            self._times.popleft()

    def rate(self) -> float:
        """Return events per second over the window."""
        now = time.monotonic()
        with self._lock:
            self._trim(now)
            if len(self._times) < 2:
                return 0.0
            span = max(now - self._times[0], 1e-6)
            return (len(self._times) - 1) / span if span < self._window_s else len(
                self._times) / self._window_s


class LatencyStats:
    """Mean, 95th percentile and maximum of the most recent latencies (seconds)."""

    def __init__(self, keep: int = 200) -> None:
        self._values: collections.deque[float] = collections.deque(maxlen=keep)
        self._lock = threading.Lock()

    def add(self, seconds: float) -> None:
        """Record one latency."""
        with self._lock:
            self._values.append(float(seconds))

    def summary_ms(self) -> dict[str, float]:
        """Return {'mean', 'p95', 'max'} in milliseconds (zeros before the first value)."""
        with self._lock:
            values = sorted(self._values)
        if not values:
            return {'mean': 0.0, 'p95': 0.0, 'max': 0.0}
        p95 = values[min(len(values) - 1, int(round(0.95 * (len(values) - 1))))]
        return {'mean': 1e3 * sum(values) / len(values), 'p95': 1e3 * p95, 'max': 1e3 * values[-1]}


def frame_flow_values(rate_in: RateMeter, rate_out: RateMeter, worker, latency: LatencyStats,
                      counts: dict[str, int]) -> dict[str, object]:
    """Return the key values every node reports: rates, received/dropped frames, latency.

    ``worker`` is the node's latest-frame worker (``received``, ``dropped``); ``counts`` the
    input-health counters, reported as ``frames_<kind>``.
    """
    summary = latency.summary_ms()
    return {'rate_in_hz': rate_in.rate(), 'rate_out_hz': rate_out.rate(),
            'frames_received': worker.received, 'frames_dropped': worker.dropped,
            'latency_mean_ms': summary['mean'], 'latency_p95_ms': summary['p95'],
            **{f'frames_{kind}': count for kind, count in counts.items()}}


# (level: OK, WARN or ERROR; message; key values)
StatusReport = tuple[bytes, str, dict[str, object]]


class DiagnosticsPublisher:
    """Publishes one DiagnosticStatus per period from a callback that reports the node's state."""

    def __init__(self, node: Node, status_name: str, hardware_id: str,
                 report: Callable[[], StatusReport], period_s: float = 1.0) -> None:
        self._node = node
        self._status_name = status_name
        self._hardware_id = hardware_id
        self._report = report
        self._publisher = node.create_publisher(DiagnosticArray, '/diagnostics', 10)
        self._timer = node.create_timer(period_s, self.publish)

    def publish(self) -> None:
        """Publish the current report."""
        level, message, values = self._report()
        status = DiagnosticStatus(
            level=level, name=self._status_name, message=message, hardware_id=self._hardware_id,
            values=[KeyValue(key=str(k), value=_format(v)) for k, v in values.items()])
        array = DiagnosticArray(status=[status])
        array.header.stamp = self._node.get_clock().now().to_msg()
        self._publisher.publish(array)

    def destroy(self) -> None:
        """Remove the timer and the publisher from the node."""
        self._node.destroy_timer(self._timer)
        self._node.destroy_publisher(self._publisher)


def _format(value: object) -> str:
    if isinstance(value, float):
        return f'{value:.4g}'
    return str(value)
