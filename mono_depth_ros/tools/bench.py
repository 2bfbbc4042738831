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

"""The ``bench`` subcommand: run the benchmarks in bench/ and print their results as JSON.

A benchmark is a file ``bench_<name>.py`` with ``run() -> dict``. The folder is the checkout's
``bench/`` (next to the package source) or, once installed, ``share/mono_depth_ros/bench``; its
other modules (``benchmark_support.py``) are what the benchmarks share and import by name.
"""

import argparse
import importlib.util
import json
import pathlib
import sys
import traceback

from mono_depth_ros.tools.errors import RunFailure, UsageError

PACKAGE_NAME = 'mono_depth_ros'
PREFIX = 'bench_'


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``bench`` options."""
    parser.add_argument('--json', action='store_true',
                        help='print only the JSON object {name: result} on stdout')
    parser.add_argument('--only', metavar='NAME', action='append',
                        help='run only bench_NAME.py (repeat for several)')
    parser.add_argument('--dir', type=pathlib.Path, default=None,
                        help='folder of bench_*.py files (default: found automatically)')
    parser.add_argument('--list', action='store_true', help='list the benchmarks and exit')


def run(args: argparse.Namespace) -> int:
    """Run the selected benchmarks; return 0 when all ran, 1 when one of them failed."""
    directory = args.dir if args.dir is not None else find_bench_directory()
    benchmarks = find_benchmarks(directory) if directory is not None else {}
    if not benchmarks:
        if args.dir is not None:
            raise UsageError(f'--dir {args.dir} holds no {PREFIX}*.py benchmarks',
                             'a folder of bench_NAME.py files')
        searched = ', '.join(str(path) for path in candidate_directories())
        raise RunFailure(f'no {PREFIX}*.py benchmarks found in: {searched}',
                         'a source checkout or an installed share/mono_depth_ros/bench')
    if args.list:
        for name, path in benchmarks.items():
            print(f'{name}\t{path}')
        return 0
    selected = benchmarks
    if args.only:
        wanted = [name.removeprefix(PREFIX).removesuffix('.py') for name in args.only]
        unknown = [name for name in wanted if name not in benchmarks]
        if unknown:
            raise UsageError(f'--only {", ".join(unknown)}: no such benchmark',
                             f'one of {", ".join(benchmarks)}')
        selected = {name: benchmarks[name] for name in wanted}
    results, failed = {}, False
    for name, path in selected.items():
        print(f'running {path.name} ...', file=sys.stderr, flush=True)
        try:
            results[name] = load_benchmark(path).run()
        except Exception as error:  # report the failure, run the rest
            traceback.print_exc(file=sys.stderr)
            results[name] = {'error': f'{type(error).__name__}: {error}'}
            failed = True
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for key, value in _flatten(results):
            print(f'{key:<48} {value}')
    return 1 if failed else 0


def candidate_directories() -> list[pathlib.Path]:
    """Return the folders searched for benchmarks, in order of preference."""
    here = pathlib.Path(__file__).resolve()
    candidates = [here.parents[2] / 'bench']   # source checkout: <root>/mono_depth_ros/tools
    try:
        from ament_index_python.packages import get_package_share_directory
        candidates.append(pathlib.Path(get_package_share_directory(PACKAGE_NAME)) / 'bench')
    except Exception:  # ament_index not installed, or the package not in any ament prefix
        pass
    candidates.append(pathlib.Path(sys.prefix) / 'share' / PACKAGE_NAME / 'bench')
    # A colcon install: <prefix>/lib/pythonX.Y/site-packages/mono_depth_ros/tools/bench.py.
    candidates.extend(parent / 'share' / PACKAGE_NAME / 'bench' for parent in here.parents)
    unique: list[pathlib.Path] = []
    for candidate in candidates:
        if candidate not in unique:
            unique.append(candidate)
    return unique


def find_bench_directory() -> pathlib.Path | None:
    """Return the first candidate folder that holds a ``bench_*.py`` file."""
    for candidate in candidate_directories():
        if candidate.is_dir() and any(candidate.glob(f'{PREFIX}*.py')):
            return candidate
    return None


def find_benchmarks(directory: pathlib.Path) -> dict[str, pathlib.Path]:
    """Return {name: path} for the ``bench_<name>.py`` files of ``directory``, sorted by name."""
    return {path.stem.removeprefix(PREFIX): path
            for path in sorted(pathlib.Path(directory).glob(f'{PREFIX}*.py'))}


def load_benchmark(path: pathlib.Path):
    """Import a benchmark file as a module (the bench folder is not a package).

    The folder goes on ``sys.path`` first, as ``python bench/bench_<name>.py`` puts it, so that
    the benchmark can import the modules beside it.
    """
    folder = str(pathlib.Path(path).resolve().parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    spec = importlib.util.spec_from_file_location(f'{PACKAGE_NAME}_bench.{path.stem}', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not callable(getattr(module, 'run', None)):
        raise AttributeError(f'{path} defines no run() -> dict')
    return module


def _flatten(value, prefix: str = ''):
    """Yield ('a.b.c', leaf) pairs of nested dicts, for the human-readable listing."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _flatten(item, f'{prefix}.{key}' if prefix else str(key))
    else:
        yield prefix, value
