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

"""Where the camera sits on the base: the camera_to_base parameter, or TF where tf2_ros is.

``transform_to_matrix`` is ROS-free; ``CameraTransformLookup`` imports
tf2_ros and rclpy only when it is made, so this module loads without them.
"""

import numpy as np

from mono_depth_ros.core.transforms import pose_matrix


def transform_to_matrix(transform) -> np.ndarray:
    """Return the 4x4 pose of a geometry_msgs/Transform-like object (rotation x y z w).

    For ``lookup_transform(target, source, ...)`` this is the pose of ``source`` in ``target``:
    it maps points from the source frame into the target frame.
    """
    translation, rotation = transform.translation, transform.rotation
    return pose_matrix((translation.x, translation.y, translation.z),
                       (rotation.x, rotation.y, rotation.z, rotation.w))


def tf2_available() -> bool:
    """Return whether tf2_ros can be imported here."""
    try:
        import tf2_ros  # noqa: F401
    except ImportError:
        return False
    return True


class CameraTransformLookup:
    """Looks a camera frame up in the odometry child frame through tf2_ros (/tf, /tf_static).

    Make it only where ``tf2_available()``; it listens on the node's executor.
    """

    def __init__(self, node) -> None:
        import tf2_ros

        self._tf2 = tf2_ros
        self._buffer = tf2_ros.Buffer()
        self._listener = tf2_ros.TransformListener(self._buffer, node)

    def camera_to_base(self, base_frame: str, camera_frame: str) -> np.ndarray | None:
        """Return the newest 4x4 pose of ``camera_frame`` in ``base_frame``, or None (not yet)."""
        from rclpy.time import Time

        if not base_frame or not camera_frame:
            return None
        if not self._buffer.can_transform(base_frame, camera_frame, Time()):
            return None
        try:
            stamped = self._buffer.lookup_transform(base_frame, camera_frame, Time())
        except self._tf2.TransformException:
            return None
        return transform_to_matrix(stamped.transform)

    def close(self) -> None:
        """Stop listening to /tf and /tf_static (where this tf2_ros can)."""
        unregister = getattr(self._listener, 'unregister', None)
        if unregister is not None:
            unregister()
