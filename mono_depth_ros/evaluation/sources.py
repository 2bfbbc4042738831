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

"""Depth frames to score: directories of .npy/.png files, TUM RGB-D lists, a bag's depth topic.

In a directory, ``NAME.npy`` holds float metres and ``NAME.png`` 16-bit depth (``depth_scale``
units per metre, 0 unknown); names that are timestamps in seconds also give the frame's stamp.
"""

import argparse
import dataclasses
import pathlib
from typing import Callable, Iterator

import numpy as np

from mono_depth_ros.core import tum
from mono_depth_ros.core.depth_encoding import metres_from_depth_image, read_depth_png
from mono_depth_ros.core.errors import BadMessageError
from mono_depth_ros.core.image_codec import image_to_numpy
from mono_depth_ros.evaluation import EvalError

FILE_SUFFIXES = ('.npy', '.png')
# Metric depth topics the nodes (and process-bag) write, the one scored by default first.
DEPTH_TOPIC_SUFFIXES = ('depth/image', 'triangulation/dense/depth', 'triangulation/depth')


@dataclasses.dataclass
class DepthSource:
    """Depth frames by name and stamp; ``load(indices)`` yields (index, metres) in order.

    ``note`` says how the source was chosen when the user did not name it (a bag's topic).
    """

    description: str
    keys: list[str]
    stamps_ns: list[int | None]
    load: Callable[[list[int]], Iterator[tuple[int, np.ndarray]]]
    note: str = ''


def directory_source(path: pathlib.Path, depth_scale: float) -> DepthSource:
    """Return the .npy and .png files of a directory (.npy wins when a stem has both)."""
    path = pathlib.Path(path)
    if not path.is_dir():
        raise EvalError(f'{path} is not a directory (a directory of NAME.npy or NAME.png '
                        'depth files)')
    files: dict[str, pathlib.Path] = {}
    for suffix in reversed(FILE_SUFFIXES):
        files.update({file.stem: file for file in path.glob(f'*{suffix}') if file.is_file()})
    if not files:
        raise EvalError(f'{path} holds no .npy or .png depth files')
    keys = sorted(files)
    paths = [files[key] for key in keys]

    def load(indices: list[int]) -> Iterator[tuple[int, np.ndarray]]:
        for index in indices:
            yield index, read_depth_file(paths[index], depth_scale)
    return DepthSource(str(path), keys, [_stem_stamp(key) for key in keys], load)


def tum_depth_source(path: pathlib.Path, depth_scale: float) -> DepthSource:
    """Return the depth maps a TUM directory lists in depth.txt."""
    path = pathlib.Path(path)
    entries, _ = tum.read_list(path / 'depth.txt')
    if not entries:
        raise EvalError(f'{path / "depth.txt"} lists no depth maps')
    paths = [path / entry.values[0] for entry in entries]

    def load(indices: list[int]) -> Iterator[tuple[int, np.ndarray]]:
        for index in indices:
            yield index, read_depth_file(paths[index], depth_scale)
    return DepthSource(f'{path} (depth.txt)', [e.stamp_text for e in entries],
                       [e.stamp_ns for e in entries], load)


def bag_source(path: pathlib.Path, topic: str | None) -> DepthSource:
    """Return the depth images of one topic of a rosbag2, keyed by their header stamps."""
    from mono_depth_ros import bags

    path = pathlib.Path(path)
    if not path.exists():
        raise EvalError(f'{path} does not exist')
    try:
        with bags.open_reader(path) as reader:
            topic, note = choose_depth_topic(reader.topics, topic, path)
            stamps = [bags.messages.stamp_ns(message.header.stamp)
                      for message in _messages(reader, topic)]
    except bags.BagReadError as error:
        raise EvalError(str(error)) from None

    def load(indices: list[int]) -> Iterator[tuple[int, np.ndarray]]:
        wanted = set(indices)
        with bags.open_reader(path) as reader:
            for index, message in enumerate(_messages(reader, topic)):
                if index in wanted:
                    array = image_to_numpy(message)
                    yield index, metres_from_depth_image(array, message.encoding)
    return DepthSource(f'{path} {topic}', [tum.format_stamp(s) for s in stamps], stamps, load,
                       note)


def _messages(reader, topic: str) -> Iterator:
    for record in reader.messages([topic]):
        yield reader.deserialize(record)


def choose_depth_topic(topics: dict, topic: str | None, path: pathlib.Path) -> tuple[str, str]:
    """Return the depth topic to score and, when it was picked here, a line saying which.

    ``topics`` maps names to (msgtype, count). Without ``topic`` the first kind of
    :data:`DEPTH_TOPIC_SUFFIXES` the bag holds is scored (depth_node's metric depth, else the
    dense, else the sparse triangulation); two namespaces with that kind need ``--topic``.
    """
    images = sorted(name for name, (msgtype, _) in topics.items()
                    if msgtype == 'sensor_msgs/msg/Image')
    listing = ', '.join(images) or 'none'
    if topic:
        if topic not in images:
            raise EvalError(f'{path} has no sensor_msgs/msg/Image topic {topic} (one of its '
                            f'image topics: {listing})')
        return topic, ''
    depth_topics = [name for suffix in DEPTH_TOPIC_SUFFIXES for name in images
                    if name.endswith(f'/{suffix}') or name == suffix]
    for suffix in DEPTH_TOPIC_SUFFIXES:
        candidates = [name for name in images if name.endswith(f'/{suffix}') or name == suffix]
        if len(candidates) > 1:
            raise EvalError(f'{path} has several */{suffix} topics: {", ".join(candidates)} '
                            '(choose one with --topic)')
        if candidates:
            others = [name for name in depth_topics if name != candidates[0]]
            also = f'; also there: {", ".join(others)} (--topic to score one)' if others else ''
            return candidates[0], f'scoring {candidates[0]}{also}'
    kinds = ', '.join(f'*/{suffix}' for suffix in DEPTH_TOPIC_SUFFIXES)
    raise EvalError(f'{path} has no depth topic ({kinds}; its image topics: {listing}; '
                    'choose one with --topic)')


def read_depth_file(path: pathlib.Path, depth_scale: float) -> np.ndarray:
    """Return a depth file as float metres: .npy as stored, 16-bit .png divided by the scale."""
    path = pathlib.Path(path)
    if path.suffix == '.npy':
        try:
            array = np.squeeze(np.load(path, allow_pickle=False))  # never unpickle
        except ValueError as error:
            raise BadMessageError(str(path), 'unreadable', f'a numeric .npy array ({error})'
                                  ) from None
        if array.ndim != 2 or array.dtype.kind not in 'fiu':
            raise BadMessageError(str(path), f'{array.dtype} array of shape {array.shape}',
                                  'a 2-D array of depths in metres')
        return array.astype(np.float32, copy=False)
    if path.suffix == '.png':
        return read_depth_png(path, depth_scale)
    raise BadMessageError(str(path), path.suffix, 'a .npy or .png depth file')


def _stem_stamp(stem: str) -> int | None:
    try:
        return tum.parse_stamp(stem)
    except BadMessageError:
        return None


def open_sources(args: argparse.Namespace) -> tuple[DepthSource, DepthSource]:
    """Return the prediction and ground-truth sources the arguments name."""
    gt_path = pathlib.Path(args.gt)
    if gt_path.is_dir() and (gt_path / 'depth.txt').is_file():
        gt = tum_depth_source(gt_path, args.depth_scale)
    else:
        gt = directory_source(gt_path, args.depth_scale)
    pred_scale = args.pred_depth_scale or args.depth_scale
    if args.pred_bag is not None:
        pred = bag_source(args.pred_bag, args.topic)
    else:
        if args.topic:
            raise EvalError('--topic goes with --pred-bag')
        pred = directory_source(args.pred, pred_scale)
    return pred, gt
