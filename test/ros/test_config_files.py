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

"""config/: the parameter profiles fit the nodes' declared parameters; RViz shows their topics."""

import pytest
from rclpy.parameter import Parameter
import yaml

from mono_depth_ros.launch_support import PARAMS_PROFILES, RVIZ_IMAGE_TOPIC
from mono_depth_ros.nodes import depth_node, triangulation_node
from mono_depth_ros.ros.graph import ros_context
from mono_depth_ros.synth import FRAME_IDS

NODE_SECTIONS = {'/**/depth_node': depth_node.PARAMETERS,
                 '/**/triangulation_node': triangulation_node.PARAMETERS}
# What each profile is for (issue 6): backend, precision and the sizes that set its cost.
PROFILE_CHOICES = {
    'desktop_gpu': {'backend': 'tensorrt', 'precision': 'fp16', 'input_size': (518,)},
    'jetson_orin': {'backend': 'tensorrt', 'precision': 'fp16', 'input_size': (308, 364),
                    'points_stride': (2,)},
    'cpu': {'backend': 'onnxruntime', 'precision': 'fp32', 'input_size': (266, 308),
            'points_stride': (4,)},
}
# The depth node needs a model that loads here; the rest of each profile is taken as written.
DEPTH_NODE_HERE = ('model', 'backend', 'device')


def _profile(package_root, name: str) -> dict:
    return yaml.safe_load((package_root / 'config' / f'{name}.yaml').read_text())


@pytest.mark.parametrize('profile', PARAMS_PROFILES)
def test_every_key_is_a_declared_parameter_with_a_valid_value_of_its_type(package_root, profile):
    document = _profile(package_root, profile)
    assert set(document) == set(NODE_SECTIONS)
    for section, specs in NODE_SECTIONS.items():
        by_name = {spec.name: spec for spec in specs}
        parameters = document[section]['ros__parameters']
        assert set(parameters) - set(by_name) == set(), f'{profile} {section}: undeclared'
        for name, value in parameters.items():
            spec = by_name[name]
            assert (Parameter.Type.from_parameter_value(value)
                    == Parameter.Type.from_parameter_value(spec.default)), f'{name} = {value!r}'
            assert spec.problem(value) is None


@pytest.mark.parametrize('profile', PARAMS_PROFILES)
def test_each_profile_sets_the_backend_and_sizes_of_its_hardware(package_root, profile):
    depth = _profile(package_root, profile)['/**/depth_node']['ros__parameters']
    choices = PROFILE_CHOICES[profile]
    assert (depth['backend'], depth['precision']) == (choices['backend'], choices['precision'])
    assert depth['input_size'] in choices['input_size'] and depth['input_size'] % 14 == 0
    assert depth['points_stride'] in choices.get('points_stride', (depth['points_stride'],))
    assert depth['allow_download'] is False


@pytest.mark.parametrize('profile', PARAMS_PROFILES)
def test_both_nodes_start_in_the_camera_namespace_with_the_profile_values(package_root, profile,
                                                                          tiny_onnx):
    path = package_root / 'config' / f'{profile}.yaml'
    document = _profile(package_root, profile)
    here = ['-p', f'model:={tiny_onnx}', '-p', 'backend:=onnxruntime', '-p', 'device:=cpu']
    with ros_context() as context:
        for node_class, section, extra in (
                (triangulation_node.TriangulationNode, '/**/triangulation_node', []),
                (depth_node.DepthNode, '/**/depth_node', here)):
            node = node_class(context=context, namespace='camera',
                              cli_args=['--ros-args', '--params-file', str(path), *extra])
            try:
                for name, value in document[section]['ros__parameters'].items():
                    if not extra or name not in DEPTH_NODE_HERE:
                        got = node.get_parameter(name).value
                        assert (list(got) if isinstance(value, list) else got) == value, name
            finally:
                node.destroy_node()


def _published_topics(tiny_onnx) -> set[str]:
    with ros_context() as context:
        nodes = [triangulation_node.TriangulationNode(context=context, namespace='camera'),
                 depth_node.DepthNode(context=context, namespace='camera', parameter_overrides=[
                     Parameter('model', value=str(tiny_onnx)),
                     Parameter('backend', value='onnxruntime'),
                     Parameter('device', value='cpu')])]
        try:
            return {publisher.topic_name for node in nodes for publisher in node.publishers}
        finally:
            for node in nodes:
                node.destroy_node()


def test_rviz_config_shows_the_camera_and_the_nodes_outputs_best_effort(package_root,
                                                                        tiny_onnx):
    config = yaml.safe_load((package_root / 'config' / 'mono_depth.rviz').read_text())
    manager = config['Visualization Manager']
    assert manager['Global Options']['Fixed Frame'] == FRAME_IDS['camera']
    displays = {(display['Class'].rsplit('/', 1)[-1], display['Topic']['Value']): display
                for display in manager['Displays']}
    assert set(displays) == {
        ('Image', RVIZ_IMAGE_TOPIC), ('Image', '/camera/depth/colored'),
        ('PointCloud2', '/camera/points'), ('PointCloud2', '/camera/triangulation/points'),
        ('Image', '/camera/triangulation/tracks')}
    assert displays[('PointCloud2', '/camera/points')]['Color Transformer'] == 'RGB8'
    assert (displays[('PointCloud2', '/camera/triangulation/points')]['Color Transformer']
            == 'FlatColor')
    for display in displays.values():
        assert display['Topic']['Reliability Policy'] == 'Best Effort'
    outputs = {topic for _, topic in displays} - {RVIZ_IMAGE_TOPIC}
    assert outputs <= _published_topics(tiny_onnx)
