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

"""Launch the depth sensor beside a Nav2 bringup, its points/filtered in the costmaps.

    ros2 launch mono_depth_ros nav2_depth_sensor.launch.py \
        model:=/models/depth_anything_v2_vits.onnx costmap:=stvl

starts mono_depth.launch.py (managed nodes by default: lifecycle:=true, configured and
activated at launch) and, where nav2_bringup is installed, its navigation_launch.py with
Nav2's parameter file (nav2_params_file:=, default nav2_bringup's params/nav2_params.yaml)
merged with config/nav2_costmap_voxel.yaml or config/nav2_costmap_stvl.yaml (costmap:=). Each
observation source on points/filtered reads /NAMESPACE/points/filtered; with cameras:=front,rear
there is one source per camera. Without nav2_bringup it starts the sensor alone and logs the
merged file for your own bringup. Why the costmap settings are what they are: doc/costmaps.md.
"""

import os

from launch import LaunchDescription
from launch.actions import IncludeLaunchDescription, LogInfo, OpaqueFunction
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration

from mono_depth_ros.launch_support import (camera_namespaces, declare_arguments,
                                           fastdds_profile_actions, nav2_costmap_parameters,
                                           package_share, write_parameter_file)

LAUNCH_DIR = os.path.dirname(os.path.abspath(__file__))
ARGUMENTS = ('pipeline', 'model', 'backend', 'params_file', 'namespace', 'cameras', 'image',
             'camera_info', 'odom', 'camera_to_base', 'use_sim_time', 'lifecycle', 'autostart',
             'costmap', 'nav2_params_file')
# Passed on unchanged to mono_depth.launch.py.
SENSOR_ARGUMENTS = ('pipeline', 'model', 'backend', 'params_file', 'namespace', 'cameras',
                    'image', 'camera_info', 'odom', 'camera_to_base', 'use_sim_time',
                    'lifecycle', 'autostart')


def _include(path: str, arguments: dict) -> IncludeLaunchDescription:
    return IncludeLaunchDescription(PythonLaunchDescriptionSource(path),
                                    launch_arguments=arguments.items())


def _sensor_and_nav2(context):
    """Start the depth sensor, merge the costmap settings and include Nav2 where it is."""
    def argument(name: str) -> str:
        return LaunchConfiguration(name).perform(context)

    actions = [_include(os.path.join(LAUNCH_DIR, 'mono_depth.launch.py'),
                        {name: argument(name) for name in SENSOR_ARGUMENTS})]
    bringup = package_share('nav2_bringup')
    base = argument('nav2_params_file') or (
        os.path.join(bringup, 'params', 'nav2_params.yaml') if bringup else '')
    namespaces = camera_namespaces(argument('cameras'), argument('namespace'))
    nav2_params = write_parameter_file(
        nav2_costmap_parameters(argument('costmap'), namespaces, base), 'nav2')
    if bringup is None:
        actions.append(LogInfo(msg=f'nav2_bringup is not installed: the depth sensor runs alone; '
                                   f'Nav2 parameters with its costmap settings: {nav2_params}'))
        return actions
    actions.append(LogInfo(msg=f'Nav2 with {argument("costmap")} costmap settings on '
                               f'{", ".join(f"/{n}/points/filtered" for n in namespaces)}: '
                               f'{nav2_params}'))
    actions.append(_include(os.path.join(bringup, 'launch', 'navigation_launch.py'), {
        'params_file': nav2_params, 'use_sim_time': argument('use_sim_time'),
        'autostart': 'true'}))
    return actions


def generate_launch_description() -> LaunchDescription:
    return LaunchDescription([
        *declare_arguments(ARGUMENTS, defaults={'lifecycle': 'true'}),
        *fastdds_profile_actions(), OpaqueFunction(function=_sensor_and_nav2)])
