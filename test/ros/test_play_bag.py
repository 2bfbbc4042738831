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

"""python -m mono_depth_ros.tools.play_bag: a bag over DDS with /clock, as ros2 bag play does."""

import subprocess
import sys

from rclpy.qos import QoSProfile, ReliabilityPolicy
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import Image

from mono_depth_ros.ros.collector import TopicCollector
from mono_depth_ros.ros.graph import BackgroundExecutor, ros_context
from mono_depth_ros.ros.messages import stamp_to_ns
from mono_depth_ros.synth import BAG_TOPICS, render_sequence, write_sequence

RELIABLE = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)


def test_it_waits_for_a_subscriber_then_plays_every_image_with_the_bag_clock(tmp_path):
    sequence = render_sequence(frames=10, width=160, height=120, seed=2, supersample=1)
    bag = write_sequence(sequence, tmp_path)['bag']
    image_topic = BAG_TOPICS['image']
    with ros_context() as context:
        collector = TopicCollector({image_topic: Image, '/clock': Clock}, context=context,
                                   qos=RELIABLE)
        with BackgroundExecutor(context, [collector]):
            result = subprocess.run(
                [sys.executable, '-m', 'mono_depth_ros.tools.play_bag', str(bag), '--clock',
                 '--rate', '2', '--wait-for-subscribers', '20'],
                capture_output=True, text=True, timeout=60)
            assert result.returncode == 0, result.stderr
            assert collector.wait_for(image_topic, count=len(sequence.frames), timeout=10)
            assert collector.wait_for('/clock', timeout=10)
            images = collector.messages(image_topic)
            clock_ns = [stamp_to_ns(message.clock) for message in collector.messages('/clock')]
    assert [stamp_to_ns(m.header.stamp) for m in images] == [f.stamp_ns for f in sequence.frames]
    assert clock_ns == sorted(clock_ns)
    assert 'published' in result.stdout


def test_a_missing_bag_is_one_clear_error(tmp_path):
    result = subprocess.run(
        [sys.executable, '-m', 'mono_depth_ros.tools.play_bag', str(tmp_path / 'none.mcap')],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 2  # an input error, in the style of every mono-depth-ros tool
    line, = result.stderr.splitlines()
    assert line.startswith('mono-depth-ros play-bag: ') and 'none.mcap' in line
