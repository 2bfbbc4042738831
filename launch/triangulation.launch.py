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

"""Launch triangulation_node: sparse metric depth from one camera and the robot's odometry.

    ros2 launch mono_depth_ros triangulation.launch.py odom:=/odom \
        camera_to_base:='0.2 0 0.3 -0.5 0.5 -0.5 0.5'

reads /camera/image_raw, /camera/camera_info and /odom and publishes
/camera/triangulation/depth, /camera/triangulation/points and /camera/triangulation/tracks. No
GPU and no model needed. dense_depth:=true adds the dense depth of keyframes
(/camera/triangulation/dense/*). lifecycle:=true runs triangulation_lifecycle_node instead
(configured and activated at launch unless autostart:=false).
"""

from launch import LaunchDescription
from launch.actions import OpaqueFunction
from launch.substitutions import LaunchConfiguration

from mono_depth_ros.launch_support import (camera_remappings, declare_arguments,
                                           fastdds_profile_actions, is_true, node_actions,
                                           parse_camera_to_base, resolve_params_file)

ARGUMENTS = ('params_file', 'namespace', 'image', 'camera_info', 'odom', 'camera_to_base',
             'dense_depth', 'use_sim_time', 'lifecycle', 'autostart')


def _triangulation_node(context):
    """Return triangulation_node with params_file's parameters and the arguments given."""
    def argument(name: str) -> str:
        return LaunchConfiguration(name).perform(context)

    overrides = {'use_sim_time': is_true(argument('use_sim_time'))}
    camera_to_base = parse_camera_to_base(argument('camera_to_base'))
    if camera_to_base is not None:
        overrides['camera_to_base'] = camera_to_base
    if argument('dense_depth').strip():
        overrides['dense_depth'] = is_true(argument('dense_depth'))
    return node_actions(
        'triangulation_node', lifecycle=is_true(argument('lifecycle')),
        autostart=is_true(argument('autostart')), name='triangulation_node',
        namespace=argument('namespace'), output='screen', emulate_tty=True,
        parameters=[resolve_params_file(argument('params_file')), overrides],
        remappings=camera_remappings(argument('image'), argument('camera_info'),
                                     argument('odom')))


def generate_launch_description() -> LaunchDescription:
    return LaunchDescription([*declare_arguments(ARGUMENTS), *fastdds_profile_actions(),
                              OpaqueFunction(function=_triangulation_node)])
