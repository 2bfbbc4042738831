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

from dataclasses import dataclass
import math
from typing import Any, Callable, Iterable

from rcl_interfaces.msg import (FloatingPointRange, IntegerRange, ParameterDescriptor,
                                SetParametersResult)
from rclpy.exceptions import ParameterException
from rclpy.node import Node
from rclpy.parameter import Parameter


@dataclass(frozen=True)
class ParameterSpec:
    """One parameter: its default, what it means, and the values it accepts."""

    name: str
    default: Any
    description: str
    choices: tuple[str, ...] | None = None
    integer_range: tuple[int, int] | None = None
    integer_step: int = 1
    float_range: tuple[float, float] | None = None
    array_length: int | None = None
    read_only: bool = False

    def descriptor(self) -> ParameterDescriptor:
        """Return the ROS descriptor, with the range or choices spelled out."""
        descriptor = ParameterDescriptor(name=self.name, description=self.description,
                                         read_only=self.read_only)
        if self.choices:
            descriptor.additional_constraints = 'one of: ' + ', '.join(self.choices)
        if self.array_length:
            descriptor.additional_constraints = f'exactly {self.array_length} values'
        if self.integer_range:
            descriptor.integer_range = [IntegerRange(
                from_value=self.integer_range[0], to_value=self.integer_range[1],
                step=self.integer_step)]
        if self.float_range:
            descriptor.floating_point_range = [FloatingPointRange(
                from_value=float(self.float_range[0]), to_value=float(self.float_range[1]),
                step=0.0)]
        return descriptor

    def problem(self, value: Any) -> str | None:
        """Return what is wrong with ``value`` for this parameter, or None when it is fine."""
        if self.choices and value not in self.choices:
            return f'{self.name} = {value!r} (expected one of {", ".join(self.choices)})'
        if self.integer_range:
            low, high = self.integer_range
            if not (low <= value <= high and (value - low) % self.integer_step == 0):
                step = f' in steps of {self.integer_step}' if self.integer_step > 1 else ''
                return f'{self.name} = {value!r} (expected an integer in [{low}, {high}]{step})'
        if self.float_range:
            low, high = self.float_range
            if not (math.isfinite(value) and low <= value <= high):
                return f'{self.name} = {value!r} (expected a number in [{low}, {high}])'
        if self.array_length is not None:
            values = list(value)
            if len(values) != self.array_length or not all(math.isfinite(v) for v in values):
                return (f'{self.name} = {values!r} '
                        f'(expected {self.array_length} finite numbers)')
        return None


def declare_parameters(node: Node, specs: Iterable[ParameterSpec]) -> dict[str, Any]:
    """Declare every parameter with its descriptor; return the values in force after overrides.

    Raises ValueError naming the parameter when an override is not acceptable.
    """
    values = {}
    for spec in specs:
        try:
            parameter = node.declare_parameter(spec.name, spec.default, spec.descriptor())
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
