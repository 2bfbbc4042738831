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

"""Play a recorded bag through the depth sensor, on simulated time, with RViz.

    ros2 launch mono_depth_ros bag_replay.launch.py bag:=/data/run1 model:=/models/da_v2_s.onnx

plays the bag with ``ros2 bag play --clock`` and starts mono_depth.launch.py with
use_sim_time:=true; every mono_depth.launch.py argument (pipeline, model, params_file,
namespace, image, camera_info, odom, camera_to_base, ...) can be given here too. The default
topics match `mono-depth-ros synth` bags: /camera/image_raw, /camera/camera_info, /odom.
player:=python plays the bag with the package's own player instead (no ros2bag needed).
"""

import os
import sys

from launch import LaunchDescription
from launch.actions import (DeclareLaunchArgument, ExecuteProcess, IncludeLaunchDescription,
                            LogInfo, OpaqueFunction, RegisterEventHandler)
from launch.event_handlers import OnProcessExit
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration

from mono_depth_ros.launch_support import declare_arguments, fastdds_profile_actions

LAUNCH_DIR = os.path.dirname(os.path.abspath(__file__))
# The package's player waits (at most this long) until the bag's image topic has a subscriber.
PYTHON_PLAYER_WAIT_S = '30'


def _bag_player(context):
    """Return the chosen player, with /clock, and a note when it has played the bag."""
    def argument(name: str) -> str:
        return LaunchConfiguration(name).perform(context)

    options = ['--clock', '--rate', argument('rate')]
    if float(argument('delay')) > 0:  # ros2 bag play refuses --delay 0
        options += ['--delay', argument('delay')]
    if argument('player') == 'python':
        command = [sys.executable, '-m', 'mono_depth_ros.tools.play_bag', argument('bag'),
                   *options, '--wait-for-subscribers', PYTHON_PLAYER_WAIT_S]
    else:
        command = ['ros2', 'bag', 'play', argument('bag'), *options]
    player = ExecuteProcess(cmd=command, name='bag_player', output='screen')
    return [player, RegisterEventHandler(OnProcessExit(
        target_action=player,
        on_exit=[LogInfo(msg='the bag has been played; Ctrl-C stops the nodes')]))]


def generate_launch_description() -> LaunchDescription:
    actions = [
        DeclareLaunchArgument(
            'bag', description='The rosbag2 to play: its directory (or an .mcap file)'),
        DeclareLaunchArgument(
            'rate', default_value='1.0', description='Playback speed (1.0: as recorded)'),
        DeclareLaunchArgument(
            'delay', default_value='2.0',
            description='Seconds to wait before playing, so the nodes are up'),
        DeclareLaunchArgument(
            'player', default_value='ros2', choices=['ros2', 'python'],
            description="ros2: `ros2 bag play`; python: the package's player "
                        '(python -m mono_depth_ros.tools.play_bag)'),
        *declare_arguments(['rviz', 'rviz_frame'], defaults={'rviz': 'true'}),
    ]
    # The player needs the package's Fast DDS profile as much as the nodes do.
    actions += fastdds_profile_actions()
    actions += [
        IncludeLaunchDescription(
            PythonLaunchDescriptionSource(os.path.join(LAUNCH_DIR, 'mono_depth.launch.py')),
            launch_arguments={'use_sim_time': 'true', 'rviz': LaunchConfiguration('rviz'),
                              'rviz_frame': LaunchConfiguration('rviz_frame')}.items()),
        OpaqueFunction(function=_bag_player),
    ]
    return LaunchDescription(actions)
