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
import re
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
def test_demo_runs_the_committed_demo_model_with_fusion_and_reports_it(tmp_path):
    # Full-size images: at 320x240 too few points converge in 28 frames for the scale fit.
    result = run_demo(tmp_path / 'out', '--frames', '28', '--width', '640', '--height', '480')
    assert result.returncode == 0, result.stdout + result.stderr
    assert 'the demo model models/demo/model.onnx' in result.stdout
    last_line = result.stdout.strip().splitlines()[-1]
    assert last_line.endswith(str(tmp_path / 'out' / 'index.html'))
    assert_the_bag_and_its_view_commands_are_named(result.stdout, tmp_path / 'out')
    summary = json.loads((tmp_path / 'out' / 'summary.json').read_text())
    assert summary['round_trip']['images_exact'] == 28
    assert summary['round_trip']['camera_info_matches']
    assert summary['triangulation']['frames'] >= 5   # the node may drop frames while busy
    # The network's depth in metres from the triangulated points, and the oracle reference.
    assert summary['depth']['abs_rel'] < 0.5, summary['depth']
    assert summary['depth_oracle_aligned']['abs_rel'] < 0.3, summary['depth_oracle_aligned']
    assert any(stage.startswith('depth: ') for stage in summary['latency_ms'])
    # The dense fallback ran beside the network, scored against the truth with its sigma.
    dense = summary['dense']
    assert dense['keyframes'] >= 1 and dense['within_0.10'] > 0.3, dense
    assert 0.85 <= dense['coverage_2sigma'] <= 1.0, dense
    for name in ('report.md', 'index.html', 'figures/tracks.png', 'figures/latency.png',
                 'figures/point_clouds.png', 'figures/dense.png', 'sequence.mcap'):
        found = list((tmp_path / 'out').rglob(pathlib.Path(name).name))
        assert found, f'{name} missing'
    assert 'data:image/png;base64,' in (tmp_path / 'out' / 'index.html').read_text()
    assert_every_figure_has_a_caption(tmp_path / 'out')
    report = (tmp_path / 'out' / 'report.md').read_text()
    assert_the_bag_and_its_view_commands_are_named(report, tmp_path / 'out')
    for words in ("depth network's relative output", 'scaled by the triangulated points',
                  'error against the ground truth', "depth network's cloud", 'latency'):
        assert words in report, words
    assert_the_output_bag_holds_the_outputs(
        tmp_path / 'out' / 'output_bag',
        ['/camera/triangulation/depth', '/camera/depth/image', '/camera/points',
         '/camera/triangulation/dense/depth'])


def test_the_demo_finds_the_committed_model_and_none_turns_the_network_off():
    from mono_depth_ros.demo.stages import find_model, model_input_size

    model, note = find_model(None)
    assert model is not None and model.endswith('models/demo/model.onnx'), note
    assert 'synthetic' in note and 'not for real robots' in note
    assert model_input_size(model) == 140   # the resolution it was trained at, recorded
    assert model_input_size('depth-anything/Depth-Anything-V2-Small-hf') == 518
    assert find_model('none')[0] is None
    assert find_model('my.onnx')[0] == 'my.onnx'


def assert_every_figure_has_a_caption(out: pathlib.Path) -> None:
    lines = (out / 'report.md').read_text().splitlines()
    images = [index for index, line in enumerate(lines) if line.startswith('![')]
    assert len(images) >= 4   # three frames and the tracks at least
    for number, index in enumerate(images, start=1):
        path = re.fullmatch(r'!\[.*\]\((.*)\)', lines[index]).group(1)
        assert (out / path).is_file(), path
        assert (out / path).stat().st_size < 1_000_000, f'{path} is too large for the report'
        caption = lines[index + 2]
        assert caption.startswith(f'*Figure {number}: ') and len(caption) > 80, caption
    page = (out / 'index.html').read_text()
    assert page.count('<figcaption>') == len(images)
    assert (out / 'index.html').stat().st_size < 5_000_000


def assert_the_bag_and_its_view_commands_are_named(text: str, out: pathlib.Path) -> None:
    bag = out / 'output_bag'
    assert f'ros2 bag play {bag}' in text
    assert 'rviz2 -d ' in text and 'mono_depth.rviz' in text
    assert 'Foxglove' in text and str(bag / 'output_bag.mcap') in text
    assert f'bag_replay.launch.py bag:={out / "sequence" / "sequence"}' in text


def assert_the_output_bag_holds_the_outputs(bag: pathlib.Path, topics: list[str]) -> None:
    from mono_depth_ros.bags import open_reader

    with open_reader(bag) as reader:
        counts = {topic: count for topic, (_, count) in reader.topics.items()}
    for topic in ['/camera/image_raw', '/camera/triangulation/tracks', *topics]:
        assert counts.get(topic, 0) > 0, (topic, counts)


@pytest.mark.slow
def test_demo_with_a_model_runs_the_depth_node_too(tmp_path, tiny_onnx):
    result = run_demo(tmp_path / 'out', '--model', str(tiny_onnx))
    assert result.returncode == 0, result.stdout + result.stderr
    assert 'depth node:' in result.stdout
    summary = json.loads((tmp_path / 'out' / 'summary.json').read_text())
    assert 'depth_oracle_aligned' in summary
    assert_every_figure_has_a_caption(tmp_path / 'out')
    report = (tmp_path / 'out' / 'report.md').read_text()
    assert 'unitless' in report and '/camera/depth/relative' in report
    assert_the_output_bag_holds_the_outputs(tmp_path / 'out' / 'output_bag',
                                            ['/camera/depth/relative'])


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
