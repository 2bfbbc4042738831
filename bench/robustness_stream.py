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

"""bench_robustness's camera: images and odometry out, the nodes' outputs and /diagnostics in.

Not a benchmark (its name does not start with ``bench_``). :class:`CameraStream` publishes a
camera (and odometry, played from a rendered sequence by :class:`PingPong`) at a set rate and
records when each stamp's outputs arrive and what each node's /diagnostics says.
"""

import functools
import math
import time
from typing import Callable

from diagnostic_msgs.msg import DiagnosticArray
from nav_msgs.msg import Odometry
import numpy as np
from rclpy.qos import qos_profile_sensor_data, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image, PointCloud2
from std_msgs.msg import Header

from benchmark_support import diagnostic_values, node_logs, OutputLog, wait_until_connected
from mono_depth_ros.core.image_codec import numpy_to_image
from mono_depth_ros.core.transforms import matrix_to_quaternion
from mono_depth_ros.ros.graph import BackgroundCamera
from mono_depth_ros.ros.messages import camera_info_message, image_message, ns_to_stamp
from mono_depth_ros.synth import FRAME_IDS
from mono_depth_ros.synth.scene import base_pose_at, base_twist_at

STAMP_ORIGIN_NS = 1_700_000_000_000_000_000
START_TIMEOUT_S = 120.0
DEPTH_NODE = 'depth_node'
TRIANGULATION_NODE = 'triangulation_node'
STATUS_NAMES = {DEPTH_NODE: 'depth_node: depth',
                TRIANGULATION_NODE: 'triangulation_node: triangulation'}
DIAGNOSTIC_KEYS = {
    DEPTH_NODE: ('frames_received', 'frames_dropped', 'rate_in_hz', 'rate_out_hz',
                 'latency_mean_ms', 'latency_p95_ms', 'inference_mean_ms', 'frames_failed',
                 'backend'),
    TRIANGULATION_NODE: ('frames_received', 'frames_dropped', 'rate_in_hz', 'rate_out_hz',
                         'latency_mean_ms', 'latency_p95_ms', 'frame_ms', 'tracks', 'points',
                         'frames_resets', 'frames_no_pose', 'frames_failed'),
}
# Odometry usually comes reliable; triangulation_node's best-effort subscription takes either.
ODOMETRY_QOS = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)


class PingPong:
    """Plays a rendered sequence forwards then backwards, so poses and images stay continuous."""

    def __init__(self, frames: int, fps: float) -> None:
        self.frames = frames
        self.fps = fps
        self.span_s = (frames - 1) / fps

    def sequence_time(self, stream_s: float) -> tuple[float, float]:
        """Return (time in the rendered sequence, +1 forwards or -1 backwards)."""
        if self.span_s <= 0:
            return 0.0, 1.0
        phase = math.fmod(stream_s, 2.0 * self.span_s)
        return (phase, 1.0) if phase <= self.span_s else (2.0 * self.span_s - phase, -1.0)

    def frame_index(self, stream_s: float) -> int:
        """Return the rendered frame shown at a stream time."""
        return min(self.frames - 1, round(self.sequence_time(stream_s)[0] * self.fps))

    def odometry(self, stream_s: float, stamp_ns: int) -> Odometry:
        """Return the base's odometry at a stream time (the twist flips when playing back)."""
        seconds, direction = self.sequence_time(stream_s)
        pose = base_pose_at(seconds)
        linear, angular = (direction * np.asarray(part) for part in base_twist_at(seconds))
        message = Odometry()
        message.header.stamp = ns_to_stamp(stamp_ns)
        message.header.frame_id = FRAME_IDS['odom']
        message.child_frame_id = FRAME_IDS['base']
        position, orientation = message.pose.pose.position, message.pose.pose.orientation
        position.x, position.y, position.z = (float(value) for value in pose[:3, 3])
        (orientation.x, orientation.y, orientation.z,
         orientation.w) = (float(value) for value in matrix_to_quaternion(pose[:3, :3]))
        twist = message.twist.twist
        twist.linear.x, twist.linear.y, twist.linear.z = (float(value) for value in linear)
        twist.angular.x, twist.angular.y, twist.angular.z = (float(value) for value in angular)
        return message


class PublishWindow:
    """What one publishing run sent: its wall span, image stamps and publish times."""

    def __init__(self) -> None:
        self.start = self.end = 0.0
        self.published: dict[int, float] = {}
        self.images = 0
        self.odometry = 0


class CameraStream(BackgroundCamera):
    """Publishes the camera (and odometry) and records when each stamp's outputs arrive."""

    node_name = 'bench_robustness_camera'

    def __init__(self, domain_id: int, frames: list[np.ndarray], camera_info_fields: dict,
                 topics: tuple[str, ...], motion: PingPong | None = None) -> None:
        super().__init__(domain_id)
        self._frames = frames
        self._info_fields = camera_info_fields
        self._topics = topics
        self._motion = motion
        self._log = OutputLog(topics)
        self._stream_s = 0.0  # stream time already published: stamps continue across runs

    def _add_endpoints(self, node) -> None:
        self._odometry_publisher = (node.create_publisher(Odometry, 'odom', ODOMETRY_QOS)
                                    if self._motion is not None else None)
        self._subscriptions = [
            node.create_subscription(
                PointCloud2 if topic.endswith('points') else Image, topic,
                functools.partial(self._log.record, topic), qos_profile_sensor_data)
            for topic in self._topics]
        node.create_subscription(DiagnosticArray, '/diagnostics', self._log.record_diagnostics,
                                 10)
        header = Header(frame_id=FRAME_IDS['camera'])
        self._images = [image_message(numpy_to_image(rgb, 'rgb8'), header)
                        for rgb in self._frames]
        self._info = camera_info_message(self._info_fields, header)

    def arrivals(self, topic: str) -> dict[int, float]:
        """Return {stamp ns: first arrival time} of an output topic so far."""
        with self._log.condition:
            return dict(self._log.arrivals[topic])

    def wait_connected(self, nodes: list, consumers: int,
                       timeout_s: float = START_TIMEOUT_S) -> None:
        """Wait until the nodes subscribe to the inputs and publish every subscribed output."""
        publishers = [self._image_publisher, self._info_publisher]
        wait_until_connected(
            lambda: bool(all(p.get_subscription_count() >= consumers for p in publishers)
                         and (self._odometry_publisher is None
                              or self._odometry_publisher.get_subscription_count())
                         and self._outputs_connected()),
            nodes, timeout_s, who='the nodes')

    def first_output(self, topic: str, nodes: list,
                     timeout_s: float = START_TIMEOUT_S) -> None:
        """Publish a frame every half second until ``topic`` answers (the model is loaded)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for node in nodes:
                node.check_alive()
            self.publish_for(0.5, 2.0, 10.0 if self._motion is not None else None)
            with self._log.condition:
                if self._log.condition.wait_for(lambda: self._log.arrivals[topic], 1.0):
                    return
        raise RuntimeError(f'no {topic} within {timeout_s:.0f} s\n{node_logs(nodes)}')

    def publish_for(self, duration_s: float, rate_hz: float,
                    odometry_rate_hz: float | None = None,
                    on_tick: Callable[[], None] = lambda: None) -> PublishWindow:
        """Publish images at ``rate_hz`` (and odometry) for ``duration_s``; return the window.

        Stamps are stream time (image i at i / rate_hz); odometry for a stamp goes out just
        before the image with the same stamp, so the pose is there when the image is.
        """
        window = PublishWindow()
        images = max(1, round(duration_s * rate_hz))
        span_s = images / rate_hz
        events = [(index / rate_hz, 1, index) for index in range(images)]
        if odometry_rate_hz and self._odometry_publisher is not None:
            events += [(index / odometry_rate_hz, 0, index)
                       for index in range(math.ceil(span_s * odometry_rate_hz))]
        events.sort()
        window.start = time.perf_counter()
        for at_s, is_image, _ in events:
            delay = window.start + at_s - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            stream_s = self._stream_s + at_s
            stamp_ns = STAMP_ORIGIN_NS + round(stream_s * 1e9)
            if is_image:
                window.published[stamp_ns] = self._publish_image(stream_s, stamp_ns)
                window.images += 1
            else:
                self._odometry_publisher.publish(self._motion.odometry(stream_s, stamp_ns))
                window.odometry += 1
            on_tick()
        window.end = time.perf_counter()
        self._stream_s += span_s
        return window

    def _publish_image(self, stream_s: float, stamp_ns: int) -> float:
        """Publish CameraInfo and the frame for a stream time; return the publish time."""
        index = self._motion.frame_index(stream_s) if self._motion is not None else 0
        image = self._images[index % len(self._images)]
        stamp = ns_to_stamp(stamp_ns)
        self._info.header.stamp = stamp
        image.header.stamp = stamp
        self._info_publisher.publish(self._info)
        published = time.perf_counter()
        self._image_publisher.publish(image)
        return published

    def fresh_diagnostics(self, node_name: str, timeout_s: float = 5.0) -> dict:
        """Return a node's next /diagnostics values (published once a second)."""
        return diagnostic_values(
            self._log.fresh_diagnostics(STATUS_NAMES[node_name], timeout_s),
            DIAGNOSTIC_KEYS[node_name])

    def diagnostics_at(self, node_name: str, at: float) -> dict:
        """Return a node's last /diagnostics values received by ``at`` (perf_counter s)."""
        return diagnostic_values(self._log.diagnostics_at(STATUS_NAMES[node_name], at),
                                 DIAGNOSTIC_KEYS[node_name])
