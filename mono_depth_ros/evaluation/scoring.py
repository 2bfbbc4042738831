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

"""Predictions matched to ground truth, aligned and scored frame by frame, then combined.

Directories are matched by file stem; a bag, or directories without common stems, by timestamp
within a tolerance, one to one, nearest first. Each frame is optionally aligned to its ground
truth, scored with :func:`mono_depth_ros.core.metrics.compute_metrics`, and the frames are
combined with ``aggregate_metrics``.
"""

import argparse

import cv2
import numpy as np

from mono_depth_ros.core import tum
from mono_depth_ros.core.errors import BadMessageError
from mono_depth_ros.core.metrics import (aggregate_metrics, align_median, align_scale_shift,
                                         compute_metrics, METRIC_NAMES)
from mono_depth_ros.evaluation import EvalError, NothingScoredError
from mono_depth_ros.evaluation.sources import DepthSource, open_sources
from mono_depth_ros.evaluation.temporal import open_temporal_scorer

ALIGNMENTS = ('none', 'median', 'scale-shift')


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


def align_frame(pred: np.ndarray, gt: np.ndarray, align: str, space: str, min_depth: float,
                max_depth: float | None) -> tuple[np.ndarray, float, float]:
    """Return the prediction aligned to the ground truth (``align``) with its scale and shift."""
    scored_range = np.isfinite(gt) & (gt > min_depth)
    if max_depth is not None:
        scored_range &= gt <= max_depth
    scale, shift = 1.0, 0.0
    if align == 'median':
        pred, scale = align_median(pred, gt, mask=scored_range)
    elif align == 'scale-shift':
        pred, scale, shift = align_scale_shift(pred, gt, mask=scored_range, space=space)
    return pred, float(scale), float(shift)


def evaluate(args: argparse.Namespace) -> dict:
    """Match, align and score; return the summary, the settings and the per-frame rows."""
    if args.tolerance < 0:
        raise EvalError(f'--tolerance {args.tolerance} (expected >= 0 seconds)')
    pred, gt = open_sources(args)
    pairs, matched_by = match_frames(pred, gt, round(args.tolerance * 1e9),
                                     by_stamp=args.pred_bag is not None)
    if not pairs:
        raise NothingScoredError(
            f'no prediction matched the ground truth within --tolerance {args.tolerance:g} s '
            f'({len(pred.keys)} predictions from {pred.description}, '
            f'{_span(pred.keys)}; {len(gt.keys)} ground-truth frames from {gt.description}, '
            f'{_span(gt.keys)})')
    gt_for = dict(pairs)
    temporal = open_temporal_scorer(args) if getattr(args, 'tae', False) else None
    rows, resized, unaligned = [], 0, 0
    for index, prediction in pred.load(sorted(gt_for)):
        _, truth = next(gt.load([gt_for[index]]))
        if prediction.shape != truth.shape:
            prediction = cv2.resize(prediction, (truth.shape[1], truth.shape[0]),
                                    interpolation=cv2.INTER_NEAREST)
            resized += 1
        try:
            aligned, scale, shift = align_frame(prediction, truth, args.align, args.align_space,
                                                args.min_depth, args.max_depth)
            metrics = {**compute_metrics(aligned, truth, min_depth=args.min_depth,
                                         max_depth=args.max_depth),
                       'scale': scale, 'shift': shift}
        except BadMessageError:  # too few valid pixels to align: nothing to score
            unaligned += 1
            aligned = None
            metrics = {'count': 0, **{name: float('nan') for name in METRIC_NAMES},
                       'scale': float('nan'), 'shift': float('nan')}
        if temporal is not None and aligned is not None:
            stamp = gt.stamps_ns[gt_for[index]]
            metrics['tae'] = temporal.add(stamp if stamp is not None
                                          else pred.stamps_ns[index], aligned, truth)
        rows.append({'pred': pred.keys[index], 'gt': gt.keys[gt_for[index]],
                     'stamp': _stamp_text(pred.stamps_ns[index]), **metrics})
    summary = aggregate_metrics(rows, weighting=args.weighting)
    if summary['frames'] == 0:
        raise NothingScoredError(_nothing_scored_reason(len(pairs), unaligned, args))
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
        'pred_note': pred.note,
        'gt': gt.description,
        **(temporal.summary() if temporal is not None else {}),
        'per_frame': rows,
    }


def _nothing_scored_reason(matched: int, unaligned: int, args: argparse.Namespace) -> str:
    if unaligned == matched:
        return (f'none of the {matched} matched frames had enough valid pixels to align '
                f'(--align {args.align}: finite predictions where the ground truth is scored)')
    limit = f'{args.max_depth:g}' if args.max_depth is not None else 'inf'
    return (f'none of the {matched} matched frames has a valid pixel (a finite, positive '
            f'prediction where the ground truth is finite and within ({args.min_depth:g}, '
            f'{limit}] m)')


def _span(keys: list[str]) -> str:
    if not keys:
        return 'none'
    return keys[0] if len(keys) == 1 else f'{keys[0]} to {keys[-1]}'


def _stamp_text(stamp_ns: int | None) -> str:
    return tum.format_stamp(stamp_ns) if stamp_ns is not None else ''
