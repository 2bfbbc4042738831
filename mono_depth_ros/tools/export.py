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

"""The ``mono-depth-ros export`` subcommand: a Depth Anything model to ONNX, checked for parity."""

import argparse
import json

from mono_depth_ros.inference.onnx_export import (DEFAULT_OPSET, export_onnx, ExportError,
                                                  ExportResult, PARITY_TOLERANCE)
from mono_depth_ros.parameter_tables import depth_parameter
from mono_depth_ros.tools.errors import log_to_stderr, RunFailure, UsageError

__all__ = ['add_arguments', 'export_onnx', 'ExportResult', 'run']


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the export options to ``parser``."""
    parser.add_argument('--model', required=True,
                        help='Hugging Face id or directory, official .pth, or .safetensors')
    parser.add_argument('--out', required=True, help='the ONNX file to write')
    parser.add_argument('--input-size', type=int, default=depth_parameter('input_size').default,
                        help='traced size (multiple of 14); the fixed size with --static')
    parser.add_argument('--opset', type=int, default=DEFAULT_OPSET, help='ONNX opset (>= 17)')
    parser.add_argument('--static', action='store_true',
                        help='fix H and W at --input-size instead of dynamic axes')
    depth_type = depth_parameter('depth_type')
    parser.add_argument('--depth-type', choices=depth_type.choices, default=depth_type.default,
                        help='override when the checkpoint does not record it')
    parser.add_argument('--max-depth', type=float, default=None,
                        help='metric range in metres, for checkpoints that do not record it')
    parser.add_argument('--allow-download', action='store_true',
                        help='let Hugging Face ids be downloaded')
    parser.add_argument('--parity-tolerance', type=float, default=PARITY_TOLERANCE,
                        help='largest accepted ONNX Runtime vs PyTorch relative difference')
    parser.add_argument('--model-card', default='',
                        help='a model card YAML to write into the file (default: the card of '
                             "the model's family)")
    parser.add_argument('--json', action='store_true', help='print the result as JSON')


def run(args: argparse.Namespace) -> int:
    """Export, print the parity figure and return 0.

    A bad model, size or opset is a usage error (exit code 2), a failed export or parity check
    a runtime failure (1); :func:`mono_depth_ros.tools.errors.run_tool` reports them.
    """
    log_to_stderr()
    if args.input_size < 14 or args.input_size % 14:
        raise UsageError(f'--input-size {args.input_size}', 'a positive multiple of 14')
    if args.opset < 17:
        raise UsageError(f'--opset {args.opset}', '17 or newer')
    card = None
    if args.model_card:
        from mono_depth_ros.inference.model_card import load_card_file, ModelCardError
        try:
            card = load_card_file(args.model_card)
        except (ModelCardError, OSError) as error:
            raise UsageError(f'--model-card {args.model_card}', str(error)) from None
    try:
        result = export_onnx(args.model, args.out, input_size=args.input_size, opset=args.opset,
                             dynamic=not args.static, depth_type=args.depth_type,
                             max_depth=args.max_depth, allow_download=args.allow_download,
                             parity_tolerance=args.parity_tolerance, card=card)
    except ExportError as error:
        raise RunFailure(str(error)) from None
    except ValueError as error:  # a bad --depth-type / --max-depth combination
        raise UsageError(str(error)) from None
    if args.json:
        print(json.dumps({
            'path': result.path, 'opset': result.opset, 'dynamic': result.dynamic,
            'parity_max_relative_difference': result.parity,
            'parity_size': list(result.parity_size), 'depth_type': result.info.depth_type,
            'max_depth': result.info.max_depth, 'encoder': result.info.encoder,
            'version': result.info.version, 'seconds': round(result.seconds, 2)}))
    else:
        print(f'wrote {result.path}: {result.info.describe()}, opset {result.opset}, '
              f'{"dynamic" if result.dynamic else "fixed"} input; ONNX Runtime vs PyTorch max '
              f'relative difference {result.parity:.2e} at '
              f'{result.parity_size[0]}x{result.parity_size[1]}')
    return 0
