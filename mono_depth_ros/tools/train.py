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

"""``mono-depth-ros train``: train (or fine-tune) a depth network; ends with an ONNX model.

Supervised on sequences with ground-truth depth (``--synth-seeds``, or ``--data`` naming synth
or TUM RGB-D directories): relative inverse depth, as Depth Anything gives it. Self-supervised
on a robot's recording (``--data`` naming a rosbag2 with images, camera_info and odometry, and
the triangulation node's sparse depth where ``process-bag --mode triangulation`` added it):
metric depth. Writes ``OUT/model.onnx`` (the node's contract), ``OUT/checkpoint.safetensors``
(``--resume`` continues it; ``--init`` starts another run from it) and ``OUT/report.md`` with
``OUT/loss_curve.png``. See doc/training.md.
"""

import argparse
import shlex
import sys

from mono_depth_ros.tools.errors import log_to_stderr, prepare_output_dir, UsageError

MODES = ('auto', 'supervised', 'self-supervised')
MOTIONS = ('drive', 'forward', 'sideways', 'turning', 'stop')


def _seeds(text: str) -> list[int]:
    """Parse '1-8' or '1,3,5' (or both: '1-4,9')."""
    seeds: list[int] = []
    try:
        for part in filter(None, text.split(',')):
            if '-' in part:
                first, last = (int(value) for value in part.split('-', 1))
                seeds.extend(range(first, last + 1))
            else:
                seeds.append(int(part))
    except ValueError:
        raise argparse.ArgumentTypeError(f'{text!r}: expected seeds like 1-8 or 1,3,5') from None
    if any(seed < 0 for seed in seeds):
        raise argparse.ArgumentTypeError(f'{text!r}: seeds are non-negative')
    return seeds


def _size(text: str) -> tuple[int, int]:
    """Parse HEIGHTxWIDTH, both multiples of 14."""
    try:
        height, width = (int(value) for value in text.lower().split('x'))
    except ValueError:
        raise argparse.ArgumentTypeError(f'{text!r}: expected HEIGHTxWIDTH, e.g. 168x224') \
            from None
    if height < 28 or width < 28 or height % 14 or width % 14:
        raise argparse.ArgumentTypeError(f'{text!r}: height and width are multiples of 14, '
                                         'at least 28')
    return height, width


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the training options."""
    parser.add_argument('--out', required=True, help='output directory')
    parser.add_argument('--overwrite', action='store_true', help='replace an earlier run in OUT')
    data = parser.add_argument_group('data')
    data.add_argument('--data', action='append', default=[], metavar='DIR|BAG',
                      help='a synth/TUM RGB-D directory (ground truth) or a rosbag2 (images + '
                           'odometry); repeatable')
    data.add_argument('--depth-scale', type=float, default=5000.0,
                      help='depth PNG units per metre in --data directories (5000: TUM and '
                           'synth; 256: KITTI depth maps in a TUM-style directory)')
    data.add_argument('--synth-seeds', type=_seeds, default=[], metavar='SEEDS',
                      help='render synthetic scenes of these seeds in memory, e.g. 1-12')
    data.add_argument('--synth-frames', type=int, default=40, help='frames per scene (40)')
    data.add_argument('--synth-motions', default='drive,forward,turning,sideways',
                      help='paths rendered per seed (drive,forward,turning,sideways)')
    data.add_argument('--size', type=_size, default=(140, 182), metavar='HxW',
                      help='training resolution, multiples of 14 (140x182)')
    data.add_argument('--held-out-seeds', type=_seeds, default=[100], metavar='SEEDS',
                      help='synthetic seeds scored after training, never trained on (100)')
    data.add_argument('--held-out-frames', type=int, default=20, help='frames per held-out '
                                                                      'scene (20)')
    run = parser.add_argument_group('training')
    run.add_argument('--mode', choices=MODES, default='auto',
                     help='auto: supervised when every sequence has ground-truth depth, else '
                          'self-supervised')
    run.add_argument('--steps', type=int, default=1500, help='optimizer steps (1500)')
    run.add_argument('--batch', type=int, default=8, help='images per step (8)')
    run.add_argument('--lr', type=float, default=2e-3, help='peak learning rate (2e-3)')
    run.add_argument('--seed', type=int, default=0, help='seed of the batches and weights (0)')
    run.add_argument('--init', default=None, metavar='CHECKPOINT',
                     help='start from a checkpoint.safetensors of an earlier run, or fine-tune '
                          'a Depth Anything model (HF directory, .pth, .safetensors)')
    run.add_argument('--resume', action='store_true',
                     help='continue OUT/checkpoint.safetensors with the same options')
    run.add_argument('--checkpoint-every', type=int, default=250, help='steps (250)')
    run.add_argument('--threads', type=int, default=0,
                     help='torch CPU threads (0: torch decides)')
    run.add_argument('--quiet', action='store_true', help='no progress bar')


def run(args: argparse.Namespace) -> int:
    """Train, export and report."""
    import pathlib

    from mono_depth_ros.training.session import run_training, TrainingRequest
    from mono_depth_ros.training.trainer import TrainSettings

    motions = tuple(filter(None, args.synth_motions.split(',')))
    unknown = [motion for motion in motions if motion not in MOTIONS]
    if unknown:
        raise UsageError(f'--synth-motions {",".join(unknown)}', f'from {", ".join(MOTIONS)}')
    missing = [path for path in args.data if not pathlib.Path(path).exists()]
    if missing:
        raise UsageError(f'--data {missing[0]} does not exist',
                         'a synth/TUM RGB-D directory or a rosbag2')
    if not args.data and not args.synth_seeds:
        raise UsageError('no training data', '--data DIR|BAG or --synth-seeds SEEDS')
    if args.resume:
        out = pathlib.Path(args.out)
        if not (out / 'checkpoint.safetensors').is_file():
            raise UsageError(f'--resume: {out / "checkpoint.safetensors"} does not exist',
                             'an OUT directory with a checkpoint')
    else:
        out = prepare_output_dir(args.out, args.overwrite)
    if args.threads:
        import torch
        torch.set_num_threads(args.threads)
    mode = args.mode
    if mode == 'auto':
        mode = 'supervised' if args.synth_seeds or not args.data else _mode_of(args.data)
    settings = TrainSettings(mode=mode, steps=args.steps, batch=args.batch,
                             learning_rate=args.lr, seed=args.seed,
                             checkpoint_every=args.checkpoint_every,
                             flip=mode == 'supervised')
    log_to_stderr()
    request = TrainingRequest(
        out=pathlib.Path(out), settings=settings, data=list(args.data),
        synth_seeds=args.synth_seeds, synth_frames=args.synth_frames, synth_motions=motions,
        size=args.size, depth_scale=args.depth_scale, held_out_seeds=args.held_out_seeds,
        held_out_frames=args.held_out_frames, init=args.init, resume=args.resume,
        progress=not args.quiet and sys.stderr.isatty(),
        command='mono-depth-ros train ' + shlex.join(sys.argv[2:]))
    result = run_training(request)
    print(f'model: {result["model"]}')
    print(f'checkpoint: {result["checkpoint"]}')
    print(f'report: {result["report"]}')
    return 0


def _mode_of(paths: list[str]) -> str:
    """Return supervised when every path is a directory with depth.txt, else self-supervised."""
    import pathlib

    with_depth = [(pathlib.Path(path) / 'depth.txt').is_file() for path in paths]
    return 'supervised' if all(with_depth) else 'self-supervised'
