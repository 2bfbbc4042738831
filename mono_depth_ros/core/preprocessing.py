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

"""The Depth Anything input/output contract: image -> network tensor, prediction -> image size.

Every backend and the ONNX export share these two functions, so a model sees the same tensor
whichever library runs it.

Resize rule: the official Depth-Anything-V2 ``image2tensor`` (keep aspect ratio, "lower_bound":
both sides at least ``input_size``, each rounded to a multiple of 14, OpenCV bicubic on the
float image), then RGB/255 and ImageNet mean/std.

Differences from the transformers image processor (``DPTImageProcessor`` with the Depth Anything
settings), measured in test/test_preprocessing.py:

* Without a resize (the image already has the network size) the tensors agree to 1e-6.
* Size rule: transformers scales "as little as possible" (the scale nearest 1) and rounds; the
  official rule takes the larger scale, so both sides reach ``input_size``. They agree for every
  image with both sides >= ``input_size`` and for 480x640 (height x width) at 518; they differ
  for images smaller than ``input_size`` on both sides and for very wide or tall ones (a 300x1000
  image becomes 154x518 there and 518x1722 here).
* Interpolation: transformers resizes a uint8 PIL image (bicubic a = -0.5, antialiased when
  shrinking, rounded to uint8); OpenCV's bicubic has a = -0.75 and no antialiasing. On smooth
  images (480x640, 720x1280, 1080x1920 -> 518 high) the normalised tensors differ by at most
  0.04 (mean 0.006; one grey level is 0.017); on white noise, the worst case, by up to 3 (mean
  0.7 at 1080x1920) because PIL low-pass filters when shrinking and OpenCV does not. OpenCV
  bicubic is what the official Depth-Anything-V2 inference code uses.
"""

from dataclasses import dataclass

import cv2
import numpy as np

from mono_depth_ros.core.errors import BadMessageError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
DEFAULT_INPUT_SIZE = 518
PATCH_MULTIPLE = 14
_CV2_INTERPOLATION = {'cubic': cv2.INTER_CUBIC, 'linear': cv2.INTER_LINEAR,
                      'area': cv2.INTER_AREA, 'nearest': cv2.INTER_NEAREST}


@dataclass(frozen=True)
class Preprocessing:
    """A model's input rule: (x * input_scale - mean) / std at a size the model accepts.

    Built from a model card; the defaults are the Depth Anything contract above. ``resize``:
    lower_bound (both sides at least ``input_size``), upper_bound (both at most) or fixed
    ((height, width) exactly); ``interpolation``: cubic, linear, area or nearest (OpenCV's, on
    the float image).
    """

    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    input_scale: float = 1.0 / 255.0
    size_multiple: int = PATCH_MULTIPLE
    resize: str = 'lower_bound'
    interpolation: str = 'cubic'

    def __post_init__(self) -> None:
        if self.interpolation not in _CV2_INTERPOLATION:
            raise BadMessageError('interpolation', self.interpolation,
                                  f'one of {", ".join(_CV2_INTERPOLATION)}')
        if len(self.mean) != 3 or len(self.std) != 3 or not all(v > 0 for v in self.std):
            raise BadMessageError('mean/std', (self.mean, self.std),
                                  'three means and three positive standard deviations')

    def constants(self) -> tuple[np.ndarray, np.ndarray]:
        """Return per-channel float32 (scale, offset): normalised = x * scale + offset."""
        std = np.asarray(self.std, dtype=np.float64)
        return ((self.input_scale / std).astype(np.float32),
                (-np.asarray(self.mean, dtype=np.float64) / std).astype(np.float32))

    def network_size(self, height: int, width: int,
                     input_size: int | tuple[int, int]) -> tuple[int, int]:
        """Return the network (height, width) of a height x width image under this rule."""
        multiple = self.size_multiple
        if self.resize != 'upper_bound' or isinstance(input_size, (tuple, list)):
            return network_input_size(height, width, input_size, multiple)
        if int(input_size) < multiple:
            raise BadMessageError('input_size', input_size, f'an integer >= {multiple}')
        scale = min(int(input_size) / height, int(input_size) / width)
        return (max(multiple, int(scale * height // multiple) * multiple),
                max(multiple, int(scale * width // multiple) * multiple))


DEFAULT_PREPROCESSING = Preprocessing()
# (x / 255 - mean) / std == x * _SCALE + _OFFSET, per RGB channel, on 0..255 values.
_SCALE, _OFFSET = DEFAULT_PREPROCESSING.constants()


class InputBuffers:
    """Reusable buffers of :func:`prepare_input` for one stream (one thread at a time).

    Holds the float copy of the frame, the resized float image and the network tensor, each
    reallocated only when its shape changes. The tensor returned by ``prepare_input`` is
    overwritten by the next call with the same buffers.
    """

    def __init__(self) -> None:
        self._arrays: dict[str, np.ndarray] = {}
        self.allocations = 0

    def get(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        """Return the float32 buffer ``name`` of ``shape`` (new when the shape changed)."""
        array = self._arrays.get(name)
        if array is None or array.shape != shape:
            array = np.empty(shape, dtype=np.float32)
            self._arrays[name] = array
            self.allocations += 1
        return array


def _round_to_multiple(value: float, multiple: int, minimum: int) -> int:
    """Round to the nearest multiple, going up instead when that falls below ``minimum``."""
    rounded = int(round(value / multiple)) * multiple
    if rounded < minimum:
        rounded = int(np.ceil(value / multiple)) * multiple
    return max(rounded, multiple)


def network_input_size(height: int, width: int, input_size: int | tuple[int, int] = 518,
                       multiple: int = PATCH_MULTIPLE,
                       keep_aspect: bool = True) -> tuple[int, int]:
    """Return the (height, width) the network sees for an image of ``height`` x ``width``.

    ``input_size`` as an int is the shorter side's target (both sides end up >= it when
    ``keep_aspect``; a square of it otherwise); as a (height, width) pair it is the exact size,
    for models with a fixed input shape.
    """
    if isinstance(input_size, (tuple, list)):
        target_height, target_width = (int(v) for v in input_size)
        if (target_height <= 0 or target_width <= 0
                or target_height % multiple or target_width % multiple):
            raise BadMessageError('input_size', tuple(input_size),
                                  f'positive multiples of {multiple}')
        return target_height, target_width
    if int(input_size) < multiple:
        raise BadMessageError('input_size', input_size, f'an integer >= {multiple}')
    size = int(input_size)
    if not keep_aspect:
        side = _round_to_multiple(size, multiple, size)
        return side, side
    scale = max(size / height, size / width)
    return (_round_to_multiple(scale * height, multiple, size),
            _round_to_multiple(scale * width, multiple, size))


def check_rgb(rgb: np.ndarray) -> np.ndarray:
    """Return ``rgb`` as an array if it is a non-empty (H, W, 3) uint8 image; else raise."""
    image = np.asarray(rgb)
    if image.ndim != 3 or image.shape[2] != 3:
        raise BadMessageError('rgb.shape', image.shape, '(height, width, 3)')
    if image.dtype != np.uint8:
        raise BadMessageError('rgb.dtype', str(image.dtype), 'uint8')
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise BadMessageError('rgb.shape', image.shape, 'a non-empty image')
    return image


def normalisation_constants(preprocessing: Preprocessing | None = None
                            ) -> tuple[np.ndarray, np.ndarray]:
    """Return per-channel (scale, offset): (x * input_scale - mean) / std == x * scale + offset."""
    if preprocessing is not None and preprocessing != DEFAULT_PREPROCESSING:
        return preprocessing.constants()
    return _SCALE.copy(), _OFFSET.copy()


def prepare_input(rgb: np.ndarray, input_size: int | tuple[int, int] = DEFAULT_INPUT_SIZE,
                  multiple: int = PATCH_MULTIPLE, keep_aspect: bool = True,
                  preprocessing: Preprocessing | None = None, *,
                  buffers: InputBuffers | None = None) -> np.ndarray:
    """Return the (1, 3, h, w) float32 network tensor of an (H, W, 3) uint8 RGB image.

    Bicubic resize to :func:`network_input_size`, then RGB/255 normalised with the ImageNet
    mean and standard deviation; h and w are multiples of ``multiple``. A model card's
    ``preprocessing`` replaces the size rule, interpolation, scale and mean/std. With
    ``buffers`` no full-size array is allocated once the shapes are known, and the returned
    tensor is one of them (overwritten by the next call).
    """
    image = check_rgb(rgb)
    if preprocessing is None:
        height, width = network_input_size(image.shape[0], image.shape[1], input_size, multiple,
                                           keep_aspect)
        interpolation, scale, offset = cv2.INTER_CUBIC, _SCALE, _OFFSET
    else:
        height, width = preprocessing.network_size(image.shape[0], image.shape[1], input_size)
        interpolation = _CV2_INTERPOLATION[preprocessing.interpolation]
        scale, offset = normalisation_constants(preprocessing)
    buffers = buffers or InputBuffers()
    # Resize the float image (not uint8) so cubic overshoot is neither clipped nor rounded.
    source = buffers.get('frame', image.shape)
    np.copyto(source, image)
    resized = source
    if (height, width) != image.shape[:2]:
        resized = cv2.resize(source, (width, height),
                             dst=buffers.get('resized', (height, width, 3)),
                             interpolation=interpolation)
    tensor = buffers.get('tensor', (1, 3, height, width))
    planes = tensor[0]
    # Splitting into the tensor's planes, then scaling each plane in place, gives the same
    # float32 values as (resized * scale + offset).transpose(2, 0, 1), ~4x faster.
    split = cv2.split(resized, list(planes))
    for plane, written in zip(planes, split):
        if written.ctypes.data != plane.ctypes.data:  # OpenCV chose not to write in place
            np.copyto(plane, written)
    for plane, channel_scale, channel_offset in zip(planes, scale, offset):
        np.multiply(plane, channel_scale, out=plane)
        np.add(plane, channel_offset, out=plane)
    return tensor


def output_to_input_size(prediction: np.ndarray, width: int, height: int,
                         mode: str = 'linear') -> np.ndarray:
    """Return a (h, w), (1, h, w) or (1, 1, h, w) prediction resized to (height, width) float32.

    ``mode`` linear: bilinear with pixel-centre alignment (OpenCV ``INTER_LINEAR``, torch
    ``align_corners=False``); linear_align_corners: bilinear with the corner pixels aligned
    (Depth Anything V2's reference); cubic: bicubic a = -0.75, pixel centres (torch bicubic).
    """
    array = np.asarray(prediction)
    while array.ndim > 2 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 2 or array.size == 0:
        raise BadMessageError('prediction.shape', np.shape(prediction),
                              '(h, w), (1, h, w) or (1, 1, h, w)')
    if int(width) < 1 or int(height) < 1:
        raise BadMessageError('output size', (width, height), 'positive width and height')
    array = array.astype(np.float32, copy=False)
    if array.shape == (int(height), int(width)):
        return array.copy()
    if mode == 'linear_align_corners':
        return _resize_align_corners(array, int(width), int(height))
    interpolation = cv2.INTER_CUBIC if mode == 'cubic' else cv2.INTER_LINEAR
    return cv2.resize(array, (int(width), int(height)), interpolation=interpolation)


def _resize_align_corners(array: np.ndarray, width: int, height: int) -> np.ndarray:
    """Bilinear resize mapping the corner pixel centres onto each other (align_corners=True)."""
    def taps(count_in: int, count_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        step = (count_in - 1) / (count_out - 1) if count_out > 1 else 0.0
        position = np.arange(count_out, dtype=np.float64) * step
        low = np.minimum(np.floor(position).astype(np.int64), max(count_in - 2, 0))
        high = np.minimum(low + 1, count_in - 1)
        return low, high, (position - low).astype(np.float32)

    top, bottom, row_weight = taps(array.shape[0], height)
    left, right, column_weight = taps(array.shape[1], width)
    rows = (array[top] * (1 - row_weight)[:, np.newaxis]
            + array[bottom] * row_weight[:, np.newaxis])
    return np.ascontiguousarray(rows[:, left] * (1 - column_weight)
                                + rows[:, right] * column_weight, dtype=np.float32)
