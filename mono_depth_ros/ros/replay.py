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

"""Replay a bag over real DDS into nodes and collect what comes out: the demo's engine."""

from dataclasses import dataclass, field
import pathlib
import time
from typing import Callable

from rclpy.context import Context
from rclpy.node import Node

from mono_depth_ros.ros.bag_player import BagPlayer
from mono_depth_ros.ros.collector import TopicCollector
from mono_depth_ros.ros.graph import BackgroundExecutor, ros_context


@dataclass
class ReplayResult:
    """What a replay published and what arrived on the collected topics."""

    published: int
    messages: dict[str, list] = field(default_factory=dict)
    wall_s: float = 0.0


class Lockstep:
    """Holds each frame back until the nodes have answered the previous one.

    Before a message on ``frame_topic`` is published, waits until every ``answer_topics``
    count has grown since the previous frame, at most ``timeout_s``. A node that skips a frame
    costs one timeout; after ``give_up_after`` timeouts in a row, frames go out on schedule.
    """

    def __init__(self, collector: TopicCollector, frame_topic: str,
                 answer_topics: list[str], timeout_s: float = 5.0,
                 give_up_after: int = 3) -> None:
        self._collector = collector
        self._frame_topic = frame_topic
        self._answer_topics = list(answer_topics)
        self._timeout_s = timeout_s
        self._give_up_after = give_up_after
        self._counts: list[int] | None = None
        self.timeouts_in_a_row = 0
        self.timeouts = 0

    def __call__(self, topic: str) -> float:
        """Wait (when ``topic`` is the frame topic) and return the seconds waited."""
        if topic != self._frame_topic or self.timeouts_in_a_row >= self._give_up_after:
            return 0.0
        start = time.monotonic()
        if self._counts is not None:
            deadline = start + self._timeout_s
            answered = all(
                self._collector.wait_for(answer, before + 1,
                                         timeout=max(0.0, deadline - time.monotonic()))
                for answer, before in zip(self._answer_topics, self._counts))
            if answered:
                self.timeouts_in_a_row = 0
            else:
                self.timeouts += 1
                self.timeouts_in_a_row += 1
        self._counts = [self._collector.count(answer) for answer in self._answer_topics]
        return time.monotonic() - start


def replay_bag(bag_path: str | pathlib.Path, collect: dict[str, type], *,
               make_nodes: Callable[[Context], list[Node]] | None = None,
               remap: dict[str, str] | None = None, rate: float = 1.0,
               discovery_timeout_s: float = 15.0, settle_s: float = 1.5,
               idle_timeout_s: float = 30.0,
               lockstep: tuple[str, list[str]] | None = None,
               lockstep_timeout_s: float = 5.0) -> ReplayResult:
    """Publish a bag over DDS with ``make_nodes``' nodes running; return what arrived.

    After the last message, waits until no collected topic has received anything for
    ``settle_s`` (so slow nodes can finish), at most ``idle_timeout_s``.

    ``lockstep`` = (bag frame topic, collected answer topics) plays frame by frame: each frame
    waits until the nodes have answered the previous one (see :class:`Lockstep`), so a machine
    that stalls delays the replay instead of making the nodes drop frames. Without it, the
    bag plays on its recorded schedule, as ``ros2 bag play`` does.
    """
    with ros_context() as context:
        nodes = make_nodes(context) if make_nodes else []
        collector = TopicCollector(collect, context=context, name='replay_collector')
        player_node = Node('replay_player', context=context)
        # The player's publishers go with its node once the executor has stopped: destroyed
        # while it spins, their event handlers fail inside it ("cannot use Destroyable").
        player = None
        try:
            with BackgroundExecutor(context, [*nodes, collector, player_node]):
                player = BagPlayer(player_node, bag_path, remap=remap, rate=rate)
                topics = player.topics
                player.wait_for_subscribers(topics, timeout=discovery_timeout_s)
                time.sleep(1.0)  # let the reverse direction of discovery settle too
                start = time.monotonic()
                gate = None
                if lockstep is not None:
                    gate = Lockstep(collector, lockstep[0], lockstep[1], lockstep_timeout_s)
                published = player.play(gate=gate)
                _wait_until_quiet(collector, list(collect), settle_s, idle_timeout_s)
                wall_s = time.monotonic() - start
                messages = {topic: collector.messages(topic) for topic in collect}
        finally:
            if player is not None:
                player.close_bag()
        return ReplayResult(published=published, wall_s=wall_s, messages=messages)


def _wait_until_quiet(collector: TopicCollector, topics: list[str], settle_s: float,
                      timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    counts = None
    last_change = time.monotonic()
    while time.monotonic() < deadline:
        now_counts = [collector.count(topic) for topic in topics]
        if now_counts != counts:
            counts, last_change = now_counts, time.monotonic()
        elif time.monotonic() - last_change >= settle_s:
            return
        time.sleep(0.05)
