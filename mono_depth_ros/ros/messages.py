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

"""Core results to rclpy messages and back, through one fast path for large byte payloads.

Assigning a numpy array to a message's ``data`` makes rclpy check every element (about 0.9 s for a
5 MB cloud); an ``array.array('B')`` is taken as it is, but only while the message checks its
fields (always in Humble; in Jazzy and later only with ``ROS_PYTHON_CHECK_FIELDS=1``; otherwise
the setter copies it once more). Every large message is filled here, with one copy of the bytes.
"""

import array

from builtin_interfaces.msg import Time
import numpy as np
from sensor_msgs.msg import CameraInfo, CompressedImage, Image, PointCloud2, PointField
from std_msgs.msg import Header

from mono_depth_ros.core.image_codec import ImageFields
from mono_depth_ros.core.pointcloud import CloudFields


def byte_payload(data) -> array.array:
    """Return ``data`` (bytes, memoryview or a contiguous numpy array) as the array rclpy keeps."""
    payload = array.array('B')
    if isinstance(data, np.ndarray):
        data = np.ascontiguousarray(data).view(np.uint8).reshape(-1)
    payload.frombytes(memoryview(data).cast('B'))
    return payload


def _whole_byte_array(data) -> array.array | None:
    """Return the ``array.array('B')`` that ``data`` is, or is a whole view of; else None."""
    owner = data.obj if isinstance(data, memoryview) else data
    if (isinstance(owner, array.array) and owner.typecode == 'B'
            and (owner is data or (data.nbytes == len(owner) and data.contiguous))):
        return owner
    return None


def set_payload(message, data) -> None:
    """Fill ``message.data`` with the bytes of ``data`` (see :func:`byte_payload`), copied once.

    An ``array.array('B')`` (or a whole memoryview of one, as a kept message payload filled in
    place) is taken as it is, without a copy: the caller must not change it before the message
    is published. Where the message does not check its fields (Jazzy and later by default),
    the setter would copy the array again: the check is switched on for this one assignment,
    so the array is kept as it is.
    """
    payload = _whole_byte_array(data)
    if payload is None:
        payload = byte_payload(data)
    if getattr(message, '_check_fields', None) is False:
        message._check_fields = True
        try:
            message.data = payload
        finally:
            message._check_fields = False
    else:
        message.data = payload


def copy_header(header: Header) -> Header:
    """Return a copy of a header (outputs carry the input's stamp and frame_id)."""
    return Header(stamp=Time(sec=header.stamp.sec, nanosec=header.stamp.nanosec),
                  frame_id=header.frame_id)


def stamp_to_ns(stamp) -> int:
    """Return a builtin_interfaces/Time as integer nanoseconds."""
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def ns_to_stamp(stamp_ns: int) -> Time:
    """Return integer nanoseconds as a builtin_interfaces/Time."""
    seconds, nanoseconds = divmod(int(stamp_ns), 1_000_000_000)
    return Time(sec=seconds, nanosec=nanoseconds)


def image_message(fields: ImageFields, header: Header) -> Image:
    """Return a sensor_msgs/Image for encoded image fields, stamped with ``header``."""
    message = Image(header=copy_header(header), height=fields.height, width=fields.width,
                    encoding=fields.encoding, is_bigendian=int(fields.is_bigendian),
                    step=fields.step)
    set_payload(message, fields.data)
    return message


def compressed_image_message(format_name: str, data: bytes, header: Header) -> CompressedImage:
    """Return a sensor_msgs/CompressedImage, stamped with ``header``."""
    message = CompressedImage(header=copy_header(header), format=format_name)
    set_payload(message, data)
    return message


def point_cloud_message(fields: CloudFields, header: Header) -> PointCloud2:
    """Return a sensor_msgs/PointCloud2 for packed cloud fields, stamped with ``header``."""
    message = PointCloud2(
        header=copy_header(header), height=fields.height, width=fields.width,
        fields=[PointField(name=spec.name, offset=spec.offset, datatype=spec.datatype,
                           count=spec.count) for spec in fields.fields],
        is_bigendian=bool(fields.is_bigendian), point_step=fields.point_step,
        row_step=fields.row_step, is_dense=bool(fields.is_dense))
    set_payload(message, fields.data)
    return message


def camera_info_message(fields: dict, header: Header) -> CameraInfo:
    """Return a sensor_msgs/CameraInfo from ``CameraModel.to_camera_info_fields()``."""
    message = CameraInfo(header=copy_header(header))
    message.height = int(fields['height'])
    message.width = int(fields['width'])
    message.distortion_model = str(fields['distortion_model'])
    message.d = [float(v) for v in fields['d']]
    message.k = [float(v) for v in np.asarray(fields['k'], dtype=np.float64).reshape(9)]
    message.r = [float(v) for v in np.asarray(fields['r'], dtype=np.float64).reshape(9)]
    message.p = [float(v) for v in np.asarray(fields['p'], dtype=np.float64).reshape(12)]
    message.binning_x = int(fields.get('binning_x', 0))
    message.binning_y = int(fields.get('binning_y', 0))
    roi = fields.get('roi') or {}
    message.roi.x_offset = int(roi.get('x_offset', 0))
    message.roi.y_offset = int(roi.get('y_offset', 0))
    message.roi.height = int(roi.get('height', 0))
    message.roi.width = int(roi.get('width', 0))
    message.roi.do_rectify = bool(roi.get('do_rectify', False))
    return message


def output_message(fields: ImageFields | CloudFields | dict,
                   header: Header) -> Image | PointCloud2 | CameraInfo:
    """Return the message for one output's fields (``pipeline.outputs``), with ``header``."""
    if isinstance(fields, ImageFields):
        return image_message(fields, header)
    if isinstance(fields, CloudFields):
        return point_cloud_message(fields, header)
    return camera_info_message(fields, header)
