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

"""A tool reports a user error as one line ``mono-depth-ros SUB: ...``: exit 2, no traceback."""

import os
import subprocess
import sys

import pytest

from mono_depth_ros.tools import cli, play_bag
from mono_depth_ros.tools.errors import (check_output_dir, EXIT_FAILED, EXIT_USAGE, run_tool,
                                         RunFailure, UsageError)

# (subcommand, arguments with one user error; {tmp} is a fresh directory, {file} a file in it).
USER_ERRORS = [
    ('synth', ['--out', '{file}/sequence']),
    ('synth', ['--out', '{tmp}/s', '--frames', '0']),
    ('synth', ['--frames', '10']),  # --out missing: argparse's own error
    ('export', ['--model', '{tmp}/missing.pth', '--out', '{tmp}/m.onnx', '--input-size', '15']),
    ('build-engine', ['--onnx', '{tmp}/missing.onnx']),
    ('process-bag', ['{tmp}/missing', '--out', '{tmp}/out']),
    ('process-bag', ['{tmp}', '--out', '{tmp}/out', '--mode', 'depth']),
    ('eval', ['--pred', '{tmp}/missing', '--gt', '{tmp}']),
    ('eval', ['--pred', '{tmp}', '--gt', '{tmp}', '--tolerance', 'soon']),
    ('bench', ['--dir', '{tmp}']),
    ('demo', ['--frames', '3']),
    ('demo', ['--out', '{file}/demo']),
    ('play-bag', ['{tmp}/missing.mcap']),
    ('play-bag', ['{tmp}/missing.mcap', '--rate', '-1']),
    ('train', ['--out', '{tmp}/t', '--size', '15x20']),
    ('train', ['--out', '{tmp}/t', '--data', '{tmp}/missing']),
    ('train', ['--out', '{tmp}/t']),
]


def _arguments(arguments: list[str], tmp_path) -> list[str]:
    a_file = tmp_path / 'a_file'
    a_file.write_text('not a directory')
    return [argument.format(tmp=tmp_path, file=a_file) for argument in arguments]


def _main(argv: list[str]) -> int:
    """Run the command line as the console script does (argparse exits through SystemExit)."""
    try:
        return cli.main(argv)
    except SystemExit as stop:
        return stop.code


@pytest.mark.parametrize('command,arguments', USER_ERRORS,
                         ids=[f'{command} {" ".join(arguments)}'
                              for command, arguments in USER_ERRORS])
def test_a_user_error_is_one_line_with_the_prefix_and_exit_code_2(command, arguments, tmp_path,
                                                                  capsys):
    code = _main([command, *_arguments(arguments, tmp_path)])
    captured = capsys.readouterr()
    assert code == EXIT_USAGE, captured.err
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith(f'mono-depth-ros {command}: '), lines[0]
    assert 'Traceback' not in captured.err and captured.out == ''


def test_an_unknown_subcommand_is_one_line_with_the_tool_prefix(capsys):
    assert _main(['sinth']) == EXIT_USAGE
    line, = capsys.readouterr().err.splitlines()
    assert line.startswith('mono-depth-ros: ') and "'sinth'" in line and 'synth' in line


@pytest.mark.parametrize('argv', [['synth', '--out', '/proc/nope/sequence'],
                                  ['process-bag', 'missing.mcap', '--out', 'out']],
                         ids=['synth', 'process-bag'])
def test_the_console_command_shows_no_traceback(argv, tmp_path):
    result = subprocess.run([sys.executable, '-m', 'mono_depth_ros.tools.cli', *argv],
                            capture_output=True, text=True, timeout=120, cwd=tmp_path,
                            env={**os.environ, 'PYTHONPATH': os.pathsep.join(sys.path)})
    assert result.returncode == EXIT_USAGE, result.stderr
    line, = result.stderr.splitlines()
    assert line.startswith(f'mono-depth-ros {argv[0]}: ') and 'Traceback' not in line


def test_play_bag_run_as_a_module_reports_as_mono_depth_ros_play_bag(tmp_path, capsys):
    assert play_bag.main([str(tmp_path / 'none.mcap')]) == EXIT_USAGE
    line, = capsys.readouterr().err.splitlines()
    assert line.startswith('mono-depth-ros play-bag: ') and 'none.mcap' in line


def test_run_tool_gives_runtime_failures_1_and_lets_bugs_through(capsys):
    def fails(_args):
        raise RunFailure('no frame produced output', 'frames with a camera_info')

    assert run_tool('mono-depth-ros x', fails, None) == EXIT_FAILED
    assert capsys.readouterr().err == ('mono-depth-ros x: no frame produced output '
                                       '(frames with a camera_info)\n')

    def has_a_bug(_args):
        raise KeyError('internal')

    with pytest.raises(KeyError):  # not a user error: the traceback is what a bug needs
        run_tool('mono-depth-ros x', has_a_bug, None)


def test_synth_and_process_bag_share_one_rule_for_an_existing_output(tmp_path):
    assert check_output_dir(tmp_path / 'new', overwrite=False) == tmp_path / 'new'
    assert not (tmp_path / 'new').exists()  # checking creates nothing
    (tmp_path / 'empty').mkdir()
    check_output_dir(tmp_path / 'empty', overwrite=False)
    (tmp_path / 'used').mkdir()
    (tmp_path / 'used' / 'old.txt').write_text('earlier output')
    with pytest.raises(UsageError, match='exists and is not empty.*--overwrite'):
        check_output_dir(tmp_path / 'used', overwrite=False)
    check_output_dir(tmp_path / 'used', overwrite=True)
