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

"""The camera's pose on the base from a TF transform: geometry_msgs layout, x y z w order."""

from types import SimpleNamespace

import numpy as np
import pytest

from mono_depth_ros.core.transforms import (default_camera_to_base, default_camera_to_base_values,
                                            xyz_quaternion_from_pose)
from mono_depth_ros.ros.camera_tf import tf2_available, transform_to_matrix


def _transform(translation, rotation_xyzw) -> SimpleNamespace:
    """A geometry_msgs/Transform look-alike: translation.x..z, rotation.x..w."""
    x, y, z = translation
    qx, qy, qz, qw = rotation_xyzw
    return SimpleNamespace(translation=SimpleNamespace(x=x, y=y, z=z),
                           rotation=SimpleNamespace(x=qx, y=qy, z=qz, w=qw))


def test_a_quarter_turn_about_z_with_an_offset():
    half = np.sqrt(0.5)
    pose = transform_to_matrix(_transform((1.0, 2.0, 3.0), (0.0, 0.0, half, half)))
    np.testing.assert_allclose(pose[:3, :3], [[0, -1, 0], [1, 0, 0], [0, 0, 1]], atol=1e-12)
    np.testing.assert_allclose(pose[:3, 3], [1, 2, 3])
    np.testing.assert_allclose(pose[3], [0, 0, 0, 1])
    # The camera x axis (optical right) is base +y: points map from the source into the target.
    np.testing.assert_allclose(pose @ [1, 0, 0, 1], [1, 3, 3, 1], atol=1e-12)


def test_the_default_optical_pose_round_trips_through_the_parameter_layout():
    values = default_camera_to_base_values()
    pose = transform_to_matrix(_transform(values[:3], values[3:]))
    np.testing.assert_allclose(pose, default_camera_to_base(), atol=1e-12)
    np.testing.assert_allclose(xyz_quaternion_from_pose(pose), values, atol=1e-12)


def test_a_real_geometry_msgs_transform():
    geometry_msgs = pytest.importorskip('geometry_msgs.msg')
    transform = geometry_msgs.Transform()
    transform.translation.x = 0.5
    transform.rotation.x, transform.rotation.w = 1.0, 0.0  # half turn about x
    pose = transform_to_matrix(transform)
    np.testing.assert_allclose(pose[:3, :3], np.diag([1.0, -1.0, -1.0]), atol=1e-12)
    np.testing.assert_allclose(pose[:3, 3], [0.5, 0, 0])


def test_tf2_availability_is_whether_it_imports():
    try:
        import tf2_ros  # noqa: F401
        importable = True
    except ImportError:
        importable = False
    assert tf2_available() == importable
