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

"""The Nav2 costmap files in config/ load and use only parameter names Nav2 and STVL declare.

The name lists below were read from the sources (no Nav2 here to ask), keeping the names both
Jazzy and Kilted declare, so the files work on both:
- ros-navigation/navigation2 branch jazzy f4108e5b1c2bce804a1aa0c7be6673a8eb4a1501 and kilted
  71a1d84f49dc48e226c96619188ee12054824ff3: nav2_costmap_2d/src/costmap_2d_ros.cpp
  (declare_parameter), nav2_costmap_2d/plugins/obstacle_layer.cpp, voxel_layer.cpp,
  inflation_layer.cpp, static_layer.cpp (declareParameter, layer-level and ``source + "."``).
- SteveMacenski/spatio_temporal_voxel_layer branch ros2
  403d9ed769e78beec4c6ec437a1143943e2a4630:
  spatio_temporal_voxel_layer/src/spatio_temporal_voxel_layer.cpp (declareParameter). Its
  example YAML sets ``origin_z``, which the layer never declares: not accepted here.
"""

import pathlib

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
NAV2_FILES = ('config/nav2_costmap_voxel.yaml', 'config/nav2_costmap_stvl.yaml')
FILTERED_TOPIC = 'points/filtered'

COSTMAP_PARAMETERS = {
    'always_send_full_costmap', 'filters', 'footprint', 'footprint_padding', 'global_frame',
    'height', 'initial_transform_timeout', 'lethal_cost_threshold', 'map_vis_z',
    'observation_sources', 'origin_x', 'origin_y', 'plugins', 'publish_frequency', 'resolution',
    'robot_base_frame', 'robot_radius', 'rolling_window', 'track_unknown_space',
    'transform_tolerance', 'trinary_costmap', 'unknown_cost_value', 'update_frequency',
    'use_maximum', 'use_sim_time', 'width'}
OBSTACLE_LAYER = {'enabled', 'footprint_clearing_enabled', 'min_obstacle_height',
                  'max_obstacle_height', 'combination_method', 'observation_sources'}
OBSTACLE_SOURCE = {'topic', 'sensor_frame', 'observation_persistence', 'expected_update_rate',
                   'data_type', 'min_obstacle_height', 'max_obstacle_height', 'inf_is_valid',
                   'marking', 'clearing', 'obstacle_max_range', 'obstacle_min_range',
                   'raytrace_max_range', 'raytrace_min_range'}
VOXEL_LAYER = OBSTACLE_LAYER | {'z_voxels', 'origin_z', 'z_resolution', 'unknown_threshold',
                                'mark_threshold', 'publish_voxel_map'}
STVL_LAYER = {'observation_sources', 'transform_tolerance', 'enabled', 'publish_voxel_map',
              'voxel_size', 'combination_method', 'mark_threshold', 'update_footprint_enabled',
              'track_unknown_space', 'decay_model', 'voxel_decay', 'mapping_mode',
              'map_save_duration'}
STVL_SOURCE = {'topic', 'sensor_frame', 'observation_persistence', 'expected_update_rate',
               'data_type', 'min_obstacle_height', 'max_obstacle_height', 'inf_is_valid',
               'marking', 'clearing', 'obstacle_range', 'min_z', 'max_z', 'vertical_fov_angle',
               'vertical_fov_padding', 'horizontal_fov_angle', 'decay_acceleration', 'filter',
               'voxel_min_points', 'clear_after_reading', 'enabled', 'model_type'}
# plugin type -> (layer-level names, per-observation-source names or None)
LAYERS = {
    'nav2_costmap_2d::ObstacleLayer': (OBSTACLE_LAYER, OBSTACLE_SOURCE),
    'nav2_costmap_2d::VoxelLayer': (VOXEL_LAYER, OBSTACLE_SOURCE),
    'nav2_costmap_2d::InflationLayer': ({'enabled', 'inflation_radius', 'cost_scaling_factor',
                                         'inflate_unknown', 'inflate_around_unknown'}, None),
    'nav2_costmap_2d::StaticLayer': ({'enabled', 'subscribe_to_updates',
                                      'map_subscribe_transient_local', 'transform_tolerance',
                                      'map_topic', 'footprint_clearing_enabled'}, None),
    'spatio_temporal_voxel_layer/SpatioTemporalVoxelLayer': (STVL_LAYER, STVL_SOURCE),
}


def _costmaps(relative_path: str | None, document: dict | None = None) -> dict[str, dict]:
    """Return {costmap node: ros__parameters} of a file (``name: name: ros__parameters``)."""
    if document is None:
        document = yaml.safe_load((ROOT / relative_path).read_text(encoding='utf-8'))
    costmaps = {}
    for outer, inner in document.items():
        for name, section in inner.items():
            if name.endswith('costmap'):  # other nodes of Nav2's file are not checked here
                costmaps[f'{outer}/{name}'] = section['ros__parameters']
    return costmaps


def _layers(parameters: dict):
    """Yield (layer name, plugin type, layer parameters) for each plugin of a costmap."""
    for layer in parameters['plugins']:
        section = parameters[layer]
        yield layer, section['plugin'], section


def _camera_sources(costmap: dict):
    """Yield (layer type, source parameters) for each source that reads points/filtered."""
    for _, plugin, section in _layers(costmap):
        for source in str(section.get('observation_sources', '')).split():
            if str(section[source]['topic']).endswith(FILTERED_TOPIC):
                yield plugin, section[source]


def _assert_nav2_names(relative_path: str, costmaps: dict[str, dict]) -> None:
    for costmap, parameters in costmaps.items():
        layer_names = set(parameters['plugins'])
        unknown = set(parameters) - COSTMAP_PARAMETERS - layer_names
        assert not unknown, f'{relative_path} {costmap}: not costmap parameters: {unknown}'
        for layer, plugin, section in _layers(parameters):
            assert plugin in LAYERS, f'{relative_path} {costmap}.{layer}: plugin {plugin}'
            layer_parameters, source_parameters = LAYERS[plugin]
            sources = set(str(section.get('observation_sources', '')).split())
            unknown = set(section) - layer_parameters - sources - {'plugin'}
            assert not unknown, f'{relative_path} {costmap}.{layer}: unknown {unknown}'
            for source in sources:
                assert source_parameters is not None
                unknown = set(section[source]) - source_parameters
                assert not unknown, f'{relative_path} {costmap}.{layer}.{source}: {unknown}'


@pytest.mark.parametrize('relative_path', NAV2_FILES)
def test_every_key_is_a_parameter_nav2_or_stvl_declares(relative_path):
    _assert_nav2_names(relative_path, _costmaps(relative_path))


@pytest.mark.parametrize('relative_path', NAV2_FILES)
def test_the_camera_only_marks_from_points_filtered_with_heights_and_a_rate(relative_path):
    seen = 0
    for costmap in _costmaps(relative_path).values():
        for plugin, source in _camera_sources(costmap):
            seen += 1
            assert source['data_type'] == 'PointCloud2'
            assert source['marking'] is True and source['clearing'] is False, (
                'monocular depth never clears what another sensor marked')
            assert 0.0 <= source['min_obstacle_height'] < source['max_obstacle_height']
            assert source['expected_update_rate'] > 0.0
            max_range = 'obstacle_range' if plugin.startswith('spatio') else 'obstacle_max_range'
            assert 0.0 < source[max_range] <= 10.0
    assert seen, f'{relative_path} has no source on {FILTERED_TOPIC}'


def test_the_camera_layer_of_its_own_combines_by_maximum_and_decays():
    costmap = _costmaps('config/nav2_costmap_stvl.yaml')['local_costmap/local_costmap']
    stvl = [section for _, plugin, section in _layers(costmap) if plugin.startswith('spatio')]
    assert len(stvl) == 1
    assert stvl[0]['combination_method'] == 1, 'max: the camera can only add cost'
    assert stvl[0]['voxel_decay'] > 0.0 and stvl[0]['decay_model'] == 0


@pytest.mark.parametrize('costmap', ['voxel', 'stvl'])
def test_the_launch_gives_each_camera_a_source_and_keeps_the_rest_of_nav2s_file(
        costmap, tmp_path):
    from mono_depth_ros.launch_support import nav2_costmap_parameters

    base = tmp_path / 'nav2_params.yaml'
    base.write_text(yaml.safe_dump({
        'controller_server': {'ros__parameters': {'controller_frequency': 20.0}},
        'local_costmap': {'local_costmap': {'ros__parameters': {
            'width': 3, 'plugins': ['voxel_layer', 'inflation_layer'],
            'voxel_layer': {'plugin': 'nav2_costmap_2d::VoxelLayer', 'z_voxels': 10}}}}}))
    one = nav2_costmap_parameters(costmap, ['camera'])
    topics = [source['topic'] for _, source in _camera_sources(
        _costmaps(None, one)['local_costmap/local_costmap'])]
    assert topics == ['/camera/points/filtered']
    merged = nav2_costmap_parameters(costmap, ['front', 'rear'], str(base))
    assert merged['controller_server'] == {'ros__parameters': {'controller_frequency': 20.0}}
    local = _costmaps(None, merged)['local_costmap/local_costmap']
    assert local['width'] == 3, "Nav2's own settings stay"
    assert sorted(source['topic'] for _, source in _camera_sources(local)) == [
        '/front/points/filtered', '/rear/points/filtered']
    layer = next(section for _, _, section in _layers(local)
                 if 'mono_depth_front' in str(section.get('observation_sources')))
    assert 'mono_depth' not in layer['observation_sources'].split()
    _assert_nav2_names(f'{costmap} for front, rear', _costmaps(None, merged))
