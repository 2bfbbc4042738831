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

import numpy as np
import pytest
from rclpy.parameter import Parameter
from sensor_msgs.msg import CameraInfo, Image, PointCloud2

from mono_depth_ros.core.image_codec import image_to_numpy, numpy_to_image
from mono_depth_ros.core.pointcloud import read_cloud
from mono_depth_ros.nodes.depth_node import DepthNode
from mono_depth_ros.ros.messages import image_message, stamp_to_ns
from ros_harness import FRAME_ID, header, node_under_test, off_centre_camera, textured_rgb

OUTPUTS = {'depth/image': Image, 'depth/camera_info': CameraInfo, 'depth/relative': Image,
           'depth/colored': Image, 'points': PointCloud2}
STAMP_NS = 1_700_000_123_456_789_000


def depth_node_args(model, **overrides) -> list[str]:
    """Return --ros-args for a small, fast depth node."""
    values = {'model': str(model), 'backend': 'onnxruntime', 'device': 'cpu',
              'input_size': 140, 'points_stride': 3, 'min_depth': 0.05, 'max_depth': 20.0,
              **overrides}
    args = ['--ros-args']
    for name, value in values.items():
        text = str(value).lower() if isinstance(value, bool) else str(value)
        args += ['-p', f'{name}:={text}']
    return args


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
        for topic in ('depth/image', 'depth/camera_info', 'depth/colored', 'points'):
            assert collector.wait_for(topic, 1, timeout=30.0), f'nothing on {topic}'
        depth_message = collector.messages('depth/image')[0]
        info = collector.messages('depth/camera_info')[0]
        colored = collector.messages('depth/colored')[0]
        cloud_message = collector.messages('points')[0]
        assert collector.count('depth/relative') == 0, 'a metric model has no relative output'

    for message in (depth_message, info, colored, cloud_message):
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


def test_relative_model_publishes_relative_depth_and_metric_only_with_a_scale(relative_model):
    camera = off_centre_camera()
    with node_under_test(make_depth_node, OUTPUTS, args=depth_node_args(relative_model)) as (
            node, publisher, collector):
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
