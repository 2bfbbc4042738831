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

"""``mono-depth-ros synth``: write a synthetic camera sequence with exact poses and depth."""

import argparse
import time

from mono_depth_ros.tools.errors import prepare_output_dir

# synth.motion.MOTIONS, spelled out so that building the parser imports no renderer.
MOTIONS = ('drive', 'forward', 'sideways', 'turning', 'stop')


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the synth options to a parser."""
    parser.add_argument('--out', required=True,
                        help='output directory (new or empty unless --overwrite)')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace a previous synth output in --out')
    parser.add_argument('--frames', type=int, default=100, help='number of frames (100)')
    parser.add_argument('--width', type=int, default=640, help='image width in pixels (640)')
    parser.add_argument('--height', type=int, default=480, help='image height in pixels (480)')
    parser.add_argument('--seed', type=int, default=0,
                        help='scene seed: box layout and textures (0)')
    parser.add_argument('--fps', type=float, default=15.0, help='frame rate (15)')
    parser.add_argument('--motion', choices=MOTIONS, default='drive',
                        help='path of the robot (drive: the ellipse round the room)')
    parser.add_argument('--camera-latency', type=float, default=0.0, metavar='S',
                        help='image stamp minus the instant the image shows, s (0)')
    parser.add_argument('--sway-deg', type=float, default=0.0, metavar='A',
                        help='yaw sway of +-A degrees at 1 Hz (0)')
    parser.add_argument('--odom-drift', type=float, default=0.0, metavar='F',
                        help='odometry drifts by the fraction F of the distance travelled (0)')
    parser.add_argument('--odom-drift-deg', type=float, default=0.0, metavar='D',
                        help='odometry heading drifts by D degrees over the run (0)')


def run(args: argparse.Namespace) -> int:
    """Render the sequence, write it under args.out and print what was written."""
    from mono_depth_ros.synth import render_sequence, write_sequence

    prepare_output_dir(args.out, args.overwrite)
    started = time.perf_counter()
    sequence = render_sequence(frames=args.frames, width=args.width, height=args.height,
                               seed=args.seed, fps=args.fps, motion=args.motion,
                               camera_latency=args.camera_latency, sway_deg=args.sway_deg,
                               odom_drift=args.odom_drift, odom_drift_deg=args.odom_drift_deg)
    rendered = time.perf_counter()
    paths = write_sequence(sequence, args.out)
    written = time.perf_counter()
    depths = [frame.depth for frame in sequence.frames]
    print(f'rendered {len(sequence.frames)} frames of {sequence.width}x{sequence.height} '
          f'(seed {args.seed}, {sequence.fps:g} fps) in {rendered - started:.1f} s; '
          f'depth {min(d.min() for d in depths):.2f}-{max(d.max() for d in depths):.2f} m')
    for key, path in paths.items():
        print(f'  {key:12s} {path}')
    print(f'wrote in {written - rendered:.1f} s')
    return 0
