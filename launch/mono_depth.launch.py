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
runs triangulation_node alone. One log line says which. "Found" is decided without loading the
weights: the file exists (or the Hugging Face id is in the local cache) and the Python packages
its format and backend need are installed (mono_depth_ros.launch_support.check_model).
"""

import os

from launch import LaunchDescription
from launch.actions import (DeclareLaunchArgument, IncludeLaunchDescription, LogInfo,
                            OpaqueFunction, SetEnvironmentVariable)
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from mono_depth_ros.launch_support import (effective_model,
                                           large_data_fastdds_profile_unless_set,
                                           node_parameters, PIPELINES, plan_pipeline,
                                           resolve_params_file, rviz_config)

LAUNCH_DIR = os.path.dirname(os.path.abspath(__file__))
# Passed on unchanged to the launch file of each node.
CAMERA_ARGUMENTS = ('namespace', 'image', 'camera_info', 'use_sim_time')


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
    camera = {name: argument(name) for name in CAMERA_ARGUMENTS}
    actions = [LogInfo(msg=plan.summary)]
    if plan.depth:
        actions.append(_include('depth.launch.py', {
            **camera, 'params_file': params_file, 'model': argument('model'),
            'backend': argument('backend'), 'scale_source': plan.scale_source or ''}))
    if plan.triangulation:
        actions.append(_include('triangulation.launch.py', {
            **camera, 'params_file': params_file, 'odom': argument('odom'),
            'camera_to_base': argument('camera_to_base')}))
    if argument('rviz').lower() in ('true', '1'):
        actions.append(Node(
            package='rviz2', executable='rviz2', name='rviz2', output='screen',
            arguments=['-d', rviz_config(argument('namespace'), argument('image'))],
            parameters=[{'use_sim_time': camera['use_sim_time'].lower() in ('true', '1')}]))
    return actions


def generate_launch_description() -> LaunchDescription:
    actions = [
        DeclareLaunchArgument(
            'pipeline', default_value='auto', choices=list(PIPELINES),
            description='auto (depth + triangulation when a model is found, else '
                        'triangulation), depth, triangulation or both'),
        DeclareLaunchArgument(
            'model', default_value='',
            description='Depth Anything model: an .onnx, .engine, .pth or .safetensors file, a '
                        'Hugging Face directory or id (empty: the one in params_file)'),
        DeclareLaunchArgument(
            'backend', default_value='',
            description='auto, tensorrt, onnxruntime or torch (empty: the one in params_file)'),
        DeclareLaunchArgument(
            'params_file', default_value='cpu',
            description='Parameter file: cpu, desktop_gpu, jetson_orin (config/*.yaml) or a path'),
        DeclareLaunchArgument(
            'namespace', default_value='camera',
            description='Namespace of the nodes and of their relative topic names'),
        DeclareLaunchArgument(
            'image', default_value='image_raw',
            description='Camera image topic (image/compressed follows it)'),
        DeclareLaunchArgument(
            'camera_info', default_value='camera_info', description='CameraInfo topic'),
        DeclareLaunchArgument(
            'odom', default_value='/odom',
            description='nav_msgs/Odometry topic: the pose of the base in the odometry frame'),
        DeclareLaunchArgument(
            'camera_to_base', default_value='',
            description="Pose of the camera optical frame in the base frame, 'x y z qx qy qz qw' "
                        '(empty: the one in params_file)'),
        DeclareLaunchArgument(
            'use_sim_time', default_value='false',
            description='Use /clock (true when playing a bag)'),
        DeclareLaunchArgument(
            'rviz', default_value='false', description='Start RViz with config/mono_depth.rviz'),
    ]
    # Fast DDS moves messages between processes on one machine through shared memory with a
    # 512 KB segment by default: images, depth images and clouds bigger than that are mostly
    # lost on the way. The package's profile enlarges it; a profile the user set is kept.
    profile = large_data_fastdds_profile_unless_set()
    if profile:
        actions.append(SetEnvironmentVariable('FASTDDS_DEFAULT_PROFILES_FILE', profile))
    actions.append(OpaqueFunction(function=_pipeline))
    return LaunchDescription(actions)
