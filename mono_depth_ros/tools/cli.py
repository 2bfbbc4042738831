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

"""The ``mono-depth-ros`` command: one subcommand per tool, each imported only when used."""

import argparse
import importlib
import sys

from mono_depth_ros.tools.errors import EXIT_USAGE, PROG, run_tool, ToolArgumentParser

# Subcommand name -> (module, one-line help). Each module defines
# ``add_arguments(parser: argparse.ArgumentParser) -> None`` and ``run(args) -> int``; errors
# are reported by :func:`mono_depth_ros.tools.errors.run_tool` as ``mono-depth-ros SUB: ...``.
SUBCOMMANDS = {
    'synth': ('mono_depth_ros.tools.synth_cli', 'write a synthetic sequence with ground truth'),
    'export': ('mono_depth_ros.tools.export', 'export a Depth Anything model to ONNX'),
    'build-engine': ('mono_depth_ros.tools.build_engine', 'build and cache a TensorRT engine'),
    'process-bag': ('mono_depth_ros.tools.process_bag', 'run the pipeline over a rosbag2 offline'),
    'eval': ('mono_depth_ros.tools.evaluate', 'depth metrics against ground truth'),
    'bench': ('mono_depth_ros.tools.bench',
              'run the benchmarks in bench/: a summary, or JSON with --json'),
    'demo': ('mono_depth_ros.tools.demo', 'the end-to-end demo (make demo)'),
    'play-bag': ('mono_depth_ros.tools.play_bag', 'play a rosbag2 over DDS (no ros2 bag needed)'),
    'train': ('mono_depth_ros.tools.train', 'train or fine-tune a depth network; ends with ONNX'),
}


def build_parser() -> argparse.ArgumentParser:
    """Return the top-level parser; subcommand arguments are added by their own modules."""
    parser = ToolArgumentParser(prog=PROG, description='Monocular depth for ROS 2: tools.')
    subparsers = parser.add_subparsers(dest='command', metavar='SUBCOMMAND')
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(_module=module_name, _prog=sub.prog)
        if name in _requested_commands():
            importlib.import_module(module_name).add_arguments(sub)
    return parser


def _requested_commands() -> set[str]:
    return {arg for arg in sys.argv[1:2] if arg in SUBCOMMANDS}


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand and return its exit code."""
    if argv is not None:
        sys.argv = [sys.argv[0], *argv]
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return EXIT_USAGE
    module = importlib.import_module(args._module)
    return run_tool(args._prog, module.run, args)


if __name__ == '__main__':
    sys.exit(main())
