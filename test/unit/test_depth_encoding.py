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

"""Tests for depth_encoding: REP 118 units, NaN rules, range masks and 16-bit depth PNGs."""

import cv2
import numpy as np
import pytest

from mono_depth_ros.core.depth_encoding import (
    depth_image_from_metres, mask_depth_range, metres_from_depth_image, read_depth_png,
    TUM_DEPTH_SCALE, write_depth_png)
from mono_depth_ros.core.errors import BadMessageError
from mono_depth_ros.core.image_codec import image_to_numpy, numpy_to_image

NAN = np.nan


def test_16uc1_millimetres_become_metres_with_zero_as_nan():
    millimetres = np.array([[0, 1500], [65535, 1]], np.uint16)
    metres = metres_from_depth_image(millimetres, '16UC1')
    assert metres.dtype == np.float32
    np.testing.assert_allclose(metres, [[NAN, 1.5], [65.535, 0.001]], rtol=1e-6)


def test_32fc1_unusable_values_become_nan_and_the_input_is_untouched():
    depth = np.array([[NAN, np.inf, -np.inf, -1.0, 0.0, 2.5]], np.float32)
    before = depth.copy()
    metres = metres_from_depth_image(depth, '32FC1')
    assert metres.dtype == np.float32
    np.testing.assert_array_equal(metres, [[NAN, NAN, NAN, NAN, NAN, 2.5]])
    np.testing.assert_array_equal(depth, before)


def test_metres_to_16uc1_rounds_and_zeroes_what_cannot_be_stored():
    metres = np.array([[NAN, -1.0, 0.0, 0.0004, 0.0006, 1.2344, 1.2346, 65.535, 65.5356,
                        np.inf]])
    millimetres = depth_image_from_metres(metres, '16UC1')
    assert millimetres.dtype == np.uint16
    np.testing.assert_array_equal(millimetres, [[0, 0, 0, 0, 1, 1234, 1235, 65535, 0, 0]])


def test_metres_to_32fc1_is_a_float32_copy_that_keeps_nan():
    metres = np.array([[NAN, 1.25, 3.0]], np.float64)
    depth = depth_image_from_metres(metres)
    assert depth.dtype == np.float32
    np.testing.assert_array_equal(depth, [[NAN, 1.25, 3.0]])
    depth[0, 1] = 7.0
    assert metres[0, 1] == 1.25


def test_16uc1_round_trip_through_a_ros_image_is_within_half_a_millimetre():
    metres = np.random.default_rng(0).uniform(0.01, 60.0, (20, 30)).astype(np.float32)
    metres[0, 0] = NAN
    fields = numpy_to_image(depth_image_from_metres(metres, '16UC1'), '16UC1')
    back = metres_from_depth_image(image_to_numpy(fields), fields.encoding)
    assert np.isnan(back[0, 0])
    np.testing.assert_allclose(back[1:], metres[1:], atol=0.0005 + 1e-6)


def test_32fc1_round_trip_through_a_ros_image_is_exact():
    metres = np.random.default_rng(1).uniform(0.1, 80.0, (10, 12)).astype(np.float32)
    fields = numpy_to_image(depth_image_from_metres(metres, '32FC1'), '32FC1')
    np.testing.assert_array_equal(metres_from_depth_image(image_to_numpy(fields), '32FC1'),
                                  metres)


@pytest.mark.parametrize('call, field', [
    (lambda: metres_from_depth_image(np.zeros((2, 2), np.uint8), 'mono8'), 'encoding'),
    (lambda: metres_from_depth_image(np.zeros((2, 2), np.uint16), '32FC1'), 'array.dtype'),
    (lambda: metres_from_depth_image(np.zeros((2, 2), np.float32), '16UC1'), 'array.dtype'),
    (lambda: depth_image_from_metres(np.zeros((2, 2)), '8UC1'), 'encoding'),
])
def test_unsupported_depth_encodings_and_dtypes_raise_naming_the_field(call, field):
    with pytest.raises(BadMessageError) as error:
        call()
    assert error.value.field == field


def test_mask_depth_range_keeps_the_closed_interval_and_copies():
    depth = np.array([[0.5, 1.0, 2.0, 5.0, 5.01, NAN]], np.float32)
    masked = mask_depth_range(depth, 1.0, 5.0)
    assert masked.dtype == np.float32
    np.testing.assert_array_equal(masked, [[NAN, 1.0, 2.0, 5.0, NAN, NAN]])
    assert depth[0, 0] == 0.5


def test_mask_depth_range_of_integers_returns_floats():
    masked = mask_depth_range(np.array([1, 2, 3]), 2, 2)
    assert np.issubdtype(masked.dtype, np.floating)
    np.testing.assert_array_equal(masked, [NAN, 2.0, NAN])


def test_depth_png_uses_the_tum_scale_and_round_trips(tmp_path):
    assert TUM_DEPTH_SCALE == 5000.0
    metres = np.array([[1.0, 0.5, NAN], [13.107, 13.2, 0.00005]], np.float32)
    path = tmp_path / 'depth.png'
    write_depth_png(path, metres)
    raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert raw.dtype == np.uint16
    np.testing.assert_array_equal(raw, [[5000, 2500, 0], [65535, 0, 0]])
    np.testing.assert_allclose(read_depth_png(path), [[1.0, 0.5, NAN], [13.107, NAN, NAN]],
                               rtol=1e-6)


def test_depth_png_with_a_custom_scale_round_trips_within_half_a_unit(tmp_path):
    metres = np.random.default_rng(2).uniform(0.1, 60.0, (15, 20)).astype(np.float32)
    path = tmp_path / 'depth_mm.png'
    write_depth_png(str(path), metres, scale=1000.0)
    back = read_depth_png(str(path), scale=1000.0)
    assert back.dtype == np.float32
    np.testing.assert_allclose(back, metres, atol=0.0005 + 1e-6)


def test_reading_something_other_than_a_16_bit_png_fails_clearly(tmp_path):
    eight_bit = tmp_path / 'colour.png'
    cv2.imwrite(str(eight_bit), np.zeros((4, 4), np.uint8))
    with pytest.raises(BadMessageError, match='16-bit'):
        read_depth_png(eight_bit)
    text = tmp_path / 'notes.png'
    text.write_text('not an image')
    with pytest.raises(BadMessageError, match='not an image'):
        read_depth_png(text)
    with pytest.raises(FileNotFoundError):
        read_depth_png(tmp_path / 'missing.png')


def test_writing_a_depth_png_needs_a_2d_image(tmp_path):
    with pytest.raises(BadMessageError, match='depth_m.shape'):
        write_depth_png(tmp_path / 'x.png', np.zeros((2, 2, 3)))
