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

"""Depth to PointCloud2 fields: geometry, layout, rgb packing and reading clouds back."""

import array
import math
import struct

import numpy as np
import pytest
from sensor_msgs.msg import PointCloud2, PointField

from mono_depth_ros.core.camera_model import CameraModel
from mono_depth_ros.core.errors import BadMessageError
from mono_depth_ros.core.pointcloud import (
    CloudFields, depth_to_points, pack_organized_cloud, pack_unorganized_cloud, PointFieldSpec,
    read_cloud)
from mono_depth_ros.ros.scale_from_points import TriangulationScale


def _camera(width: int = 7, height: int = 5) -> CameraModel:
    return CameraModel.from_intrinsics(fx=4.0, fy=5.0, cx=3.0, cy=2.0, width=width, height=height)


def _to_ros(cloud: CloudFields) -> PointCloud2:
    """Fill a real sensor_msgs/PointCloud2 the way the ROS layer does."""
    msg = PointCloud2()
    msg.height, msg.width = cloud.height, cloud.width
    msg.fields = [PointField(name=f.name, offset=f.offset, datatype=f.datatype, count=f.count)
                  for f in cloud.fields]
    msg.is_bigendian = cloud.is_bigendian
    msg.point_step, msg.row_step = cloud.point_step, cloud.row_step
    data = array.array('B')
    data.frombytes(cloud.data)
    msg.data = data
    msg.is_dense = cloud.is_dense
    return msg


@pytest.mark.parametrize('stride', [1, 2, 3])
def test_points_are_depth_times_ray_on_the_strided_grid(stride):
    camera = _camera()
    depth = np.arange(35, dtype=np.float32).reshape(5, 7) / 10 + 1
    points = depth_to_points(depth, camera.pixel_rays(stride), stride)
    assert points.shape == (math.ceil(5 / stride), math.ceil(7 / stride), 3)
    assert points.dtype == np.float32
    for row in range(points.shape[0]):
        for col in range(points.shape[1]):
            u, v = col * stride, row * stride
            z = depth[v, u]
            expected = [(u - 3.0) * z / 4.0, (v - 2.0) * z / 5.0, z]
            np.testing.assert_allclose(points[row, col], expected, rtol=1e-6)


def test_principal_point_maps_to_the_optical_axis():
    points = depth_to_points(np.full((5, 7), 2.5, np.float32), _camera().pixel_rays())
    np.testing.assert_array_equal(points[2, 3], [0.0, 0.0, 2.5])


def test_missing_zero_negative_and_infinite_depths_give_nan_points():
    depth = np.ones((5, 7), np.float32)
    bad = [(0, 0, np.nan), (1, 1, 0.0), (2, 2, -1.0), (3, 3, np.inf), (4, 4, -np.inf)]
    for v, u, value in bad:
        depth[v, u] = value
    points = depth_to_points(depth, _camera().pixel_rays())
    invalid = np.isnan(points).all(axis=2)
    assert invalid.sum() == len(bad)
    assert all(invalid[v, u] for v, u, _ in bad)
    assert np.isfinite(points[~invalid]).all()


def test_rays_of_the_wrong_size_are_rejected_by_name():
    with pytest.raises(BadMessageError, match=r'rays\.shape'):
        depth_to_points(np.ones((5, 7), np.float32), _camera().pixel_rays(1), stride=2)


def test_organized_xyz_cloud_layout_and_round_trip_through_a_ros_message():
    depth = np.full((5, 7), 3.0, np.float32)
    depth[1, 2] = np.nan
    points = depth_to_points(depth, _camera().pixel_rays())
    cloud = pack_organized_cloud(points)
    assert (cloud.height, cloud.width) == (5, 7)
    assert [(f.name, f.offset, f.datatype, f.count) for f in cloud.fields] == [
        ('x', 0, PointField.FLOAT32, 1), ('y', 4, PointField.FLOAT32, 1),
        ('z', 8, PointField.FLOAT32, 1)]
    assert (cloud.point_step, cloud.row_step) == (12, 84)
    assert not cloud.is_bigendian and not cloud.is_dense
    assert len(cloud.data) == 5 * 84
    msg = _to_ros(cloud)
    values = read_cloud(msg)
    assert set(values) == {'x', 'y', 'z'}
    for axis, name in enumerate('xyz'):
        np.testing.assert_array_equal(values[name], points[..., axis])
    x, y, z = struct.unpack_from('<3f', bytes(msg.data), (3 * 7 + 4) * 12)
    np.testing.assert_allclose([x, y, z], points[3, 4])


def test_rgb_is_packed_bit_exactly_as_depth_image_proc_does():
    rng = np.random.default_rng(1)
    points = rng.normal(size=(4, 6, 3)).astype(np.float32)
    points[0, 0] = np.nan
    colors_bgr = rng.integers(0, 256, size=(4, 6, 3), dtype=np.uint8)
    cloud = pack_organized_cloud(points, colors_bgr)
    assert cloud.fields[3] == PointFieldSpec('rgb', 12, PointField.FLOAT32, 1)
    assert (cloud.point_step, cloud.row_step) == (16, 96)
    raw = bytes(_to_ros(cloud).data)
    for row in range(4):
        for col in range(6):
            b, g, r = (int(c) for c in colors_bgr[row, col])
            offset = (row * 6 + col) * 16
            (packed,) = struct.unpack_from('<I', raw, offset + 12)
            assert packed == (r << 16) | (g << 8) | b
            assert raw[offset:offset + 12] == points[row, col].astype('<f4').tobytes()
    values = read_cloud(_to_ros(cloud))
    np.testing.assert_array_equal(values['rgb'], colors_bgr[..., ::-1])
    np.testing.assert_array_equal(values['z'], points[..., 2])


def test_unorganized_cloud_drops_invalid_points_with_their_colours():
    points = np.array([[1, 2, 3], [np.nan, 0, 1], [4, 5, 6], [7, np.inf, 8]], np.float32)
    colors = np.array([[1, 2, 3], [4, 5, 6], [7, 8, 9], [10, 11, 12]], np.uint8)
    cloud = pack_unorganized_cloud(points, colors)
    assert (cloud.height, cloud.width, cloud.is_dense) == (1, 2, True)
    assert cloud.row_step == 2 * 16
    values = read_cloud(_to_ros(cloud))
    np.testing.assert_array_equal(values['x'], [[1, 4]])
    np.testing.assert_array_equal(values['rgb'], [[[3, 2, 1], [9, 8, 7]]])
    kept = pack_unorganized_cloud(points, drop_invalid=False)
    assert (kept.height, kept.width, kept.is_dense, kept.point_step) == (1, 4, False, 12)


def test_without_an_extra_field_the_unorganized_layout_is_plain_xyz():
    points = np.array([[1, 2, 3], [4, 5, 6]], np.float32)
    cloud = pack_unorganized_cloud(points)
    assert [(f.name, f.offset) for f in cloud.fields] == [('x', 0), ('y', 4), ('z', 8)]
    assert (cloud.point_step, cloud.row_step) == (12, 24)
    assert bytes(cloud.data) == points.tobytes()


def test_an_extra_sigma_field_follows_xyz_as_float32():
    points = np.array([[1, 2, 3], [np.nan, 0, 1], [4, 5, 6]], np.float32)
    sigma = np.array([0.25, 9.0, 0.5], np.float32)
    cloud = pack_unorganized_cloud(points, extra_field=('sigma', sigma))
    assert [(f.name, f.offset, f.datatype, f.count) for f in cloud.fields] == [
        ('x', 0, PointField.FLOAT32, 1), ('y', 4, PointField.FLOAT32, 1),
        ('z', 8, PointField.FLOAT32, 1), ('sigma', 12, PointField.FLOAT32, 1)]
    assert (cloud.width, cloud.point_step, cloud.row_step, cloud.is_dense) == (2, 16, 32, True)
    assert struct.unpack('<8f', bytes(cloud.data)) == (1, 2, 3, 0.25, 4, 5, 6, 0.5)
    values = read_cloud(_to_ros(cloud))
    np.testing.assert_array_equal(values['sigma'], [[0.25, 0.5]])
    np.testing.assert_array_equal(values['z'], [[3, 6]])


def test_an_extra_field_with_colours_moves_rgb_after_it():
    points = np.array([[1, 2, 3], [4, 5, 6]], np.float32)
    colors = np.array([[1, 2, 3], [7, 8, 9]], np.uint8)
    cloud = pack_unorganized_cloud(points, colors, extra_field=('sigma', np.float32([1, 2])))
    assert [(f.name, f.offset) for f in cloud.fields] == [
        ('x', 0), ('y', 4), ('z', 8), ('sigma', 12), ('rgb', 16)]
    assert cloud.point_step == 20
    values = read_cloud(_to_ros(cloud))
    np.testing.assert_array_equal(values['rgb'], [[[3, 2, 1], [9, 8, 7]]])
    np.testing.assert_array_equal(values['sigma'], [[1, 2]])


def test_an_extra_field_must_be_one_new_value_per_point():
    points = np.zeros((2, 3), np.float32)
    with pytest.raises(BadMessageError, match='values.shape'):
        pack_unorganized_cloud(points, extra_field=('sigma', np.zeros(3)))
    with pytest.raises(BadMessageError, match='name'):
        pack_unorganized_cloud(points, extra_field=('z', np.zeros(2)))


def test_the_depth_node_scale_reads_xyz_from_points_with_sigma():
    class FakeNode:
        def create_subscription(self, *args, **kwargs):
            return None

    class Recorder:
        def add_points(self, stamp_ns, points, sigmas=None):
            self.points, self.sigmas = points, sigmas

    scale = TriangulationScale(FakeNode())
    scale._fusion = recorder = Recorder()
    points = np.array([[0.1, 0.2, 2.0], [0.3, -0.1, 3.0]], np.float32)
    scale._on_points(_to_ros(pack_unorganized_cloud(
        points, extra_field=('sigma', np.float32([0.02, 0.05])))))
    np.testing.assert_array_equal(recorder.points, points)
    np.testing.assert_array_equal(recorder.sigmas, np.float32([0.02, 0.05]))


def test_an_empty_unorganized_cloud_is_valid():
    cloud = pack_unorganized_cloud(np.empty((0, 3), np.float32))
    assert (cloud.height, cloud.width, len(cloud.data)) == (1, 0, 0)
    assert read_cloud(_to_ros(cloud))['x'].shape == (1, 0)


def test_reader_honours_row_padding_byte_order_and_every_datatype():
    fields = [PointField(name='x', offset=0, datatype=PointField.FLOAT64, count=1),
              PointField(name='intensity', offset=8, datatype=PointField.UINT16, count=1),
              PointField(name='ring', offset=10, datatype=PointField.INT8, count=1),
              PointField(name='normal', offset=12, datatype=PointField.INT32, count=2)]
    height, width, point_step, row_step = 2, 3, 20, 3 * 20 + 5
    data = bytearray()
    for row in range(height):
        for col in range(width):
            index = row * width + col
            data += struct.pack('>dHbxii', index * 0.5, 1000 + index, -index, index, -2 * index)
        data += b'\xee' * (row_step - width * point_step)
    msg = PointCloud2(height=height, width=width, fields=fields, is_bigendian=True,
                      point_step=point_step, row_step=row_step, is_dense=True)
    msg.data = array.array('B', data)
    values = read_cloud(msg)
    index = np.arange(6).reshape(2, 3)
    np.testing.assert_array_equal(values['x'], index * 0.5)
    np.testing.assert_array_equal(values['intensity'], 1000 + index)
    np.testing.assert_array_equal(values['ring'], -index)
    np.testing.assert_array_equal(values['normal'], np.stack([index, -2 * index], axis=-1))
    assert values['intensity'].dtype == np.uint16 and values['ring'].dtype == np.int8


def test_reader_rejects_truncated_data_and_unknown_datatypes():
    cloud = pack_organized_cloud(np.zeros((2, 2, 3), np.float32))
    truncated = CloudFields(**{**vars(cloud), 'data': bytes(cloud.data)[:-1]})
    with pytest.raises(BadMessageError, match='len'):
        read_cloud(truncated)
    unknown = CloudFields(**{**vars(cloud), 'fields': [PointFieldSpec('x', 0, 9, 1)]})
    with pytest.raises(BadMessageError, match='datatype'):
        read_cloud(unknown)


def test_colours_must_match_the_points():
    with pytest.raises(BadMessageError, match='colors_bgr'):
        pack_organized_cloud(np.zeros((2, 2, 3), np.float32), np.zeros((2, 3, 3), np.uint8))


def test_a_cloud_survives_a_rosbags_cdr_round_trip():
    typesys = pytest.importorskip('rosbags.typesys')
    typestore = typesys.get_typestore(typesys.Stores.ROS2_HUMBLE)
    types = typestore.types
    points = np.arange(24, dtype=np.float32).reshape(2, 4, 3)
    colors = np.arange(24, dtype=np.uint8).reshape(2, 4, 3)
    cloud = pack_organized_cloud(points, colors)
    msg = types['sensor_msgs/msg/PointCloud2'](
        header=types['std_msgs/msg/Header'](
            stamp=types['builtin_interfaces/msg/Time'](sec=1, nanosec=2), frame_id='camera'),
        height=cloud.height, width=cloud.width,
        fields=[types['sensor_msgs/msg/PointField'](
            name=f.name, offset=f.offset, datatype=f.datatype, count=f.count)
            for f in cloud.fields],
        is_bigendian=cloud.is_bigendian, point_step=cloud.point_step, row_step=cloud.row_step,
        data=np.frombuffer(cloud.data, np.uint8), is_dense=cloud.is_dense)
    msgtype = 'sensor_msgs/msg/PointCloud2'
    decoded = typestore.deserialize_cdr(typestore.serialize_cdr(msg, msgtype), msgtype)
    values = read_cloud(decoded)
    np.testing.assert_array_equal(values['y'], points[..., 1])
    np.testing.assert_array_equal(values['rgb'], colors[..., ::-1])
