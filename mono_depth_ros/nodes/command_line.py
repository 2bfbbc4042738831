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

"""A node's command line, ROS-free: ``--help`` from the tables, and unknown parameter names.

rcl reads ``--ros-args`` itself and ignores a parameter no node declares; this module reads
the same arguments (``-p``/``--param`` and ``--params-file``) only to name such parameters, and
prints the help without starting ROS.
"""

import difflib
import textwrap
from typing import Iterable

from mono_depth_ros.parameter_tables import ParameterSpec
from mono_depth_ros.topic_tables import NodeTopics, TopicSpec

HELP_FLAGS = ('-h', '--help')
HELP_WIDTH = 99
# Parameters rclpy declares on every node.
NODE_PARAMETERS = ('use_sim_time', 'start_type_description_service')
# Prefixes of parameters rclpy declares on demand (QoS overrides of publishers, subscriptions).
NODE_PARAMETER_PREFIXES = ('qos_overrides.',)
# ROS arguments that take a value, besides -p and --params-file (rcl's names).
_ROS_OPTIONS_WITH_VALUE = frozenset({'-r', '--remap', '-e', '--enclave', '--log-level',
                                     '--log-file-name', '--log-config-file'})


class ParamsFileError(ValueError):
    """A --params-file that cannot be read as ROS parameters."""


def split_ros_arguments(args: Iterable[str]) -> tuple[list[str], list[str]]:
    """Return (the node's own arguments, the ROS arguments) of a command line.

    ROS arguments run from each ``--ros-args`` to the next ``--`` or the end.
    """
    own, ros, in_ros = [], [], False
    for arg in args:
        if arg == '--ros-args':
            in_ros = True
        elif arg == '--' and in_ros:
            in_ros = False
        else:
            (ros if in_ros else own).append(arg)
    return own, ros


def wants_help(args: Iterable[str]) -> bool:
    """Return whether the node's own arguments ask for the help."""
    own, _ = split_ros_arguments(args)
    return any(arg in HELP_FLAGS for arg in own)


def _ros_options(ros_args: list[str]) -> list[tuple[str, str]]:
    """Return the (option, value) pairs of the ROS arguments; flags have no value."""
    options, index = [], 0
    while index < len(ros_args):
        option = ros_args[index]
        takes_value = option in ('-p', '--param', '--params-file') or (
            option in _ROS_OPTIONS_WITH_VALUE)
        value = ros_args[index + 1] if takes_value and index + 1 < len(ros_args) else ''
        options.append((option, value))
        index += 2 if takes_value else 1
    return options


def node_name(args: Iterable[str], default: str) -> str:
    """Return the node's name after any ``-r __node:=NAME`` remapping."""
    _, ros_args = split_ros_arguments(args)
    name = default
    for option, value in _ros_options(ros_args):
        if option in ('-r', '--remap') and ':=' in value:
            target, _, new = value.partition(':=')
            prefix, _, rule = target.rpartition(':')
            if rule == '__node' and prefix in ('', default):
                name = new
    return name


def _flatten(parameters: dict, prefix: str = '') -> list[str]:
    names = []
    for key, value in parameters.items():
        name = f'{prefix}{key}'
        names += _flatten(value, f'{name}.') if isinstance(value, dict) else [name]
    return names


def _section_is_for(section: str, name: str) -> bool:
    """Return whether a params-file section (/**, name, /ns/name, /**/name) applies to ``name``."""
    last = section.strip('/').split('/')[-1]
    return last in (name, '*', '**')


def params_file_names(path: str, name: str) -> list[str]:
    """Return the parameter names a params file gives the node ``name``, in file order.

    Raises ParamsFileError when the file cannot be read or is not a ROS parameters file.
    """
    import yaml

    class ParamsLoader(yaml.SafeLoader):
        """Safe YAML, plus the ``!!python/tuple`` that launch_ros writes for list values."""

    ParamsLoader.add_constructor('tag:yaml.org,2002:python/tuple',
                                 lambda loader, node: loader.construct_sequence(node))
    try:
        with open(path, encoding='utf-8') as stream:
            content = yaml.load(stream, Loader=ParamsLoader)
    except OSError as error:
        raise ParamsFileError(f'--params-file {path}: {error.strerror or error}') from None
    except yaml.YAMLError as error:
        raise ParamsFileError(f'--params-file {path}: not YAML ({error})'.replace('\n', ' '))
    if not isinstance(content, dict):
        raise ParamsFileError(f'--params-file {path}: expected sections of ros__parameters')
    names = []
    for section, body in content.items():
        if not (_section_is_for(str(section), name) and isinstance(body, dict)):
            continue
        parameters = body.get('ros__parameters')
        if isinstance(parameters, dict):
            names += _flatten(parameters)
    return names


def given_parameters(args: Iterable[str], name: str) -> list[tuple[str, str]]:
    """Return (parameter name, where it was given) for every parameter set on the command line.

    Raises ParamsFileError for a params file that cannot be read.
    """
    _, ros_args = split_ros_arguments(list(args))
    given = []
    for option, value in _ros_options(ros_args):
        if option in ('-p', '--param') and ':=' in value:
            target = value.partition(':=')[0]
            node, _, parameter = target.rpartition(':')
            if node in ('', name):
                given.append((parameter, 'the command line'))
        elif option == '--params-file' and value:
            given += [(parameter, value) for parameter in params_file_names(value, name)]
    return given


def unknown_parameter_warnings(args: Iterable[str], specs: Iterable[ParameterSpec],
                               name: str) -> list[str]:
    """Return one warning for each parameter given that the node does not have.

    The warning names the parameter, where it was given and, where one is close, the parameter
    meant: ``unknown parameter modle (did you mean model?) from the command line; ignored``.
    """
    known = [spec.name for spec in specs] + list(NODE_PARAMETERS)
    warnings, seen = [], set()
    for parameter, source in given_parameters(args, name):
        if (parameter in known or parameter in seen
                or parameter.startswith(NODE_PARAMETER_PREFIXES)):
            continue
        seen.add(parameter)
        close = difflib.get_close_matches(parameter, known, n=1)
        hint = f' (did you mean {close[0]}?)' if close else ''
        warnings.append(f'unknown parameter {parameter}{hint} from {source}; ignored')
    return warnings


def _value_text(value: object) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return repr(value) if not value else value
    if isinstance(value, (list, tuple)):
        return '[' + ', '.join(_value_text(item) for item in value) + ']'
    return str(value)


def _accepted(spec: ParameterSpec) -> str:
    accepted = spec.accepted_values()
    return f' ({accepted})' if accepted else ''


def _indented(text: str) -> list[str]:
    return textwrap.wrap(text, HELP_WIDTH, initial_indent=' ' * 6, subsequent_indent=' ' * 6)


def _topic_lines(topics: Iterable[TopicSpec]) -> list[str]:
    lines = []
    for topic in topics:
        when = f'; only {topic.condition}' if topic.condition else ''
        lines.append(f'  {topic.name}  ({topic.message_type})')
        lines += _indented(f'{topic.description}{when}')
    return lines


def help_text(name: str, purpose: str, specs: Iterable[ParameterSpec],
              topics: NodeTopics) -> str:
    """Return the node's --help: usage, topics and parameters with defaults and ranges."""
    lines = [f'usage: {name} [-h] [--ros-args [-p NAME:=VALUE]... [--params-file FILE]',
             f'       {" " * len(name)} [-r FROM:=TO]...]', '', purpose, '',
             'Subscribes (relative names; remap with -r NAME:=/topic):',
             *_topic_lines(topics.subscriptions), '',
             'Publishes:', *_topic_lines(topics.publications), '',
             'Parameters (-p NAME:=VALUE, or a --params-file):']
    for spec in specs:
        fixed = '; read-only after start' if spec.read_only else ''
        lines.append(f'  {spec.name} = {_value_text(spec.default)}{_accepted(spec)}{fixed}')
        lines += _indented(spec.description)
    return '\n'.join(lines) + '\n'
