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


"""Reading a rosbag2 (a directory, or a bare .mcap or .db3 file) in log-time order."""

from collections import Counter
from dataclasses import dataclass
import pathlib
from typing import Any, Iterable, Iterator

from mono_depth_ros.bags.store import typestore


class BagReadError(Exception):
    """A path that rosbags cannot read as a rosbag2 (the message says why)."""


@dataclass(frozen=True)
class BagMessage:
    """One serialized message as recorded: topic, type, log (receive) time and CDR bytes."""

    topic: str
    msgtype: str
    log_time_ns: int
    data: bytes | memoryview
    connection: Any  # the rosbags Connection, for copying its definition and QoS


class BagReader:
    """An open rosbag2: its topics, and its messages in log-time order.

    Messages are deserialized with the definitions the bag carries, or with the package's
    typestore (:func:`mono_depth_ros.bags.typestore`) where it carries none.
    """

    def __init__(self, path: str | pathlib.Path) -> None:
        from rosbags.highlevel import AnyReader, AnyReaderError

        self.path = pathlib.Path(path)
        if not self.path.exists():
            raise FileNotFoundError(2, 'no such rosbag2 (a directory with metadata.yaml, or an '
                                       '.mcap or .db3 file)', str(self.path))
        try:
            self._reader = AnyReader([self.path], default_typestore=typestore())
            self._reader.open()
        except AnyReaderError as error:
            raise BagReadError(f'cannot read {self.path} as a rosbag2: {error}') from None

    @property
    def connections(self) -> list:
        """Return the rosbags connections: one or more per topic."""
        return list(self._reader.connections)

    @property
    def typestore(self) -> Any:
        """Return the typestore messages are deserialized with (the bag's own definitions)."""
        return self._reader.typestore

    @property
    def topics(self) -> dict[str, tuple[str, int]]:
        """Return ``{topic: (message type, message count)}``."""
        counts: Counter = Counter()
        types: dict[str, str] = {}
        for connection in self._reader.connections:
            counts[connection.topic] += connection.msgcount
            types[connection.topic] = connection.msgtype
        return {name: (types[name], counts[name]) for name in types}

    def messages(self, topics: Iterable[str] | None = None) -> Iterator[BagMessage]:
        """Yield the recorded messages in log-time order, only those of ``topics`` if given."""
        wanted = None if topics is None else set(topics)
        connections = [c for c in self._reader.connections
                       if wanted is None or c.topic in wanted]
        if not connections:
            return
        for connection, log_time, data in self._reader.messages(connections=connections):
            yield BagMessage(connection.topic, connection.msgtype, log_time, data, connection)

    def deserialize(self, message: BagMessage) -> Any:
        """Return the message object of one :class:`BagMessage` (BagReadError if corrupt)."""
        from rosbags.highlevel import AnyReaderError

        try:
            return self._reader.deserialize(message.data, message.msgtype)
        except AnyReaderError as error:
            raise BagReadError(f'cannot read {self.path} as a rosbag2: {error}') from None

    def close(self) -> None:
        """Close the bag (again is harmless)."""
        if self._reader.stack is not None:
            self._reader.close()

    def __enter__(self) -> 'BagReader':
        """Return the open reader."""
        return self

    def __exit__(self, *exc_info) -> None:
        """Close the bag."""
        self.close()


def open_reader(path: str | pathlib.Path) -> BagReader:
    """Open a rosbag2 directory or a bare .mcap or .db3 file for reading.

    Raises BagReadError when it is not a readable rosbag2, FileNotFoundError when it is missing.
    """
    return BagReader(path)
