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

"""synth -> process-bag -> eval on their defaults, as the README runs them (rosbags, no ROS)."""

import json

import pytest

from mono_depth_ros.tools import cli

pytest.importorskip('rosbags')


def test_synth_then_process_bag_then_eval_work_with_no_other_options(tmp_path, capsys):
    synth, processed = tmp_path / 'S', tmp_path / 'O'
    # Small frames keep it quick (enough of them for tracks to converge with honest sigmas);
    # everything else is each tool's default.
    assert cli.main(['synth', '--out', str(synth), '--frames', '60', '--width', '320',
                     '--height', '240']) == 0
    assert cli.main(['process-bag', str(synth / 'sequence'), '--out', str(processed)]) == 0
    capsys.readouterr()

    assert cli.main(['eval', '--pred-bag', str(processed), '--gt', str(synth)]) == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out)  # stdout is exactly one JSON object
    assert 'per_frame' not in summary
    assert summary['pred'].endswith('/camera/triangulation/depth')
    assert 'mono-depth-ros eval: scoring /camera/triangulation/depth' in captured.err
    assert summary['frames_scored'] > 0 and summary['matched_by'] == 'stamp'
    assert summary['metrics']['abs_rel'] < 0.2  # triangulated from exact poses

    # The same output again is refused, as synth refuses it; --overwrite replaces it.
    again = ['process-bag', str(synth / 'sequence'), '--out', str(processed), '--quiet']
    assert cli.main(again) == 2
    assert 'exists and is not empty' in capsys.readouterr().err
    assert cli.main([*again, '--overwrite']) == 0
