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

"""Slow loads (a new model) on a thread of their own, so no callback waits for them.

A parameter callback asks for a load and returns at once; the loader thread runs one load at a
time, the newest request replacing one still waiting, and a frame worker can wait until it is
done before the next frame.
"""

import threading
from typing import Callable, Generic, TypeVar

Request = TypeVar('Request')


class BackgroundLoader(Generic[Request]):
    """Runs ``load(request)`` on its own thread for the newest request; older waiting ones drop."""

    def __init__(self, load: Callable[[Request], None], *, name: str = 'loader') -> None:
        self._load = load
        self._condition = threading.Condition()
        self._waiting: list[Request] = []
        self._loading = False
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def request(self, request: Request) -> None:
        """Ask for a load; it replaces a request that has not started yet."""
        with self._condition:
            self._waiting[:] = [request]
            self._condition.notify_all()

    @property
    def busy(self) -> bool:
        """Return whether a load is running or waiting."""
        with self._condition:
            return self._loading or bool(self._waiting)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until no load runs or waits (or the loader stops); return whether in time."""
        with self._condition:
            return self._condition.wait_for(
                lambda: self._stopping or not (self._loading or self._waiting), timeout)

    def _run(self) -> None:
        while True:
            with self._condition:
                while not self._waiting and not self._stopping:
                    self._condition.wait()
                if self._stopping:
                    return
                request = self._waiting.pop()
                self._loading = True
            try:
                self._load(request)
            finally:
                with self._condition:
                    self._loading = False
                    self._condition.notify_all()

    def stop(self, timeout: float = 2.0) -> bool:
        """Stop after the load in progress; return whether the thread ended within ``timeout``."""
        with self._condition:
            self._stopping = True
            self._waiting.clear()
            self._condition.notify_all()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)
        return not self._thread.is_alive()
