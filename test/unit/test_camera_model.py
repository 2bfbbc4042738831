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

"""Tests for the CameraInfo-based pinhole camera model."""

from types import SimpleNamespace

import numpy as np
import pytest

from mono_depth_ros.core.camera_model import CameraModel
from mono_depth_ros.core.errors import BadMessageError

WIDTH, HEIGHT = 640, 480
DISTORTIONS = {
    'plumb_bob': [-0.28, 0.09, 0.001, -0.0015, -0.012],
    'rational_polynomial': [1.2, 0.3, 0.001, -0.001, 0.01, 1.5, 0.6, 0.05],
    'equidistant': [0.08, -0.02, 0.004, -0.001],
}


def camera_info_fields(**changes) -> dict:
    """Return CameraInfo fields of a distorted 640x480 camera, with ``changes`` applied."""
    fields = {
        'height': HEIGHT, 'width': WIDTH, 'distortion_model': 'plumb_bob',
        'd': list(DISTORTIONS['plumb_bob']),
        'k': [520.0, 0.0, 318.5, 0.0, 515.0, 243.0, 0.0, 0.0, 1.0],
        'r': [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
        'p': [480.0, 0.0, 322.0, 0.0, 0.0, 478.0, 240.5, 0.0, 0.0, 0.0, 1.0, 0.0],
        'binning_x': 0, 'binning_y': 0,
        'roi': {'x_offset': 0, 'y_offset': 0, 'height': 0, 'width': 0, 'do_rectify': False},
    }
    fields.update(changes)
    return fields


def as_message(fields: dict) -> SimpleNamespace:
    """Return a duck-typed CameraInfo holding ``fields``."""
    return SimpleNamespace(**{**fields, 'roi': SimpleNamespace(**fields['roi'])})


def pixel_grid(step: int = 37) -> np.ndarray:
    """Return (N, 2) pixels spread over the whole image, corners included."""
    u, v = np.meshgrid(np.r_[np.arange(0, WIDTH, step), WIDTH - 1],
                       np.r_[np.arange(0, HEIGHT, step), HEIGHT - 1])
    return np.column_stack([u.ravel(), v.ravel()]).astype(np.float64)


@pytest.mark.parametrize(('changes', 'field', 'shown'), [
    ({'width': 0}, 'CameraInfo.width', '0'),
    ({'height': -4}, 'CameraInfo.height', '-4'),
    ({'k': [0.0] * 9}, 'CameraInfo.k', 'fx > 0'),
    ({'k': [520.0, 0, 318.5, 0, -515.0, 243.0, 0, 0, 1]}, 'CameraInfo.k', '-515.0'),
    ({'k': [np.nan] + [0.0] * 8}, 'CameraInfo.k', 'finite'),
    ({'k': [1.0] * 6}, 'CameraInfo.k', '9 finite numbers'),
    ({'p': [np.inf] * 12}, 'CameraInfo.p', 'finite'),
    ({'d': [0.1, np.nan, 0, 0, 0]}, 'CameraInfo.d', 'finite'),
    ({'d': [0.1, 0.01, 0.0]}, 'CameraInfo.d', '4 or 5 coefficients for plumb_bob'),
    ({'distortion_model': 'rational_polynomial'}, 'CameraInfo.d', '8 coefficients'),
    ({'distortion_model': 'equidistant'}, 'CameraInfo.d', '4 coefficients for equidistant'),
    ({'distortion_model': 'fov'}, 'CameraInfo.distortion_model', "'fov'"),
    ({'binning_x': -1}, 'CameraInfo.binning_x', '-1'),
    ({'roi': {'x_offset': 600, 'y_offset': 0, 'width': 100, 'height': 100}},
     'CameraInfo.roi', 'inside the 640x480 image'),
])
def test_invalid_camera_info_raises_error_naming_field_and_value(changes, field, shown):
    with pytest.raises(BadMessageError, match='expected') as error:
        CameraModel.from_camera_info(as_message(camera_info_fields(**changes)))
    assert error.value.field == field
    assert field in str(error.value) and shown in str(error.value)


def test_message_without_intrinsics_is_rejected_by_field_name():
    fields = camera_info_fields()
    del fields['k']
    with pytest.raises(BadMessageError, match='CameraInfo.k'):
        CameraModel.from_camera_info(as_message(camera_info_fields(k=[0.0] * 9)))


def test_lenient_conventions_zero_binning_zero_roi_and_zero_distortion():
    model = CameraModel.from_camera_info(as_message(camera_info_fields(
        distortion_model='', d=[0.0] * 3)))
    assert (model.binning_x, model.binning_y, model.roi) == (1, 1, None)
    assert not model.is_distorted
    assert model.output_size == (WIDTH, HEIGHT)
    unknown_model_no_coefficients = camera_info_fields(distortion_model='fov', d=[])
    assert not CameraModel.from_camera_info(as_message(unknown_model_no_coefficients)).is_distorted


def test_rectified_image_uses_p_without_distortion_even_when_k_is_unset():
    fields = camera_info_fields(k=[0.0] * 9, distortion_model='fov', d=[0.3])
    model = CameraModel.from_camera_info(as_message(fields), rectified=True)
    assert not model.is_distorted
    assert (model.fx, model.fy, model.cx, model.cy) == (480.0, 478.0, 322.0, 240.5)
    with pytest.raises(BadMessageError, match='CameraInfo.k'):
        CameraModel.from_camera_info(as_message(camera_info_fields(k=[0.0] * 9)))


def test_rectified_image_with_unset_p_falls_back_to_undistorted_k():
    fields = camera_info_fields(p=[0.0] * 12, d=[0.0] * 5)
    model = CameraModel.from_camera_info(as_message(fields), rectified=True)
    assert (model.fx, model.cx) == (520.0, 318.5)
    with pytest.raises(BadMessageError, match='CameraInfo.p'):
        CameraModel.from_camera_info(as_message(camera_info_fields(p=[0.0] * 12)),
                                     rectified=True)


@pytest.mark.parametrize('distortion_model', sorted(DISTORTIONS))
def test_project_unproject_round_trip_with_distortion(distortion_model):
    model = CameraModel.from_intrinsics(
        520.0, 515.0, 318.5, 243.0, WIDTH, HEIGHT, d=DISTORTIONS[distortion_model],
        distortion_model=distortion_model)
    assert model.is_distorted
    pixels = pixel_grid()
    depth = np.linspace(0.5, 20.0, len(pixels))
    points = model.unproject(pixels, depth)
    np.testing.assert_allclose(points[:, 2], depth)
    np.testing.assert_allclose(model.project(points), pixels, atol=1e-6)
    # Distortion really is applied: the ideal pinhole projection differs at the corners.
    ideal = points[:, :2] / points[:, 2:] * (model.fx, model.fy) + (model.cx, model.cy)
    assert np.abs(ideal - pixels).max() > 5.0


def assert_rays_project_back_to_their_pixels(distortion_model: str, stride: int) -> None:
    """The rays of a distorted camera's pixel grid project back to those pixels (1e-3 px)."""
    model = CameraModel.from_intrinsics(
        520.0, 515.0, 318.5, 243.0, WIDTH, HEIGHT, d=DISTORTIONS[distortion_model],
        distortion_model=distortion_model)
    rays = model.pixel_rays(stride=stride)
    v, u = np.mgrid[0:HEIGHT:stride, 0:WIDTH:stride]
    np.testing.assert_allclose(model.project(rays.reshape(-1, 3).astype(np.float64)),
                               np.column_stack([u.ravel(), v.ravel()]), atol=1e-3)


@pytest.mark.parametrize('distortion_model', sorted(DISTORTIONS))
def test_pixel_rays_of_distorted_camera_project_back_to_their_pixels(distortion_model):
    assert_rays_project_back_to_their_pixels(distortion_model, stride=8)


@pytest.mark.parametrize('distortion_model', sorted(DISTORTIONS))
def test_undistortion_keeps_its_criteria_on_opencv_without_the_keyword(
        distortion_model, monkeypatch):
    """OpenCV 4.5/4.6 (Ubuntu 22.04/24.04): no criteria= keyword; undistortPointsIter has it."""
    import cv2

    from mono_depth_ros.core import camera_model

    real_iter, undistort_points, calls = getattr(cv2, 'undistortPointsIter', None), \
        cv2.undistortPoints, []

    def undistort_points_iter(points, camera, coefficients, r, p, criteria):
        calls.append(criteria)
        if real_iter is not None:  # OpenCV 4.5/4.6
            return real_iter(points, camera, coefficients, r, p, criteria)
        return undistort_points(points, camera, coefficients, criteria=criteria)

    camera_model._pixel_rays.cache_clear()  # compute the rays again, through the stand-in
    monkeypatch.setattr(camera_model, '_takes_criteria', lambda fisheye: False)
    monkeypatch.setattr(cv2, 'undistortPointsIter', undistort_points_iter, raising=False)
    assert_rays_project_back_to_their_pixels(distortion_model, stride=16)
    fisheye = distortion_model == 'equidistant'
    assert calls == ([] if fisheye else [camera_model._UNDISTORT_CRITERIA])


def test_project_gives_nan_behind_camera_and_for_nan_points():
    model = CameraModel.from_intrinsics(500.0, 500.0, 320.0, 240.0, WIDTH, HEIGHT,
                                        d=DISTORTIONS['plumb_bob'])
    pixels = model.project(np.array([[0.0, 0.0, -1.0], [1.0, 1.0, 0.0], [np.nan, 0.0, 2.0],
                                     [0.0, 0.0, 2.0]]))
    assert np.isnan(pixels[:3]).all()
    np.testing.assert_allclose(pixels[3], [320.0, 240.0])


def test_pixel_rays_use_principal_point_not_image_centre():
    model = CameraModel.from_intrinsics(400.0, 410.0, 100.0, 390.0, WIDTH, HEIGHT)
    stride = 3
    rays = model.pixel_rays(stride)
    assert rays.shape == (160, 214, 3) and rays.dtype == np.float32
    v, u = np.mgrid[0:HEIGHT:stride, 0:WIDTH:stride]
    homogeneous = np.stack([u, v, np.ones_like(u)], axis=-1).astype(np.float64)
    expected = homogeneous @ np.linalg.inv(model.intrinsic_matrix).T
    np.testing.assert_allclose(rays, expected, rtol=1e-6, atol=1e-7)
    assert np.all(rays[..., 2] == 1.0)


def test_pixel_rays_are_cached_per_model_and_stride_and_read_only():
    model = CameraModel.from_intrinsics(400.0, 400.0, 320.0, 240.0, WIDTH, HEIGHT)
    twin = CameraModel.from_intrinsics(400.0, 400.0, 320.0, 240.0, WIDTH, HEIGHT)
    assert model == twin and hash(model) == hash(twin)
    assert model.pixel_rays(2) is twin.pixel_rays(2)
    assert model.pixel_rays(2) is not model.pixel_rays(4)
    assert not model.pixel_rays(2).flags.writeable
    other = CameraModel.from_intrinsics(400.0, 400.0, 321.0, 240.0, WIDTH, HEIGHT)
    assert other != model and not np.array_equal(other.pixel_rays(2), model.pixel_rays(2))
    with pytest.raises(BadMessageError, match='stride'):
        model.pixel_rays(0)


def test_scaled_uses_pixel_centre_convention_and_scales_back_exactly():
    model = CameraModel.from_camera_info(as_message(camera_info_fields()))
    half = model.scaled(WIDTH // 2, HEIGHT // 2)
    assert half.output_size == (320, 240)
    assert half.fx == pytest.approx(260.0) and half.fy == pytest.approx(257.5)
    assert half.cx == pytest.approx((318.5 + 0.5) * 0.5 - 0.5)
    assert half.cy == pytest.approx((243.0 + 0.5) * 0.5 - 0.5)
    np.testing.assert_array_equal(half.d, model.d)
    back = half.scaled(WIDTH, HEIGHT)
    np.testing.assert_allclose(back.intrinsic_matrix, model.intrinsic_matrix, rtol=0, atol=1e-12)
    np.testing.assert_allclose(back.p, model.p, rtol=0, atol=1e-12)
    odd = model.scaled(518, 392).scaled(WIDTH, HEIGHT)
    np.testing.assert_allclose(odd.intrinsic_matrix, model.intrinsic_matrix, atol=1e-9)


def test_binning_and_roi_give_image_geometry_effective_intrinsics():
    roi = {'x_offset': 100, 'y_offset': 40, 'width': 400, 'height': 300, 'do_rectify': False}
    fields = camera_info_fields(binning_x=2, binning_y=4, roi=roi)
    model = CameraModel.from_camera_info(as_message(fields))
    assert model.output_size == (200, 75)
    assert model.fx == pytest.approx(520.0 / 2) and model.fy == pytest.approx(515.0 / 4)
    assert model.cx == pytest.approx((318.5 - 100) / 2)
    assert model.cy == pytest.approx((243.0 - 40) / 4)
    rectified = CameraModel.from_camera_info(as_message(fields), rectified=True)
    assert rectified.cx == pytest.approx((322.0 - 100) / 2)

    # The binned ROI pixel (u, v) is the full-resolution pixel (u*bx + x0, v*by + y0).
    full = CameraModel.from_camera_info(as_message(camera_info_fields()))
    points = full.unproject(pixel_grid(53), np.full(len(pixel_grid(53)), 3.0))
    expected = (full.project(points) - (100, 40)) / (2, 4)
    np.testing.assert_allclose(model.project(points), expected, atol=1e-9)
    assert model.pixel_rays(1).shape == (75, 200, 3)


def test_from_camera_info_reads_an_rclpy_message():
    camera_info_type = pytest.importorskip('sensor_msgs.msg').CameraInfo
    fields = camera_info_fields(binning_x=2)
    msg = camera_info_type()
    for name in ('height', 'width', 'distortion_model', 'd', 'k', 'r', 'p', 'binning_x',
                 'binning_y'):
        setattr(msg, name, fields[name])
    msg.roi.x_offset, msg.roi.width, msg.roi.height = 40, 600, 480
    model = CameraModel.from_camera_info(msg)
    assert model.binning_x == 2 and model.roi == (40, 0, 600, 480)
    assert model.output_size == (300, 480)
    assert model.cx == pytest.approx((318.5 - 40) / 2)
    np.testing.assert_array_equal(model.d, DISTORTIONS['plumb_bob'])


def test_from_camera_info_reads_a_deserialized_rosbags_message():
    pytest.importorskip('rosbags')
    from mono_depth_ros import bags

    typestore = bags.typestore()
    types = typestore.types
    fields = camera_info_fields(distortion_model='equidistant', d=DISTORTIONS['equidistant'])
    msg = types['sensor_msgs/msg/CameraInfo'](
        header=types['std_msgs/msg/Header'](
            stamp=types['builtin_interfaces/msg/Time'](sec=1, nanosec=2), frame_id='camera'),
        height=fields['height'], width=fields['width'],
        distortion_model=fields['distortion_model'],
        d=np.array(fields['d']), k=np.array(fields['k']), r=np.array(fields['r']),
        p=np.array(fields['p']), binning_x=0, binning_y=0,
        roi=types['sensor_msgs/msg/RegionOfInterest'](**fields['roi']))
    data = typestore.serialize_cdr(msg, 'sensor_msgs/msg/CameraInfo')
    decoded = typestore.deserialize_cdr(data, 'sensor_msgs/msg/CameraInfo')
    model = CameraModel.from_camera_info(decoded)
    assert model == CameraModel.from_camera_info(as_message(fields))
    assert model.is_distorted and model.intrinsic_matrix[0, 2] == 318.5


@pytest.mark.parametrize('rectified', [False, True])
def test_camera_info_fields_round_trip(rectified):
    roi = {'x_offset': 8, 'y_offset': 6, 'width': 624, 'height': 468, 'do_rectify': False}
    fields = camera_info_fields(binning_x=2, binning_y=2, roi=roi)
    model = CameraModel.from_camera_info(as_message(fields), rectified=rectified)
    out = model.to_camera_info_fields()
    assert set(out) == {'height', 'width', 'distortion_model', 'd', 'k', 'r', 'p', 'binning_x',
                        'binning_y', 'roi'}
    assert all(isinstance(v, float) for name in 'dkrp' for v in out[name])
    assert out['k'] == fields['k'] and out['p'] == fields['p'] and out['roi'] == roi
    again = CameraModel.from_camera_info(as_message(out), rectified=rectified)
    assert again == model
    np.testing.assert_array_equal(again.intrinsic_matrix, model.intrinsic_matrix)


def test_from_intrinsics_builds_an_undistorted_raw_camera():
    model = CameraModel.from_intrinsics(300.0, 310.0, 150.0, 100.0, 320, 200)
    assert not model.is_distorted and not model.rectified
    assert model.output_size == (320, 200)
    np.testing.assert_array_equal(model.p[:, :3], model.k)
    np.testing.assert_array_equal(model.d, np.zeros(5))
    point = model.unproject(np.array([[10.0, 20.0]]), np.array([4.0]))
    np.testing.assert_allclose(point, [[(10 - 150) * 4 / 300, (20 - 100) * 4 / 310, 4.0]])
    np.testing.assert_allclose(model.undistort_points(np.array([[150.0, 100.0]])), [[0.0, 0.0]])
