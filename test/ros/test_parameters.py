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

"""Parameters are declared with descriptors and ranges, and bad values are refused by name."""

import pytest
from rcl_interfaces.msg import ParameterType
from rclpy.node import Node
from rclpy.parameter import Parameter

from mono_depth_ros.ros.graph import ros_context
from mono_depth_ros.ros.parameters import (declare_parameters, parameter_validator,
                                           ParameterSpec, watch_parameters)

SPECS = (
    ParameterSpec('backend', 'auto', 'backend', choices=('auto', 'onnxruntime')),
    ParameterSpec('points_stride', 2, 'stride', integer_range=(1, 16)),
    ParameterSpec('max_depth', 20.0, 'range', float_range=(0.1, 100.0)),
    ParameterSpec('camera_to_base', [0.0] * 6 + [1.0], 'pose', array_length=7),
)


@pytest.fixture
def node():
    with ros_context() as context:
        test_node = Node('parameter_test', context=context)
        yield test_node
        test_node.destroy_node()


def test_declared_parameters_carry_descriptions_and_ranges(node):
    values = declare_parameters(node, SPECS)
    assert values['points_stride'] == 2
    descriptor = node.describe_parameter('points_stride')
    assert descriptor.type == ParameterType.PARAMETER_INTEGER
    integer_range = descriptor.integer_range[0]
    assert (integer_range.from_value, integer_range.to_value) == (1, 16)
    assert 'auto' in node.describe_parameter('backend').additional_constraints


def test_values_outside_the_spec_are_refused_with_the_reason(node):
    declare_parameters(node, SPECS)
    node.add_on_set_parameters_callback(parameter_validator(SPECS))
    refused = node.set_parameters([Parameter('backend', value='cuda-magic')])[0]
    assert not refused.successful
    assert "backend = 'cuda-magic'" in refused.reason
    assert not node.set_parameters([Parameter('points_stride', value=40)])[0].successful
    assert not node.set_parameters([Parameter('camera_to_base', value=[0.0] * 3)])[0].successful
    assert node.set_parameters([Parameter('points_stride', value=4)])[0].successful
    assert node.get_parameter('points_stride').value == 4


def test_an_override_outside_the_spec_fails_at_start():
    with ros_context(['--ros-args', '-p', 'backend:=nonsense']) as context:
        test_node = Node('parameter_override_test', context=context)
        try:
            with pytest.raises(ValueError, match='backend'):
                declare_parameters(test_node, SPECS)
        finally:
            test_node.destroy_node()


class _HumbleNode:
    """A node with Humble's parameter callbacks: on-set only, no post-set."""

    def __init__(self):
        self.callbacks = []

    def add_on_set_parameters_callback(self, callback):
        self.callbacks.append(callback)


@pytest.mark.parametrize('value, applied', [(4, True), (99, False)])
def test_changes_are_applied_only_after_their_check_also_without_post_set_callbacks(
        value, applied):
    humble = _HumbleNode()
    seen = []
    watch_parameters(humble, SPECS, lambda changes: None, seen.append)
    (callback,) = humble.callbacks
    result = callback([Parameter('points_stride', value=value)])
    assert result.successful is applied
    assert bool(seen) is applied


def test_changes_refused_by_the_check_are_not_applied_with_post_set_callbacks(node):
    declare_parameters(node, SPECS)
    seen = []
    watch_parameters(node, SPECS, lambda changes: 'no' if changes.get('backend') == 'onnxruntime'
                     else None, seen.append)
    assert not node.set_parameters([Parameter('backend', value='onnxruntime')])[0].successful
    assert node.set_parameters([Parameter('points_stride', value=3)])[0].successful
    assert [[p.name for p in parameters] for parameters in seen] == [['points_stride']]
