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

"""depth_node over real DDS with a tiny real-architecture Depth Anything on ONNX Runtime."""

import os
import subprocess
import sys
import time

from diagnostic_msgs.msg import DiagnosticArray
import numpy as np
import pytest
from rcl_interfaces.srv import SetParameters
from rclpy.parameter import Parameter
from sensor_msgs.msg import CameraInfo, Image, PointCloud2

from mono_depth_ros.core.image_codec import image_to_numpy, numpy_to_image
from mono_depth_ros.core.pointcloud import CloudFields, read_cloud
from mono_depth_ros.inference.selection import load_backend
import mono_depth_ros.nodes.depth_node as depth_node_module
from mono_depth_ros.nodes.depth_node import DepthNode
from mono_depth_ros.offline.processor import InputFrame, OfflineProcessor, OfflineSettings
from mono_depth_ros.pipeline.depth_pipeline import DepthPipeline, DepthSettings
from mono_depth_ros.ros.messages import image_message, stamp_to_ns
from ros_harness import FRAME_ID, header, node_under_test, ros_parameter_args
from synthetic_frames import off_centre_camera, textured_rgb

OUTPUTS = {'depth/image': Image, 'depth/camera_info': CameraInfo, 'depth/relative': Image,
           'depth/colored': Image, 'points': PointCloud2, 'points/filtered': PointCloud2}
STAMP_NS = 1_700_000_123_456_789_000


def depth_node_args(model, **overrides) -> list[str]:
    """Return --ros-args for a small, fast depth node."""
    values = {'model': str(model), 'backend': 'onnxruntime', 'device': 'cpu',
              'input_size': 140, 'points_stride': 3, 'min_depth': 0.05, 'max_depth': 20.0,
              **overrides}
    return ros_parameter_args(values)


def make_depth_node(context):
    return DepthNode(context=context)


@pytest.fixture(scope='module')
def metric_model(tmp_path_factory):
    pytest.importorskip('onnxruntime')
    import model_fixtures
    return model_fixtures.make_onnx(depth_type='metric')


@pytest.fixture(scope='module')
def relative_model():
    pytest.importorskip('onnxruntime')
    import model_fixtures
    return model_fixtures.make_onnx()


def test_metric_model_publishes_every_output_stamped_like_the_input(metric_model):
    camera = off_centre_camera()
    rgb = textured_rgb()
    with node_under_test(make_depth_node, OUTPUTS,
                         args=depth_node_args(metric_model, min_depth=0.5, max_depth=8.0)) as (
                             node, publisher, collector):
        publisher.publish_frame(rgb, camera, STAMP_NS)
        for topic in ('depth/image', 'depth/camera_info', 'depth/colored', 'points',
                      'points/filtered'):
            assert collector.wait_for(topic, 1, timeout=30.0), f'nothing on {topic}'
        depth_message = collector.messages('depth/image')[0]
        info = collector.messages('depth/camera_info')[0]
        colored = collector.messages('depth/colored')[0]
        cloud_message = collector.messages('points')[0]
        costmap_message = collector.messages('points/filtered')[0]
        assert collector.count('depth/relative') == 0, 'a metric model has no relative output'

    for message in (depth_message, info, colored, cloud_message, costmap_message):
        assert stamp_to_ns(message.header.stamp) == STAMP_NS
        assert message.header.frame_id == FRAME_ID
    assert (depth_message.encoding, depth_message.width, depth_message.height) == (
        '32FC1', 320, 240)
    assert (colored.encoding, colored.width, colored.height) == ('bgr8', 320, 240)
    depth = image_to_numpy(depth_message)
    finite = depth[np.isfinite(depth)]
    assert finite.size > 0
    assert finite.min() >= 0.5 and finite.max() <= 8.0, 'values outside the range are NaN'
    assert np.allclose(np.asarray(info.k).reshape(3, 3), camera.intrinsic_matrix)

    cloud = read_cloud(cloud_message)
    stride = 3
    assert (cloud_message.height, cloud_message.width) == (80, 107)
    assert not cloud_message.is_dense
    assert {field.name for field in cloud_message.fields} >= {'x', 'y', 'z', 'rgb'}
    rows, columns = np.mgrid[0:240:stride, 0:320:stride]
    z = depth[::stride, ::stride]
    expected_x = (columns - camera.cx) / camera.fx * z
    expected_y = (rows - camera.cy) / camera.fy * z
    valid = np.isfinite(z)
    assert np.array_equal(np.isfinite(cloud['z']), valid), 'NaN points where depth is NaN'
    np.testing.assert_allclose(cloud['z'][valid], z[valid], rtol=1e-6)
    np.testing.assert_allclose(cloud['x'][valid], expected_x[valid], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(cloud['y'][valid], expected_y[valid], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(cloud['rgb'][valid], rgb[::stride, ::stride][valid])

    # points/filtered: the same fields, unorganized and dense, one point per 5 cm voxel within
    # max_range (5 m), each the centroid of points of the organized cloud.
    assert costmap_message.height == 1 and costmap_message.is_dense
    assert 0 < costmap_message.width < valid.sum()
    assert [(f.name, f.offset, f.datatype) for f in costmap_message.fields] == [
        (f.name, f.offset, f.datatype) for f in cloud_message.fields]
    assert costmap_message.point_step == cloud_message.point_step
    costmap = read_cloud(costmap_message)
    xyz = np.stack([costmap[axis][0] for axis in 'xyz'], axis=1)
    assert np.isfinite(xyz).all() and np.linalg.norm(xyz, axis=1).max() <= 5.0
    cells = np.floor(xyz / 0.05).astype(int)
    assert len(np.unique(cells, axis=0)) == len(cells), 'one point per voxel'
    organized = np.stack([cloud[axis][valid] for axis in 'xyz'], axis=1)
    in_range = organized[np.linalg.norm(organized, axis=1) <= 5.0]
    assert len(np.unique(np.floor(in_range / 0.05).astype(int), axis=0)) == len(cells)


def test_relative_model_publishes_relative_depth_and_metric_only_with_a_scale(relative_model):
    camera = off_centre_camera()
    # Without the edge filter depth/image is exactly the scaled relative output.
    args = depth_node_args(relative_model, edge_filter=False)
    with node_under_test(make_depth_node, OUTPUTS, args=args) as (node, publisher, collector):
        publisher.publish_frame(textured_rgb(), camera, STAMP_NS)
        assert collector.wait_for('depth/relative', 1, timeout=30.0)
        assert collector.wait_for('depth/colored', 1, timeout=10.0)
        time.sleep(0.5)
        assert collector.count('depth/image') == 0
        assert collector.count('points') == 0

        # A fixed scale turns the relative output into metres, from the next frame on.
        result = node.set_parameters([Parameter('scale_source', value='fixed'),
                                      Parameter('fixed_scale', value=0.5),
                                      Parameter('fixed_shift', value=0.1)])
        assert all(r.successful for r in result)
        publisher.publish_frame(textured_rgb(), camera, STAMP_NS + 1)
        assert collector.wait_for('depth/image', 1, timeout=30.0)
        assert collector.wait_for('points', 1, timeout=10.0)
        relative = image_to_numpy(collector.messages('depth/relative')[-1])
        depth = image_to_numpy(collector.messages('depth/image')[-1])
    expected = 1.0 / (0.5 * relative + 0.1)
    expected[(expected < 0.05) | (expected > 20.0) | ~np.isfinite(expected)] = np.nan
    np.testing.assert_allclose(depth, expected, rtol=1e-5, equal_nan=True)


def test_compressed_input_is_decoded(metric_model):
    with node_under_test(make_depth_node, OUTPUTS, compressed=True,
                         args=depth_node_args(metric_model, image_transport='compressed')) as (
                             node, publisher, collector):
        publisher.publish_frame(textured_rgb(), off_centre_camera(), STAMP_NS)
        assert collector.wait_for('depth/image', 1, timeout=30.0)
        message = collector.messages('depth/image')[0]
    assert (message.width, message.height) == (320, 240)


def test_padded_rows_give_the_same_depth_as_packed_rows(metric_model):
    camera = off_centre_camera()
    rgb = textured_rgb()
    packed = numpy_to_image(rgb, 'rgb8')
    padding = 64
    rows = np.zeros((240, 320 * 3 + padding), np.uint8)
    rows[:, :320 * 3] = rgb.reshape(240, -1)
    rows[:, 320 * 3:] = 200  # garbage in the padding must be ignored
    padded = image_message(packed, header(0))
    padded.step = 320 * 3 + padding
    padded.data = image_message(numpy_to_image(rows, 'mono8'), header(0)).data
    with node_under_test(make_depth_node, OUTPUTS, args=depth_node_args(metric_model)) as (
            node, publisher, collector):
        publisher.publish_frame(rgb, camera, STAMP_NS)
        assert collector.wait_for('depth/image', 1, timeout=30.0)
        publisher.publish_frame(rgb, camera, STAMP_NS + 1, image_message_override=padded)
        assert collector.wait_for('depth/image', 2, timeout=30.0)
        first, second = collector.messages('depth/image')[:2]
    np.testing.assert_array_equal(image_to_numpy(first), image_to_numpy(second))


def test_without_camera_info_it_warns_and_waits(metric_model, capfd):
    camera = off_centre_camera()
    with node_under_test(make_depth_node, OUTPUTS, args=depth_node_args(metric_model)) as (
            node, publisher, collector):
        for index in range(3):
            publisher.publish_frame(textured_rgb(), None, STAMP_NS + index)
            time.sleep(0.1)
        time.sleep(1.0)
        assert collector.count('depth/image') == 0
        publisher.publish_frame(textured_rgb(), camera, STAMP_NS + 10)
        assert collector.wait_for('depth/image', 1, timeout=30.0)
    log = capfd.readouterr().err
    assert log.count('no CameraInfo') == 1, 'the warning is throttled'


def test_output_device_cuda_makes_the_same_outputs_or_says_why_not(metric_model, capfd):
    """output_device cuda: on a GPU the device stage makes them; without one the CPU, said once."""
    try:
        import torch
        has_cuda = bool(torch.cuda.is_available())
    except ImportError:
        has_cuda = False
    camera, rgb = off_centre_camera(), textured_rgb()
    received = {}
    for device in ('cpu', 'cuda'):
        with node_under_test(make_depth_node, OUTPUTS, args=depth_node_args(
                metric_model, output_device=device, points_stride=1)) as (
                    node, publisher, collector):
            publisher.publish_frame(rgb, camera, STAMP_NS)
            for topic in ('depth/image', 'points', 'depth/colored'):
                assert collector.wait_for(topic, 1, timeout=30.0), f'{device}: no {topic}'
            received[device] = {topic: collector.messages(topic)[0]
                                for topic in ('depth/image', 'points', 'depth/colored')}
    log = capfd.readouterr().err
    if not has_cuda:
        assert log.count('output_device cuda:') == 1 and 'made on the CPU' in log
    for topic, message in received['cpu'].items():
        other = received['cuda'][topic]
        assert (other.height, other.width, len(other.data)) == (
            message.height, message.width, len(message.data)), topic
    cpu_depth = image_to_numpy(received['cpu']['depth/image'])
    cuda_depth = image_to_numpy(received['cuda']['depth/image'])
    differing = np.isnan(cpu_depth) != np.isnan(cuda_depth)
    assert np.count_nonzero(differing) <= (1e-3 * cpu_depth.size if has_cuda else 0)
    np.testing.assert_array_equal(image_to_numpy(received['cpu']['depth/colored']),
                                  image_to_numpy(received['cuda']['depth/colored']))


def test_a_model_change_at_runtime_reloads_and_a_bad_one_is_refused(metric_model, relative_model):
    camera = off_centre_camera()
    with node_under_test(make_depth_node, OUTPUTS, args=depth_node_args(metric_model)) as (
            node, publisher, collector):
        refused = node.set_parameters([Parameter('model', value='/nonexistent/model.onnx')])[0]
        assert not refused.successful
        assert '/nonexistent/model.onnx' in refused.reason
        publisher.publish_frame(textured_rgb(), camera, STAMP_NS)
        assert collector.wait_for('depth/image', 1, timeout=30.0), 'the old model still runs'

        assert node.set_parameters([Parameter('model', value=str(relative_model))])[0].successful
        publisher.publish_frame(textured_rgb(), camera, STAMP_NS + 1)
        assert collector.wait_for('depth/relative', 1, timeout=30.0), 'the new model runs'


def _depth_statuses(collector) -> list[tuple[float, dict]]:
    """Return (arrival, key values) of each depth_node status received on /diagnostics."""
    return [(arrived, {value.key: value.value for value in status.values})
            for arrived, array in collector.arrivals('/diagnostics')
            for status in array.status if status.name.endswith(': depth')]


def _set_over_the_service(node, collector, name: str, value) -> tuple[bool, float]:
    """Set a parameter through the node's service, as `ros2 param set` does (the executor runs
    the callback); return whether it was accepted and how long the reply took."""
    client = collector.create_client(SetParameters, f'{node.get_fully_qualified_name()}'
                                                    '/set_parameters')
    assert client.wait_for_service(timeout_sec=10.0)
    asked = time.monotonic()
    future = client.call_async(SetParameters.Request(
        parameters=[Parameter(name, value=value).to_parameter_msg()]))
    while not future.done() and time.monotonic() - asked < 30.0:
        time.sleep(0.01)
    assert future.done(), 'no reply from the set_parameters service'
    return future.result().results[0].successful, time.monotonic() - asked


def test_a_slow_model_reload_keeps_diagnostics_flowing_and_frames_wait_for_the_new_model(
        metric_model, relative_model, monkeypatch):
    load_seconds = 3.0

    def slow_load_backend(model, *args, **kwargs):
        if str(model) == str(relative_model):
            time.sleep(load_seconds)   # a big model, or an engine build
        return load_backend(model, *args, **kwargs)

    monkeypatch.setattr(depth_node_module, 'load_backend', slow_load_backend)
    camera = off_centre_camera()
    outputs = {**OUTPUTS, '/diagnostics': DiagnosticArray}
    with node_under_test(make_depth_node, outputs, args=depth_node_args(metric_model)) as (
            node, publisher, collector):
        publisher.publish_frame(textured_rgb(), camera, STAMP_NS)
        assert collector.wait_for('depth/image', 1, timeout=30.0)
        asked = time.monotonic()
        accepted, reply_s = _set_over_the_service(node, collector, 'model', str(relative_model))
        assert accepted
        assert reply_s < load_seconds / 2, 'the on-set callback must not load the model'
        publisher.publish_frame(textured_rgb(), camera, STAMP_NS + 1)  # waits for the new model
        assert collector.wait_for('depth/relative', 1, timeout=30.0), 'the new model runs'
        loaded = time.monotonic()
        time.sleep(1.5)
        statuses = _depth_statuses(collector)
        metric_frames = collector.count('depth/image')
    assert loaded - asked >= load_seconds
    assert metric_frames == 1, 'the frame sent during the reload went to the new model'
    arrivals = [arrived for arrived, _ in statuses]
    around_load = [t for t in arrivals if asked - 1.5 <= t <= loaded + 1.5]
    assert max(np.diff(around_load)) < 2.0, f'/diagnostics stalled: {np.diff(around_load)}'
    assert any(values['model_loading'] == 'True' for arrived, values in statuses
               if asked < arrived < loaded)
    last = statuses[-1][1]
    assert 'relative' in last['model'] and last['model_loading'] == 'False'


def test_a_model_that_fails_to_load_later_keeps_the_old_one_running(metric_model, tmp_path,
                                                                    capfd):
    broken = tmp_path / 'broken.onnx'
    broken.write_bytes(b'not an onnx file')   # resolves as a model, fails to load
    camera = off_centre_camera()
    outputs = {**OUTPUTS, '/diagnostics': DiagnosticArray}
    with node_under_test(make_depth_node, outputs, args=depth_node_args(metric_model)) as (
            node, publisher, collector):
        running = None
        assert node.set_parameters([Parameter('model', value=str(broken))])[0].successful
        publisher.publish_frame(textured_rgb(), camera, STAMP_NS)
        assert collector.wait_for('depth/image', 1, timeout=30.0), 'the old model still runs'
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline and running is None:
            statuses = [values for _, values in _depth_statuses(collector)
                        if values.get('model_reload_failures') == '1']
            running = statuses[-1] if statuses else None
            time.sleep(0.1)
        level = [status.level for array in collector.messages('/diagnostics')
                 for status in array.status][-1]
    assert running is not None, 'the failed reload is counted on /diagnostics'
    assert 'broken.onnx' in running['model_not_applied']
    assert 'broken.onnx' not in running['model'], 'model names the running one'
    assert level == b'\x01'  # WARN: the parameters do not match the running model
    log = capfd.readouterr().err
    assert log.count('reload failed') == 1 and 'broken.onnx' in log


PARITY_CAMERA, PARITY_RGB = off_centre_camera(), textured_rgb()


def _as_fields(message) -> object:
    """Return a received message in the form of the output fields, for comparison."""
    if isinstance(message, CameraInfo):
        return {'k': list(message.k), 'p': list(message.p), 'd': list(message.d),
                'size': (message.width, message.height)}
    if isinstance(message, PointCloud2):
        return ((message.height, message.width, message.point_step, message.row_step,
                 message.is_dense), [(f.name, f.offset, f.datatype, f.count)
                                     for f in message.fields], bytes(message.data))
    return (message.height, message.width, message.encoding, message.step, bytes(message.data))


def _offline_as_fields(fields) -> object:
    if isinstance(fields, dict):
        return {'k': [float(v) for v in np.ravel(fields['k'])],
                'p': [float(v) for v in np.ravel(fields['p'])],
                'd': [float(v) for v in fields['d']], 'size': (fields['width'], fields['height'])}
    if isinstance(fields, CloudFields):
        return ((fields.height, fields.width, fields.point_step, fields.row_step,
                 bool(fields.is_dense)), [(f.name, f.offset, f.datatype, f.count)
                                          for f in fields.fields], bytes(fields.data))
    return (fields.height, fields.width, fields.encoding, fields.step, bytes(fields.data))


def _offline_outputs(model, overrides: dict) -> dict:
    values = {'min_depth': 0.05, 'max_depth': 20.0, 'points_stride': 3, **overrides}
    backend, info = load_backend(str(model), backend='onnxruntime', device='cpu',
                                 input_size=140, max_depth=values['max_depth'], threads=1)
    settings = DepthSettings(input_size=140, min_depth=values['min_depth'],
                             max_depth=values['max_depth'], points_stride=values['points_stride'],
                             scale_source=values.get('scale_source', 'none'),
                             fixed_scale=values.get('fixed_scale', 1.0),
                             fixed_shift=values.get('fixed_shift', 0.0))
    processor = OfflineProcessor(OfflineSettings(mode='depth'),
                                 depth=DepthPipeline(backend, info, settings))
    try:
        frame = InputFrame(stamp_ns=1, frame_id='camera', image=PARITY_RGB,
                           camera_info=PARITY_CAMERA, log_time_ns=1)
        (output,) = processor.add_frame(frame)
    finally:
        processor.close()
    return output.messages


@pytest.mark.parametrize('depth_type, overrides', [
    ('metric', {'max_depth': 8.0}),
    ('relative', {}),
    ('relative', {'scale_source': 'fixed', 'fixed_scale': 0.5, 'fixed_shift': 0.1})])
def test_the_node_publishes_what_process_bag_writes(depth_type, overrides, metric_model,
                                                    relative_model):
    """The node and OfflineProcessor (process-bag) give the same fields for the same frame."""
    model = metric_model if depth_type == 'metric' else relative_model
    expected = _offline_outputs(model, overrides)
    args = depth_node_args(model, threads=1, **overrides)
    with node_under_test(make_depth_node, OUTPUTS, args=args) as (
            node, publisher, collector):
        publisher.publish_frame(PARITY_RGB, PARITY_CAMERA, 1)
        for topic in expected:
            assert collector.wait_for(topic, 1, timeout=30.0), f'nothing on {topic}'
        time.sleep(0.3)
        received = {topic: collector.messages(topic) for topic in OUTPUTS}
    assert {topic for topic, messages in received.items() if messages} == set(expected)
    for topic, fields in expected.items():
        assert _as_fields(received[topic][0]) == _offline_as_fields(fields), topic


def test_the_node_as_its_own_process_publishes_depth(metric_model):
    process = subprocess.Popen(
        [sys.executable, '-m', 'mono_depth_ros.nodes.depth_node',
         *depth_node_args(metric_model)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, env={**os.environ, 'PYTHONUNBUFFERED': '1'})
    try:
        with node_under_test(lambda context: None, OUTPUTS, wait_for_subscribers=False) as (
                _, publisher, collector):
            assert publisher.wait_for_subscribers(timeout=60.0), 'the node never subscribed'
            time.sleep(0.5)
            publisher.publish_frame(textured_rgb(), off_centre_camera(), STAMP_NS)
            assert collector.wait_for('depth/image', 1, timeout=30.0)
            assert collector.wait_for('points', 1, timeout=10.0)
            depth = collector.messages('depth/image')[0]
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=10)
    assert process.returncode == 0, output
    assert stamp_to_ns(depth.header.stamp) == STAMP_NS and depth.header.frame_id == FRAME_ID
