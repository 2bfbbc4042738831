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

"""Conversions between sensor_msgs images (raw, compressed, compressedDepth) and numpy arrays.

Messages are duck-typed: anything with the sensor_msgs field names works (rclpy messages,
rosbags messages, :class:`ImageFields`). ``data`` may be ``bytes``, ``array.array('B')`` or a
numpy ``uint8`` array.
"""

from dataclasses import dataclass
import struct

import cv2
import numpy as np

from mono_depth_ros.core.errors import BadMessageError


@dataclass
class ImageFields:
    """The fields the ROS layer copies into a sensor_msgs/Image (little-endian, unpadded rows)."""

    height: int
    width: int
    encoding: str
    is_bigendian: int
    step: int
    data: bytes


@dataclass(frozen=True)
class _Layout:
    """How one encoding lays out a pixel and what its channels mean."""

    dtype: np.dtype
    channels: int
    # 'rgb', 'bgr', 'rgba', 'bgra', 'mono', 'uyvy', 'yuyv', 'bayer_<pattern>'; '' for data
    # (depth, float, signed) that has no colour meaning.
    colour: str

    @property
    def pixel_bytes(self) -> int:
        return self.dtype.itemsize * self.channels


def _build_layouts() -> dict[str, _Layout]:
    u8, u16 = np.dtype(np.uint8), np.dtype(np.uint16)
    layouts = {
        'mono8': _Layout(u8, 1, 'mono'),
        'mono16': _Layout(u16, 1, 'mono'),
        '8UC1': _Layout(u8, 1, 'mono'),
        '16UC1': _Layout(u16, 1, 'mono'),
        # OpenCV's channel order for generic multi-channel 8-bit data.
        '8UC3': _Layout(u8, 3, 'bgr'),
        '8UC4': _Layout(u8, 4, 'bgra'),
        '16SC1': _Layout(np.dtype(np.int16), 1, ''),
        '32FC1': _Layout(np.dtype(np.float32), 1, ''),
        '64FC1': _Layout(np.dtype(np.float64), 1, ''),
        'yuv422': _Layout(u8, 2, 'uyvy'),
        'uyvy': _Layout(u8, 2, 'uyvy'),
        'yuv422_yuy2': _Layout(u8, 2, 'yuyv'),
        'yuyv': _Layout(u8, 2, 'yuyv'),
    }
    for bits, dtype in ((8, u8), (16, u16)):
        for order in ('rgb', 'bgr', 'rgba', 'bgra'):
            layouts[f'{order}{bits}'] = _Layout(dtype, len(order), order)
        for pattern in ('rggb', 'bggr', 'gbrg', 'grbg'):
            layouts[f'bayer_{pattern}{bits}'] = _Layout(dtype, 1, f'bayer_{pattern}')
    return layouts


_LAYOUTS = _build_layouts()
SUPPORTED_ENCODINGS: frozenset[str] = frozenset(_LAYOUTS)

# ROS names a Bayer pattern by its top-left 2x2 block (rggb: R G / G B); OpenCV's two-letter
# names, the only ones before OpenCV 4.7, by the second row's last two pixels: rggb is BG,
# bggr RG, gbrg GR, grbg GB (newer OpenCV's four-letter aliases have the same values).
_DEMOSAIC_CODES = {
    ('bayer_rggb', 'rgb'): cv2.COLOR_BayerBG2RGB, ('bayer_rggb', 'bgr'): cv2.COLOR_BayerBG2BGR,
    ('bayer_bggr', 'rgb'): cv2.COLOR_BayerRG2RGB, ('bayer_bggr', 'bgr'): cv2.COLOR_BayerRG2BGR,
    ('bayer_gbrg', 'rgb'): cv2.COLOR_BayerGR2RGB, ('bayer_gbrg', 'bgr'): cv2.COLOR_BayerGR2BGR,
    ('bayer_grbg', 'rgb'): cv2.COLOR_BayerGB2RGB, ('bayer_grbg', 'bgr'): cv2.COLOR_BayerGB2BGR,
}
_YUV_CODES = {
    ('uyvy', 'rgb'): cv2.COLOR_YUV2RGB_UYVY, ('uyvy', 'bgr'): cv2.COLOR_YUV2BGR_UYVY,
    ('yuyv', 'rgb'): cv2.COLOR_YUV2RGB_YUY2, ('yuyv', 'bgr'): cv2.COLOR_YUV2BGR_YUY2,
}
_COLOUR_ORDERS = ('rgb', 'bgr', 'rgba', 'bgra')
_REORDER_CODES = {
    ('rgb', 'bgr'): cv2.COLOR_RGB2BGR, ('bgr', 'rgb'): cv2.COLOR_BGR2RGB,
    ('rgba', 'rgb'): cv2.COLOR_RGBA2RGB, ('rgba', 'bgr'): cv2.COLOR_RGBA2BGR,
    ('bgra', 'rgb'): cv2.COLOR_BGRA2RGB, ('bgra', 'bgr'): cv2.COLOR_BGRA2BGR,
}

# compressed_depth_image_transport's ConfigHeader: int32 format (0 = INV_DEPTH) and the two
# float32 inverse-depth quantisation parameters, native (little-endian) byte order.
_DEPTH_HEADER = struct.Struct('<iff')
_INV_DEPTH = 0
_DEPTH_ENCODINGS_16 = ('16UC1', 'mono16')


def _layout_of(encoding: str, field: str) -> _Layout:
    try:
        return _LAYOUTS[encoding]
    except (KeyError, TypeError):
        raise BadMessageError(field, encoding,
                              'one of ' + ', '.join(sorted(SUPPORTED_ENCODINGS))) from None


def bytes_per_pixel(encoding: str) -> int:
    """Return the bytes one pixel of ``encoding`` takes in a sensor_msgs/Image row."""
    return _layout_of(encoding, 'encoding').pixel_bytes


def _byte_array(data) -> np.ndarray:
    """View a message's ``data`` (bytes, array.array, numpy array, list) as flat uint8."""
    if isinstance(data, np.ndarray):
        return np.ascontiguousarray(data).reshape(-1).view(np.uint8)
    try:
        return np.frombuffer(memoryview(data).cast('B'), dtype=np.uint8)
    except TypeError:
        return np.asarray(data, dtype=np.uint8).reshape(-1)


def image_to_numpy(msg) -> np.ndarray:
    """Return the pixels of a sensor_msgs/Image as (H, W) or (H, W, C) in the encoding's dtype.

    Row padding (``step`` larger than a row) is skipped and big-endian data is swapped to native
    order; only then is the data copied, otherwise the result is a view of ``msg.data``.
    """
    encoding = msg.encoding
    layout = _layout_of(encoding, 'Image.encoding')
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    if height <= 0:
        raise BadMessageError('Image.height', height, 'at least 1 row')
    if width <= 0:
        raise BadMessageError('Image.width', width, 'at least 1 column')
    row_bytes = width * layout.pixel_bytes
    if step < row_bytes:
        raise BadMessageError('Image.step', step,
                              f'at least width*{layout.pixel_bytes} = {row_bytes} for {encoding}')
    buffer = _byte_array(msg.data)
    if buffer.size < height * step:
        raise BadMessageError('Image.data', f'{buffer.size} bytes',
                              f'at least height*step = {height * step} bytes')
    dtype = layout.dtype.newbyteorder('>' if msg.is_bigendian else '<')
    item = dtype.itemsize
    if layout.channels == 1:
        shape, strides = (height, width), (step, item)
    else:
        shape = (height, width, layout.channels)
        strides = (step, item * layout.channels, item)
    view = np.ndarray(shape, dtype=dtype, buffer=buffer, strides=strides)
    if view.dtype.isnative and step == row_bytes:
        return view
    return np.ascontiguousarray(view, dtype=layout.dtype)


def _to_uint8(array: np.ndarray) -> np.ndarray:
    """Return 8-bit pixels: 16-bit values keep their high byte."""
    if array.dtype == np.uint16:
        return (array >> 8).astype(np.uint8)
    return array


def _order_channels(image: np.ndarray, stored_order: str, order: str) -> np.ndarray:
    """Return the first three channels of a colour image in ``order`` ('rgb' or 'bgr')."""
    stored_order = stored_order[:3] + ('a' if image.shape[2] == 4 else '')
    code = _REORDER_CODES.get((stored_order, order))
    if code is None:  # already three channels in the wanted order
        return np.ascontiguousarray(image)
    # OpenCV's SIMD swizzles run tens of times faster than a numpy strided copy.
    return cv2.cvtColor(np.ascontiguousarray(image), code)


def _swap_red_blue(image: np.ndarray) -> np.ndarray:
    """Return a colour image (3 or 4 channels, any depth) with channels 0 and 2 exchanged."""
    code = cv2.COLOR_RGB2BGR if image.shape[2] == 3 else cv2.COLOR_RGBA2BGRA
    return cv2.cvtColor(np.ascontiguousarray(image), code)


def _to_colour8(msg, order: str) -> np.ndarray:
    array = image_to_numpy(msg)
    colour = _LAYOUTS[msg.encoding].colour
    if colour.startswith('bayer_'):
        return _to_uint8(cv2.cvtColor(array, _DEMOSAIC_CODES[(colour, order)]))
    if colour in ('uyvy', 'yuyv'):
        if array.shape[1] % 2:
            raise BadMessageError('Image.width', array.shape[1],
                                  f'an even number of columns for {msg.encoding}')
        return cv2.cvtColor(array, _YUV_CODES[(colour, order)])
    if colour == 'mono':
        return cv2.cvtColor(_to_uint8(array), cv2.COLOR_GRAY2RGB)
    if colour in _COLOUR_ORDERS:
        return _order_channels(_to_uint8(array), colour, order)
    raise BadMessageError('Image.encoding', msg.encoding,
                          'a colour, mono, Bayer or YUV encoding to make a colour image of')


def image_to_rgb8(msg) -> np.ndarray:
    """Return a sensor_msgs/Image as (H, W, 3) uint8 RGB, the input a network expects.

    Mono is expanded, 16-bit is reduced to its high byte, Bayer is demosaiced, YUV 4:2:2 is
    converted and alpha is dropped. The result may share memory with ``msg.data``.
    """
    return _to_colour8(msg, 'rgb')


def image_to_bgr8(msg) -> np.ndarray:
    """Return a sensor_msgs/Image as (H, W, 3) uint8 BGR (colours for clouds and debug views)."""
    return _to_colour8(msg, 'bgr')


def _check_array(array, encoding: str, field: str = 'array') -> np.ndarray:
    """Return ``array`` as the encoding's native layout, or raise naming what is wrong with it."""
    layout = _layout_of(encoding, 'encoding')
    array = np.asarray(array)
    if layout.channels == 1 and array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if layout.channels == 1:
        expected_shape, shape_ok = '(H, W)', array.ndim == 2
    else:
        expected_shape = f'(H, W, {layout.channels})'
        shape_ok = array.ndim == 3 and array.shape[2] == layout.channels
    if not shape_ok or 0 in array.shape:
        raise BadMessageError(f'{field}.shape', array.shape,
                              f'{expected_shape} with H, W > 0 for {encoding}')
    if array.dtype.kind != layout.dtype.kind or array.dtype.itemsize != layout.dtype.itemsize:
        raise BadMessageError(f'{field}.dtype', str(array.dtype), f'{layout.dtype} for {encoding}')
    return array


def numpy_to_image(array: np.ndarray, encoding: str) -> ImageFields:
    """Return the sensor_msgs/Image fields of ``array`` (little-endian rows, no padding)."""
    array = _check_array(array, encoding)
    layout = _LAYOUTS[encoding]
    little_endian = np.ascontiguousarray(array, dtype=layout.dtype.newbyteorder('<'))
    height, width = array.shape[:2]
    return ImageFields(height=height, width=width, encoding=encoding, is_bigendian=0,
                       step=width * layout.pixel_bytes, data=little_endian.tobytes())


def _jpeg_is_complete(buffer: np.ndarray) -> bool:
    """Return whether a JPEG ends with its end-of-image marker (trailing zero padding allowed)."""
    tail = buffer[-64:]
    nonzero = np.flatnonzero(tail)
    return nonzero.size >= 2 and tail[nonzero[-1]] == 0xD9 and tail[nonzero[-1] - 1] == 0xFF


def _imdecode(data, field: str) -> np.ndarray:
    """Decode a JPEG or PNG byte buffer as OpenCV stores it (BGR/BGRA/mono, 8 or 16 bit)."""
    buffer = _byte_array(data)
    if buffer.size == 0:
        raise BadMessageError(field, '0 bytes', 'a JPEG or PNG image')
    if buffer[:2].tobytes() == b'\xff\xd8' and not _jpeg_is_complete(buffer):
        raise BadMessageError(field, f'{buffer.size} bytes',
                              'a complete JPEG (the end-of-image marker is missing)')
    try:
        image = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED)
    except cv2.error:
        image = None
    if image is None or image.size == 0:
        raise BadMessageError(field, f'{buffer.size} bytes starting {buffer[:8].tobytes().hex()}',
                              'a JPEG or PNG image that OpenCV can decode')
    return image


def decode_compressed(msg, desired: str = 'rgb8') -> np.ndarray:
    """Decode a sensor_msgs/CompressedImage (jpeg or png) to a numpy image.

    ``desired``: 'rgb8' or 'bgr8' give (H, W, 3) uint8 (mono expanded, 16-bit reduced to the high
    byte, alpha dropped); 'passthrough' gives the decoded pixels at their own depth, with colour
    channels in the order of the encoding named before ';' in ``format`` (RGB for rgb8, as
    image_transport's subscriber delivers them) and BGR otherwise.
    """
    if desired not in ('rgb8', 'bgr8', 'passthrough'):
        raise BadMessageError('desired', desired, "'rgb8', 'bgr8' or 'passthrough'")
    fmt = str(msg.format)
    if 'compresseddepth' in fmt.lower():
        raise BadMessageError('CompressedImage.format', fmt,
                              'jpeg or png (compressedDepth goes through decode_compressed_depth)')
    decoded = _imdecode(msg.data, 'CompressedImage.data')
    original, _, compression = fmt.partition(';')
    # Every current publisher encodes BGR; some old ones wrote '... compressed rgb8' and RGB data.
    stored_order = 'rgb' if 'compressed rgb' in compression else 'bgr'
    if decoded.ndim == 3 and decoded.shape[2] == 2:  # grey + alpha
        decoded = np.ascontiguousarray(decoded[..., 0])
    if desired == 'passthrough':
        wanted = _LAYOUTS.get(original.strip()) if compression else None
        if decoded.ndim == 3 and wanted is not None and wanted.colour in _COLOUR_ORDERS:
            if wanted.colour[:3] != stored_order:
                decoded = _swap_red_blue(decoded)
        return decoded
    image = _to_uint8(decoded)
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    return _order_channels(image, stored_order, desired[:3])


def encode_compressed(array: np.ndarray, fmt: str = 'jpeg', encoding: str = 'bgr8',
                      quality: int = 90) -> tuple[str, bytes]:
    """Compress an image held in ``encoding`` as image_transport's compressed publisher does.

    Returns (CompressedImage.format, CompressedImage.data). JPEG stores bgr8 or mono8; PNG keeps
    the bit depth (bgr8/bgra8/bgr16/bgra16 for colour, mono unchanged). ``quality`` is the JPEG
    quality, 1-100 (PNG is lossless and ignores it).
    """
    fmt = str(fmt).lower()
    fmt = 'jpeg' if fmt == 'jpg' else fmt
    if fmt not in ('jpeg', 'png'):
        raise BadMessageError('fmt', fmt, "'jpeg' or 'png'")
    if not 1 <= int(quality) <= 100:
        raise BadMessageError('quality', quality, 'a JPEG quality from 1 to 100')
    image = _check_array(array, encoding)
    colour = _LAYOUTS[encoding].colour
    if colour not in _COLOUR_ORDERS and colour != 'mono':
        raise BadMessageError('encoding', encoding, 'an rgb, bgr or mono encoding (8 or 16 bit)')
    if fmt == 'jpeg':
        image = _to_uint8(image)
        if colour == 'mono':
            target = 'mono8'
        else:
            image, target = _order_channels(image, colour, 'bgr'), 'bgr8'
        params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
    else:
        if colour == 'mono':
            target = ''  # image_transport names no target for mono PNG
        else:
            has_alpha = colour.endswith('a')
            target = f'bgr{"a" if has_alpha else ""}{8 * image.dtype.itemsize}'
            if colour[:3] != 'bgr':
                image = _swap_red_blue(image)
        params = []
    ok, encoded = cv2.imencode('.jpg' if fmt == 'jpeg' else '.png', np.ascontiguousarray(image),
                               params)
    if not ok:
        raise BadMessageError('array', encoding, f'an image OpenCV can encode as {fmt}')
    return f'{encoding}; {fmt} compressed {target}', encoded.tobytes()


def decode_compressed_depth(msg) -> np.ndarray:
    """Decode an image_transport compressedDepth CompressedImage (PNG variant).

    '16UC1; compressedDepth png' gives uint16 millimetres as sent; '32FC1; compressedDepth png'
    gives float32 metres from the inverse-depth quantisation, depth = A / (q - B), NaN where q = 0.
    """
    fmt = str(msg.format)
    encoding, _, compression = fmt.partition(';')
    encoding, compression = encoding.strip(), compression.strip().lower()
    expected = "'16UC1; compressedDepth png' or '32FC1; compressedDepth png'"
    if compression and not compression.startswith('compresseddepth'):
        raise BadMessageError('CompressedImage.format', fmt, expected)
    if compression not in ('', 'compresseddepth', 'compresseddepth png'):
        raise BadMessageError('CompressedImage.format', fmt, expected + ' (only PNG is supported)')
    if encoding not in _DEPTH_ENCODINGS_16 + ('32FC1',):
        raise BadMessageError('CompressedImage.format', fmt, expected)
    buffer = _byte_array(msg.data)
    if buffer.size <= _DEPTH_HEADER.size:
        raise BadMessageError('CompressedImage.data', f'{buffer.size} bytes',
                              f'a {_DEPTH_HEADER.size}-byte compressedDepth header and a PNG')
    _, quant_a, quant_b = _DEPTH_HEADER.unpack(buffer[:_DEPTH_HEADER.size].tobytes())
    quantised = _imdecode(buffer[_DEPTH_HEADER.size:], 'CompressedImage.data')
    if quantised.dtype != np.uint16 or quantised.ndim != 2:
        raise BadMessageError('CompressedImage.data',
                              f'{quantised.dtype} PNG of shape {quantised.shape}',
                              'a single-channel 16-bit PNG after the header')
    if encoding in _DEPTH_ENCODINGS_16:
        return quantised
    if not (np.isfinite(quant_a) and np.isfinite(quant_b)):
        raise BadMessageError('CompressedImage.data', f'depthQuantA={quant_a}, B={quant_b}',
                              'finite quantisation parameters in the header')
    with np.errstate(divide='ignore', invalid='ignore'):
        depth = np.float32(quant_a) / (quantised.astype(np.float32) - np.float32(quant_b))
    depth[quantised == 0] = np.nan
    return depth


def encode_compressed_depth(depth: np.ndarray, encoding: str, depth_max: float = 10.0,
                            depth_quantization: float = 100.0) -> tuple[str, bytes]:
    """Compress a depth image as image_transport's compressedDepth publisher does (PNG).

    16UC1 (millimetres) is stored as is, with values above ``depth_max`` zeroed. 32FC1 (metres)
    is stored as rounded inverse depth q = A / depth + B, A = z0 (z0 + 1), B = 1 - A / depth_max,
    z0 = ``depth_quantization``; non-finite, <= 0, >= depth_max and too-near (q > 65535) depths
    become q = 0, which decodes to NaN. Returns (CompressedImage.format, CompressedImage.data).
    """
    if not depth_max > 0:
        raise BadMessageError('depth_max', depth_max, 'a positive range in metres')
    if not depth_quantization > 0:
        raise BadMessageError('depth_quantization', depth_quantization,
                              'a positive depth in metres')
    if encoding in _DEPTH_ENCODINGS_16:
        quantised = _check_array(depth, encoding, 'depth').copy()
        quantised[quantised > int(depth_max * 1000.0)] = 0
        quant_a = quant_b = 0.0
    elif encoding == '32FC1':
        depth = _check_array(depth, encoding, 'depth')
        quant_a = np.float32(depth_quantization * (depth_quantization + 1.0))
        quant_b = np.float32(1.0) - quant_a / np.float32(depth_max)
        with np.errstate(divide='ignore', invalid='ignore'):
            inverse = np.rint(quant_a / depth + quant_b)
            valid = np.isfinite(depth) & (depth > 0) & (depth < depth_max) & (inverse <= 65535)
        quantised = np.where(valid, inverse, 0).astype(np.uint16)
    else:
        raise BadMessageError('encoding', encoding, "'16UC1' (millimetres) or '32FC1' (metres)")
    ok, png = cv2.imencode('.png', quantised)
    if not ok:
        raise BadMessageError('depth', encoding, 'a depth image OpenCV can encode as PNG')
    header = _DEPTH_HEADER.pack(_INV_DEPTH, float(quant_a), float(quant_b))
    return f'{encoding}; compressedDepth png', header + png.tobytes()
