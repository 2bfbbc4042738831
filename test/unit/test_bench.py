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

"""The ``bench`` subcommand: finding bench/bench_*.py, running them, printing one JSON object."""

import argparse
import json

from mono_depth_ros.tools import bench
from mono_depth_ros.tools.errors import run_tool


def _run(capsys, *argv: str) -> tuple[int, str]:
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    code = run_tool('mono-depth-ros bench', bench.run, parser.parse_args(list(argv)))
    return code, capsys.readouterr().out


def test_the_checkout_bench_folder_is_found(package_root):
    assert bench.find_bench_directory() == package_root / 'bench'
    assert 'core' in bench.find_benchmarks(package_root / 'bench')


def test_core_benchmark_prints_point_cloud_and_decode_results_as_json(capsys):
    code, out = _run(capsys, '--json', '--only', 'core')
    assert code == 0
    result = json.loads(out)['core']
    for variant in ('xyz', 'xyzrgb'):
        cloud = result['pointcloud'][variant]
        assert cloud['build_ms'] > 0 and cloud['copy_ms'] > 0
        assert isinstance(cloud['goal_met'], bool)
    assert result['pointcloud']['xyzrgb']['bytes'] == 640 * 480 * 16
    assert set(result['decode']) >= {'bgr8_to_rgb8', 'rgb8_to_rgb8', 'mono16_to_rgb8',
                                     'jpeg_to_rgb8'}


def test_a_failing_benchmark_is_reported_and_the_others_still_run(tmp_path, capsys):
    (tmp_path / 'bench_good.py').write_text('def run():\n    return {"value": 1}\n')
    (tmp_path / 'bench_bad.py').write_text('def run():\n    raise RuntimeError("boom")\n')
    code, out = _run(capsys, '--json', '--dir', str(tmp_path))
    assert code == 1
    assert json.loads(out) == {'bad': {'error': 'RuntimeError: boom'}, 'good': {'value': 1}}


def test_unknown_benchmark_names_are_refused(tmp_path, capsys):
    (tmp_path / 'bench_good.py').write_text('def run():\n    return {}\n')
    assert _run(capsys, '--dir', str(tmp_path), '--only', 'missing')[0] == 2
