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

"""``mono-depth-ros demo`` (``make demo``): a synthetic camera run through the pipeline over DDS.

It renders a textured scene with exact poses and depth, writes it as a rosbag2, plays that bag
over real DDS into the package's nodes (the triangulation node always; the depth node with the
committed demo model or the one given, its relative depth put in metres by the triangulated
points), checks what comes back against the ground truth, records what the nodes published as
a rosbag2 (``output_bag/``) and writes a report with pictures, metrics and per-stage latency
to the output directory, with the commands to view the bag.
"""

import argparse
import os
import random
import time

from mono_depth_ros.demo import contents, stages
from mono_depth_ros.demo.stages import DEMO_MODEL, find_model, NO_MODEL, WARMUP_FRAMES
from mono_depth_ros.parameter_tables import depth_parameter
from mono_depth_ros.tools.errors import prepare_output_dir

MIN_FRAMES = WARMUP_FRAMES + 5
OUTPUT_BAG = 'output_bag'  # in --out: what the nodes published, with their inputs


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the demo's options."""
    parser.add_argument('--model', default=None,
                        help='depth model (path or Hugging Face id); default: the demo model '
                             f'{DEMO_MODEL} (trained on synthetic scenes); {NO_MODEL}: the '
                             'triangulation node alone')
    parser.add_argument('--out', default='demo_out', help='output directory (default demo_out)')
    parser.add_argument('--frames', type=_frame_count, default=60,
                        help=f'frames to render (default 60, at least {MIN_FRAMES}: the first '
                             f'{WARMUP_FRAMES} are the warm-up of the triangulation)')
    parser.add_argument('--width', type=int, default=640)
    parser.add_argument('--height', type=int, default=480)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--rate', type=float, default=None,
                        help='replay speed (1.0 is the recorded 15 fps); default 1.0 with '
                             '--realtime, else 0.5, which leaves room for the nodes (they '
                             'share this process)')
    parser.add_argument('--backend', default=depth_parameter('backend').default,
                        help='inference backend for the model')
    parser.add_argument('--realtime', action='store_true',
                        help='play the bag on its recorded schedule, as ros2 bag play does '
                             '(the nodes drop frames they cannot keep up with); by default '
                             'each image waits until the nodes have answered the previous one')


def _frame_count(text: str) -> int:
    """Parse --frames: enough frames for the warm-up and a scored rest."""
    count = int(text)
    if count < MIN_FRAMES:
        raise argparse.ArgumentTypeError(
            f'{count} frames: at least {MIN_FRAMES} are needed (the first {WARMUP_FRAMES} are '
            'warm-up of the triangulation and are not scored)')
    return count


def replay_rate(rate: float | None, realtime: bool) -> float:
    """Return the replay speed: ``rate`` if given, else 1.0 with --realtime, else 0.5."""
    if rate is not None:
        return float(rate)
    return 1.0 if realtime else 0.5


def run(args: argparse.Namespace) -> int:
    """Run the demo and print where its report is."""
    from mono_depth_ros.inference.base import BackendUnavailableError, ModelLoadError
    from mono_depth_ros.resources import apply_fastdds_profile
    from mono_depth_ros.synth import render_sequence, write_sequence

    out = prepare_output_dir(args.out, overwrite=True).resolve()  # the demo rewrites its own
    print(apply_fastdds_profile().describe(), flush=True)
    if not os.environ.get('ROS_DOMAIN_ID'):
        # A domain of its own, so the demo's /camera topics never mix with a live robot graph.
        os.environ['ROS_DOMAIN_ID'] = str(random.randint(1, 100))
    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')

    args.rate = replay_rate(args.rate, args.realtime)
    started = time.monotonic()
    print(f'[1/4] rendering a {args.frames}-frame {args.width}x{args.height} synthetic sequence '
          f'(seed {args.seed})', flush=True)
    sequence = render_sequence(frames=args.frames, width=args.width, height=args.height,
                               seed=args.seed)
    paths = write_sequence(sequence, out / 'sequence')
    print(f'      wrote {paths["bag"]} and ground truth in {out / "sequence"}', flush=True)

    model, model_note = find_model(args.model)
    print(f'[2/4] replaying the bag over DDS into the nodes ({model_note})', flush=True)
    try:
        replay = stages.run_nodes_on_bag(paths['bag'], model=model, backend=args.backend,
                                         rate=args.rate, lockstep=not args.realtime)
    except (ModelLoadError, BackendUnavailableError) as error:
        print(f'      the depth model could not be used: {error}; going on without it',
              flush=True)
        model, model_note = None, f'not run ({error})'
        replay = stages.run_nodes_on_bag(paths['bag'], model=None, rate=args.rate,
                                         lockstep=not args.realtime)
    print(f'      published {replay.published} messages in {replay.wall_s:.1f} s', flush=True)

    print('[3/4] checking the outputs against the ground truth', flush=True)
    findings = stages.evaluate(sequence, replay, model=model, model_note=model_note)
    for line in findings.lines:
        print(f'      {line}', flush=True)

    print('[4/4] writing the output bag and the report', flush=True)
    output_bag = out / OUTPUT_BAG
    bag_counts = stages.write_output_bag(replay, output_bag)
    report_paths = contents.write_report(out, sequence, findings, output_bag=output_bag,
                                         input_bag=paths['bag_dir'], bag_counts=bag_counts)
    print(f'done in {time.monotonic() - started:.0f} s. To view the output bag:', flush=True)
    for line in contents.view_commands(output_bag, paths['bag_dir']):
        print(f'      {line}', flush=True)
    print(f'output bag: {output_bag}', flush=True)
    print(f'report: {report_paths["markdown"]} and {report_paths["html"]}', flush=True)
    return 0 if findings.ok else 1
