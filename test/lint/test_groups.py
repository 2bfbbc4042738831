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

"""The test folders say what their tests need: test/unit collects with no ROS 2 installed."""

import pathlib
import subprocess
import sys

TEST_ROOT = pathlib.Path(__file__).resolve().parents[1]
ROS_MODULES = ('rclpy', 'rcl_interfaces', 'sensor_msgs', 'std_msgs', 'nav_msgs',
               'geometry_msgs', 'diagnostic_msgs', 'lifecycle_msgs')
# Collect test/unit with every ROS 2 module unimportable, as on a machine without ROS.
_COLLECT_WITHOUT_ROS = '''
import sys
for name in sys.argv[2:]:
    sys.modules[name] = None
import pytest
sys.exit(pytest.main(['--collect-only', '-q', '-p', 'no:cacheprovider', sys.argv[1]]))
'''


def test_unit_tests_import_no_ros():
    result = subprocess.run(
        [sys.executable, '-c', _COLLECT_WITHOUT_ROS, str(TEST_ROOT / 'unit'), *ROS_MODULES],
        cwd=TEST_ROOT.parent, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert 'error' not in result.stdout.splitlines()[-1], result.stdout[-3000:]


def test_every_test_file_sits_in_a_group_folder():
    groups = {'unit', 'ros', 'launch_tests', 'gpu', 'lint'}
    stray = [str(path.relative_to(TEST_ROOT)) for path in TEST_ROOT.rglob('test_*.py')
             if path.parent.name not in groups]
    assert not stray, f'test files outside the group folders: {stray}'
