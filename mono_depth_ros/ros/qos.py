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

"""Named QoS profiles for the ``qos`` parameter."""

from rclpy.qos import qos_profile_sensor_data, QoSProfile, ReliabilityPolicy

from mono_depth_ros.parameter_tables import QOS_CHOICES


def qos_from_name(name: str, depth: int = 5) -> QoSProfile:
    """Return the QoS for ``sensor_data`` (best effort, depth 5) or ``reliable``."""
    if name == 'sensor_data':
        return qos_profile_sensor_data
    if name == 'reliable':
        return QoSProfile(depth=depth, reliability=ReliabilityPolicy.RELIABLE)
    raise ValueError(f'qos = {name!r} (expected one of {", ".join(QOS_CHOICES)})')
