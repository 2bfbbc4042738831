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

"""The small camera rotation that best aligns known points with where they are seen."""

import cv2
import numpy as np

from mono_depth_ros.core.triangulation import triangulate


def rotation_correction(in_camera: np.ndarray, observed: np.ndarray,
                        focal) -> np.ndarray | None:
    """Return the small rotation C that best maps points onto their observations, or None.

    ``in_camera`` (n, 3) are points in the camera frame, ``observed`` (n, 2) their normalized
    image coordinates; C minimises the pixel error of ``C @ p`` (three Gauss-Newton steps,
    Huber weights at 1 px). None where the normal equations are singular or not finite.
    """
    scale = np.asarray(focal)
    correction = np.eye(3)
    for _ in range(3):
        p = in_camera @ correction.T
        inverse_z = 1.0 / p[:, 2]
        projected = p[:, :2] * inverse_z[:, None]
        residual = ((projected - observed) * scale).reshape(-1)
        d_projection = np.zeros((len(p), 2, 3))
        d_projection[:, 0, 0] = inverse_z
        d_projection[:, 1, 1] = inverse_z
        d_projection[:, 0, 2] = -projected[:, 0] * inverse_z
        d_projection[:, 1, 2] = -projected[:, 1] * inverse_z
        skew = np.zeros((len(p), 3, 3))  # d(p + w x p)/dw = -[p]x
        skew[:, 0, 1], skew[:, 0, 2] = p[:, 2], -p[:, 1]
        skew[:, 1, 0], skew[:, 1, 2] = -p[:, 2], p[:, 0]
        skew[:, 2, 0], skew[:, 2, 1] = p[:, 1], -p[:, 0]
        jacobian = ((d_projection * scale[None, :, None]) @ skew).reshape(-1, 3)
        point_error = np.hypot(residual[0::2], residual[1::2])
        weight = np.repeat(np.minimum(1.0, 1.0 / np.maximum(point_error, 1e-9)), 2)
        hessian = (jacobian * weight[:, None]).T @ jacobian
        gradient = (jacobian * weight[:, None]).T @ residual
        if not (triangulate.solvable(hessian[None])[0] and np.isfinite(gradient).all()):
            return None
        step = -np.linalg.solve(hessian, gradient)
        correction = cv2.Rodrigues(step)[0] @ correction
    return correction
