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


"""All rosbag2 I/O of the package, through rosbags (imported only when a bag is touched).

One typestore (:func:`typestore`, the ROS 2 Jazzy definitions, which are Kilted's too), one
metadata version (:data:`BAG_METADATA_VERSION`), a reader (:func:`open_reader`), a writer
(:class:`BagWriter`) and the message builders (:mod:`mono_depth_ros.bags.messages`) that turn
the core's neutral fields into bag messages.
"""

from mono_depth_ros.bags import messages
from mono_depth_ros.bags.reader import BagMessage, BagReader, BagReadError, open_reader
from mono_depth_ros.bags.store import (BAG_METADATA_VERSION, deserialize, serialize, STORAGES,
                                       typestore)
from mono_depth_ros.bags.writer import BagWriter

__all__ = [
    'BAG_METADATA_VERSION', 'BagMessage', 'BagReadError', 'BagReader', 'BagWriter', 'STORAGES',
    'deserialize', 'messages', 'open_reader', 'serialize', 'typestore',
]
