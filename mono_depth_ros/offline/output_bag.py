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


"""The output rosbag2 of process-bag, written in log-time order whatever order frames finish."""

from collections import Counter
import heapq
import itertools
import pathlib
import shutil
from typing import Callable

from mono_depth_ros import bags
from mono_depth_ros.bags import messages
from mono_depth_ros.offline import LOGGER
from mono_depth_ros.offline.processor import FrameOutput, OUTPUT_TOPICS

# What an unfinished rosbag2 directory (a writer killed before metadata.yaml) may hold.
_STORAGE_SUFFIXES = ('.mcap', '.db3', '.db3-shm', '.db3-wal', '.db3-journal')


class OutputBag:
    """A rosbag2 being written in log-time order, whatever order the messages come in.

    Messages wait in a heap until ``flush(before_ns)``; the caller flushes up to the log time of
    the oldest frame still being processed, so outputs land between the inputs they belong to.
    """

    def __init__(self, writer: bags.BagWriter) -> None:
        self._writer = writer
        self.path = pathlib.Path(writer.path)
        self._connections: dict[tuple[str, str], object] = {}
        self._heap: list = []
        self._order = itertools.count()
        self.counts: Counter = Counter()
        self._closed = False

    @classmethod
    def create(cls, path: pathlib.Path, storage: str, overwrite: bool) -> 'OutputBag':
        """Open a new rosbag2 for writing.

        An empty directory counts as absent; anything else there is refused unless
        ``overwrite``, and even then only a rosbag2 is replaced, finished or not (a directory
        holding only storage files, left by a run that was killed).
        """
        path = pathlib.Path(path)
        if path.is_dir() and not any(path.iterdir()):
            path.rmdir()
        if path.exists():
            if not overwrite:
                raise FileExistsError(f'{path} exists and is not empty (a new or empty '
                                      'directory, or --overwrite to replace it)')
            if not ((path / 'metadata.yaml').exists() or _unfinished_bag(path)):
                raise FileExistsError(f'{path} exists and is not a rosbag2: not replacing it '
                                      '(a rosbag2 directory, or a new or empty one)')
            shutil.rmtree(path)
        return cls(bags.BagWriter(path, storage))

    def add_output(self, topic: str, msgtype: str) -> tuple[str, str]:
        """Register a topic written with the standard (Jazzy) definition; return its key."""
        key = (topic, msgtype)
        if key not in self._connections:
            self._connections[key] = self._writer.add_topic(topic, msgtype)
        return key

    def add_copy(self, connection, typestore) -> tuple[str, str] | None:
        """Register an input connection for copying, with its own definition; return its key."""
        key = (connection.topic, connection.msgtype)
        if key in self._connections:
            return key
        try:
            self._connections[key] = self._writer.add_copy(connection, typestore)
        except Exception as error:  # rosbags raises several types here
            LOGGER.warning('not copying %s (%s): %s', connection.topic, connection.msgtype,
                           error)
            return None
        return key

    def put_frame(self, output: FrameOutput, output_topic: Callable[[str], str]) -> None:
        """Queue one frame's outputs, stamped like its image, at the image's log time.

        ``output_topic`` maps a relative output topic (``depth/image``) to its full name.
        """
        frame = output.frame
        header = messages.header(frame.stamp_ns, frame.frame_id)
        for relative, fields in output.messages.items():
            key = self.add_output(output_topic(relative), OUTPUT_TOPICS[relative])
            self.put(frame.log_time_ns, key, bags.serialize(messages.from_fields(fields, header)))

    def put(self, log_time_ns: int, key: tuple[str, str], data) -> None:
        """Queue one serialized message."""
        heapq.heappush(self._heap, (int(log_time_ns), next(self._order), key, bytes(data)))

    def flush(self, before_ns: int | None = None) -> None:
        """Write the queued messages older than ``before_ns`` (all of them with None)."""
        while self._heap and (before_ns is None or self._heap[0][0] < before_ns):
            log_time, _, key, data = heapq.heappop(self._heap)
            self._writer.write(self._connections[key], log_time, data)
            self.counts[key[0]] += 1

    def close(self) -> None:
        """Write what is queued and finish the bag (metadata.yaml)."""
        if not self._closed:
            self.flush()
            self._writer.close()
            self._closed = True

    def abort(self) -> None:
        """Stop writing and remove the unfinished bag (this object created its directory)."""
        if not self._closed:
            self._writer.abort()
            self._closed = True
            if _unfinished_bag(self.path):
                shutil.rmtree(self.path, ignore_errors=True)


def _unfinished_bag(path: pathlib.Path) -> bool:
    """Whether ``path`` is a directory of rosbag2 storage files only, without metadata.yaml."""
    if not path.is_dir() or (path / 'metadata.yaml').exists():
        return False
    return all(entry.is_file() and entry.name.endswith(_STORAGE_SUFFIXES)
               for entry in path.iterdir())
