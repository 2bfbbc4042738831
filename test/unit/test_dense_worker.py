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

"""The dense step's thread: the newest job wins, failures are counted and said once."""

import threading
import time

from mono_depth_ros.pipeline.dense_worker import DenseWorker


def wait_idle(worker, timeout_s=5.0):
    deadline = time.monotonic() + timeout_s
    while not worker.idle() and time.monotonic() < deadline:
        time.sleep(0.005)
    return worker.idle()


def test_a_waiting_job_is_replaced_by_a_newer_one():
    release = threading.Event()
    done = []

    def compute(job):
        if job == 0:
            release.wait(5.0)
        return job * 10

    worker = DenseWorker(compute, lambda job, result: done.append((job, result)))
    try:
        worker.submit(0)
        time.sleep(0.05)  # job 0 is running
        for job in (1, 2, 3):
            worker.submit(job)
        release.set()
        assert wait_idle(worker)
    finally:
        worker.stop()
    assert done == [(0, 0), (3, 30)]
    assert worker.skipped == 2 and worker.done == 2


def test_a_failing_job_is_counted_said_once_and_the_thread_carries_on():
    said, done = [], []

    def compute(job):
        if job < 0:
            raise ValueError('bad keyframe')
        return job

    worker = DenseWorker(compute, lambda job, result: done.append(result), on_error=said.append)
    try:
        for job in (-1, -2, 5):
            worker.submit(job)
            assert wait_idle(worker)
    finally:
        worker.stop()
    assert worker.errors == 2 and said == ['ValueError: bad keyframe']
    assert done == [5]
