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

"""Work off the callback thread through a one-slot, latest-frame-wins mailbox (no queue)."""

import threading
from typing import Callable, Generic, TypeVar

Item = TypeVar('Item')


class LatestFrameWorker(Generic[Item]):
    """A worker thread that always processes the newest item; older waiting items are dropped."""

    def __init__(self, process: Callable[[Item], None], *, name: str = 'worker',
                 on_error: Callable[[BaseException], None] | None = None) -> None:
        self._process = process
        self._on_error = on_error
        self._condition = threading.Condition()
        self._slot: list[Item] = []
        self._stopping = False
        self._busy = False
        self.received = 0
        self.dropped = 0
        self.processed = 0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        """Start the worker thread."""
        self._thread.start()

    def put(self, item: Item) -> bool:
        """Offer an item; return True when it replaced one that was still waiting (a drop)."""
        with self._condition:
            self.received += 1
            replaced = bool(self._slot)
            if replaced:
                self.dropped += 1
            self._slot[:] = [item]
            self._condition.notify()
            return replaced

    @property
    def busy(self) -> bool:
        """Return whether an item is being processed or waiting."""
        with self._condition:
            return self._busy or bool(self._slot)

    def _run(self) -> None:
        while True:
            with self._condition:
                while not self._slot and not self._stopping:
                    self._condition.wait()
                if self._stopping:
                    return
                item = self._slot.pop()
                self._busy = True
            try:
                self._process(item)
            except Exception as error:  # reported, and the worker keeps going
                if self._on_error is None:
                    raise
                self._on_error(error)
            finally:
                with self._condition:
                    self._busy = False
                    self.processed += 1
                    self._condition.notify_all()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until nothing is waiting or in progress; return whether that happened in time."""
        with self._condition:
            return self._condition.wait_for(lambda: not self._slot and not self._busy, timeout)

    def stop(self, timeout: float = 2.0) -> None:
        """Stop the thread after the item in progress; waiting items are discarded."""
        with self._condition:
            self._stopping = True
            self._slot.clear()
            self._condition.notify_all()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)
