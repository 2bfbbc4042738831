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

"""Test set-up: the test groups, an isolated DDS domain on loopback, the Fast DDS profile.

The tests are grouped by what they need, one folder each, and each folder is also a marker
(``pytest -m unit`` runs the ROS-free tests alone):

- ``unit/``: ROS-free (numpy, OpenCV, rosbags, ONNX Runtime, PyTorch on the CPU).
- ``ros/``: need ROS 2 (rclpy, message packages); most run real nodes over DDS on loopback.
- ``launch_tests/``: launch_testing tests of the launch files (need ros2 launch).
- ``gpu/``: CUDA, TensorRT (``make test-gpu``); they skip without a GPU.
- ``lint/``: the ament lint rules and the colcon build.
- ``support/``: helper modules the tests import (harness, model builders, stand-ins).
"""

import logging
import os
import pathlib
import random
import sys

import pytest

from mono_depth_ros.resources import fastdds_profile_environment

TEST_ROOT = pathlib.Path(__file__).resolve().parent
PACKAGE_ROOT = TEST_ROOT.parent
TEST_GROUPS = ('unit', 'ros', 'launch_tests', 'gpu', 'lint')
sys.path.insert(0, str(TEST_ROOT / 'support'))

# launch_testing's pytest plugin predates pytest 9: collect the launch tests through this adapter.
pytest_plugins = ['launch_testing_adapter']


def _configure_ros_environment() -> None:
    """Keep DDS traffic on this machine, in a domain of its own, with the large-data profile."""
    # The variable this distribution's Fast DDS reads (2 or 3), as the nodes set it themselves.
    os.environ.update(fastdds_profile_environment())
    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    if 'ROS_DOMAIN_ID' not in os.environ:
        os.environ['ROS_DOMAIN_ID'] = str(random.Random(os.getpid()).randint(1, 100))
    os.environ.setdefault('RCUTILS_COLORIZED_OUTPUT', '0')


_configure_ros_environment()


def pytest_collection_modifyitems(config, items) -> None:
    """Mark each test with its group, the folder it lives in."""
    for item in items:
        folder = pathlib.Path(str(item.fspath)).parent.name
        if folder in TEST_GROUPS:
            item.add_marker(folder)


@pytest.fixture(autouse=True)
def _package_log_level():
    """Start each test with the package logger's level unset.

    A tool run in-process (``process-bag --quiet``, also from a module fixture) sets it, which
    would hide later tests' warnings from ``caplog``.
    """
    logging.getLogger('mono_depth_ros').setLevel(logging.NOTSET)
    yield


@pytest.fixture(scope='session')
def package_root() -> pathlib.Path:
    """Return the source root of the package."""
    return PACKAGE_ROOT


def _tiny_model(make) -> pathlib.Path:
    """Build a tiny checkpoint with ``make(model_fixtures)``; skip without torch/transformers."""
    pytest.importorskip('torch')
    pytest.importorskip('transformers')
    import model_fixtures
    return pathlib.Path(make(model_fixtures))


@pytest.fixture(scope='session')
def tiny_onnx() -> pathlib.Path:
    """Return a tiny random-initialised Depth Anything (relative) exported to ONNX."""
    return _tiny_model(lambda fixtures: fixtures.make_onnx())


@pytest.fixture(scope='session')
def tiny_metric_onnx() -> pathlib.Path:
    """Return a tiny random-initialised metric Depth Anything exported to ONNX."""
    return _tiny_model(lambda fixtures: fixtures.make_onnx(depth_type='metric'))


@pytest.fixture(scope='session')
def tiny_hf_dir() -> pathlib.Path:
    """Return a tiny random-initialised Depth Anything saved as a Hugging Face directory."""
    return _tiny_model(lambda fixtures: fixtures.make_hf_dir())
