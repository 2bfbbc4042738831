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

"""The depth node's per-frame overhead: one-copy messages, stage times, bench_node_overhead."""

import array
import json
import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest
from std_msgs.msg import Header

from mono_depth_ros.core.image_codec import numpy_to_image
from mono_depth_ros.core.pointcloud import pack_organized_cloud
from mono_depth_ros.pipeline.depth_pipeline import retain_freed_memory
from mono_depth_ros.ros.frame_loop import StageTimes
from mono_depth_ros.ros.messages import image_message, point_cloud_message, set_payload
from mono_depth_ros.tools import bench

STAGES = ('decode', 'preprocess', 'inference', 'postprocess', 'depth_image', 'cloud',
          'colorize', 'message_build', 'publish')


def test_messages_keep_the_one_payload_copy_whatever_rclpy_checks():
    points = np.arange(2 * 3 * 3, dtype=np.float32).reshape(2, 3, 3)
    fields = pack_organized_cloud(points)
    cloud = point_cloud_message(fields, Header(frame_id='camera'))
    assert bytes(cloud.data) == bytes(fields.data) and cloud.header.frame_id == 'camera'
    image = image_message(numpy_to_image(points[:, :, 0], '32FC1'), Header())
    assert bytes(image.data) == points[:, :, 0].tobytes()
    if hasattr(cloud, '_check_fields'):  # Jazzy and later: the check is back off afterwards
        assert cloud._check_fields is False and image._check_fields is False
    payload_owner = type(cloud)()
    set_payload(payload_owner, memoryview(b'\x01\x02'))
    first = payload_owner.data
    set_payload(payload_owner, b'\x03')
    assert list(first) == [1, 2] and list(payload_owner.data) == [3], 'a new array each time'
    kept = array.array('B', b'\x04\x05')
    set_payload(payload_owner, memoryview(kept).cast('B'))
    assert payload_owner.data is kept, 'a kept payload filled in place is not copied'


def test_stage_times_report_means_over_their_window():
    stages = StageTimes(keep=2)
    stages.add({'decode': 1.0, 'cloud': 4.0})
    stages.add({'decode': 3.0})
    stages.add({'decode': 5.0})
    values = stages.values()
    assert list(values) == ['stage_decode_mean_ms', 'stage_cloud_mean_ms']
    assert values['stage_decode_mean_ms'] == pytest.approx(4.0)
    assert values['stage_cloud_mean_ms'] == pytest.approx(4.0)


def test_freed_memory_is_retained_once_per_process():
    assert retain_freed_memory() == retain_freed_memory()


@pytest.fixture(scope='module')
def result(package_root) -> dict:
    pytest.importorskip('onnxruntime')
    module = bench.load_benchmark(package_root / 'bench' / 'bench_node_overhead.py')
    return module.run(frames=3, warmup=1, load_s=0.5, real_model=False, bag_frames=2,
                      sizes=((160, 120),), strides=(2,), rates_hz=(30.0,), settle_s=0.2)


def test_reduced_bench_reports_every_stage_of_a_real_node(result):
    json.dumps(result)  # plain JSON
    on = result['configurations']['160x120_stride2_colour_on']
    off = result['configurations']['160x120_stride2_colour_off']
    assert on['frames'] + on['frames_lost'] == 3 and on['frames'] > 0
    assert set(on['node_stages_ms']) == set(STAGES)
    assert on['overhead_ms'] is not None and on['plain_copy_ms'] > 0
    assert on['published_bytes_per_frame']['points'] == 80 * 60 * 16
    assert off['published_bytes_per_frame']['points'] == 80 * 60 * 12
    assert 'depth/colored' not in off['outputs'] and 'depth/colored' in on['outputs']
    assert set(on['subscriber_decode_ms']) == set(on['outputs'])


def test_reduced_bench_separates_the_rclpy_floor_from_the_nodes_own_work(result):
    floor = result['rclpy_floor']['160x120_stride2_colour_on']
    on = result['configurations']['160x120_stride2_colour_on']
    # The floor node published exactly the bytes depth_node published, without computing.
    assert floor['published_bytes_per_frame'] == on['published_bytes_per_frame']
    assert on['rclpy_floor_ms'] == floor['median_ms'] > 0
    assert on['own_work_ms'] == pytest.approx(on['overhead_ms'] - floor['median_ms'], abs=0.02)
    goal = result['goals'].get('640x480_stride1_colour_on')
    assert goal is not None and set(goal) >= {'rclpy_floor_ms', 'own_work_ms', 'goal_met'}


def test_reduced_bench_says_why_there_is_no_gpu_output_stage_figure(result):
    cuda = result['output_device_cuda']
    assert 'skipped' in cuda or cuda['frames'] > 0


def test_reduced_bench_reports_throughput_and_process_bag(result):
    load = result['throughput']['30_hz']
    assert load['frames_published'] == 15
    assert 0 < load['outputs_complete_received'] <= load['frames_published']
    assert isinstance(load['no_drops'], bool)
    bag = result['process_bag']['160x120_stride2_colour_on']
    assert bag['frames'] == 2 and 'points' in bag['outputs']
    assert set(bag['pipeline_stages_ms']) == {'preprocess', 'inference', 'postprocess'}


def test_frame_loop_publishes_a_frame_while_the_worker_takes_the_next():
    """A work that returns an output stage: stages in order, one at a time, overlapping work."""
    from rclpy.qos import qos_profile_sensor_data

    from mono_depth_ros.ros.frame_loop import FrameLoop
    from mono_depth_ros.ros.graph import spinning_node

    events, lock = [], threading.Lock()

    def note(what):
        with lock:
            events.append(what)

    def work(frame, rgb, camera):
        note(('work', frame.name))
        if frame.name == 'skipped':
            return False

        def output_stage():
            note(('out start', frame.name))
            time.sleep(0.2)
            note(('out end', frame.name))
            return True
        return output_stage

    with spinning_node('frame_loop_test') as node:
        loop = FrameLoop(node, work, purpose='depth', worker_name='test-worker',
                         transport='raw', qos=qos_profile_sensor_data, max_pixels=lambda: 0)
        loop.health.usable_frame = lambda frame, *args: (None, None)
        try:
            for name in ('a', 'b', 'skipped'):
                loop.worker.put(SimpleNamespace(name=name, received_monotonic=time.monotonic()))
                time.sleep(0.05)  # each frame is taken before the next one comes
            assert loop.wait_idle(5.0)
        finally:
            loop.destroy(node)
    order = list(events)
    assert order.index(('work', 'b')) < order.index(('out end', 'a')), 'b worked on meanwhile'
    assert order.index(('out end', 'a')) < order.index(('out start', 'b')), 'one at a time'
    assert ('out start', 'skipped') not in order
    assert loop.worker.dropped == 0 and loop.outputs.dropped == 0
    assert loop.rate_out.rate() > 0 and loop.latency.summary_ms()['max'] >= 200.0
