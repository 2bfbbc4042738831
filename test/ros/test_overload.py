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

"""Overload: frames faster than the model never queue; latency stays bounded, drops counted."""

import time

from diagnostic_msgs.msg import DiagnosticArray
import numpy as np
import pytest
from sensor_msgs.msg import Image

from mono_depth_ros.inference.selection import load_backend
import mono_depth_ros.nodes.depth_node as depth_node_module
from mono_depth_ros.nodes.depth_node import DepthNode
from mono_depth_ros.ros.messages import stamp_to_ns
from ros_harness import node_under_test
from synthetic_frames import off_centre_camera, textured_rgb

MODEL_SECONDS = 0.1     # the model takes 100 ms ...
FRAME_PERIOD = 1 / 60   # ... and frames come at 60 Hz
DURATION_S = 8.0
# After the camera stops, latest-frame-wins owes at most the frame being estimated, the one
# whose outputs the output thread is publishing and the newest waiting one (one more for a
# frame still in DDS); a queue owes everything it holds.
MAX_OUTPUTS_AFTER_STOP = 4
# ... and an output is about a frame in flight plus one waiting old; a queue's grows unbounded.
MAX_LATENCY_IN_OUTPUT_INTERVALS = 3


class SlowBackend:
    """A real backend that also takes a fixed extra time per frame, like a bigger model."""

    def __init__(self, backend):
        self._backend = backend

    def infer(self, tensor):
        time.sleep(MODEL_SECONDS)
        return self._backend.infer(tensor)

    def __getattr__(self, name):
        return getattr(self._backend, name)


@pytest.mark.slow
def test_overload_keeps_latency_bounded_and_counts_drops(monkeypatch):
    import model_fixtures
    model = model_fixtures.make_onnx(depth_type='metric')

    def slow_load_backend(*args, **kwargs):
        backend, info = load_backend(*args, **kwargs)
        return SlowBackend(backend), info

    monkeypatch.setattr(depth_node_module, 'load_backend', slow_load_backend)
    camera, rgb = off_centre_camera(), textured_rgb()
    args = ['--ros-args', '-p', f'model:={model}', '-p', 'input_size:=140']
    outputs = {'depth/image': Image, '/diagnostics': DiagnosticArray}
    with node_under_test(lambda context: DepthNode(context=context), outputs, args=args) as (
            node, publisher, collector):
        sent = {}
        start = time.monotonic()
        index = 0
        while time.monotonic() - start < DURATION_S:
            stamp = 1_000_000_000 + index * 16_666_667
            sent[stamp] = time.monotonic()
            publisher.publish_frame(rgb, camera, stamp)
            index += 1
            time.sleep(max(0.0, start + index * FRAME_PERIOD - time.monotonic()))
        stopped = time.monotonic()
        time.sleep(2.0)
        arrivals = collector.arrivals('depth/image')
        diagnostics = collector.messages('/diagnostics')
    latencies = np.array([arrived - sent[stamp_to_ns(message.header.stamp)]
                          for arrived, message in arrivals])
    assert len(latencies) >= 3
    assert len(latencies) < 0.5 * len(sent), 'most frames must be dropped, not queued'
    # A queue would drain after the camera stops and make the latency climb towards the run's
    # length (about 0.8 s per second of run); here each output is about one inference plus one
    # waiting frame old (bench/bench_robustness.py measures it). Both checks hold on a slow or
    # stalled machine: it delays outputs and spaces them out, it adds none after the stop, and
    # an output stays a few output intervals old, however long an interval takes there.
    after_stop = sum(arrived > stopped for arrived, _ in arrivals)
    assert after_stop <= MAX_OUTPUTS_AFTER_STOP, f'{after_stop} outputs came after the stop'
    interval = np.median(np.diff([arrived for arrived, _ in arrivals]))
    assert np.median(latencies) < MAX_LATENCY_IN_OUTPUT_INTERVALS * interval + MODEL_SECONDS, (
        f'median latency {np.median(latencies):.2f} s with outputs every {interval:.2f} s')
    dropped = [int(value.value) for array in diagnostics for status in array.status
               for value in status.values if value.key == 'frames_dropped']
    assert dropped and max(dropped) > 0
