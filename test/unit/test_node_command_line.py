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

"""A node's command line without ROS: --help from the tables, unknown parameters named."""

import pytest

from mono_depth_ros.nodes.command_line import (given_parameters, help_text, node_name,
                                               params_file_names, ParamsFileError,
                                               split_ros_arguments,
                                               unknown_parameter_warnings, wants_help)
from mono_depth_ros.parameter_tables import DEPTH_PARAMETERS, TRIANGULATION_PARAMETERS
from mono_depth_ros.topic_tables import NODE_TOPICS


def test_ros_arguments_run_from_each_ros_args_to_the_next_double_dash():
    own, ros = split_ros_arguments(['prog', '--ros-args', '-p', 'a:=1', '--', '-h',
                                    '--ros-args', '-r', 'x:=y'])
    assert own == ['prog', '-h'] and ros == ['-p', 'a:=1', '-r', 'x:=y']
    assert wants_help(['depth_node', '--help']) and wants_help(['depth_node', '-h'])
    assert not wants_help(['depth_node', '--ros-args', '-p', 'model:=-h'])
    assert not wants_help(['depth_node', '--ros-args', '--log-level', 'debug'])


def test_the_node_name_follows_a_node_remapping():
    assert node_name(['x'], 'depth_node') == 'depth_node'
    assert node_name(['x', '--ros-args', '-r', '__node:=front'], 'depth_node') == 'front'
    assert node_name(['x', '--ros-args', '--remap', 'depth_node:__node:=front'],
                     'depth_node') == 'front'
    assert node_name(['x', '--ros-args', '-r', 'other:__node:=front'], 'depth_node') == (
        'depth_node')


def test_a_misspelt_parameter_on_the_command_line_is_named_with_the_closest_one():
    args = ['depth_node', '--ros-args', '-p', 'modle:=x', '-p', 'model:=m.onnx',
            '--param', 'modle:=again', '-p', 'use_sim_time:=true',
            '-p', 'qos_overrides./image.subscription.depth:=5', '-p', 'zzz_qq:=1',
            '-p', 'other_node:bogus:=1', '-p', 'depth_node:publish_point:=false',
            '--log-level', 'info']
    assert unknown_parameter_warnings(args, DEPTH_PARAMETERS, 'depth_node') == [
        'unknown parameter modle (did you mean model?) from the command line; ignored',
        'unknown parameter zzz_qq from the command line; ignored',
        'unknown parameter publish_point (did you mean publish_points?) from the command '
        'line; ignored']


@pytest.mark.parametrize('section', ['/**', 'depth_node', '/depth_node', '/front/depth_node',
                                     '/**/depth_node'])
def test_a_params_file_section_for_the_node_is_read(tmp_path, section):
    params = tmp_path / 'params.yaml'
    params.write_text(f'{section}:\n  ros__parameters:\n    input_size: 266\n'
                      '    modle: x\n    nested:\n      leaf: 1\n'
                      'triangulation_node:\n  ros__parameters:\n    max_features: 9\n')
    assert params_file_names(str(params), 'depth_node') == ['input_size', 'modle',
                                                            'nested.leaf']
    warnings = unknown_parameter_warnings(
        ['depth_node', '--ros-args', '--params-file', str(params)], DEPTH_PARAMETERS,
        'depth_node')
    assert warnings[0] == (f'unknown parameter modle (did you mean model?) from {params}; '
                           'ignored')
    assert len(warnings) == 2 and 'nested.leaf' in warnings[1]


def test_each_unknown_parameter_is_named_once(tmp_path):
    params = tmp_path / 'params.yaml'
    params.write_text('/**:\n  ros__parameters:\n    max_feature: 9\n')
    args = ['n', '--ros-args', '--params-file', str(params), '-p', 'max_feature:=3']
    assert given_parameters(args, 'triangulation_node') == [
        ('max_feature', str(params)), ('max_feature', 'the command line')]
    assert len(unknown_parameter_warnings(args, TRIANGULATION_PARAMETERS,
                                          'triangulation_node')) == 1


def test_a_params_file_that_cannot_be_read_is_one_clear_error(tmp_path):
    with pytest.raises(ParamsFileError, match='missing.yaml'):
        params_file_names(str(tmp_path / 'missing.yaml'), 'depth_node')
    bad = tmp_path / 'bad.yaml'
    bad.write_text('a: [unclosed\n')
    with pytest.raises(ParamsFileError, match='not YAML'):
        params_file_names(str(bad), 'depth_node')
    bad.write_text('- a list\n')
    with pytest.raises(ParamsFileError, match='ros__parameters'):
        params_file_names(str(bad), 'depth_node')


@pytest.mark.parametrize('name,specs', [('depth_node', DEPTH_PARAMETERS),
                                        ('triangulation_node', TRIANGULATION_PARAMETERS)])
def test_the_help_lists_every_parameter_and_topic_within_99_columns(name, specs):
    text = help_text(name, f'{name}: what it does.', specs, NODE_TOPICS[name])
    assert text.startswith(f'usage: {name} ')
    assert all(len(line) <= 99 for line in text.splitlines())
    for spec in specs:
        assert f'\n  {spec.name} = ' in text
        assert spec.description.split()[0] in text
    topics = NODE_TOPICS[name]
    for topic in topics.subscriptions + topics.publications:
        assert f'\n  {topic.name}  ({topic.message_type})' in text


def test_the_help_gives_defaults_choices_and_ranges():
    text = help_text('depth_node', 'depth_node.', DEPTH_PARAMETERS, NODE_TOPICS['depth_node'])
    assert '\n  backend = auto (auto, tensorrt, onnxruntime, torch)\n' in text
    assert '\n  input_size = 518 (140 to 1554, step 14)\n' in text
    assert '\n  min_depth = 0.1 (0 to 100)\n' in text
    assert "\n  engine_cache_dir = ''\n" in text
    assert '\n  publish_points = true\n' in text
    assert '\n  qos = sensor_data (sensor_data, reliable); read-only after start\n' in text
    assert 'only with scale_source:' in text


def test_a_params_file_launch_ros_wrote_with_a_list_value_is_read(tmp_path):
    """launch_ros turns list values into tuples and yaml.dump tags them !!python/tuple."""
    import yaml
    params = tmp_path / 'launch_params.yaml'
    params.write_text(yaml.dump({'/**': {'ros__parameters': {
        'camera_to_base': (0.1, 0.0, 0.3, -0.5, 0.5, -0.5, 0.5)}}}))
    assert 'python/tuple' in params.read_text()
    assert params_file_names(str(params), 'triangulation_node') == ['camera_to_base']
