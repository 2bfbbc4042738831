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

"""``mono-depth-ros process-bag``: the nodes' outputs for a recording, offline and without ROS.

``IN`` is a rosbag2 (a directory with metadata.yaml, or a single .mcap or .db3 file) or a TUM
RGB-D directory (rgb.txt, groundtruth.txt as odometry, camera.yaml or a TUM calibration).
``OUT`` is a new rosbag2 (MCAP, or sqlite3 with ``--storage sqlite3``) holding the topics
depth_node and triangulation_node publish, in the image topic's namespace (``/camera/image_raw``
-> ``/camera/depth/image`` ...), stamped like the input images and recorded at their receive
times, plus the input topics unless ``--no-copy``. The bag is read and written through
:mod:`mono_depth_ros.bags`; frames run through
:class:`mono_depth_ros.offline.processor.OfflineProcessor`, which uses the nodes' own pipelines.
This module is the command line: the parser and a thin ``run``; the jobs live in
:mod:`mono_depth_ros.offline` (topic choice, sources, the output bag, the run loop).
"""

import argparse
import logging
import pathlib

from mono_depth_ros.bags import STORAGES
from mono_depth_ros.offline import InputError, LOGGER as _LOGGER
from mono_depth_ros.offline.output_bag import OutputBag
from mono_depth_ros.offline.processor import MODES, OfflineProcessor
from mono_depth_ros.offline.run import build_processor, process, summary_text
from mono_depth_ros.offline.sources import open_source
from mono_depth_ros.parameter_tables import depth_parameter, triangulation_parameter
from mono_depth_ros.tools.errors import (check_output_dir, EXIT_OK, Interrupted, log_to_stderr,
                                         RunFailure, UsageError)


# Command line ---------------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the process-bag options."""
    parser.add_argument('input', metavar='IN', type=pathlib.Path,
                        help='rosbag2 directory, .mcap or .db3 file, or TUM RGB-D directory')
    parser.add_argument('--out', required=True, type=pathlib.Path,
                        help='output rosbag2 directory (new or empty unless --overwrite)')
    parser.add_argument('--model', default='',
                        help='depth model (ONNX, engine, Hugging Face id or directory, .pth, '
                             '.safetensors); needed by --mode depth and both')
    parser.add_argument('--mode', choices=MODES, default=None,
                        help='what to run (default: both with --model, else triangulation)')
    topics = parser.add_argument_group('input topics (detected when not given)')
    topics.add_argument('--image-topic', help='sensor_msgs/Image or CompressedImage topic')
    topics.add_argument('--camera-info-topic', help='sensor_msgs/CameraInfo topic')
    topics.add_argument('--odom-topic', help='nav_msgs/Odometry topic (base pose)')
    topics.add_argument('--compressed', action='store_true',
                        help='read the CompressedImage topic (IMAGE_TOPIC or '
                             'IMAGE_TOPIC/compressed)')
    topics.add_argument('--camera-yaml', type=pathlib.Path,
                        help='camera_info YAML to use instead of a camera_info topic')
    topics.add_argument('--tum-camera', default='auto',
                        help='TUM input: auto (camera.yaml, else from the directory name), '
                             'fr1, fr2, fr3, ros, or a camera_info YAML file')
    output = parser.add_argument_group('output')
    output.add_argument('--storage', choices=STORAGES, default=STORAGES[0],
                        help='rosbag2 storage')
    output.add_argument('--output-namespace',
                        help="namespace of the output topics (default: the image topic's)")
    output.add_argument('--no-copy', action='store_true', help='leave the input topics out')
    output.add_argument('--overwrite', action='store_true', help='replace an existing OUT bag')
    output.add_argument('--max-frames', type=int, default=0, help='stop after N images')
    output.add_argument('--quiet', action='store_true', help='no progress bar or log')
    depth = parser.add_argument_group('depth (depth_node parameters)')
    for name in ('backend', 'device', 'precision'):
        depth.add_argument(f'--{name}', default=depth_parameter(name).default,
                           choices=depth_parameter(name).choices)
    depth.add_argument('--input-size', type=int, default=depth_parameter('input_size').default,
                       help='network input, shorter side, a multiple of 14')
    depth.add_argument('--depth-type', default=depth_parameter('depth_type').default,
                       choices=depth_parameter('depth_type').choices)
    # No default: each pipeline then keeps its own node's default.
    depth.add_argument('--min-depth', type=float,
                       help='smallest depth written (m; default '
                            f'{depth_parameter("min_depth").default:g} depth, '
                            f'{triangulation_parameter("min_depth").default:g} triangulation)')
    depth.add_argument('--max-depth', type=float,
                       help='largest depth written (m; default '
                            f'{depth_parameter("max_depth").default:g} depth, '
                            f'{triangulation_parameter("max_depth").default:g} triangulation)')
    depth.add_argument('--fixed-scale', type=float,
                       help='depth mode, relative model: 1/depth = scale * relative + shift')
    depth.add_argument('--fixed-shift', type=float, default=depth_parameter('fixed_shift').default)
    depth.add_argument('--points-stride', type=int,
                       default=depth_parameter('points_stride').default)
    depth.add_argument('--no-points', action='store_true', help='leave out the points cloud')
    depth.add_argument('--model-card', default=depth_parameter('model_card').default,
                       help=depth_parameter('model_card').description)
    depth.add_argument('--no-points-color', action='store_true', help='points without rgb')
    depth.add_argument('--no-colored', action='store_true', help='leave out depth/colored')
    depth.add_argument('--colormap', default=depth_parameter('colormap').default,
                       choices=depth_parameter('colormap').choices)
    depth.add_argument('--engine-cache-dir', default=depth_parameter('engine_cache_dir').default)
    depth.add_argument('--allow-download', action='store_true',
                       help='let a Hugging Face id be downloaded')
    triangulation = parser.add_argument_group('triangulation (triangulation_node parameters)')
    triangulation.add_argument('--camera-to-base', type=float, nargs=7,
                               metavar=('X', 'Y', 'Z', 'QX', 'QY', 'QZ', 'QW'),
                               help='pose of the optical frame in the base frame (default: '
                                    'looking along base +x; TUM: groundtruth.txt header)')
    triangulation.add_argument('--max-features', type=int)
    triangulation.add_argument('--odom-max-gap', type=float,
                               help='longest odometry gap interpolation bridges (s)')
    triangulation.add_argument('--dense-depth', action='store_true',
                               help=triangulation_parameter('dense_depth').description)


def run(args: argparse.Namespace) -> int:
    """Process the input; return 0, 1 (nothing could be processed) or raise a usage error."""
    log_to_stderr(logging.ERROR if args.quiet else logging.INFO)
    if not args.input.exists():
        raise UsageError(f'{args.input} does not exist',
                         'a rosbag2 directory, .mcap or .db3 file, or TUM RGB-D directory')
    check_output_dir(args.out, args.overwrite)
    mode = resolve_mode(args.mode, args.model)
    source = open_source(args, mode)
    processor = out = None
    try:
        processor = build_processor(args, mode, source.camera_to_base)
        out = OutputBag.create(args.out, args.storage, args.overwrite)
        _LOGGER.info('process-bag: %s', source.describe())
        summary = process(source, processor, out, args)
    except KeyboardInterrupt:
        if out is None:
            raise
        out.close()
        raise Interrupted(f'interrupted; {args.out} holds the frames done so far') from None
    except BaseException:
        if out is not None:
            out.abort()
        raise
    finally:
        source.close()
        if processor is not None:
            processor.close()
    out.close()
    print(summary_text(summary, processor, out, args.out))
    if processor.counts.frames_out == 0:
        problem = processor.counts.last_problem or _no_output_reason(processor)
        raise RunFailure(f'no frame produced output: {problem}')
    return EXIT_OK


def resolve_mode(mode: str | None, model: str) -> str:
    """Return the mode to run: the one asked for, else both with a model, else triangulation."""
    if mode is None:
        return 'both' if model else 'triangulation'
    if mode != 'triangulation' and not model:
        raise InputError(f'--mode {mode} runs the depth network but no --model was given '
                         '(--model M, or --mode triangulation)')
    return mode


def _no_output_reason(processor: OfflineProcessor) -> str:
    counts = processor.counts
    if counts.frames_in == 0:
        return 'no images were read'
    if counts.no_camera_info == counts.frames_in:
        return 'no camera_info arrived before any image'
    return 'see the log above'
