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

"""The ROS workspace path: colcon installs what `ros2 run` and `ros2 launch` need."""

import os
import pathlib
import shutil
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_colcon_build_installs_executables_launch_files_and_config(tmp_path):
    colcon = shutil.which('colcon') or str(pathlib.Path(os.sys.executable).with_name('colcon'))
    if not pathlib.Path(colcon).exists():
        pytest.skip('colcon is not installed')
    source = tmp_path / 'src'
    source.mkdir()
    (source / 'mono_depth_ros').symlink_to(ROOT, target_is_directory=True)
    result = subprocess.run(
        [colcon, '--log-base', str(tmp_path / 'log'), 'build', '--base-paths', str(source),
         '--build-base', str(tmp_path / 'build'), '--install-base', str(tmp_path / 'install')],
        cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    prefix = tmp_path / 'install' / 'mono_depth_ros'
    for executable in ('depth_node', 'triangulation_node', 'mono-depth-ros', 'play_bag',
                       'depth_lifecycle_node', 'triangulation_lifecycle_node'):
        path = prefix / 'lib' / 'mono_depth_ros' / executable
        assert path.is_file() and os.access(path, os.X_OK), f'{path} missing or not executable'
    share = prefix / 'share' / 'mono_depth_ros'
    assert (share / 'package.xml').is_file()
    assert (share / 'config' / 'fastdds_large_data.xml').is_file()
    index = prefix / 'share' / 'ament_index' / 'resource_index' / 'packages'
    assert (index / 'mono_depth_ros').is_file()
    launch_sources = sorted(p.name for p in (ROOT / 'launch').glob('*.launch.py'))
    assert sorted(p.name for p in (share / 'launch').glob('*.launch.py')) == launch_sources
