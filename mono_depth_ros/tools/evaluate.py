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

"""``mono-depth-ros eval``: depth metrics of predictions against ground truth.

Predictions come from a directory (``--pred``) or a depth topic of a rosbag2 (``--pred-bag``,
``--topic``); ground truth from a directory (``--gt``) or a TUM RGB-D directory (its
``depth.txt``). In a directory, ``NAME.npy`` holds float metres and ``NAME.png`` 16-bit depth
(``--depth-scale`` units per metre, 0 unknown). Directories are matched by file stem; a bag, or
directories without common stems, by timestamp (stems or TUM stamps are seconds) within
``--tolerance``, one to one, nearest first. Each frame is optionally aligned to its ground
truth (``--align``), scored with :func:`mono_depth_ros.core.metrics.compute_metrics`, and the
frames are combined with ``aggregate_metrics``.
"""

import argparse
import csv
import dataclasses
import json
import math
import pathlib
import sys
from typing import Callable, Iterator

import cv2
import numpy as np

from mono_depth_ros.core import tum
from mono_depth_ros.core.depth_encoding import (metres_from_depth_image, read_depth_png,
                                                TUM_DEPTH_SCALE)
from mono_depth_ros.core.errors import BadMessageError
from mono_depth_ros.core.image_codec import image_to_numpy
from mono_depth_ros.core.metrics import (aggregate_metrics, align_median, align_scale_shift,
                                         compute_metrics, METRIC_NAMES)

EXIT_OK, EXIT_USAGE = 0, 2
ALIGNMENTS = ('none', 'median', 'scale-shift')
FILE_SUFFIXES = ('.npy', '.png')
_DEPTH_TOPIC_SUFFIX = 'depth/image'


class EvalError(Exception):
    """A problem with the inputs that the user must fix (exit code 2)."""


# Command line ---------------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the eval options."""
    pred = parser.add_mutually_exclusive_group(required=True)
    pred.add_argument('--pred', type=pathlib.Path,
                      help='directory of predictions: NAME.npy (metres) or NAME.png (16-bit)')
    pred.add_argument('--pred-bag', type=pathlib.Path,
                      help='rosbag2 (directory, .mcap or .db3) with the predicted depth')
    parser.add_argument('--topic',
                        help='depth topic in --pred-bag (default: the one */depth/image)')
    parser.add_argument('--gt', required=True, type=pathlib.Path,
                        help='directory of ground truth, or a TUM RGB-D directory (depth.txt)')
    parser.add_argument('--align', choices=ALIGNMENTS, default='none',
                        help='per-frame alignment to the ground truth before scoring')
    parser.add_argument('--align-space', choices=('depth', 'inverse'), default='depth',
                        help='scale-shift: fit depth, or treat the prediction as inverse depth '
                             '(a relative model output) and fit 1/gt')
    parser.add_argument('--depth-scale', type=float, default=TUM_DEPTH_SCALE,
                        help='16-bit PNG units per metre (default 5000, TUM)')
    parser.add_argument('--pred-depth-scale', type=float,
                        help='units per metre of predicted PNGs (default: --depth-scale)')
    parser.add_argument('--tolerance', type=float, default=0.02,
                        help='largest stamp difference of a matched pair (s)')
    parser.add_argument('--min-depth', type=float, default=1e-3,
                        help='ground truth at or below this is not scored (m)')
    parser.add_argument('--max-depth', type=float, help='ground truth above this is not scored')
    parser.add_argument('--weighting', choices=('frame', 'pixel'), default='frame',
                        help='average over frames, or weight frames by their valid pixels')
    parser.add_argument('--json', metavar='FILE',
                        help="also write the JSON results to FILE ('-': stdout only)")
    parser.add_argument('--csv', metavar='FILE', help='write one row per frame')


def run(args: argparse.Namespace) -> int:
    """Score the predictions; return 0, or 2 when the inputs are unusable."""
    try:
        result = evaluate(args)
    except (EvalError, BadMessageError, FileNotFoundError) as error:
        print(f'eval: {error}', file=sys.stderr)
        return EXIT_USAGE
    # The results as JSON on stdout (for scripts), the table for people on stderr.
    print(format_table(result), file=sys.stderr)
    text = json.dumps(_json_safe(result), indent=2)
    print(text)
    if args.json and args.json != '-':
        pathlib.Path(args.json).write_text(text + '\n')
    if args.csv:
        write_csv(args.csv, result['per_frame'])
    return EXIT_OK


# Sources --------------------------------------------------------------------------------------
@dataclasses.dataclass
class DepthSource:
    """Depth frames by name and stamp; ``load(indices)`` yields (index, metres) in order."""

    description: str
    keys: list[str]
    stamps_ns: list[int | None]
    load: Callable[[list[int]], Iterator[tuple[int, np.ndarray]]]


def directory_source(path: pathlib.Path, depth_scale: float) -> DepthSource:
    """Return the .npy and .png files of a directory (.npy wins when a stem has both)."""
    path = pathlib.Path(path)
    if not path.is_dir():
        raise EvalError(f'{path} is not a directory')
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
            topic = _depth_topic(reader, topic, path)
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
    return DepthSource(f'{path} {topic}', [tum.format_stamp(s) for s in stamps], stamps, load)


def _messages(reader, topic: str) -> Iterator:
    for record in reader.messages([topic]):
        yield reader.deserialize(record)


def _depth_topic(reader, topic: str | None, path: pathlib.Path) -> str:
    images = sorted(name for name, (msgtype, _) in reader.topics.items()
                    if msgtype == 'sensor_msgs/msg/Image')
    listing = '\n'.join(f'  {name}' for name in images) or '  (none)'
    if topic:
        if topic not in images:
            raise EvalError(f'{path} has no sensor_msgs/msg/Image topic {topic}; its image '
                            f'topics:\n{listing}')
        return topic
    candidates = [name for name in images if name.endswith(_DEPTH_TOPIC_SUFFIX)]
    if len(candidates) != 1:
        found = 'several' if candidates else 'no'
        raise EvalError(f'{path} has {found} */{_DEPTH_TOPIC_SUFFIX} topics: choose one with '
                        f'--topic; its image topics:\n{listing}')
    return candidates[0]


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


# Matching and scoring -------------------------------------------------------------------------
def match_frames(pred: DepthSource, gt: DepthSource, tolerance_ns: int,
                 by_stamp: bool) -> tuple[list[tuple[int, int]], str]:
    """Return (pred index, gt index) pairs and how they were matched ('stem' or 'stamp')."""
    if not by_stamp:
        gt_index = {key: index for index, key in enumerate(gt.keys)}
        pairs = [(i, gt_index[key]) for i, key in enumerate(pred.keys) if key in gt_index]
        if pairs:
            return pairs, 'stem'
    pred_known = [i for i, stamp in enumerate(pred.stamps_ns) if stamp is not None]
    gt_known = [j for j, stamp in enumerate(gt.stamps_ns) if stamp is not None]
    if not pred_known or not gt_known:
        raise EvalError(
            f'no frame names in common between {pred.description} (e.g. '
            f'{", ".join(pred.keys[:3])}) and {gt.description} (e.g. {", ".join(gt.keys[:3])}),'
            ' and they are not timestamps in seconds to match by')
    pairs = tum.associate([pred.stamps_ns[i] for i in pred_known],
                          [gt.stamps_ns[j] for j in gt_known], tolerance_ns)
    return [(pred_known[i], gt_known[j]) for i, j in pairs], 'stamp'


def score_frame(pred: np.ndarray, gt: np.ndarray, align: str, space: str, min_depth: float,
                max_depth: float | None) -> dict:
    """Return the metrics of one frame after alignment, with ``scale`` and ``shift``."""
    scored_range = np.isfinite(gt) & (gt > min_depth)
    if max_depth is not None:
        scored_range &= gt <= max_depth
    scale, shift = 1.0, 0.0
    if align == 'median':
        pred, scale = align_median(pred, gt, mask=scored_range)
    elif align == 'scale-shift':
        pred, scale, shift = align_scale_shift(pred, gt, mask=scored_range, space=space)
    metrics = compute_metrics(pred, gt, min_depth=min_depth, max_depth=max_depth)
    return {**metrics, 'scale': float(scale), 'shift': float(shift)}


def evaluate(args: argparse.Namespace) -> dict:
    """Match, align and score; return the summary, the settings and the per-frame rows."""
    if args.tolerance < 0:
        raise EvalError(f'--tolerance {args.tolerance} (expected >= 0 seconds)')
    pred, gt = open_sources(args)
    pairs, matched_by = match_frames(pred, gt, round(args.tolerance * 1e9),
                                     by_stamp=args.pred_bag is not None)
    if not pairs:
        raise EvalError(f'no prediction matched the ground truth within {args.tolerance} s '
                        f'({len(pred.keys)} predictions from {pred.description}, '
                        f'{len(gt.keys)} ground-truth frames from {gt.description})')
    gt_for = dict(pairs)
    rows, resized, unaligned = [], 0, 0
    for index, prediction in pred.load(sorted(gt_for)):
        _, truth = next(gt.load([gt_for[index]]))
        if prediction.shape != truth.shape:
            prediction = cv2.resize(prediction, (truth.shape[1], truth.shape[0]),
                                    interpolation=cv2.INTER_NEAREST)
            resized += 1
        try:
            metrics = score_frame(prediction, truth, args.align, args.align_space,
                                  args.min_depth, args.max_depth)
        except BadMessageError:  # too few valid pixels to align: nothing to score
            unaligned += 1
            metrics = {'count': 0, **{name: float('nan') for name in METRIC_NAMES},
                       'scale': float('nan'), 'shift': float('nan')}
        rows.append({'pred': pred.keys[index], 'gt': gt.keys[gt_for[index]],
                     'stamp': _stamp_text(pred.stamps_ns[index]), **metrics})
    summary = aggregate_metrics(rows, weighting=args.weighting)
    return {
        'metrics': {name: summary[name] for name in METRIC_NAMES},
        'pixels': summary['count'],
        'frames_scored': summary['frames'],
        'frames_matched': len(pairs),
        'pred_unmatched': len(pred.keys) - len(pairs),
        'gt_unmatched': len(gt.keys) - len(pairs),
        'frames_resized': resized,
        'frames_unaligned': unaligned,
        'matched_by': matched_by,
        'align': args.align,
        'align_space': args.align_space if args.align == 'scale-shift' else None,
        'weighting': args.weighting,
        'min_depth': args.min_depth,
        'max_depth': args.max_depth,
        'pred': pred.description,
        'gt': gt.description,
        'per_frame': rows,
    }


def _stamp_text(stamp_ns: int | None) -> str:
    return tum.format_stamp(stamp_ns) if stamp_ns is not None else ''


# Output ---------------------------------------------------------------------------------------
_LABELS = {'abs_rel': 'AbsRel', 'sq_rel': 'SqRel', 'rmse': 'RMSE (m)', 'rmse_log': 'RMSElog',
           'silog': 'SILog', 'delta1': 'δ < 1.25', 'delta2': 'δ < 1.25²', 'delta3': 'δ < 1.25³'}


def format_table(result: dict) -> str:
    """Return the summary as a text table with a line on what was matched."""
    align = result['align'] + (f' ({result["align_space"]})' if result['align_space'] else '')
    lines = [f'pred: {result["pred"]}', f'gt:   {result["gt"]}',
             f'{result["frames_scored"]} frames scored of {result["frames_matched"]} matched '
             f'by {result["matched_by"]} ({result["pred_unmatched"]} predictions and '
             f'{result["gt_unmatched"]} ground-truth frames unmatched); align {align}; '
             f'{result["weighting"]}-weighted; {result["pixels"]} pixels']
    if result['frames_resized']:
        lines.append(f'{result["frames_resized"]} predictions resized (nearest) to the '
                     'ground-truth size')
    if result['frames_unaligned']:
        lines.append(f'{result["frames_unaligned"]} frames had too few valid pixels to align')
    width = max(len(label) for label in _LABELS.values())
    lines.append(f'{"metric":<{width}}  value')
    lines += [f'{_LABELS[name]:<{width}}  {result["metrics"][name]:.4f}'
              for name in METRIC_NAMES]
    return '\n'.join(lines)


def write_csv(path, rows: list[dict]) -> None:
    """Write the per-frame rows (pred, gt, stamp, count, metrics, scale, shift)."""
    columns = ['pred', 'gt', 'stamp', 'count', *METRIC_NAMES, 'scale', 'shift']
    with open(path, 'w', newline='') as stream:
        writer = csv.DictWriter(stream, fieldnames=columns, extrasaction='ignore')
        writer.writeheader()
        writer.writerows(rows)


def _json_safe(value):
    """Return ``value`` with NaN and infinities as None (JSON has no NaN)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(item) for item in value]
    return value
