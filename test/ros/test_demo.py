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

"""The demo (make demo) runs end to end from the console script and writes a report."""

import json
import os
import pathlib
import subprocess
import sys

import pytest

DEMO = [sys.executable, '-m', 'mono_depth_ros.tools.cli', 'demo', '--frames', '24',
        '--width', '320', '--height', '240']


def run_demo(out: pathlib.Path, *extra: str) -> subprocess.CompletedProcess:
    # The demo picks a DDS domain of its own when ROS_DOMAIN_ID is unset, as for a user.
    env = {key: value for key, value in os.environ.items() if key != 'ROS_DOMAIN_ID'}
    return subprocess.run([*DEMO, '--out', str(out), *extra], capture_output=True, text=True,
                          timeout=300, env=env)


@pytest.mark.slow
def test_demo_without_a_model_says_what_it_looked_for_and_still_reports(tmp_path, monkeypatch):
    monkeypatch.setenv('HF_HUB_CACHE', str(tmp_path / 'empty_cache'))
    result = run_demo(tmp_path / 'out')
    assert result.returncode == 0, result.stdout + result.stderr
    assert 'no depth model: looked for depth-anything/Depth-Anything-V2-Small-hf' in result.stdout
    last_line = result.stdout.strip().splitlines()[-1]
    assert last_line.endswith(str(tmp_path / 'out' / 'index.html'))
    summary = json.loads((tmp_path / 'out' / 'summary.json').read_text())
    assert summary['round_trip']['images_exact'] == 24
    assert summary['round_trip']['camera_info_matches']
    assert summary['triangulation']['frames'] >= 5   # the node may drop frames while busy
    for name in ('report.md', 'index.html', 'figures/contact_sheet.png', 'sequence.mcap'):
        found = list((tmp_path / 'out').rglob(pathlib.Path(name).name))
        assert found, f'{name} missing'
    assert 'data:image/png;base64,' in (tmp_path / 'out' / 'index.html').read_text()


@pytest.mark.slow
def test_demo_with_a_model_runs_the_depth_node_too(tmp_path, tiny_onnx):
    result = run_demo(tmp_path / 'out', '--model', str(tiny_onnx))
    assert result.returncode == 0, result.stdout + result.stderr
    assert 'depth node:' in result.stdout
    summary = json.loads((tmp_path / 'out' / 'summary.json').read_text())
    assert 'depth_oracle_aligned' in summary


def test_demo_refuses_too_few_frames_in_one_line(tmp_path, capsys):
    from mono_depth_ros.tools import cli

    with pytest.raises(SystemExit) as exited:
        cli.main(['demo', '--frames', '5', '--out', str(tmp_path / 'out')])
    assert exited.value.code == 2
    assert 'at least 20 are needed' in capsys.readouterr().err
    assert not (tmp_path / 'out').exists()


def test_realtime_plays_at_the_recorded_speed_unless_a_rate_is_given():
    from mono_depth_ros.tools.demo import replay_rate

    assert replay_rate(None, realtime=True) == 1.0  # as ros2 bag play
    assert replay_rate(None, realtime=False) == 0.5  # lockstep: room for the nodes
    assert replay_rate(2.0, realtime=True) == 2.0
