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

"""Rigid transforms: quaternions (x, y, z, w as in ROS), rotation matrices and 4x4 poses."""

import numpy as np

from mono_depth_ros.core.errors import BadMessageError

# Rotation taking optical-frame vectors (z forward, x right, y down) into a REP 103 body frame
# (x forward, y left, z up): the columns are the optical axes expressed in the body frame.
OPTICAL_TO_BODY = np.array([[0.0, 0.0, 1.0],
                            [-1.0, 0.0, 0.0],
                            [0.0, -1.0, 0.0]])


def quaternion_to_matrix(quaternion_xyzw, *, check_norm: bool = True) -> np.ndarray:
    """Return the 3x3 rotation matrix of a quaternion given as (x, y, z, w)."""
    q = np.asarray(quaternion_xyzw, dtype=np.float64).reshape(4)
    norm = float(np.linalg.norm(q))
    if not np.all(np.isfinite(q)) or norm < 1e-9:
        raise BadMessageError('orientation', q.tolist(), 'a finite, non-zero quaternion')
    if check_norm and abs(norm - 1.0) > 1e-3:
        raise BadMessageError('orientation', q.tolist(), f'a unit quaternion (norm is {norm:.6f})')
    x, y, z, w = q / norm
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])


def matrix_to_quaternion(rotation) -> np.ndarray:
    """Return the unit quaternion (x, y, z, w), w >= 0, of a 3x3 rotation matrix."""
    m = np.asarray(rotation, dtype=np.float64)
    trace = m[0, 0] + m[1, 1] + m[2, 2]
    if trace > 0.0:
        s = 2.0 * np.sqrt(trace + 1.0)
        q = [(m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s, 0.25 * s]
    elif m[0, 0] > m[1, 1] and m[0, 0] > m[2, 2]:
        s = 2.0 * np.sqrt(1.0 + m[0, 0] - m[1, 1] - m[2, 2])
        q = [0.25 * s, (m[0, 1] + m[1, 0]) / s, (m[0, 2] + m[2, 0]) / s, (m[2, 1] - m[1, 2]) / s]
    elif m[1, 1] > m[2, 2]:
        s = 2.0 * np.sqrt(1.0 + m[1, 1] - m[0, 0] - m[2, 2])
        q = [(m[0, 1] + m[1, 0]) / s, 0.25 * s, (m[1, 2] + m[2, 1]) / s, (m[0, 2] - m[2, 0]) / s]
    else:
        s = 2.0 * np.sqrt(1.0 + m[2, 2] - m[0, 0] - m[1, 1])
        q = [(m[0, 2] + m[2, 0]) / s, (m[1, 2] + m[2, 1]) / s, 0.25 * s, (m[1, 0] - m[0, 1]) / s]
    q = np.asarray(q)
    q /= np.linalg.norm(q)
    return -q if q[3] < 0 else q


def pose_matrix(translation, quaternion_xyzw, *, check_norm: bool = True) -> np.ndarray:
    """Return the 4x4 homogeneous pose of a translation and a quaternion (x, y, z, w)."""
    t = np.asarray(translation, dtype=np.float64).reshape(3)
    if not np.all(np.isfinite(t)):
        raise BadMessageError('position', t.tolist(), 'finite values')
    pose = np.eye(4)
    pose[:3, :3] = quaternion_to_matrix(quaternion_xyzw, check_norm=check_norm)
    pose[:3, 3] = t
    return pose


def pose_from_xyz_quaternion(values) -> np.ndarray:
    """Return the 4x4 pose of seven numbers: x y z qx qy qz qw (the camera_to_base parameter)."""
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    if v.size != 7:
        raise BadMessageError('pose', v.tolist(), '7 numbers: x y z qx qy qz qw')
    return pose_matrix(v[:3], v[3:])


def xyz_quaternion_from_pose(pose) -> list[float]:
    """Return a 4x4 pose as seven numbers, x y z qx qy qz qw (``pose_from_xyz_quaternion``'s)."""
    pose = np.asarray(pose, dtype=np.float64)
    return [*(float(value) for value in pose[:3, 3]),
            *(float(value) for value in matrix_to_quaternion(pose[:3, :3]))]


def invert_pose(pose) -> np.ndarray:
    """Return the inverse of a 4x4 rigid pose."""
    p = np.asarray(pose, dtype=np.float64)
    inv = np.eye(4)
    inv[:3, :3] = p[:3, :3].T
    inv[:3, 3] = -p[:3, :3].T @ p[:3, 3]
    return inv


def slerp(q0, q1, fraction: float) -> np.ndarray:
    """Spherical linear interpolation between unit quaternions (x, y, z, w)."""
    a = np.asarray(q0, dtype=np.float64) / np.linalg.norm(q0)
    b = np.asarray(q1, dtype=np.float64) / np.linalg.norm(q1)
    dot = float(np.dot(a, b))
    if dot < 0.0:
        b, dot = -b, -dot
    if dot > 0.9995:
        q = a + fraction * (b - a)
        return q / np.linalg.norm(q)
    theta = np.arccos(np.clip(dot, -1.0, 1.0))
    sin_theta = np.sin(theta)
    q = (np.sin((1.0 - fraction) * theta) * a + np.sin(fraction * theta) * b) / sin_theta
    return q / np.linalg.norm(q)


def interpolate_pose(position0, quaternion0, position1, quaternion1,
                     fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """Return (position, quaternion xyzw) a ``fraction`` of the way: linear and slerp."""
    position0 = np.asarray(position0, dtype=np.float64)
    position = position0 + fraction * (np.asarray(position1, dtype=np.float64) - position0)
    return position, slerp(quaternion0, quaternion1, fraction)


def default_camera_to_base() -> np.ndarray:
    """Return the default camera_to_base: optical frame at the base origin, facing base +x."""
    pose = np.eye(4)
    pose[:3, :3] = OPTICAL_TO_BODY
    return pose


def default_camera_to_base_values() -> list[float]:
    """Return the default camera_to_base as x y z qx qy qz qw."""
    q = matrix_to_quaternion(OPTICAL_TO_BODY)
    return [0.0, 0.0, 0.0, *[float(v) for v in q]]
