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

"""Throttle repeated log lines per problem, so one noisy fault does not hide a different one."""

import threading
import time


class KeyedThrottle:
    """Says whether to log a problem: the first time, then at most once per period per key."""

    def __init__(self, period_s: float = 5.0, max_keys: int = 256) -> None:
        self._period_s = period_s
        self._max_keys = max_keys
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        """Return True when a line for ``key`` should be logged now."""
        now = time.monotonic()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self._period_s:
                return False
            if len(self._last) >= self._max_keys:
                self._last.clear()
            self._last[key] = now
            return True
