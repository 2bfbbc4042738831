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

"""Pinhole camera model built from CameraInfo fields: rays, projection and undistortion.

Semantics follow REP 104 and image_geometry's ``PinholeCameraModel``:

* ``width``/``height``, ``K``, ``P`` and ``roi`` describe the full-resolution sensor. The image
  actually delivered is the ROI, binned: ``output_size = (roi.width // binning_x,
  roi.height // binning_y)``, and its effective intrinsics are ``fx' = fx / bx`` and
  ``cx' = (cx - roi.x_offset) / bx`` (likewise in y), exactly as image_geometry computes them
  (it subtracts the raw ROI offset from P too).
* A raw image (``rectified=False``) uses K and D; a rectified image uses P and no distortion.
* 3-D points are in the image's own optical frame (x right, y down, z forward): the raw camera
  for raw images, the rectified camera for rectified ones. P's stereo terms (Tx, Ty) are not
  applied, so the right camera of a stereo pair is modelled in its own frame.
* Skew (``K[0, 1]``) is ignored, as in image_geometry and OpenCV's distortion functions.
* All-zero D means no distortion, whatever its length or model name; an all-zero ROI means the
  full image; binning 0 means 1.
"""

from dataclasses import dataclass
import functools
import math

import cv2
import numpy as np

from mono_depth_ros.core.errors import BadMessageError

# D lengths accepted for each distortion model (ROS names, see sensor_msgs/distortion_models).
DISTORTION_LENGTHS = {
    'plumb_bob': (4, 5),
    'rational_polynomial': (8,),
    'equidistant': (4,),
}

# Iterative undistortion: OpenCV's default (5 iterations) leaves ~1 px errors on strong lenses.
_UNDISTORT_CRITERIA = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 100, 1e-9)
_RAY_CACHE_SIZE = 8


@dataclass(frozen=True, eq=False)
class CameraModel:
    """A validated pinhole camera, as described by a sensor_msgs/CameraInfo message.

    Construct it with ``from_camera_info`` or ``from_intrinsics``; the constructor validates
    and normalises the fields (arrays become read-only float64, binning 0 becomes 1, an all-zero
    ROI becomes None). Models compare and hash by value, so they can key caches.
    """

    width: int
    height: int
    k: np.ndarray
    d: np.ndarray
    r: np.ndarray
    p: np.ndarray
    distortion_model: str
    binning_x: int = 1
    binning_y: int = 1
    roi: tuple[int, int, int, int] | None = None
    rectified: bool = False

    def __post_init__(self) -> None:
        width = _positive_int('CameraInfo.width', self.width)
        height = _positive_int('CameraInfo.height', self.height)
        k = _finite_matrix('CameraInfo.k', self.k, (3, 3))
        r = _finite_matrix('CameraInfo.r', self.r, (3, 3))
        p = _finite_matrix('CameraInfo.p', self.p, (3, 4))
        d = _finite_matrix('CameraInfo.d', self.d, (-1,))
        model = str(self.distortion_model)
        rectified = bool(self.rectified)
        bx = _binning('CameraInfo.binning_x', self.binning_x)
        by = _binning('CameraInfo.binning_y', self.binning_y)
        roi = _region_of_interest(self.roi, width, height, bx, by)
        distortion = 'none' if rectified else _distortion_kind(model, d)

        _check_focal_lengths('CameraInfo.k', k, required=not rectified)
        if rectified and not p.any() and k.any() and not d.any():
            p = np.hstack([k, np.zeros((3, 1))])  # Rectified stream with P unset: K is the camera.
        _check_focal_lengths('CameraInfo.p', p, required=rectified)

        intrinsics = _adjusted_for_roi_and_binning((p if rectified else k)[:, :3], roi, bx, by)
        intrinsics[0, 1] = 0.0
        intrinsics[2] = (0.0, 0.0, 1.0)
        full = roi or (0, 0, width, height)

        values = {
            'width': width, 'height': height, 'k': k, 'd': d, 'r': r, 'p': p,
            'distortion_model': model, 'binning_x': bx, 'binning_y': by, 'roi': roi,
            'rectified': rectified, '_distortion': distortion, '_intrinsics': intrinsics,
            '_output_size': (full[2] // bx, full[3] // by),
        }
        for name, value in values.items():
            if isinstance(value, np.ndarray):
                value.setflags(write=False)
            object.__setattr__(self, name, value)

    # ----------------------------------------------------------------------------------------
    # Construction and conversion

    @classmethod
    def from_camera_info(cls, msg, *, rectified: bool = False) -> 'CameraModel':
        """Return the model of a CameraInfo message (rclpy, rosbags or any look-alike).

        ``rectified`` says whether the images this model describes are already rectified
        (image_rect: use P, no distortion) or raw (use K and D).
        """
        roi_msg = getattr(msg, 'roi', None)
        roi = None
        if roi_msg is not None:
            roi = tuple(_integer(f'CameraInfo.roi.{name}', getattr(roi_msg, name, 0))
                        for name in ('x_offset', 'y_offset', 'width', 'height'))
        return cls(
            width=_field(msg, 'width'), height=_field(msg, 'height'),
            k=_field(msg, 'k'), d=_field(msg, 'd'), r=_field(msg, 'r'), p=_field(msg, 'p'),
            distortion_model=_field(msg, 'distortion_model'),
            binning_x=getattr(msg, 'binning_x', 0), binning_y=getattr(msg, 'binning_y', 0),
            roi=roi, rectified=rectified)

    @classmethod
    def from_intrinsics(cls, fx: float, fy: float, cx: float, cy: float, width: int,
                        height: int, d=None, distortion_model: str = 'plumb_bob'
                        ) -> 'CameraModel':
        """Return a raw camera with K from the intrinsics, R = I and P = [K | 0].

        ``d`` defaults to zeros of the model's usual length (no distortion).
        """
        k = np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]], dtype=np.float64)
        if d is None:
            d = np.zeros(DISTORTION_LENGTHS.get(distortion_model, (0,))[-1])
        return cls(width=width, height=height, k=k, d=d, r=np.eye(3),
                   p=np.hstack([k, np.zeros((3, 1))]), distortion_model=distortion_model)

    def to_camera_info_fields(self) -> dict:
        """Return the CameraInfo fields (flat float lists, roi as a dict) of this model."""
        x, y, w, h = self.roi or (0, 0, 0, 0)
        return {
            'height': self.height,
            'width': self.width,
            'distortion_model': self.distortion_model,
            'd': [float(v) for v in self.d],
            'k': [float(v) for v in self.k.reshape(-1)],
            'r': [float(v) for v in self.r.reshape(-1)],
            'p': [float(v) for v in self.p.reshape(-1)],
            'binning_x': self.binning_x,
            'binning_y': self.binning_y,
            'roi': {'x_offset': x, 'y_offset': y, 'height': h, 'width': w, 'do_rectify': False},
        }

    def scaled(self, width: int, height: int) -> 'CameraModel':
        """Return the same camera for its delivered image resized to ``width`` x ``height``.

        Uses the pixel-centre convention of cv2.resize (pixel i covers [i - 0.5, i + 0.5]):
        ``fx' = fx * s`` and ``cx' = (cx + 0.5) * s - 0.5`` with ``s = width / output width``,
        so scaling there and back is exact up to rounding. Note that this differs by
        ``(s - 1) / 2`` px from image_geometry's binning rule ``cx / b``, which REP 104 drivers
        follow. The result has no binning or ROI: its full resolution is the new size.
        """
        width = _positive_int('width', width)
        height = _positive_int('height', height)
        sx = width / self._output_size[0]
        sy = height / self._output_size[1]

        def rescale(matrix: np.ndarray) -> np.ndarray:
            """Apply the ROI/binning adjustment, then the resize, to K or P."""
            out = _adjusted_for_roi_and_binning(matrix, self.roi, self.binning_x, self.binning_y)
            if not out.any():
                return out
            out[0] *= sx
            out[1] *= sy
            out[0, 2] += 0.5 * (sx - 1.0)
            out[1, 2] += 0.5 * (sy - 1.0)
            return out

        return CameraModel(width=width, height=height, k=rescale(self.k), d=self.d, r=self.r,
                           p=rescale(self.p), distortion_model=self.distortion_model,
                           rectified=self.rectified)

    # ----------------------------------------------------------------------------------------
    # Effective intrinsics of the delivered image

    @property
    def fx(self) -> float:
        """Effective focal length in x, pixels of the delivered image."""
        return float(self._intrinsics[0, 0])

    @property
    def fy(self) -> float:
        """Effective focal length in y, pixels of the delivered image."""
        return float(self._intrinsics[1, 1])

    @property
    def cx(self) -> float:
        """Effective principal point x, pixels of the delivered image."""
        return float(self._intrinsics[0, 2])

    @property
    def cy(self) -> float:
        """Effective principal point y, pixels of the delivered image."""
        return float(self._intrinsics[1, 2])

    @property
    def intrinsic_matrix(self) -> np.ndarray:
        """Effective 3x3 camera matrix of the delivered image (from P if rectified, else K)."""
        return self._intrinsics

    @property
    def output_size(self) -> tuple[int, int]:
        """(width, height) of the delivered image, after ROI and binning."""
        return self._output_size

    @property
    def distortion_coefficients(self) -> np.ndarray:
        """D as applied to the delivered image: empty when there is no distortion to apply."""
        return self.d if self.is_distorted else np.zeros(0)

    @property
    def is_distorted(self) -> bool:
        """Whether pixels must be undistorted (a raw image with non-zero D)."""
        return self._distortion != 'none'

    # ----------------------------------------------------------------------------------------
    # Geometry

    def rays_signature(self) -> tuple:
        """Return a hashable tuple of everything ``pixel_rays`` depends on."""
        return (*self._output_size, self.fx, self.fy, self.cx, self.cy, self._distortion,
                tuple(float(v) for v in self.distortion_coefficients))

    def pixel_rays(self, stride: int = 1) -> np.ndarray:
        """Return (ceil(H/stride), ceil(W/stride), 3) float32 rays (x, y, 1), read-only.

        Row i, column j is the undistorted ray through pixel centre (u, v) = (j*stride,
        i*stride), so ``z_depth * ray`` is the 3-D point. Cached per (intrinsics, size, stride).
        """
        if isinstance(stride, bool) or not isinstance(stride, (int, np.integer)) or stride < 1:
            raise BadMessageError('stride', stride, 'an integer >= 1')
        return _pixel_rays(self.rays_signature(), int(stride))

    def undistort_points(self, pixels) -> np.ndarray:
        """Return (N, 2) normalized coordinates (x/z, y/z) of (N, 2) pixels of the image."""
        pixels = _points_array('pixels', pixels, 2)
        return _normalized_from_pixels(pixels, *self.rays_signature()[2:])

    def unproject(self, pixels, depth) -> np.ndarray:
        """Return (N, 3) optical-frame points of (N, 2) pixels at z-depths ``depth`` (N,)."""
        normalized = self.undistort_points(pixels)
        depth = np.broadcast_to(np.asarray(depth, dtype=np.float64), (len(normalized),))
        return np.column_stack([normalized * depth[:, None], depth])

    def project(self, points) -> np.ndarray:
        """Return (N, 2) pixels of (N, 3) optical-frame points; NaN where z <= 0.

        Raw images get the lens distortion applied. Like any polynomial lens model, the result
        is only meaningful inside the calibrated field of view.
        """
        points = _points_array('points', points, 3)
        pixels = np.full((len(points), 2), np.nan)
        valid = np.isfinite(points).all(axis=1) & (points[:, 2] > 0)
        if not valid.any():
            return pixels
        visible = points[valid]
        if self._distortion == 'none':
            normalized = visible[:, :2] / visible[:, 2:]
            pixels[valid] = normalized * (self.fx, self.fy) + (self.cx, self.cy)
        elif self._distortion == 'equidistant':
            projected, _ = cv2.fisheye.projectPoints(
                visible.reshape(-1, 1, 3), np.zeros(3), np.zeros(3), self._intrinsics, self.d)
            pixels[valid] = projected.reshape(-1, 2)
        else:
            projected, _ = cv2.projectPoints(
                visible, np.zeros(3), np.zeros(3), self._intrinsics, self.d)
            pixels[valid] = projected.reshape(-1, 2)
        return pixels

    # ----------------------------------------------------------------------------------------
    # Value semantics

    def _signature(self) -> tuple:
        return (self.width, self.height, self.distortion_model, self.binning_x, self.binning_y,
                self.roi, self.rectified, tuple(self.k.flat), tuple(self.d.flat),
                tuple(self.r.flat), tuple(self.p.flat))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CameraModel):
            return NotImplemented
        return self._signature() == other._signature()

    def __hash__(self) -> int:
        return hash(self._signature())


# --------------------------------------------------------------------------------------------
# Geometry helpers (module level so the ray cache keys on plain tuples)


@functools.lru_cache(maxsize=_RAY_CACHE_SIZE)
def _pixel_rays(signature: tuple, stride: int) -> np.ndarray:
    """Compute the ray grid described by ``CameraModel.rays_signature()``."""
    width, height, fx, fy, cx, cy, distortion, d = signature
    u = np.arange(0, width, stride, dtype=np.float64)
    v = np.arange(0, height, stride, dtype=np.float64)
    rays = np.ones((len(v), len(u), 3), dtype=np.float32)
    if distortion == 'none':
        rays[..., 0] = ((u - cx) / fx)[None, :]
        rays[..., 1] = ((v - cy) / fy)[:, None]
    else:
        grid = np.stack(np.meshgrid(u, v), axis=-1).reshape(-1, 2)
        normalized = _normalized_from_pixels(grid, fx, fy, cx, cy, distortion, d)
        rays[..., :2] = normalized.reshape(len(v), len(u), 2)
    rays.setflags(write=False)
    return rays


def _normalized_from_pixels(pixels: np.ndarray, fx: float, fy: float, cx: float, cy: float,
                            distortion: str, d: tuple) -> np.ndarray:
    """Undistort (N, 2) pixels to normalized coordinates; NaN pixels stay NaN."""
    if distortion == 'none':
        return (pixels - (cx, cy)) / (fx, fy)
    normalized = np.full(pixels.shape, np.nan)
    valid = np.isfinite(pixels).all(axis=1)
    if valid.any():
        camera = np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])
        source = pixels[valid].reshape(-1, 1, 2)
        coefficients = np.asarray(d, dtype=np.float64)
        result = _undistort(source, camera, coefficients, distortion == 'equidistant')
        normalized[valid] = result.reshape(-1, 2)
    return normalized


def _undistort(points: np.ndarray, camera: np.ndarray, coefficients: np.ndarray,
               fisheye: bool) -> np.ndarray:
    """Undistort (N, 1, 2) pixels with :data:`_UNDISTORT_CRITERIA` on any OpenCV 4.5 to 5.

    ``criteria=`` is a keyword of newer OpenCV only; OpenCV 4.5/4.6 (Ubuntu 22.04 and 24.04)
    take the criteria through ``undistortPointsIter``, and their fisheye version keeps its own
    (10 iterations, 1e-8).
    """
    undistort = cv2.fisheye.undistortPoints if fisheye else cv2.undistortPoints
    if _takes_criteria(fisheye):
        return undistort(points, camera, coefficients, criteria=_UNDISTORT_CRITERIA)
    if not fisheye and hasattr(cv2, 'undistortPointsIter'):
        return cv2.undistortPointsIter(points, camera, coefficients, None, None,
                                       _UNDISTORT_CRITERIA)
    return undistort(points, camera, coefficients)


@functools.lru_cache(maxsize=None)
def _takes_criteria(fisheye: bool) -> bool:
    """Return whether this OpenCV's undistortPoints accepts ``criteria=`` (tried once)."""
    undistort = cv2.fisheye.undistortPoints if fisheye else cv2.undistortPoints
    try:
        undistort(np.zeros((1, 1, 2)), np.eye(3), np.zeros(4), criteria=_UNDISTORT_CRITERIA)
    except (cv2.error, TypeError):
        return False
    return True


def _adjusted_for_roi_and_binning(matrix: np.ndarray, roi, bx: int, by: int) -> np.ndarray:
    """Return K (3x3) or P (3x4) with image_geometry's ROI offset and binning applied."""
    out = np.array(matrix, dtype=np.float64)
    if not out.any():
        return out
    if roi is not None:
        out[0, 2] -= roi[0]
        out[1, 2] -= roi[1]
    out[0] /= bx
    out[1] /= by
    return out


# --------------------------------------------------------------------------------------------
# Validation helpers


def _field(msg, name: str):
    try:
        return getattr(msg, name)
    except AttributeError:
        raise BadMessageError(f'CameraInfo.{name}', None, 'a CameraInfo-like message') from None


def _integer(field: str, value) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise BadMessageError(field, value, 'an integer') from None
    if number != value:
        raise BadMessageError(field, value, 'an integer')
    return number


def _positive_int(field: str, value) -> int:
    number = _integer(field, value)
    if number <= 0:
        raise BadMessageError(field, value, 'a positive integer')
    return number


def _binning(field: str, value) -> int:
    number = _integer(field, value)
    if number < 0:
        raise BadMessageError(field, value, '>= 0 (0 means no binning)')
    return max(number, 1)


def _finite_matrix(field: str, value, shape: tuple[int, ...]) -> np.ndarray:
    expected = f'{math.prod(shape)} finite numbers' if shape != (-1,) else 'finite numbers'
    try:
        array = np.array(value, dtype=np.float64).reshape(shape)
    except (TypeError, ValueError):
        raise BadMessageError(field, value, expected) from None
    if not np.isfinite(array).all():
        raise BadMessageError(field, array.reshape(-1).tolist(), expected)
    return array


def _check_focal_lengths(field: str, matrix: np.ndarray, *, required: bool) -> None:
    """Require fx, fy > 0 when the matrix is required or set (non-zero)."""
    if (required or matrix.any()) and not (matrix[0, 0] > 0 and matrix[1, 1] > 0):
        raise BadMessageError(field, matrix.reshape(-1).tolist(),
                              'a calibrated matrix with fx > 0 and fy > 0')


def _distortion_kind(model: str, d: np.ndarray) -> str:
    """Return 'none', 'equidistant' or 'polynomial' (plumb_bob and rational_polynomial)."""
    if not d.any():
        return 'none'
    if model not in DISTORTION_LENGTHS:
        raise BadMessageError('CameraInfo.distortion_model', model,
                              f'one of {sorted(DISTORTION_LENGTHS)} for non-zero D')
    if len(d) not in DISTORTION_LENGTHS[model]:
        lengths = ' or '.join(str(n) for n in DISTORTION_LENGTHS[model])
        raise BadMessageError('CameraInfo.d', d.tolist(), f'{lengths} coefficients for {model}')
    return 'equidistant' if model == 'equidistant' else 'polynomial'


def _region_of_interest(roi, width: int, height: int, bx: int, by: int):
    """Validate (x_offset, y_offset, width, height); all zeros or None mean the full image."""
    if roi is None:
        return None
    try:
        values = list(roi)
    except TypeError:
        values = []
    if len(values) != 4:
        raise BadMessageError('CameraInfo.roi', roi, '(x_offset, y_offset, width, height)')
    x, y, w, h = (_integer('CameraInfo.roi', v) for v in values)
    if (x, y, w, h) == (0, 0, 0, 0):
        return None
    if min(x, y) < 0 or w < bx or h < by or x + w > width or y + h > height:
        raise BadMessageError(
            'CameraInfo.roi', {'x_offset': x, 'y_offset': y, 'width': w, 'height': h},
            f'a non-empty region inside the {width}x{height} image, at least one binned pixel')
    return (x, y, w, h)


def _points_array(field: str, value, columns: int) -> np.ndarray:
    array = np.asarray(value, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != columns:
        raise BadMessageError(field, f'array of shape {array.shape}', f'shape (N, {columns})')
    return array


def camera_for_image(model: CameraModel, width: int, height: int) -> CameraModel:
    """Return ``model`` for an image of ``width`` x ``height``.

    A calibration of another resolution with the same aspect ratio (up to the rounding of the
    image's sides) is scaled to the image; any other mismatch raises BadMessageError.
    """
    model_width, model_height = model.output_size
    if (model_width, model_height) == (width, height):
        return model
    if abs(model_width * height - model_height * width) > max(width, height):
        raise BadMessageError(
            'CameraInfo.width x height', f'{model_width}x{model_height}',
            f'the image size {width}x{height} or a multiple of it with the same aspect ratio')
    return model.scaled(width, height)


class CameraModelCache:
    """Builds the model of a CameraInfo once, and fits it to each image's size."""

    def __init__(self) -> None:
        self._key: tuple | None = None
        self._model: CameraModel | None = None

    def model_for(self, info, width: int, height: int) -> CameraModel:
        """Return the model of ``info`` (CameraInfo-like, or a CameraModel) for the image."""
        if isinstance(info, CameraModel):
            return camera_for_image(info, width, height)
        key = _camera_info_key(info)
        if key is None or key != self._key:
            self._model = CameraModel.from_camera_info(info)
            self._key = key
        return camera_for_image(self._model, width, height)


def _camera_info_key(info) -> tuple | None:
    """Return the values of a CameraInfo-like object that define its camera, or None."""
    try:
        roi = info.roi
        return (info.width, info.height, info.distortion_model, tuple(info.d), tuple(info.k),
                tuple(info.r), tuple(info.p), info.binning_x, info.binning_y, roi.x_offset,
                roi.y_offset, roi.width, roi.height, roi.do_rectify)
    except (AttributeError, TypeError):
        return None  # from_camera_info names the missing field
