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

"""Collect launch_testing tests where launch_testing's own pytest plugin is not loaded.

launch_testing installs a pytest plugin (an entry point) that turns a module whose
``generate_test_description`` is marked ``launch_test`` into one launch test. That plugin is
missing when launch_testing comes from a source checkout on PYTHONPATH, and it cannot load
under pytest 9 (its collection hook takes the ``path`` argument pytest 9 removed). In those
cases this plugin collects such modules with launch_testing's own collector; wherever the real
plugin is loaded, or launch_testing is not installed, it does nothing.
"""

import importlib.util
import pathlib

import pytest

_ENTRYPOINT = 'generate_test_description'
_enabled = False


def _launch_testing_installed() -> bool:
    try:
        return importlib.util.find_spec('launch_testing') is not None
    except (ImportError, ValueError):
        return False


def pytest_addoption(parser, pluginmanager) -> None:
    """Take over from launch_testing's plugin when it is not loaded; add its option."""
    global _enabled
    _enabled = _launch_testing_installed() and not pluginmanager.has_plugin('launch_testing')
    if _enabled:
        parser.addoption('--launch-args', action='append', nargs='*', default=[],
                         help='launch arguments for the launch tests')


def pytest_configure(config) -> None:
    """Declare launch_testing's marker."""
    if _enabled:
        config.addinivalue_line(
            'markers', 'launch_test: a generate_test_description that is a launch test')


def _make_module(module_path: pathlib.Path, parent):
    """Return launch_testing's collector for a launch test module, else None."""
    if not _enabled or _ENTRYPOINT not in module_path.read_text(encoding='utf-8'):
        return None
    from launch_testing.pytest import hooks

    try:
        entrypoint = hooks.find_launch_test_entrypoint(module_path)
    except pytest.skip.Exception:
        return None  # pytest imports the module again and reports the skip
    if entrypoint is None:
        return None
    return hooks.pytest_launch_collect_makemodule(path=module_path, parent=parent,
                                                  entrypoint=entrypoint)


# The hook's path argument is module_path (pathlib) from pytest 7 on, path (py.path) before;
# pytest refuses a hook whose argument names it does not know (Ubuntu 22.04 has pytest 6.2).
if int(pytest.__version__.split('.')[0]) >= 7:
    def pytest_pycollect_makemodule(module_path: pathlib.Path, parent):
        """Return launch_testing's collector for a launch test module, else None."""
        return _make_module(pathlib.Path(module_path), parent)
else:
    def pytest_pycollect_makemodule(path, parent):
        """Return launch_testing's collector for a launch test module, else None."""
        return _make_module(pathlib.Path(str(path)), parent)
