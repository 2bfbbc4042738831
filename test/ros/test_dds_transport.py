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

"""Large best-effort messages cross processes intact with the shipped Fast DDS profile."""

import os
import subprocess
import sys
import textwrap

from sensor_msgs.msg import Image

from mono_depth_ros.resources import apply_fastdds_profile
from mono_depth_ros.ros.collector import TopicCollector
from mono_depth_ros.ros.graph import BackgroundExecutor, ros_context

PUBLISHER_SCRIPT = textwrap.dedent('''
    import sys, time
    import rclpy
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import Image
    from mono_depth_ros.ros.messages import byte_payload
    rclpy.init()
    node = rclpy.create_node('large_image_publisher')
    try:
        publisher = node.create_publisher(Image, 'large_image', qos_profile_sensor_data)
        deadline = time.monotonic() + 20.0
        while publisher.get_subscription_count() == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
        message = Image(height=480, width=640, encoding='bgr8', step=640 * 3)
        message.data = byte_payload(bytes(640 * 480 * 3))
        for index in range(int(sys.argv[1])):
            message.header.frame_id = str(index)
            publisher.publish(message)
            time.sleep(0.1)
        time.sleep(0.5)
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
''')


def test_640x480_images_cross_processes_with_the_large_data_profile():
    # The variable this distribution's Fast DDS reads names the profile (both on Humble/Jazzy
    # would be wasted, and Fast DDS 3 warns about the old name).
    profile = apply_fastdds_profile()
    assert os.environ[profile.read_from].endswith('fastdds_large_data.xml'), profile.read_from
    sent = 20
    with ros_context() as context:
        collector = TopicCollector({'large_image': Image}, context=context)
        with BackgroundExecutor(context, [collector]):
            publisher = subprocess.run([sys.executable, '-c', PUBLISHER_SCRIPT, str(sent)],
                                       capture_output=True, text=True, timeout=60)
            assert publisher.returncode == 0, publisher.stderr
            collector.wait_for('large_image', sent, timeout=2.0)
            received = collector.messages('large_image')
    # Best effort allows a loss under heavy load; the 512 KB default segment loses most of them.
    assert len(received) >= sent - 1, f'{len(received)} of {sent} arrived'
    assert all(len(message.data) == 640 * 480 * 3 for message in received)
