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

"""InputHealth: problem counts, throttled logs, and the diagnostic level both nodes report."""

import logging

from mono_depth_ros.ros.diagnostics import ERROR, OK, WARN
from mono_depth_ros.ros.input_health import InputHealth


def _health() -> InputHealth:
    return InputHealth(logging.getLogger('test_input_health'), ('no_pose',), throttle_s=60.0)


def test_ok_says_what_the_node_does_or_that_it_waits():
    health = _health()
    assert health.status(True, 'triangulating') == (OK, 'triangulating')
    assert health.status(False, 'triangulating') == (OK, 'waiting for images')


def test_a_problem_warns_only_while_nothing_is_published():
    health = _health()
    health.warn('no_pose', 'no pose for image 7')
    assert health.counts['no_pose'] == 1
    assert health.status(False, 'triangulating') == (WARN, 'no pose for image 7')
    assert health.status(True, 'triangulating') == (OK, 'triangulating')


def test_a_failed_frame_is_an_error_even_while_publishing():
    health = _health()
    health.failed(ValueError('bad shape'))
    assert health.status(True, 'publishing depth') == (ERROR, 'ValueError: bad shape')
