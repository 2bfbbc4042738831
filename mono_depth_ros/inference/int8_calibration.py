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

"""INT8 calibration frames for TensorRT: images from a directory or a rosbag2 image topic.

Frames are spread evenly over the source (at most ``max_frames``), converted to RGB and passed
through the shared :func:`~mono_depth_ros.core.preprocessing.prepare_input` at the profile's
optimum size (TensorRT calibrates dynamic-shape networks at that one shape; frames of another
aspect ratio are stretched to it, which is fine for activation statistics). The calibrator
keeps its cache beside the engine, with the fingerprint of the frames that made it: a rebuild
from the same frames (``--force`` too) reuses it, other frames calibrate again, and a
calibration that failed part way writes nothing.
"""

from dataclasses import dataclass
import hashlib
import logging
import math
import os
import pathlib
from typing import Iterator

import numpy as np

from mono_depth_ros.core.errors import BadMessageError
from mono_depth_ros.core.preprocessing import prepare_input

IMAGE_SUFFIXES = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.webp')
IMAGE_TYPES = ('sensor_msgs/msg/Image', 'sensor_msgs/msg/CompressedImage')
DEFAULT_MAX_FRAMES = 256
_LOGGER = logging.getLogger('mono_depth_ros.inference.int8_calibration')


@dataclass(frozen=True)
class CalibrationSource:
    """Where calibration frames come from: ``image_dir``, or ``bag`` (and optional ``topic``)."""

    image_dir: str | None = None
    bag: str | None = None
    topic: str | None = None
    max_frames: int = DEFAULT_MAX_FRAMES

    def __post_init__(self):
        if bool(self.image_dir) == bool(self.bag):
            raise BadMessageError('calibration source', (self.image_dir, self.bag),
                                  'exactly one of an image directory or a rosbag2')
        if int(self.max_frames) < 1:
            raise BadMessageError('calibration max_frames', self.max_frames, 'at least 1')

    def describe(self) -> str:
        """Return a short description for logs and the engine sidecar."""
        if self.image_dir:
            return f'images in {self.image_dir}'
        return f"bag {self.bag} topic {self.topic or '(first image topic)'}"


def _evenly(items: list, count: int) -> list:
    """Return at most ``count`` items spread evenly over ``items``."""
    if len(items) <= count:
        return list(items)
    picks = np.linspace(0, len(items) - 1, count).round().astype(int)
    return [items[index] for index in picks]


def _image_files(source: CalibrationSource) -> list[pathlib.Path]:
    directory = pathlib.Path(os.path.expanduser(source.image_dir))
    if not directory.is_dir():
        raise BadMessageError('calibration_dir', str(directory), 'an existing directory')
    files = sorted(path for path in directory.iterdir()
                   if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise BadMessageError('calibration_dir', str(directory),
                              f"a directory with images ({', '.join(IMAGE_SUFFIXES)})")
    return _evenly(files, int(source.max_frames))


def _bag_connections(reader, source: CalibrationSource) -> list:
    images = [conn for conn in reader.connections if conn.msgtype in IMAGE_TYPES]
    if not images:
        raise BadMessageError('calibration_bag', source.bag,
                              'a rosbag2 with a sensor_msgs/Image or CompressedImage topic')
    if source.topic:
        chosen = [conn for conn in images if conn.topic == source.topic]
        if not chosen:
            topics = sorted({conn.topic for conn in images})
            raise BadMessageError('calibration_topic', source.topic, f'one of {topics}')
        return chosen
    first = min(conn.topic for conn in images)
    return [conn for conn in images if conn.topic == first]


def _open_bag(path: str):
    from mono_depth_ros.bags import open_reader

    bag = pathlib.Path(os.path.expanduser(path))
    if not bag.exists():
        raise BadMessageError('calibration_bag', str(bag), 'an existing rosbag2 (file or folder)')
    return open_reader(bag)


def _decode(message, msgtype: str) -> np.ndarray:
    from mono_depth_ros.core.image_codec import decode_compressed, image_to_rgb8

    if msgtype.endswith('CompressedImage'):
        return decode_compressed(message, 'rgb8')
    return np.ascontiguousarray(image_to_rgb8(message))


def check_source(source: CalibrationSource) -> int:
    """Check that the source has frames; return how many will be used (raise otherwise)."""
    if source.image_dir:
        return len(_image_files(source))
    with _open_bag(source.bag) as reader:
        count = sum(conn.msgcount for conn in _bag_connections(reader, source))
    if count == 0:
        raise BadMessageError('calibration_bag', source.bag, 'image messages on the topic')
    return min(count, int(source.max_frames))


def source_fingerprint(source: CalibrationSource) -> str:
    """Return a digest that changes when the calibration frames change."""
    if source.image_dir:
        parts = [f'{path.name}|{path.stat().st_size}|{path.stat().st_mtime_ns}'
                 for path in _image_files(source)]
    else:
        bag = pathlib.Path(os.path.expanduser(source.bag))
        files = sorted(bag.rglob('*')) if bag.is_dir() else [bag]
        parts = [f'{path.name}|{path.stat().st_size}|{path.stat().st_mtime_ns}'
                 for path in files if path.is_file()]
        parts.append(f'topic={source.topic}')
    parts.append(f'max_frames={int(source.max_frames)}')
    return hashlib.sha256('\n'.join(parts).encode('utf-8')).hexdigest()


def iter_rgb_frames(source: CalibrationSource) -> Iterator[np.ndarray]:
    """Yield (H, W, 3) uint8 RGB frames spread evenly over the source."""
    import cv2

    if source.image_dir:
        for path in _image_files(source):
            bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if bgr is None:
                _LOGGER.warning('skipping unreadable calibration image %s', path)
                continue
            yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        return
    with _open_bag(source.bag) as reader:
        connections = _bag_connections(reader, source)
        count = sum(conn.msgcount for conn in connections)
        step = max(1, math.ceil(count / int(source.max_frames)))
        records = (record for record in reader.messages({conn.topic for conn in connections})
                   if record.msgtype in IMAGE_TYPES)
        for number, record in enumerate(records):
            if number % step == 0:
                yield _decode(reader.deserialize(record), record.msgtype)


def fingerprint_path(cache_path: str | os.PathLike) -> pathlib.Path:
    """Return the file beside a calibration cache that names the frames it was made from."""
    path = pathlib.Path(cache_path)
    return path.with_name(path.name + '.source')


def make_entropy_calibrator(base: type, source: CalibrationSource | None, shape: tuple,
                            cache_path: str | os.PathLike, cuda=None):
    """Return an instance of a ``base`` (IInt8EntropyCalibrator2) subclass feeding ``source``.

    ``shape`` is the (1, 3, h, w) calibration shape; batches go through one pinned host array
    into one device buffer of ``cuda`` (a :class:`~mono_depth_ros.inference.cuda_runtime.
    CudaRuntime`; None: cuda-python's), allocated with the first batch, no PyTorch. A read
    error ends calibration early and is kept
    in ``.error`` for the builder; the partial table is then not written. ``source`` None:
    TensorRT must use the cache file alone; otherwise the cache is used only when it was made
    from the same frames (:func:`source_fingerprint`, kept in :func:`fingerprint_path`).
    """
    from mono_depth_ros.inference.cuda_runtime import CudaRuntime
    from mono_depth_ros.inference.engine_cache import write_atomic

    cuda = cuda if cuda is not None else CudaRuntime()
    height, width = int(shape[2]), int(shape[3])
    fingerprint = source_fingerprint(source) if source is not None else None
    recorded = fingerprint_path(cache_path)

    class EntropyCalibrator(base):
        def __init__(self):
            base.__init__(self)
            self.cache_path = pathlib.Path(cache_path)
            self.batches = 0
            self.error = None
            # Without a source, TensorRT must find everything in the calibration cache.
            self._frames = iter_rgb_frames(source) if source is not None else iter(())
            self._batch = self._host = self._stream = None  # made with the first batch

        def get_batch_size(self):
            return 1

        def get_batch(self, names, *_):
            try:
                rgb = next(self._frames, None)
                if rgb is None:
                    return None
                if self._batch is None:
                    self._host = cuda.pinned_array((1, 3, height, width), 'float32')
                    self._batch = cuda.device_buffer(self._host.nbytes)
                    self._stream = cuda.stream()
                self._host.array[...] = prepare_input(rgb, (height, width))
                cuda.copy_to_device(self._batch.address, self._host, self._stream)
                cuda.synchronize(self._stream)
            except Exception as error:  # raised inside TensorRT's callback: keep it for later
                self.error = error
                return None
            self.batches += 1
            return [int(self._batch.address)] * len(names)

        def read_calibration_cache(self):
            if not self.cache_path.is_file():
                return None
            if fingerprint is not None and (
                    not recorded.is_file() or recorded.read_text().strip() != fingerprint):
                _LOGGER.info('calibration cache %s was made from other frames; calibrating '
                             'again', self.cache_path)
                return None
            return self.cache_path.read_bytes()

        def write_calibration_cache(self, cache):
            if self.error is not None:
                return  # made from part of the frames: keep no table of it
            write_atomic(self.cache_path, bytes(cache))
            if fingerprint is not None:
                write_atomic(recorded, (fingerprint + '\n').encode())

    return EntropyCalibrator()


# Explicit quantization (Q/DQ) through ModelOpt, where it is installed ---------------------------
QDQ_METHOD = 'modelopt-qdq'
IMPLICIT_METHOD = 'implicit-calibration'


def modelopt_quantize():
    """Return ModelOpt's ONNX ``quantize``, or None where it is not installed."""
    try:
        from modelopt.onnx.quantization import quantize
    except Exception:  # not installed, or its own dependencies missing
        return None
    return quantize


def int8_method(compat) -> str:
    """Return how int8 is built here: explicit Q/DQ (ModelOpt), else the implicit calibrator.

    The implicit calibrator is deprecated on TensorRT 10 and gone on 11: without ModelOpt
    there, raises BackendUnavailableError saying to install it (``compat.check_int8_support``).
    """
    if modelopt_quantize() is not None:
        return QDQ_METHOD
    try:
        compat.check_int8_support()
    except Exception as error:
        raise type(error)(f'{error}; or install nvidia-modelopt[onnx] for explicit Q/DQ '
                          'quantization') from error
    return IMPLICIT_METHOD


def quantize_to_qdq(onnx_path: str, source: CalibrationSource, shape: tuple,
                    out_path: str | os.PathLike) -> pathlib.Path:
    """Write a Q/DQ copy of ``onnx_path`` calibrated on ``source`` frames, with ModelOpt.

    The frames go through the shared preprocessing at ``shape`` (1, 3, h, w); the layers left
    unquantized compute in fp16. Raises ValueError without frames.
    """
    quantize = modelopt_quantize()
    height, width = int(shape[2]), int(shape[3])
    frames = [prepare_input(rgb, (height, width)) for rgb in iter_rgb_frames(source)]
    if not frames:
        raise ValueError(f'no calibration frames in {source.describe()}')
    quantize(onnx_path=str(onnx_path), quantize_mode='int8',
             calibration_data=np.concatenate(frames), calibration_method='entropy',
             calibration_eps=['cpu'], high_precision_dtype='fp16',
             output_path=str(out_path))
    return pathlib.Path(out_path)
