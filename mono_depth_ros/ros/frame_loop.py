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

"""The frame loop both nodes share: camera in, one worker thread, input health and diagnostics.

A node gives it the per-frame work and its diagnostics report; the loop owns the subscriptions
(:class:`CameraInput`), the latest-frame-wins worker (and an output thread: a node whose work
returns the frame's output stage has its outputs made and published there while the worker
takes on the next frame, one frame's outputs at a time), the input-health counters, the rate and
latency meters, the per-stage times (:class:`StageTimes`: ``decode`` here, the node's own
stages from its work), the /diagnostics publisher, and stopping the worker when the node goes.
:class:`OutputPublishers` publishes a frame's output fields (``pipeline.outputs``) and times
building the messages and publishing them.
"""

import array
import threading
import time
from typing import Callable

import numpy as np
from rclpy.node import Node
from rclpy.qos import QoSProfile
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from mono_depth_ros.core.camera_model import CameraModel, CameraModelCache
from mono_depth_ros.pipeline.outputs import OutputFields
from mono_depth_ros.ros.camera_input import CameraFrame, CameraInput
from mono_depth_ros.ros.diagnostics import (DiagnosticsPublisher, frame_flow_values,
                                            LatencyStats, RateMeter, StatusReport)
from mono_depth_ros.ros.input_health import InputHealth
from mono_depth_ros.ros.latest_frame import LatestFrameWorker
from mono_depth_ros.ros.messages import output_message

THROTTLE_S = 5.0
# Frames each stage's mean time covers in /diagnostics (``stage_<name>_mean_ms``).
STAGE_WINDOW = 30
# A frame's output stage, run on the loop's output thread: True when it published.
OutputStage = Callable[[], bool]
# The node's work on one usable frame (its RGB image and camera model): True when it
# published, or the frame's OutputStage, which then runs while the next frame is worked on.
FrameWork = Callable[[CameraFrame, np.ndarray, CameraModel], 'bool | OutputStage']


class StageTimes:
    """Mean milliseconds of each named stage over the last ``keep`` frames that ran it."""

    def __init__(self, keep: int = STAGE_WINDOW) -> None:
        self._keep = keep
        self._stats: dict[str, LatencyStats] = {}
        self._lock = threading.Lock()

    def add(self, timings_ms: dict[str, float]) -> None:
        """Record one frame's stage times (milliseconds, by stage name)."""
        with self._lock:
            for name, milliseconds in timings_ms.items():
                if name not in self._stats:
                    self._stats[name] = LatencyStats(self._keep)
                self._stats[name].add(milliseconds / 1e3)

    def values(self) -> dict[str, float]:
        """Return ``{'stage_<name>_mean_ms': mean}`` for every stage seen, in first-seen order."""
        with self._lock:
            stats = list(self._stats.items())
        return {f'stage_{name}_mean_ms': stat.summary_ms()['mean'] for name, stat in stats}


class FrameLoop:
    """Runs a node's work on the newest usable camera frame and reports how the frames flow."""

    def __init__(self, node: Node, work: FrameWork, *, purpose: str, worker_name: str,
                 transport: str, qos: QoSProfile, max_pixels: Callable[[], int],
                 problem_kinds: tuple[str, ...] = ()) -> None:
        self._work = work
        self._purpose = purpose
        self._max_pixels = max_pixels
        self._cameras = CameraModelCache()
        self._diagnostics: DiagnosticsPublisher | None = None
        # A managed node that is not active pauses the loop: frames are dropped unread.
        self.paused = False
        self.rate_in, self.rate_out = RateMeter(), RateMeter()
        self.latency = LatencyStats()
        self.stages = StageTimes()
        self.health = InputHealth(node.get_logger(), problem_kinds, THROTTLE_S)
        self.worker = LatestFrameWorker(self._process, name=worker_name,
                                        on_error=self.health.failed)
        # A frame's output stage (when the work returns one) runs here, one frame at a time.
        self.outputs = LatestFrameWorker(self._finish, name=f'{worker_name}-outputs',
                                         on_error=self.health.failed)
        self.worker.start()
        self.outputs.start()
        self.camera = CameraInput(node, self._on_frame, transport=transport, qos=qos)

    def resolved_names(self) -> dict[str, str]:
        """Return the resolved name of each camera subscription, by relative name."""
        camera = self.camera
        image = 'image/compressed' if camera.image_subscription.msg_type is not Image else 'image'
        return {image: camera.image_subscription.topic_name,
                'camera_info': camera.camera_info_subscription.topic_name}

    def publish_diagnostics(self, node: Node, status_name: str, hardware_id: str,
                            report: Callable[[], StatusReport]) -> None:
        """Start publishing ``report`` on /diagnostics once per second."""
        self._diagnostics = DiagnosticsPublisher(node, status_name, hardware_id, report)

    def flow_values(self) -> dict[str, object]:
        """Return the key values every node reports: rates, frames, latency, input problems."""
        return {**frame_flow_values(self.rate_in, self.rate_out, self.worker, self.latency,
                                    self.health.counts),
                **self.stages.values()}

    def status(self, active: str) -> tuple[bytes, str]:
        """Return the diagnostic (level, message); ``active`` says what publishing means."""
        return self.health.status(self.rate_out.rate() > 0.0, active)

    def _on_frame(self, frame: CameraFrame) -> None:
        if self.paused:
            return
        self.rate_in.tick()
        self.worker.put(frame)

    def _process(self, frame: CameraFrame) -> None:
        if self.paused:  # queued just before the pause
            return
        start = time.perf_counter()
        usable = self.health.usable_frame(
            frame, self._cameras, self._max_pixels(),
            self.camera.camera_info_subscription.topic_name, self._purpose)
        if usable is None:
            return
        self.stages.add({'decode': 1e3 * (time.perf_counter() - start)})
        rgb, camera = usable
        outcome = self._work(frame, rgb, camera)
        if callable(outcome):
            # The previous frame's outputs first (one frame's outputs at a time, none dropped
            # here); then this frame's go out while the worker takes the newest frame, so
            # latest-frame-wins stays at the input.
            self.outputs.wait_idle()
            self.outputs.put((frame, outcome))
        elif outcome:
            self._published(frame)

    def _finish(self, item: tuple[CameraFrame, OutputStage]) -> None:
        frame, output_stage = item
        if output_stage():
            self._published(frame)

    def _published(self, frame: CameraFrame) -> None:
        self.rate_out.tick()
        self.latency.add(time.monotonic() - frame.received_monotonic)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until no frame is being worked on or published; return whether it happened."""
        deadline = None if timeout is None else time.monotonic() + timeout
        if not self.worker.wait_idle(timeout):
            return False
        return self.outputs.wait_idle(None if deadline is None
                                      else max(0.0, deadline - time.monotonic()))

    def stop(self) -> None:
        """Stop the workers after the frame in progress (waiting frames are dropped)."""
        self.worker.stop()
        self.outputs.stop()

    def destroy(self, node: Node) -> None:
        """Stop the worker and remove the camera subscriptions and /diagnostics from ``node``."""
        self.stop()
        self.camera.destroy(node)
        if self._diagnostics is not None:
            self._diagnostics.destroy()


class OutputPublishers:
    """A node's output publishers by relative topic: which are wanted, and publishing fields."""

    def __init__(self, node: Node, types: dict[str, type], qos: QoSProfile) -> None:
        self._publishers = {topic: node.create_publisher(kind, topic, qos)
                            for topic, kind in types.items()}
        self._payloads: dict[str, array.array] = {}

    def payload(self, topic: str, size: int) -> array.array:
        """Return ``topic``'s kept message payload of ``size`` bytes, to fill in place.

        The same array comes back frame after frame (a new one when the size changes), so a
        large output is written once into the message's own buffer and no memory is faulted
        in per frame. Valid until the next call for the topic: publishing copies it.
        """
        kept = self._payloads.get(topic)
        if kept is None or len(kept) != size:
            kept = array.array('B', bytes(size))
            self._payloads[topic] = kept
        return kept

    def resolved_names(self) -> dict[str, str]:
        """Return the resolved name of each output, by relative name."""
        return {topic: publisher.topic_name for topic, publisher in self._publishers.items()}

    def wanted(self) -> set[str]:
        """Return the topics that have subscribers (the only ones worth computing)."""
        return {topic for topic, publisher in self._publishers.items()
                if publisher.get_subscription_count()}

    def destroy(self, node: Node) -> None:
        """Remove the publishers from ``node``."""
        for publisher in self._publishers.values():
            node.destroy_publisher(publisher)
        self._publishers = {}

    def publish(self, messages: dict[str, OutputFields], header: Header) -> dict[str, float]:
        """Publish each topic's fields, stamped with ``header`` (the input image's).

        Return the milliseconds spent building the messages (``message_build``) and in
        ``publish`` (serialisation and handing them to DDS).
        """
        timings_ms = {'message_build': 0.0, 'publish': 0.0}
        for topic, fields in messages.items():
            self.publish_one(topic, fields, header, timings_ms)
        return timings_ms

    def publish_one(self, topic: str, fields: OutputFields, header: Header,
                    timings_ms: dict[str, float]) -> None:
        """Publish one topic's fields now; add the time to ``message_build`` and ``publish``."""
        start = time.perf_counter()
        message = output_message(fields, header)
        built = time.perf_counter()
        self._publishers[topic].publish(message)
        timings_ms['message_build'] = (timings_ms.get('message_build', 0.0)
                                       + 1e3 * (built - start))
        timings_ms['publish'] = (timings_ms.get('publish', 0.0)
                                 + 1e3 * (time.perf_counter() - built))
