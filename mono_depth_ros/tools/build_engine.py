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

"""``mono-depth-ros build-engine``: build (or find) the cached TensorRT engine of an ONNX model.

The engine is then checked against ONNX Runtime on the CPU (``--no-validate`` skips that) and
the result kept in its sidecar. Prints the engine path on stdout. Exit codes
(:mod:`mono_depth_ros.tools.errors`): 0 done, 2 the model or settings are wrong, 1 this
machine cannot build engines (no TensorRT, no CUDA GPU) or the build failed, with one line
saying why.
"""

import argparse
import os
import sys

from mono_depth_ros.inference.int8_calibration import CalibrationSource, DEFAULT_MAX_FRAMES
from mono_depth_ros.parameter_tables import depth_parameter
from mono_depth_ros.tools.errors import log_to_stderr, PROG, UsageError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the build-engine options to ``parser``."""
    parser.add_argument('--onnx', required=True, help='the ONNX depth model')
    precision, input_size = depth_parameter('precision'), depth_parameter('input_size')
    parser.add_argument('--precision', choices=precision.choices, default=precision.default,
                        help=f'engine precision (default {precision.default})')
    parser.add_argument('--cache-dir', default=None,
                        help='engine cache (default ~/.cache/mono_depth_ros/engines)')
    parser.add_argument('--input-size', type=int, default=input_size.default,
                        help='network input size the shape profile is made for (multiple of '
                             f'14, default {input_size.default})')
    source = parser.add_mutually_exclusive_group()
    source.add_argument('--calibration-dir', default=None,
                        help='int8: a directory of images to calibrate with')
    source.add_argument('--calibration-bag', default=None,
                        help='int8: a rosbag2 whose image topic to calibrate with')
    parser.add_argument('--calibration-topic', default=None,
                        help='int8: the image topic in --calibration-bag (default: the first)')
    parser.add_argument('--calibration-frames', type=int, default=DEFAULT_MAX_FRAMES,
                        help=f'int8: at most this many frames (default {DEFAULT_MAX_FRAMES})')
    parser.add_argument('--workspace-mb', type=int, default=None,
                        help='builder workspace limit in MiB (default: TensorRT decides)')
    parser.add_argument('--force', action='store_true', help='rebuild even if cached')
    parser.add_argument('--frame-size', default=None, metavar='WxH',
                        help="the camera's frame size: the profile's opt shape is its network "
                             'shape (default: a 640x480 frame)')
    parser.add_argument('--no-validate', action='store_true',
                        help='do not check the engine against ONNX Runtime on the CPU')


def _frame_size(text: str | None) -> tuple[int, int] | None:
    """Return (height, width) of a 'WxH' argument."""
    if not text:
        return None
    try:
        width, height = (int(part) for part in text.lower().split('x'))
    except ValueError:
        raise UsageError(f'--frame-size {text}', 'WIDTHxHEIGHT, e.g. 1280x720') from None
    if width < 1 or height < 1:
        raise UsageError(f'--frame-size {text}', 'positive sizes, e.g. 1280x720')
    return height, width


def _calibration(args: argparse.Namespace) -> CalibrationSource | None:
    if not (args.calibration_dir or args.calibration_bag):
        return None
    return CalibrationSource(image_dir=args.calibration_dir, bag=args.calibration_bag,
                             topic=args.calibration_topic, max_frames=args.calibration_frames)


def run(args: argparse.Namespace) -> int:
    """Build or find the engine, validate it, and print its path; return 0."""
    from mono_depth_ros.inference.tensorrt_backend import TensorRTBackend

    log_to_stderr()
    if not os.path.isfile(os.path.expanduser(args.onnx)):
        raise UsageError(f'--onnx {args.onnx} is not a file', 'an ONNX depth model')
    frame_size = _frame_size(args.frame_size)
    backend = TensorRTBackend(args.onnx, precision=args.precision, input_size=args.input_size,
                              cache_dir=args.cache_dir, force_rebuild=args.force,
                              workspace_mb=args.workspace_mb, calibration=_calibration(args),
                              validate=not args.no_validate, frame_size=frame_size)
    with backend:
        validation = backend.validation
        print(f'{PROG} build-engine: {backend.engine_path}'
              + (f'; validation {validation.describe()}' if validation else
                 '; not validated'), file=sys.stderr)
        print(backend.engine_path)
    return 0
