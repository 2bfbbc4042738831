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

"""Declare node parameters once, with descriptors and ranges, and validate every change."""

from typing import Any, Callable, Iterable

from rcl_interfaces.msg import (FloatingPointRange, IntegerRange, ParameterDescriptor,
                                SetParametersResult)
from rclpy.exceptions import ParameterException
from rclpy.node import Node
from rclpy.parameter import Parameter

from mono_depth_ros.parameter_tables import ParameterSpec


def descriptor(spec: ParameterSpec) -> ParameterDescriptor:
    """Return the ROS descriptor, with the range or choices spelled out."""
    descriptor = ParameterDescriptor(name=spec.name, description=spec.description,
                                     read_only=spec.read_only)
    if spec.choices:
        descriptor.additional_constraints = 'one of: ' + ', '.join(spec.choices)
    if spec.array_length:
        descriptor.additional_constraints = f'exactly {spec.array_length} values'
    if spec.integer_range:
        descriptor.integer_range = [IntegerRange(
            from_value=spec.integer_range[0], to_value=spec.integer_range[1],
            step=spec.integer_step)]
    if spec.float_range:
        descriptor.floating_point_range = [FloatingPointRange(
            from_value=float(spec.float_range[0]), to_value=float(spec.float_range[1]),
            step=0.0)]
    return descriptor


def declare_parameters(node: Node, specs: Iterable[ParameterSpec]) -> dict[str, Any]:
    """Declare every parameter with its descriptor; return the values in force after overrides.

    Raises ValueError naming the parameter when an override is not acceptable.
    """
    values = {}
    for spec in specs:
        try:
            parameter = node.declare_parameter(spec.name, spec.default, descriptor(spec))
        except ParameterException as error:
            raise ValueError(f'parameter {spec.name}: {error}') from None
        value = parameter.value
        problem = spec.problem(value)
        if problem:
            raise ValueError(f'parameter {problem}')
        values[spec.name] = value
    return values


def parameter_validator(
        specs: Iterable[ParameterSpec],
        extra_check: Callable[[dict[str, Any]], str | None] | None = None,
) -> Callable[[list[Parameter]], SetParametersResult]:
    """Return an on-set-parameters callback that refuses values outside each spec."""
    by_name = {spec.name: spec for spec in specs}

    def validate(parameters: list[Parameter]) -> SetParametersResult:
        changes = {}
        for parameter in parameters:
            spec = by_name.get(parameter.name)
            if spec is None:
                continue
            problem = spec.problem(parameter.value)
            if problem:
                return SetParametersResult(successful=False, reason=problem)
            changes[parameter.name] = parameter.value
        if extra_check is not None:
            problem = extra_check(changes)
            if problem:
                return SetParametersResult(successful=False, reason=problem)
        return SetParametersResult(successful=True)

    return validate


def watch_parameters(node: Node, specs: Iterable[ParameterSpec],
                     check: Callable[[dict[str, Any]], str | None],
                     apply: Callable[[list[Parameter]], None]) -> None:
    """Validate parameter changes in the on-set callback and apply them after it.

    ``check`` says cheaply why a change is refused (or None); ``apply`` takes the accepted
    parameters. Iron and later run ``apply`` as a post-set callback, once the values are set;
    Humble's rclpy has no post-set callbacks, so there ``apply`` runs at the end of the on-set
    callback, after every check has passed.
    """
    validate = parameter_validator(specs, check)
    if hasattr(node, 'add_post_set_parameters_callback'):
        node.add_on_set_parameters_callback(validate)
        node.add_post_set_parameters_callback(apply)
        return

    def validate_then_apply(parameters: list[Parameter]) -> SetParametersResult:
        result = validate(parameters)
        if result.successful:
            apply(parameters)
        return result

    node.add_on_set_parameters_callback(validate_then_apply)
