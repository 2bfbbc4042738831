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


"""The bag format choices made once: typestore, metadata version, storages, CDR."""

import functools
from typing import Any

# rosbag2 metadata version 8: version 9 writes offered_qos_profiles as a YAML list, which
# Humble's ros2 bag cannot read; Jazzy and Kilted read both.
BAG_METADATA_VERSION = 8
STORAGES = ('mcap', 'sqlite3')


@functools.lru_cache(maxsize=None)
def typestore() -> Any:
    """Return the rosbags typestore every bag is written and read with (ROS 2 Jazzy)."""
    from rosbags.typesys import get_typestore, Stores

    return get_typestore(Stores.ROS2_JAZZY)


def serialize(message: Any) -> memoryview:
    """Return the CDR bytes of a message built from :func:`typestore`'s types."""
    return typestore().serialize_cdr(message, message.__msgtype__)


def deserialize(data: bytes | memoryview, msgtype: str) -> Any:
    """Return the message of CDR bytes of type ``msgtype`` (e.g. ``sensor_msgs/msg/Image``)."""
    return typestore().deserialize_cdr(data, msgtype)
