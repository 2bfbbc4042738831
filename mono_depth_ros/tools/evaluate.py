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
frames are combined with ``aggregate_metrics``. The work is done by
:mod:`mono_depth_ros.evaluation`; this module parses, calls it and reports.
"""

import argparse
import json
import pathlib
import sys

from mono_depth_ros.core.depth_encoding import TUM_DEPTH_SCALE
from mono_depth_ros.evaluation.report import format_table, json_safe, write_csv
from mono_depth_ros.evaluation.scoring import ALIGNMENTS, evaluate
from mono_depth_ros.tools.errors import EXIT_OK, PROG


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the eval options."""
    pred = parser.add_mutually_exclusive_group(required=True)
    pred.add_argument('--pred', type=pathlib.Path,
                      help='directory of predictions: NAME.npy (metres) or NAME.png (16-bit)')
    pred.add_argument('--pred-bag', type=pathlib.Path,
                      help='rosbag2 (directory, .mcap or .db3) with the predicted depth')
    parser.add_argument('--topic',
                        help='depth topic in --pred-bag (default: */depth/image, else '
                             '*/triangulation/dense/depth, else */triangulation/depth)')
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
    parser.add_argument('--tae', action='store_true',
                        help='add the temporal alignment error: each frame warped into the next '
                             'with the ground-truth poses, AbsRel, both directions')
    parser.add_argument('--poses', type=pathlib.Path,
                        help='TUM trajectory of the camera optical frame for --tae (default: '
                             'groundtruth.txt of --gt)')
    parser.add_argument('--camera', type=pathlib.Path,
                        help='camera_info YAML for --tae (default: camera.yaml of --gt, or its '
                             'TUM calibration)')
    parser.add_argument('--json', metavar='FILE',
                        help="also write the JSON summary to FILE ('-': stdout only)")
    parser.add_argument('--csv', metavar='FILE', help='write one row per frame')
    parser.add_argument('--per-frame', action='store_true',
                        help="add the per-frame rows ('per_frame') to the JSON")


def run(args: argparse.Namespace) -> int:
    """Score the predictions: the table on stderr, the metrics as one JSON object on stdout.

    The per-frame rows go to ``--csv FILE``, and into the JSON only with ``--per-frame``. When
    no frame could be scored the error says why (exit code 1, nothing on stdout).
    """
    result = evaluate(args)
    if result['pred_note']:
        print(f'{PROG} eval: {result["pred_note"]}', file=sys.stderr)
    print(format_table(result), file=sys.stderr)
    summary = {key: value for key, value in result.items()
               if key != 'per_frame' or args.per_frame}
    text = json.dumps(json_safe(summary), indent=2)
    print(text)
    if args.json and args.json != '-':
        pathlib.Path(args.json).write_text(text + '\n')
    if args.csv:
        write_csv(args.csv, result['per_frame'])
    return EXIT_OK
