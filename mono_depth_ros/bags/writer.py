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


"""Writing a rosbag2 (MCAP or sqlite3) with the package's typestore and metadata version."""

import contextlib
import pathlib
from typing import Any, Sequence

from mono_depth_ros.bags.store import BAG_METADATA_VERSION, serialize, STORAGES, typestore


class BagWriter:
    """A new rosbag2 directory being written; ``close()`` finishes it (metadata.yaml).

    As a context manager it closes on success and aborts (no metadata.yaml) on an error. The
    directory must not exist. ``version`` is :data:`BAG_METADATA_VERSION` unless a test needs a
    bag as Jazzy and Kilted record it (9).
    """

    def __init__(self, path: str | pathlib.Path, storage: str = 'mcap', *,
                 version: int = BAG_METADATA_VERSION) -> None:
        from rosbags.rosbag2 import StoragePlugin, Writer

        if storage not in STORAGES:
            raise ValueError(f'storage {storage!r} (expected one of {", ".join(STORAGES)})')
        plugin = StoragePlugin.MCAP if storage == 'mcap' else StoragePlugin.SQLITE3
        self.path = pathlib.Path(path)
        self._writer = Writer(self.path, version=version, storage_plugin=plugin)
        self._writer.open()
        self._closed = False

    def add_topic(self, topic: str, msgtype: str, *,
                  offered_qos: Sequence[Any] = ()) -> Any:
        """Register a topic with the standard definition of ``msgtype``; return its handle."""
        return self._writer.add_connection(topic, msgtype, typestore=typestore(),
                                           offered_qos_profiles=list(offered_qos))

    def add_copy(self, connection: Any, definitions: Any) -> Any:
        """Register a topic read from another bag, keeping its definition and offered QoS.

        ``connection`` is a :class:`~mono_depth_ros.bags.BagReader` connection; where it carries
        no definition, the one in ``definitions`` (the reader's typestore) is used.
        """
        definition = connection.msgdef
        qos = list(getattr(connection.ext, 'offered_qos_profiles', None) or [])
        if definition is not None and definition.data and connection.digest:
            return self._writer.add_connection(
                connection.topic, connection.msgtype, msgdef=definition.data,
                rihs01=connection.digest, offered_qos_profiles=qos)
        return self._writer.add_connection(connection.topic, connection.msgtype,
                                           typestore=definitions, offered_qos_profiles=qos)

    def write(self, topic: Any, log_time_ns: int, data: bytes | memoryview) -> None:
        """Write one serialized message on a registered topic at its log (receive) time."""
        self._writer.write(topic, int(log_time_ns), data)

    def write_message(self, topic: Any, log_time_ns: int, message: Any) -> None:
        """Serialize a message (built with :mod:`mono_depth_ros.bags.messages`) and write it."""
        self.write(topic, log_time_ns, serialize(message))

    def close(self) -> None:
        """Finish the bag: flush the storage and write metadata.yaml (again is harmless)."""
        if not self._closed:
            self._closed = True
            self._writer.close()

    def abort(self) -> None:
        """Stop writing without finishing the bag (no metadata.yaml)."""
        if not self._closed:
            self._closed = True
            self._writer.abort()

    def __enter__(self) -> 'BagWriter':
        """Return the open writer."""
        return self

    def __exit__(self, exc_type, exc_value, traceback) -> None:
        """Close on success, abort on an error."""
        if exc_type is None:
            try:
                self.close()
            except BaseException:
                with contextlib.suppress(Exception):
                    self._writer.abort()
                raise
        else:
            with contextlib.suppress(Exception):
                self.abort()
