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

"""Launch depth_node: dense depth, a colorized view and a point cloud from one camera.

    ros2 launch mono_depth_ros depth.launch.py model:=/models/depth_anything_v2_vits.onnx

reads /camera/image_raw and /camera/camera_info (and odom:=, where there is one, for the
flicker figure on /diagnostics) and publishes /camera/depth/image, /camera/depth/colored,
/camera/points, ... Point it at your camera driver with namespace:=, image:= and camera_info:=
(names relative to the namespace, or absolute). lifecycle:=true runs
depth_lifecycle_node instead (configured and activated at launch unless autostart:=false).
"""

from launch import LaunchDescription
from launch.actions import OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.parameter_descriptions import ParameterValue

from mono_depth_ros.launch_support import (camera_remappings, declare_arguments,
                                           fastdds_profile_actions, is_true, node_actions,
                                           parse_camera_to_base, resolve_params_file,
                                           scale_points_remappings)

ARGUMENTS = ('model', 'backend', 'params_file', 'namespace', 'image', 'camera_info',
             'odom', 'camera_to_base', 'scale_source', 'scale_points', 'use_sim_time',
             'lifecycle', 'autostart')
# Arguments whose empty default means "keep the value from params_file".
STRING_OVERRIDES = ('model', 'backend', 'scale_source')


def _depth_node(context):
    """Return depth_node with params_file's parameters and the arguments given."""
    def argument(name: str) -> str:
        return LaunchConfiguration(name).perform(context)

    overrides = {'use_sim_time': is_true(argument('use_sim_time'))}
    camera_to_base = parse_camera_to_base(argument('camera_to_base'))
    if camera_to_base is not None:
        overrides['camera_to_base'] = camera_to_base
    for name in STRING_OVERRIDES:
        if argument(name):
            overrides[name] = ParameterValue(argument(name), value_type=str)
    return node_actions(
        'depth_node', lifecycle=is_true(argument('lifecycle')),
        autostart=is_true(argument('autostart')), name='depth_node',
        namespace=argument('namespace'), output='screen', emulate_tty=True,
        parameters=[resolve_params_file(argument('params_file')), overrides],
        remappings=camera_remappings(argument('image'), argument('camera_info'),
                                     argument('odom'))
        + scale_points_remappings(argument('scale_points')))


def generate_launch_description() -> LaunchDescription:
    return LaunchDescription([*declare_arguments(ARGUMENTS), *fastdds_profile_actions(),
                              OpaqueFunction(function=_depth_node)])
