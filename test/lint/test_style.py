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

"""The ament lint rules through their pip equivalents, so the pip-only CI enforces them too."""

import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
LINTED = ['mono_depth_ros', 'test', 'bench', 'launch', 'setup.py']
LICENSE_MARKER = 'Licensed under the Apache License, Version 2.0'


def _python_sources() -> list[pathlib.Path]:
    files = []
    for entry in LINTED:
        path = ROOT / entry
        files.extend([path] if path.is_file() else sorted(path.rglob('*.py')))
    return files


def _run(tool: str) -> subprocess.CompletedProcess:
    pytest.importorskip(tool)
    targets = [entry for entry in LINTED if (ROOT / entry).exists()]
    return subprocess.run([sys.executable, '-m', tool, *targets], cwd=ROOT,
                          capture_output=True, text=True, timeout=240)


def test_sources_pass_flake8_with_the_ament_configuration():
    result = _run('flake8')
    assert result.returncode == 0, result.stdout + result.stderr


def test_sources_pass_pep257_docstring_rules():
    result = _run('pydocstyle')
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_source_file_carries_the_apache_license_header():
    missing = [str(path.relative_to(ROOT)) for path in _python_sources()
               if LICENSE_MARKER not in path.read_text(encoding='utf-8')[:1000]]
    assert not missing, f'files without the Apache-2.0 header: {missing}'
