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
    scale = np.asarray(focal, dtype=np.float64)
    correction = np.eye(3)
    for _ in range(3):
        p = in_camera @ correction.T
        x, y = p[:, 0] / p[:, 2], p[:, 1] / p[:, 2]
        residual = (np.column_stack([x, y]) - observed) * scale  # (n, 2)
        # d(projection of p + w x p)/dw at w = 0, in pixels.
        xy = x * y
        jacobian = np.stack([
            scale[0] * np.column_stack([-xy, 1.0 + x * x, -y]),
            scale[1] * np.column_stack([-(1.0 + y * y), xy, x])], axis=1)  # (n, 2, 3)
        point_error = np.hypot(residual[:, 0], residual[:, 1])
        weight = np.minimum(1.0, 1.0 / np.maximum(point_error, 1e-9))  # Huber at 1 px
        weighted = (jacobian * weight[:, None, None]).reshape(-1, 3)
        hessian = weighted.T @ jacobian.reshape(-1, 3)
        gradient = weighted.T @ residual.reshape(-1)
        if not (triangulate.solvable(hessian[None])[0] and np.isfinite(gradient).all()):
            return None
        step = -np.linalg.solve(hessian, gradient)
        correction = cv2.Rodrigues(step)[0] @ correction
    return correction
