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

"""depth_node on TensorRT (stand-ins): ONNX Runtime serves while the engine builds, then not.

TensorRT and the CUDA runtime are the stand-ins of ``tensorrt_stand_in``; their engine runs the
graph TensorRT would have parsed on ONNX Runtime, so the node publishes real depth from a tiny
real-architecture Depth Anything either way, over real DDS.
"""

import threading
import time

from diagnostic_msgs.msg import DiagnosticArray
import pytest
from sensor_msgs.msg import Image

from mono_depth_ros.nodes.depth_node import DepthNode
from ros_harness import node_under_test
from synthetic_frames import off_centre_camera, textured_rgb
from tensorrt_stand_in import ProfileBuilder, use_stand_in_tensorrt

STAMP_NS = 1_700_000_000_000_000_000


@pytest.fixture(scope='module')
def relative_model():
    import model_fixtures

    return model_fixtures.make_onnx()


def _depth_values(collector) -> list[dict]:
    return [{value.key: value.value for value in status.values}
            for array in collector.messages('/diagnostics')
            for status in array.status if status.name.endswith(': depth')]


def _wait_for_diagnostics(collector, predicate, publish, timeout: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        publish()
        values = _depth_values(collector)
        if values and predicate(values[-1]):
            return values[-1]
        time.sleep(0.2)
    raise AssertionError(f'diagnostics never matched; last: {_depth_values(collector)[-1:]}')


def test_the_node_serves_from_onnxruntime_switches_to_the_engine_and_follows_the_camera(
        relative_model, tmp_path, monkeypatch):
    use_stand_in_tensorrt(monkeypatch, '10.3.0', working=True)
    # The first build waits until the test has seen ONNX Runtime serving on /diagnostics (DDS
    # discovery of /diagnostics may take longer than a stand-in build).
    seen_serving = threading.Event()
    build = ProfileBuilder.build_serialized_network

    def gated_build(self, network, config):
        seen_serving.wait(timeout=60)
        return build(self, network, config)

    monkeypatch.setattr(ProfileBuilder, 'build_serialized_network', gated_build)
    args = ['--ros-args', '-p', f'model:={relative_model}', '-p', 'backend:=tensorrt',
            '-p', 'device:=cuda', '-p', 'precision:=fp16', '-p', 'input_size:=140',
            '-p', f'engine_cache_dir:={tmp_path}', '-p', 'publish_points:=false',
            '-p', 'publish_colored:=false']
    camera = off_centre_camera()
    outputs = {'depth/relative': Image, '/diagnostics': DiagnosticArray}
    rgb = textured_rgb()
    small, small_camera = textured_rgb(160, 120, seed=1), off_centre_camera(160, 120)
    stamp = iter(range(STAMP_NS, STAMP_NS + 10**6))
    with node_under_test(lambda context: DepthNode(context=context), outputs, args=args) as (
            node, publisher, collector):
        serving = _wait_for_diagnostics(
            collector, lambda values: values['serving_backend'] == 'onnxruntime',
            lambda: publisher.publish_frame(rgb, camera, next(stamp)))
        assert serving['engine_state'].startswith('building the engine for 320x240')
        seen_serving.set()
        first = _wait_for_diagnostics(
            collector, lambda values: values['serving_backend'] == 'tensorrt',
            lambda: publisher.publish_frame(rgb, camera, next(stamp)))
        assert collector.count('depth/relative') >= 1
        assert float(first['engine_build_s']) >= 0 and first['engine_switched_at']
        assert 'passed' in first['engine_validation']
        # The camera changes resolution: a second engine, built in the background.
        second = _wait_for_diagnostics(
            collector, lambda values: values['engine_builds'] == '2'
            and values['engine_state'] == 'engine',  # built, and switched to
            lambda: publisher.publish_frame(small, small_camera, next(stamp)))
        received = collector.messages('depth/relative')[-1]
    assert second['serving_backend'] == 'tensorrt'
    assert (received.height, received.width) == small.shape[:2]
    assert len(list(tmp_path.glob('*.engine'))) == 2
