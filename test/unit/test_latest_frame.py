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

"""The worker mailbox: the newest frame wins, nothing queues up, errors don't stop the thread."""

import threading

from mono_depth_ros.ros.latest_frame import LatestFrameWorker


def test_a_busy_worker_keeps_only_the_newest_waiting_frame():
    release = threading.Event()
    started = threading.Event()
    seen = []

    def process(item):
        started.set()
        release.wait(5.0)
        seen.append(item)

    worker = LatestFrameWorker(process)
    worker.start()
    try:
        worker.put(0)
        assert started.wait(5.0)
        for item in range(1, 10):
            worker.put(item)
        release.set()
        assert worker.wait_idle(5.0)
    finally:
        worker.stop()
    assert seen == [0, 9]
    assert worker.received == 10
    assert worker.dropped == 8
    assert worker.processed == 2


def test_an_error_is_reported_and_the_next_frame_is_processed():
    errors, seen = [], []

    def process(item):
        if item == 'bad':
            raise ValueError('malformed')
        seen.append(item)

    worker = LatestFrameWorker(process, on_error=errors.append)
    worker.start()
    try:
        worker.put('bad')
        assert worker.wait_idle(5.0)
        worker.put('good')
        assert worker.wait_idle(5.0)
    finally:
        worker.stop()
    assert [str(error) for error in errors] == ['malformed']
    assert seen == ['good']


def test_stop_joins_the_thread():
    worker = LatestFrameWorker(lambda item: None, name='joined')
    worker.start()
    worker.stop(timeout=2.0)
    assert not any(thread.name == 'joined' for thread in threading.enumerate())
