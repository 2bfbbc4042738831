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

"""Several cameras from one launch: each in its namespace, with topics of its own."""

import ast
import pathlib

import pytest

from mono_depth_ros import launch_support
from mono_depth_ros.core.errors import BadMessageError

ROOT = pathlib.Path(__file__).resolve().parents[2]
CAMERA = {'namespace': 'camera', 'image': 'image_raw', 'camera_info': 'camera_info',
          'use_sim_time': 'false', 'lifecycle': 'false', 'autostart': 'true'}


def _resolved_remappings(arguments: dict) -> dict[str, str]:
    """Return each node input's absolute topic, as the launch files remap it."""
    return {name: launch_support.resolved_topic(arguments['namespace'], topic)
            for name, topic in launch_support.camera_remappings(arguments['image'],
                                                                arguments['camera_info'])}


def test_cameras_give_one_namespace_each_and_none_means_the_namespace_argument():
    assert launch_support.camera_namespaces('front,rear', 'camera') == ['front', 'rear']
    assert launch_support.camera_namespaces(' front , /rear/ ', 'camera') == ['front', 'rear']
    assert launch_support.camera_namespaces('', 'camera') == ['camera']
    assert launch_support.camera_namespaces('robot/left,robot/right', '') == [
        'robot/left', 'robot/right']
    for bad in ('front,front', 'front,2nd', 'front;rear'):
        with pytest.raises(BadMessageError, match='cameras'):
            launch_support.camera_namespaces(bad, 'camera')


def test_each_camera_reads_its_own_image_and_camera_info():
    front, rear = launch_support.camera_launch_arguments('front,rear', CAMERA)
    assert (front['namespace'], rear['namespace']) == ('front', 'rear')
    assert {key: value for key, value in front.items() if key != 'namespace'} == {
        key: value for key, value in CAMERA.items() if key != 'namespace'}
    assert _resolved_remappings(front) == {
        'image': '/front/image_raw', 'image/compressed': '/front/image_raw/compressed',
        'camera_info': '/front/camera_info'}
    assert _resolved_remappings(rear) == {
        'image': '/rear/image_raw', 'image/compressed': '/rear/image_raw/compressed',
        'camera_info': '/rear/camera_info'}
    # Outputs are relative names of the nodes in each namespace: they never meet either.
    assert launch_support.resolved_topic('front', 'depth/image') == '/front/depth/image'


def test_an_absolute_camera_topic_is_refused_with_several_cameras_only():
    shared = {**CAMERA, 'image': '/usb_cam/image_raw'}
    assert launch_support.camera_launch_arguments('', shared) == [shared]
    with pytest.raises(BadMessageError, match='image.*relative'):
        launch_support.camera_launch_arguments('front,rear', shared)
    with pytest.raises(BadMessageError, match='camera_info'):
        launch_support.camera_launch_arguments('front,rear',
                                               {**CAMERA, 'camera_info': '/info'})


def test_mono_depth_launch_starts_each_camera_in_a_scoped_group():
    tree = ast.parse((ROOT / 'launch' / 'mono_depth.launch.py').read_text())
    calls = {node.func.id for node in ast.walk(tree)
             if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)}
    assert {'camera_launch_arguments', 'GroupAction'} <= calls
    groups = [node for node in ast.walk(tree) if isinstance(node, ast.Call)
              and getattr(node.func, 'id', '') == 'GroupAction']
    assert all(any(k.arg == 'scoped' and k.value.value is True for k in group.keywords)
               for group in groups)


def test_lifecycle_picks_the_managed_executables():
    assert launch_support.MANAGED_EXECUTABLES == {
        'depth_node': 'depth_lifecycle_node',
        'triangulation_node': 'triangulation_lifecycle_node'}
    setup = (ROOT / 'setup.py').read_text()
    for executable in launch_support.MANAGED_EXECUTABLES.values():
        assert f"'{executable} = mono_depth_ros.nodes." in setup or f"'{executable} = '" in setup
