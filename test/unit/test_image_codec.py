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

"""Tests for image_codec: sensor_msgs images, compressed images and compressedDepth to numpy."""

import array
import dataclasses
import struct
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from mono_depth_ros.core.errors import BadMessageError
from mono_depth_ros.core.image_codec import (
    bytes_per_pixel, decode_compressed, decode_compressed_depth, encode_compressed,
    encode_compressed_depth, image_to_bgr8, image_to_numpy, image_to_rgb8, ImageFields,
    numpy_to_image, SUPPORTED_ENCODINGS)

HEIGHT, WIDTH = 6, 8

# encoding -> (dtype, channels): the sensor_msgs/image_encodings layouts.
EXPECTED_LAYOUTS = {
    'rgb8': (np.uint8, 3), 'bgr8': (np.uint8, 3), 'rgba8': (np.uint8, 4), 'bgra8': (np.uint8, 4),
    'rgb16': (np.uint16, 3), 'bgr16': (np.uint16, 3), 'rgba16': (np.uint16, 4),
    'bgra16': (np.uint16, 4), 'mono8': (np.uint8, 1), 'mono16': (np.uint16, 1),
    '8UC1': (np.uint8, 1), '8UC3': (np.uint8, 3), '8UC4': (np.uint8, 4),
    '16UC1': (np.uint16, 1), '16SC1': (np.int16, 1), '32FC1': (np.float32, 1),
    '64FC1': (np.float64, 1), 'yuv422': (np.uint8, 2), 'uyvy': (np.uint8, 2),
    'yuv422_yuy2': (np.uint8, 2), 'yuyv': (np.uint8, 2),
    **{f'bayer_{p}{bits}': (np.uint8 if bits == 8 else np.uint16, 1)
       for p in ('rggb', 'bggr', 'gbrg', 'grbg') for bits in (8, 16)},
}
ALL_ENCODINGS = sorted(EXPECTED_LAYOUTS)
# Encodings with a colour meaning (everything but signed and float data).
PICTURE_ENCODINGS = [e for e in ALL_ENCODINGS if e not in ('16SC1', '32FC1', '64FC1')]


def random_array(encoding: str, height: int = HEIGHT, width: int = WIDTH,
                 seed: int = 0) -> np.ndarray:
    """Return random pixels in the native layout of ``encoding``."""
    dtype, channels = EXPECTED_LAYOUTS[encoding]
    shape = (height, width) if channels == 1 else (height, width, channels)
    rng = np.random.default_rng(seed)
    if np.issubdtype(dtype, np.floating):
        values = rng.uniform(-100.0, 100.0, shape).astype(dtype)
        values.flat[0] = np.nan
        return values
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, shape, dtype=dtype, endpoint=True)


def smooth_bgr(height: int = 48, width: int = 64) -> np.ndarray:
    """Return a smooth colour gradient that JPEG keeps within a few grey levels."""
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([x * 255 // (width - 1), y * 255 // (height - 1),
                     (x + y) * 255 // (width + height - 2)], axis=-1).astype(np.uint8)


def padded(fields: ImageFields, extra: int, seed: int = 1) -> ImageFields:
    """Return the same image with ``extra`` garbage bytes at the end of every row."""
    rows = np.frombuffer(fields.data, np.uint8).reshape(fields.height, fields.step)
    garbage = np.random.default_rng(seed).integers(0, 256, (fields.height, extra), np.uint8)
    data = np.concatenate([rows, garbage], axis=1).tobytes()
    return dataclasses.replace(fields, step=fields.step + extra, data=data)


def compressed(fmt: str, data) -> SimpleNamespace:
    return SimpleNamespace(format=fmt, data=data)


# ---------------------------------------------------------------- raw images

def test_supported_encodings_are_the_sensor_msgs_layouts():
    assert SUPPORTED_ENCODINGS == frozenset(EXPECTED_LAYOUTS)
    for encoding, (dtype, channels) in EXPECTED_LAYOUTS.items():
        assert bytes_per_pixel(encoding) == np.dtype(dtype).itemsize * channels, encoding


@pytest.mark.parametrize('encoding', ALL_ENCODINGS)
def test_every_encoding_round_trips_through_image_fields(encoding):
    original = random_array(encoding)
    fields = numpy_to_image(original, encoding)
    assert (fields.height, fields.width, fields.encoding) == (HEIGHT, WIDTH, encoding)
    assert fields.is_bigendian == 0
    assert fields.step == WIDTH * bytes_per_pixel(encoding)
    assert isinstance(fields.data, bytes) and len(fields.data) == HEIGHT * fields.step
    decoded = image_to_numpy(fields)
    assert decoded.dtype == original.dtype and decoded.shape == original.shape
    np.testing.assert_array_equal(decoded, original)


@pytest.mark.parametrize('encoding', ['rgb8', 'mono16', '32FC1', '64FC1', 'yuv422', 'rgba16',
                                      'bayer_grbg16'])
def test_padded_rows_decode_without_the_padding(encoding):
    original = random_array(encoding)
    # 7 extra bytes leave multi-byte rows unaligned, which must still decode.
    decoded = image_to_numpy(padded(numpy_to_image(original, encoding), extra=7))
    assert decoded.flags.c_contiguous
    np.testing.assert_array_equal(decoded, original)
    if encoding in PICTURE_ENCODINGS:
        np.testing.assert_array_equal(
            image_to_rgb8(padded(numpy_to_image(original, encoding), extra=7)),
            image_to_rgb8(numpy_to_image(original, encoding)))


@pytest.mark.parametrize('encoding', ['mono16', '16UC1', 'rgb16', '32FC1', '16SC1'])
def test_big_endian_data_is_swapped_to_native_values(encoding):
    original = random_array(encoding)
    big_endian = original.astype(original.dtype.newbyteorder('>')).tobytes()
    fields = ImageFields(HEIGHT, WIDTH, encoding, 1, WIDTH * bytes_per_pixel(encoding), big_endian)
    decoded = image_to_numpy(fields)
    assert decoded.dtype.isnative
    np.testing.assert_array_equal(decoded, original)


def test_big_endian_mono16_gives_the_same_picture_as_little_endian():
    original = random_array('mono16')
    big = ImageFields(HEIGHT, WIDTH, 'mono16', 1, WIDTH * 2,
                      original.astype('>u2').tobytes())
    np.testing.assert_array_equal(image_to_rgb8(big),
                                  image_to_rgb8(numpy_to_image(original, 'mono16')))


def test_unpadded_little_endian_data_is_decoded_without_a_copy():
    data = np.frombuffer(numpy_to_image(random_array('rgb8'), 'rgb8').data, np.uint8).copy()
    msg = ImageFields(HEIGHT, WIDTH, 'rgb8', 0, WIDTH * 3, data)
    assert np.shares_memory(image_to_numpy(msg), data)


def test_data_may_be_bytes_bytearray_array_or_numpy():
    original = random_array('bgr8')
    data = numpy_to_image(original, 'bgr8').data
    for variant in (data, bytearray(data), array.array('B', data), np.frombuffer(data, np.uint8),
                    list(data)):
        msg = ImageFields(HEIGHT, WIDTH, 'bgr8', 0, WIDTH * 3, variant)
        np.testing.assert_array_equal(image_to_numpy(msg), original)


@pytest.mark.parametrize('change, field', [
    ({'height': 0}, 'Image.height'),
    ({'width': 0}, 'Image.width'),
    ({'encoding': 'rgb9'}, 'Image.encoding'),
    ({'encoding': 'nv12'}, 'Image.encoding'),
    ({'step': WIDTH * 3 - 1}, 'Image.step'),
    ({'data': b'\0' * (HEIGHT * WIDTH * 3 - 1)}, 'Image.data'),
])
def test_malformed_images_raise_errors_naming_the_field(change, field):
    msg = dataclasses.replace(numpy_to_image(random_array('rgb8'), 'rgb8'), **change)
    with pytest.raises(BadMessageError) as error:
        image_to_numpy(msg)
    assert error.value.field == field
    assert field in str(error.value)


def test_data_shorter_than_height_times_step_is_rejected_even_if_rows_fit():
    fields = padded(numpy_to_image(random_array('mono8'), 'mono8'), extra=4)
    short = dataclasses.replace(fields, data=fields.data[:-4])
    with pytest.raises(BadMessageError, match=r'Image\.data.*height\*step'):
        image_to_numpy(short)


@pytest.mark.parametrize('encoding', ['32FC1', '64FC1', '16SC1'])
def test_data_without_colour_cannot_become_a_colour_picture(encoding):
    with pytest.raises(BadMessageError, match='Image.encoding'):
        image_to_rgb8(numpy_to_image(random_array(encoding), encoding))


def test_yuv_with_an_odd_width_is_rejected_naming_the_width():
    msg = numpy_to_image(random_array('yuv422', width=7), 'yuv422')
    assert image_to_numpy(msg).shape == (HEIGHT, 7, 2)
    with pytest.raises(BadMessageError, match='Image.width'):
        image_to_rgb8(msg)


@pytest.mark.parametrize('array, encoding, field', [
    (np.zeros((4, 5), np.uint8), 'rgb8', 'array.shape'),
    (np.zeros((4, 5, 4), np.uint8), 'rgb8', 'array.shape'),
    (np.zeros((0, 5, 3), np.uint8), 'rgb8', 'array.shape'),
    (np.zeros((4, 5, 3), np.float32), 'rgb8', 'array.dtype'),
    (np.zeros((4, 5), np.float64), '32FC1', 'array.dtype'),
    (np.zeros((4, 5), np.int16), '16UC1', 'array.dtype'),
    (np.zeros((4, 5), np.uint8), 'jpeg', 'encoding'),
])
def test_numpy_to_image_rejects_arrays_that_do_not_fit_the_encoding(array, encoding, field):
    with pytest.raises(BadMessageError) as error:
        numpy_to_image(array, encoding)
    assert error.value.field == field


def test_numpy_to_image_accepts_single_channel_3d_and_big_endian_arrays():
    original = random_array('mono16')
    fields = numpy_to_image(original.astype('>u2')[..., np.newaxis], 'mono16')
    assert fields.is_bigendian == 0
    np.testing.assert_array_equal(np.frombuffer(fields.data, '<u2').reshape(HEIGHT, WIDTH),
                                  original)


# ---------------------------------------------------------------- colour meaning

def test_rgb8_and_bgr8_are_the_same_picture_in_opposite_channel_order():
    original = random_array('rgba8')
    msg = numpy_to_image(original, 'rgba8')
    np.testing.assert_array_equal(image_to_rgb8(msg), original[..., :3])
    np.testing.assert_array_equal(image_to_bgr8(msg), original[..., 2::-1])
    bgr = numpy_to_image(original[..., :3], 'bgr8')
    np.testing.assert_array_equal(image_to_rgb8(bgr), original[..., 2::-1])


def test_mono_and_16_bit_become_grey_high_bytes():
    mono16 = np.array([[0, 255, 256, 65535]], np.uint16)
    rgb = image_to_rgb8(numpy_to_image(mono16, 'mono16'))
    assert rgb.shape == (1, 4, 3) and rgb.dtype == np.uint8
    np.testing.assert_array_equal(rgb[..., 0], [[0, 0, 1, 255]])
    np.testing.assert_array_equal(rgb[..., 0], rgb[..., 2])


@pytest.mark.parametrize('pattern', ['rggb', 'bggr', 'gbrg', 'grbg'])
@pytest.mark.parametrize('bits', [8, 16])
def test_bayer_mosaic_of_a_uniform_colour_demosaics_to_that_colour(pattern, bits):
    rgb = {'r': 200, 'g': 120, 'b': 40}
    mosaic = np.zeros((8, 8), np.uint16)
    for index, channel in enumerate(pattern):
        mosaic[index // 2::2, index % 2::2] = rgb[channel] * (257 if bits == 16 else 1)
    mosaic = mosaic.astype(np.uint8 if bits == 8 else np.uint16)
    msg = numpy_to_image(mosaic, f'bayer_{pattern}{bits}')
    np.testing.assert_array_equal(image_to_rgb8(msg)[2:6, 2:6], np.full((4, 4, 3), [200, 120, 40]))
    np.testing.assert_array_equal(image_to_bgr8(msg)[2:6, 2:6], np.full((4, 4, 3), [40, 120, 200]))


@pytest.mark.parametrize('encoding, forward', [('yuv422', 'COLOR_RGB2YUV_UYVY'),
                                               ('yuv422_yuy2', 'COLOR_RGB2YUV_YUY2')])
def test_yuv422_converts_back_to_the_colours_it_was_made_from(encoding, forward):
    if not hasattr(cv2, forward):  # the encoder is newer than OpenCV 4.6; the decoder is not
        pytest.skip(f'this OpenCV has no {forward} to make the test image')
    forward = getattr(cv2, forward)
    rgb = np.repeat(smooth_bgr(16, 16)[..., ::-1], 2, axis=1)  # equal colours in each pixel pair
    yuv = cv2.cvtColor(np.ascontiguousarray(rgb), forward)
    msg = numpy_to_image(yuv, encoding)
    assert np.abs(image_to_rgb8(msg).astype(int) - rgb).max() <= 3
    np.testing.assert_array_equal(image_to_bgr8(msg), image_to_rgb8(msg)[..., ::-1])


# ---------------------------------------------------------------- third-party parity

def rosbags_image(fields: ImageFields, big_endian: bool = False):
    """Return a rosbags sensor_msgs/msg/Image with the same fields."""
    pytest.importorskip('rosbags')
    from mono_depth_ros import bags

    types = bags.typestore().types
    header = types['std_msgs/msg/Header'](
        stamp=types['builtin_interfaces/msg/Time'](sec=1, nanosec=2), frame_id='camera')
    return types['sensor_msgs/msg/Image'](
        header=header, height=fields.height, width=fields.width, encoding=fields.encoding,
        is_bigendian=int(fields.is_bigendian), step=fields.step,
        data=np.frombuffer(fields.data, np.uint8).copy())


@pytest.mark.parametrize('encoding', ALL_ENCODINGS)
def test_pixels_match_rosbags_image(encoding):
    rosbags_image_module = pytest.importorskip('rosbags.image')
    fields = numpy_to_image(random_array(encoding), encoding)
    msg = rosbags_image(fields)
    expected = rosbags_image_module.message_to_cvimage(msg)
    np.testing.assert_array_equal(image_to_numpy(msg), expected)


@pytest.mark.parametrize('encoding', PICTURE_ENCODINGS)
def test_rgb8_and_bgr8_match_rosbags_image_where_it_converts(encoding):
    rosbags_image_module = pytest.importorskip('rosbags.image')
    if encoding == '8UC3':
        pytest.skip('rosbags passes generic 8UC3 through as RGB; we read it as OpenCV BGR')
    msg = rosbags_image(numpy_to_image(random_array(encoding), encoding))
    # rosbags scales 16 to 8 bit by 255/65535 with truncation; the high byte differs by at most 1.
    tolerance = 1 if EXPECTED_LAYOUTS[encoding][0] == np.uint16 else 0
    compared = 0
    for target, ours in (('rgb8', image_to_rgb8), ('bgr8', image_to_bgr8)):
        try:
            expected = rosbags_image_module.message_to_cvimage(msg, target)
        except rosbags_image_module.ImageError:
            continue
        result = ours(msg)
        assert result.shape == expected.shape and result.dtype == np.uint8
        assert np.abs(result.astype(int) - expected.astype(int)).max() <= tolerance
        compared += 1
    if compared == 0:
        pytest.skip(f'rosbags.image does not convert {encoding} to colour')


def test_big_endian_mono16_matches_rosbags_image():
    rosbags_image_module = pytest.importorskip('rosbags.image')
    original = random_array('mono16')
    fields = ImageFields(HEIGHT, WIDTH, 'mono16', 1, WIDTH * 2, original.astype('>u2').tobytes())
    msg = rosbags_image(fields)
    np.testing.assert_array_equal(image_to_numpy(msg),
                                  rosbags_image_module.message_to_cvimage(msg))


@pytest.mark.parametrize('fmt, encoding', [('jpeg', 'bgr8'), ('png', 'rgb8'), ('jpeg', 'mono8')])
def test_compressed_decoding_matches_rosbags_image(fmt, encoding):
    rosbags_image_module = pytest.importorskip('rosbags.image')
    from mono_depth_ros import bags

    types = bags.typestore().types
    image = smooth_bgr() if encoding != 'mono8' else smooth_bgr()[..., 1].copy()
    format_string, data = encode_compressed(image, fmt, encoding)
    msg = types['sensor_msgs/msg/CompressedImage'](
        header=types['std_msgs/msg/Header'](
            stamp=types['builtin_interfaces/msg/Time'](sec=0, nanosec=0), frame_id='camera'),
        format=format_string, data=np.frombuffer(data, np.uint8).copy())
    for desired in ('rgb8', 'bgr8'):
        expected = rosbags_image_module.compressed_image_to_cvimage(msg, desired)
        if expected.ndim == 2:  # rosbags leaves grey JPEGs single-channel
            expected = np.repeat(expected[..., np.newaxis], 3, axis=2)
        np.testing.assert_array_equal(decode_compressed(msg, desired), expected)


def test_rclpy_image_messages_decode():
    sensor_msgs = pytest.importorskip('sensor_msgs.msg')
    original = random_array('rgb8')
    fields = padded(numpy_to_image(original, 'rgb8'), extra=5)
    msg = sensor_msgs.Image(height=fields.height, width=fields.width, encoding=fields.encoding,
                            is_bigendian=fields.is_bigendian, step=fields.step)
    msg.data = array.array('B', fields.data)
    assert isinstance(msg.data, array.array)
    np.testing.assert_array_equal(image_to_numpy(msg), original)
    np.testing.assert_array_equal(image_to_bgr8(msg), original[..., ::-1])

    format_string, data = encode_compressed(original, 'png', 'rgb8')
    message = sensor_msgs.CompressedImage(format=format_string)
    message.data = array.array('B', data)
    np.testing.assert_array_equal(decode_compressed(message, 'rgb8'), original)


@pytest.mark.parametrize('encoding', PICTURE_ENCODINGS + ['32FC1', '16SC1'])
def test_pixels_and_colours_match_cv_bridge(encoding):
    cv_bridge = pytest.importorskip('cv_bridge')
    sensor_msgs = pytest.importorskip('sensor_msgs.msg')
    fields = numpy_to_image(random_array(encoding), encoding)
    msg = sensor_msgs.Image(height=fields.height, width=fields.width, encoding=fields.encoding,
                            is_bigendian=fields.is_bigendian, step=fields.step)
    msg.data = array.array('B', fields.data)
    bridge = cv_bridge.CvBridge()
    try:
        passthrough = bridge.imgmsg_to_cv2(msg, 'passthrough')
    except cv_bridge.CvBridgeError:
        pytest.skip(f'this cv_bridge does not read {encoding}')
    np.testing.assert_array_equal(image_to_numpy(msg), passthrough)
    if encoding not in PICTURE_ENCODINGS or encoding.startswith('8UC'):
        return  # cv_bridge refuses colour conversions of generic encodings
    # cv_bridge rounds 16 to 8 bit (255/65535) and may scale before demosaicing.
    tolerance = 0
    if EXPECTED_LAYOUTS[encoding][0] == np.uint16:
        tolerance = 2 if encoding.startswith('bayer') else 1
    for target, ours in (('rgb8', image_to_rgb8), ('bgr8', image_to_bgr8)):
        try:
            expected = bridge.imgmsg_to_cv2(msg, target)
        except cv_bridge.CvBridgeError:
            pytest.skip(f'this cv_bridge does not convert {encoding} to {target}')
        assert np.abs(ours(msg).astype(int) - expected.astype(int)).max() <= tolerance


# ---------------------------------------------------------------- compressed images

@pytest.mark.parametrize('encoding, fmt, expected_format', [
    ('bgr8', 'jpeg', 'bgr8; jpeg compressed bgr8'),
    ('rgb8', 'jpeg', 'rgb8; jpeg compressed bgr8'),
    ('mono8', 'jpeg', 'mono8; jpeg compressed mono8'),
    ('rgb8', 'png', 'rgb8; png compressed bgr8'),
    ('rgba8', 'png', 'rgba8; png compressed bgra8'),
    ('bgr16', 'png', 'bgr16; png compressed bgr16'),
    ('mono16', 'png', 'mono16; png compressed '),
])
def test_compressed_format_strings_are_written_as_image_transport_does(encoding, fmt,
                                                                       expected_format):
    format_string, data = encode_compressed(random_array(encoding), fmt, encoding)
    assert format_string == expected_format
    assert data[:2] == b'\xff\xd8' if fmt == 'jpeg' else data[:4] == b'\x89PNG'


def test_jpeg_round_trip_keeps_a_smooth_image_close():
    bgr = smooth_bgr()
    format_string, data = encode_compressed(bgr, 'jpeg', 'bgr8', quality=95)
    msg = compressed(format_string, data)
    decoded_bgr = decode_compressed(msg, 'bgr8')
    assert decoded_bgr.shape == bgr.shape and decoded_bgr.dtype == np.uint8
    assert np.abs(decoded_bgr.astype(int) - bgr).mean() < 2.0
    np.testing.assert_array_equal(decode_compressed(msg, 'rgb8'), decoded_bgr[..., ::-1])


def test_jpeg_quality_trades_size_for_fidelity():
    image = random_array('bgr8', 64, 64)
    small = encode_compressed(image, 'jpeg', 'bgr8', quality=10)[1]
    large = encode_compressed(image, 'jpeg', 'bgr8', quality=100)[1]
    assert len(small) < len(large)


@pytest.mark.parametrize('encoding', ['rgb8', 'bgr8', 'rgba8', 'bgra8', 'mono8', 'rgb16'])
def test_png_round_trip_is_exact_in_rgb8_and_bgr8(encoding):
    original = random_array(encoding)
    msg = compressed(*encode_compressed(original, 'png', encoding))
    expected_rgb = image_to_rgb8(numpy_to_image(original, encoding))
    np.testing.assert_array_equal(decode_compressed(msg, 'rgb8'), expected_rgb)
    np.testing.assert_array_equal(decode_compressed(msg, 'bgr8'), expected_rgb[..., ::-1])


@pytest.mark.parametrize('encoding', ['rgb8', 'bgra8', 'mono16', 'rgb16'])
def test_passthrough_restores_the_original_encoding_layout_for_png(encoding):
    original = random_array(encoding)
    msg = compressed(*encode_compressed(original, 'png', encoding))
    decoded = decode_compressed(msg, 'passthrough')
    assert decoded.dtype == original.dtype
    np.testing.assert_array_equal(decoded, original)


def test_legacy_formats_without_an_encoding_decode_as_bgr_or_mono():
    bgr = random_array('bgr8')
    _, png = encode_compressed(bgr, 'png', 'bgr8')
    np.testing.assert_array_equal(decode_compressed(compressed('png', png), 'bgr8'), bgr)
    _, jpeg = encode_compressed(bgr[..., 0].copy(), 'jpeg', 'mono8')
    grey = decode_compressed(compressed('jpeg', jpeg), 'rgb8')
    assert grey.shape == (HEIGHT, WIDTH, 3)
    np.testing.assert_array_equal(grey[..., 0], grey[..., 1])


def test_old_publishers_rgb_ordered_data_is_recognised():
    rgb = random_array('rgb8')
    ok, png = cv2.imencode('.png', rgb)  # the RGB bytes stored as they were
    msg = compressed('rgb8; png compressed rgb8', png.tobytes())
    np.testing.assert_array_equal(decode_compressed(msg, 'rgb8'), rgb)


@pytest.mark.parametrize('data, reason', [
    (b'', '0 bytes'),
    (b'\xff\xd8\xff\xe0 this is not a jpeg at all \xff\xd9', 'decode'),
    (b'\x89PNG\r\n\x1a\n broken', 'decode'),
    (b'hello', 'decode'),
])
def test_corrupt_compressed_data_raises_naming_the_data_field(data, reason):
    with pytest.raises(BadMessageError, match=reason) as error:
        decode_compressed(compressed('bgr8; jpeg compressed bgr8', data))
    assert error.value.field == 'CompressedImage.data'


def test_truncated_jpeg_is_rejected_rather_than_half_decoded():
    _, data = encode_compressed(smooth_bgr(), 'jpeg', 'bgr8')
    with pytest.raises(BadMessageError, match='end-of-image') as error:
        decode_compressed(compressed('bgr8; jpeg compressed bgr8', data[:len(data) // 2]))
    assert error.value.field == 'CompressedImage.data'
    padded_data = data + b'\0' * 5  # zero padding after the marker is fine
    decode_compressed(compressed('bgr8; jpeg compressed bgr8', padded_data))


def test_compressed_arguments_are_validated_naming_the_argument():
    image = random_array('bgr8')
    _, data = encode_compressed(image, 'png', 'bgr8')
    cases = [
        (lambda: decode_compressed(compressed('png', data), 'rgba8'), 'desired'),
        (lambda: decode_compressed(compressed('16UC1; compressedDepth png', data)),
         'CompressedImage.format'),
        (lambda: encode_compressed(image, 'tiff', 'bgr8'), 'fmt'),
        (lambda: encode_compressed(image, 'jpeg', 'bgr8', quality=0), 'quality'),
        (lambda: encode_compressed(random_array('32FC1'), 'png', '32FC1'), 'encoding'),
        (lambda: encode_compressed(image, 'png', 'rgba8'), 'array.shape'),
    ]
    for call, field in cases:
        with pytest.raises(BadMessageError) as error:
            call()
        assert error.value.field == field


# ---------------------------------------------------------------- compressedDepth

def test_compressed_depth_16uc1_round_trips_exactly():
    rng = np.random.default_rng(3)
    millimetres = rng.integers(0, 10_000, (30, 40), dtype=np.uint16, endpoint=True)
    millimetres[0, :5] = 0
    format_string, data = encode_compressed_depth(millimetres, '16UC1')
    assert format_string == '16UC1; compressedDepth png'
    assert struct.unpack('<iff', data[:12]) == (0, 0.0, 0.0)
    assert data[12:16] == b'\x89PNG'
    decoded = decode_compressed_depth(compressed(format_string, array.array('B', data)))
    assert decoded.dtype == np.uint16
    np.testing.assert_array_equal(decoded, millimetres)


def test_compressed_depth_16uc1_drops_depth_beyond_depth_max():
    millimetres = np.array([[0, 1000, 4000, 4001, 65535]], np.uint16)
    decoded = decode_compressed_depth(compressed(
        *encode_compressed_depth(millimetres, '16UC1', depth_max=4.0)))
    np.testing.assert_array_equal(decoded, [[0, 1000, 4000, 0, 0]])


def test_compressed_depth_32fc1_round_trips_within_the_quantisation_step():
    depth_max, z0 = 10.0, 100.0
    metres = np.random.default_rng(4).uniform(0.2, 9.99, (30, 40)).astype(np.float32)
    format_string, data = encode_compressed_depth(metres, '32FC1', depth_max, z0)
    assert format_string == '32FC1; compressedDepth png'
    fmt_enum, quant_a, quant_b = struct.unpack('<iff', data[:12])
    assert fmt_enum == 0
    assert quant_a == pytest.approx(z0 * (z0 + 1))
    assert quant_b == pytest.approx(1 - quant_a / depth_max)
    decoded = decode_compressed_depth(compressed(format_string, data))
    assert decoded.dtype == np.float32 and decoded.shape == metres.shape
    # Rounding q = A/d + B moves q by at most 1/2, i.e. depth by about d^2 / (2A).
    allowed = metres.astype(np.float64) ** 2 / (2 * quant_a) * 1.01 + 1e-6
    assert np.all(np.abs(decoded - metres) <= allowed)


def test_compressed_depth_32fc1_marks_unusable_depth_as_nan():
    metres = np.array([[np.nan, np.inf, -1.0, 0.0, 10.0, 12.0, 0.01, 1.0]], np.float32)
    decoded = decode_compressed_depth(compressed(*encode_compressed_depth(metres, '32FC1')))
    assert np.all(np.isnan(decoded[0, :7]))  # 0.01 m is nearer than 16 bits of q can hold
    assert decoded[0, 7] == pytest.approx(1.0, abs=1e-3)


def test_compressed_depth_from_an_independent_encoder_decodes():
    # Built the way compressed_depth_image_transport does it: float32 A, B and a truncated q.
    depth_max, z0 = 5.0, 50.0
    quant_a = np.float32(z0 * (z0 + 1))
    quant_b = np.float32(1) - quant_a / np.float32(depth_max)
    metres = np.array([[0.5, 1.0, 2.0], [4.9, 7.0, 3.0]], np.float32)
    quantised = np.where(metres < depth_max, quant_a / metres + quant_b, 0).astype(np.uint16)
    data = struct.pack('<iff', 0, quant_a, quant_b) + cv2.imencode('.png', quantised)[1].tobytes()
    for format_string in ('32FC1; compressedDepth png', '32FC1; compressedDepth'):
        decoded = decode_compressed_depth(compressed(format_string, data))
        expected = quant_a / (quantised.astype(np.float32) - quant_b)
        expected[quantised == 0] = np.nan
        np.testing.assert_allclose(decoded, expected, rtol=1e-6)
        assert np.isnan(decoded[1, 1])


@pytest.mark.parametrize('format_string, data, field', [
    ('32FC1; compressedDepth rvl', b'\0' * 40, 'CompressedImage.format'),
    ('8UC1; compressedDepth png', b'\0' * 40, 'CompressedImage.format'),
    ('32FC1; jpeg compressed bgr8', b'\0' * 40, 'CompressedImage.format'),
    ('32FC1; compressedDepth png', b'\0' * 12, 'CompressedImage.data'),
    ('32FC1; compressedDepth png', b'\0' * 12 + b'not a png', 'CompressedImage.data'),
])
def test_bad_compressed_depth_messages_raise_naming_the_field(format_string, data, field):
    with pytest.raises(BadMessageError) as error:
        decode_compressed_depth(compressed(format_string, data))
    assert error.value.field == field


def test_compressed_depth_needs_a_16_bit_png_after_the_header():
    png = cv2.imencode('.png', random_array('mono8'))[1].tobytes()
    data = struct.pack('<iff', 0, 1.0, 0.0) + png
    with pytest.raises(BadMessageError, match='16-bit'):
        decode_compressed_depth(compressed('16UC1; compressedDepth png', data))


def test_compressed_depth_encoder_validates_its_arguments():
    metres = np.ones((4, 4), np.float32)
    cases = [
        (lambda: encode_compressed_depth(metres, '64FC1'), 'encoding'),
        (lambda: encode_compressed_depth(metres.astype(np.float64), '32FC1'), 'depth.dtype'),
        (lambda: encode_compressed_depth(metres, '32FC1', depth_max=0.0), 'depth_max'),
        (lambda: encode_compressed_depth(metres, '32FC1', depth_quantization=-1.0),
         'depth_quantization'),
    ]
    for call, field in cases:
        with pytest.raises(BadMessageError) as error:
            call()
        assert error.value.field == field
