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

"""Launch the depth sensor: the network, triangulation from odometry, or both fused.

    ros2 launch mono_depth_ros mono_depth.launch.py model:=/models/depth_anything_v2_vits.onnx \
        params_file:=desktop_gpu image:=/my_camera/image_raw camera_info:=/my_camera/camera_info

pipeline:=auto (the default) runs depth_node and triangulation_node, the network's relative
depth scaled to metres by the triangulated points, when the model can be found; without one it
runs triangulation_node alone, with dense_depth on (dense_depth:=false turns it off).
scale_points:=dense scales the network by the dense points instead of the sparse ones. One log
line says which. "Found" is decided without loading the weights: the file exists (or the
Hugging Face id is in the local cache) and the Python packages its format and backend need are
installed (mono_depth_ros.launch_support.check_model).

cameras:=front,rear starts the nodes once per camera, in namespaces /front and /rear, each
reading its own image and camera_info (relative names resolve in each namespace:
/front/image_raw, /rear/image_raw) and publishing under its namespace. lifecycle:=true runs the
managed nodes (see depth.launch.py).
"""

import os

from launch import LaunchDescription
from launch.actions import GroupAction, IncludeLaunchDescription, LogInfo, OpaqueFunction
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from mono_depth_ros.launch_support import (camera_launch_arguments, declare_arguments,
                                           dense_depth_argument, effective_model,
                                           fastdds_profile_actions, is_true, node_parameters,
                                           plan_pipeline, resolve_params_file, rviz_config)

LAUNCH_DIR = os.path.dirname(os.path.abspath(__file__))
ARGUMENTS = ('pipeline', 'model', 'backend', 'params_file', 'namespace', 'image', 'camera_info',
             'odom', 'camera_to_base', 'dense_depth', 'scale_points', 'use_sim_time', 'rviz',
             'rviz_frame', 'cameras', 'lifecycle', 'autostart')
# Passed on to the launch file of each node (namespace: one per camera with cameras:=).
CAMERA_ARGUMENTS = ('namespace', 'image', 'camera_info', 'use_sim_time', 'lifecycle',
                    'autostart')


def _include(file_name: str, arguments: dict) -> IncludeLaunchDescription:
    return IncludeLaunchDescription(
        PythonLaunchDescriptionSource(os.path.join(LAUNCH_DIR, file_name)),
        launch_arguments=arguments.items())


def _pipeline(context):
    """Decide which nodes run (see the module docstring), say so, and start them."""
    def argument(name: str) -> str:
        return LaunchConfiguration(name).perform(context)

    params_file = resolve_params_file(argument('params_file'))
    depth_parameters = node_parameters(params_file, 'depth_node')
    model = effective_model(argument('model'), depth_parameters)
    plan = plan_pipeline(argument('pipeline'), model, depth_parameters, argument('backend'))
    cameras = camera_launch_arguments(
        argument('cameras'), {name: argument(name) for name in CAMERA_ARGUMENTS})
    actions = [LogInfo(msg=plan.summary)]
    for camera in cameras:
        nodes = []
        if plan.depth:
            nodes.append(_include('depth.launch.py', {
                **camera, 'params_file': params_file, 'model': argument('model'),
                'backend': argument('backend'), 'scale_source': plan.scale_source or '',
                'scale_points': argument('scale_points'), 'odom': argument('odom'),
                'camera_to_base': argument('camera_to_base')}))
        if plan.triangulation:
            # Without the network the fallback publishes dense depth too, unless told not to;
            # with it, dense depth runs when its points give the network's scale.
            dense = dense_depth_argument(argument('dense_depth'), plan.depth,
                                         argument('scale_points').strip().lower() == 'dense')
            nodes.append(_include('triangulation.launch.py', {
                **camera, 'params_file': params_file, 'odom': argument('odom'),
                'camera_to_base': argument('camera_to_base'), 'dense_depth': dense}))
        # Scoped: one camera's launch arguments never reach the next camera's nodes.
        actions.append(GroupAction(nodes, scoped=True))
    if len(cameras) > 1:
        actions.append(LogInfo(msg='cameras: ' + ', '.join(
            f"/{camera['namespace']}" for camera in cameras)))
    camera = cameras[0]
    if is_true(argument('rviz')):
        actions.append(Node(
            package='rviz2', executable='rviz2', name='rviz2', output='screen',
            arguments=['-d', rviz_config(camera['namespace'], argument('image'),
                                         argument('rviz_frame'))],
            parameters=[{'use_sim_time': is_true(camera['use_sim_time'])}]))
    return actions


def generate_launch_description() -> LaunchDescription:
    return LaunchDescription([*declare_arguments(ARGUMENTS), *fastdds_profile_actions(),
                              OpaqueFunction(function=_pipeline)])
