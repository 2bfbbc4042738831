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

"""The dense step in a thread of its own: the newest keyframe wins, sparse tracking never waits.

``DenseWorker.submit`` hands over a job (a snapshot of the keyframe window and whatever the
caller needs to publish the result); a job that is still waiting when a newer one comes is
dropped (counted in ``skipped``). The thread runs ``compute(job)`` and passes the result to
``on_result(job, result)``; an exception there is counted and reported once per kind
(``errors``, ``last_error``), and the thread carries on. On Linux the thread runs at a lower
priority (``nice``), so that on a busy machine the frame thread gets the CPU first.
"""

import os
import threading
from typing import Any, Callable


class DenseWorker:
    """Runs the latest submitted job in a background thread; older waiting jobs are dropped."""

    def __init__(self, compute: Callable[[Any], Any], on_result: Callable[[Any, Any], None],
                 name: str = 'dense_depth', on_error: Callable[[str], None] | None = None,
                 nice: int = 5):
        self._compute = compute
        self._on_result = on_result
        self._on_error = on_error
        self._condition = threading.Condition()
        self._pending: Any = None
        self._stopped = False
        self._busy = False
        self.skipped = 0
        self.done = 0
        self.errors = 0
        self.last_error = ''
        self._errors_said: set[str] = set()
        self._nice = int(nice)
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, job: Any) -> None:
        """Queue ``job``, replacing a job that has not started yet."""
        with self._condition:
            if self._pending is not None:
                self.skipped += 1
            self._pending = job
            self._condition.notify()

    def idle(self) -> bool:
        """Return whether no job is waiting or running."""
        with self._condition:
            return self._pending is None and not self._busy

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop the thread (a running job finishes first)."""
        with self._condition:
            self._stopped = True
            self._pending = None
            self._condition.notify()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout_s)

    def _run(self) -> None:
        if self._nice and hasattr(os, 'setpriority') and hasattr(threading, 'get_native_id'):
            try:  # Linux: a thread's own nice value
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(),
                               os.getpriority(os.PRIO_PROCESS, 0) + self._nice)
            except OSError:
                pass
        while True:
            with self._condition:
                while self._pending is None and not self._stopped:
                    self._condition.wait()
                if self._stopped:
                    return
                job, self._pending = self._pending, None
                self._busy = True
            try:
                self._on_result(job, self._compute(job))
                self.done += 1
            except Exception as error:  # noqa: B902 - a bad keyframe must not end the thread
                self.errors += 1
                self.last_error = f'{type(error).__name__}: {error}'
                kind = type(error).__name__
                if self._on_error is not None and kind not in self._errors_said:
                    self._errors_said.add(kind)
                    self._on_error(self.last_error)
            finally:
                with self._condition:
                    self._busy = False
