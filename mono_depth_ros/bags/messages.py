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


"""Bag messages built from the core's neutral fields, with the package's typestore.

``image`` takes :class:`~mono_depth_ros.core.image_codec.ImageFields`, ``cloud``
:class:`~mono_depth_ros.core.pointcloud.CloudFields`, ``camera_info`` the dict of
``CameraModel.to_camera_info_fields()``; :func:`from_fields` picks the one that fits.
"""

from typing import Any, Sequence

import numpy as np

from mono_depth_ros.bags.store import typestore
from mono_depth_ros.core.image_codec import ImageFields
from mono_depth_ros.core.pointcloud import CloudFields

IMAGE_TYPE = 'sensor_msgs/msg/Image'
COMPRESSED_IMAGE_TYPE = 'sensor_msgs/msg/CompressedImage'
CAMERA_INFO_TYPE = 'sensor_msgs/msg/CameraInfo'
POINT_CLOUD_TYPE = 'sensor_msgs/msg/PointCloud2'
ODOMETRY_TYPE = 'nav_msgs/msg/Odometry'


def _types() -> dict:
    return typestore().types


def _byte_array(data) -> np.ndarray:
    return np.frombuffer(memoryview(data).cast('B'), dtype=np.uint8)


def stamp(stamp_ns: int) -> Any:
    """Return a builtin_interfaces/Time of nanoseconds."""
    seconds, nanoseconds = divmod(int(stamp_ns), 1_000_000_000)
    return _types()['builtin_interfaces/msg/Time'](sec=seconds, nanosec=nanoseconds)


def stamp_ns(time: Any) -> int:
    """Return the nanoseconds of a builtin_interfaces/Time (any message's ``header.stamp``)."""
    return int(time.sec) * 1_000_000_000 + int(time.nanosec)


def header(stamp_ns: int, frame_id: str) -> Any:
    """Return a std_msgs/Header."""
    return _types()['std_msgs/msg/Header'](stamp=stamp(stamp_ns), frame_id=frame_id)


def image(fields: ImageFields, header: Any) -> Any:
    """Return a sensor_msgs/Image."""
    return _types()[IMAGE_TYPE](
        header=header, height=int(fields.height), width=int(fields.width),
        encoding=fields.encoding, is_bigendian=int(fields.is_bigendian),
        step=int(fields.step), data=_byte_array(fields.data))


def compressed_image(format_string: str, data, header: Any) -> Any:
    """Return a sensor_msgs/CompressedImage of encoded bytes and their format string."""
    return _types()[COMPRESSED_IMAGE_TYPE](header=header, format=format_string,
                                           data=_byte_array(data))


def cloud(fields: CloudFields, header: Any) -> Any:
    """Return a sensor_msgs/PointCloud2."""
    types = _types()
    point_field = types['sensor_msgs/msg/PointField']
    return types[POINT_CLOUD_TYPE](
        header=header, height=int(fields.height), width=int(fields.width),
        fields=[point_field(name=f.name, offset=f.offset, datatype=f.datatype, count=f.count)
                for f in fields.fields],
        is_bigendian=bool(fields.is_bigendian), point_step=int(fields.point_step),
        row_step=int(fields.row_step), data=_byte_array(fields.data),
        is_dense=bool(fields.is_dense))


def camera_info(fields: dict, header: Any) -> Any:
    """Return a sensor_msgs/CameraInfo from ``CameraModel.to_camera_info_fields()``."""
    types = _types()
    roi = fields.get('roi') or {}
    return types[CAMERA_INFO_TYPE](
        header=header, height=int(fields['height']), width=int(fields['width']),
        distortion_model=str(fields['distortion_model']),
        d=np.asarray(fields['d'], dtype=np.float64).reshape(-1),
        k=np.asarray(fields['k'], dtype=np.float64).reshape(9),
        r=np.asarray(fields['r'], dtype=np.float64).reshape(9),
        p=np.asarray(fields['p'], dtype=np.float64).reshape(12),
        binning_x=int(fields.get('binning_x', 0)), binning_y=int(fields.get('binning_y', 0)),
        roi=types['sensor_msgs/msg/RegionOfInterest'](
            x_offset=int(roi.get('x_offset', 0)), y_offset=int(roi.get('y_offset', 0)),
            height=int(roi.get('height', 0)), width=int(roi.get('width', 0)),
            do_rectify=bool(roi.get('do_rectify', False))))


def odometry(header: Any, child_frame_id: str, position: Sequence[float],
             quaternion: Sequence[float], linear: Sequence[float] = (0.0, 0.0, 0.0),
             angular: Sequence[float] = (0.0, 0.0, 0.0)) -> Any:
    """Return a nav_msgs/Odometry: pose (x y z, qx qy qz qw), twist, zero covariances."""
    types = _types()
    vector = types['geometry_msgs/msg/Vector3']
    pose = types['geometry_msgs/msg/Pose'](
        position=types['geometry_msgs/msg/Point'](*(float(v) for v in position)),
        orientation=types['geometry_msgs/msg/Quaternion'](*(float(v) for v in quaternion)))
    twist = types['geometry_msgs/msg/Twist'](linear=vector(*(float(v) for v in linear)),
                                             angular=vector(*(float(v) for v in angular)))
    return types[ODOMETRY_TYPE](
        header=header, child_frame_id=child_frame_id,
        pose=types['geometry_msgs/msg/PoseWithCovariance'](pose=pose, covariance=np.zeros(36)),
        twist=types['geometry_msgs/msg/TwistWithCovariance'](twist=twist,
                                                             covariance=np.zeros(36)))


def from_fields(fields: ImageFields | CloudFields | dict, header: Any) -> Any:
    """Return the message of neutral fields: Image, PointCloud2 or (a dict) CameraInfo."""
    if isinstance(fields, ImageFields):
        return image(fields, header)
    if isinstance(fields, CloudFields):
        return cloud(fields, header)
    if isinstance(fields, dict):
        return camera_info(fields, header)
    raise TypeError(f'fields of type {type(fields).__name__} (expected ImageFields, '
                    'CloudFields or a camera_info fields dict)')
