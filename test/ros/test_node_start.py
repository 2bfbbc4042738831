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

"""Nodes started by hand: their own Fast DDS profile, a short start, --help, unknown names."""

import os
import pathlib
import shutil
import signal
import subprocess
import sys
import time

import pytest
from sensor_msgs.msg import Image

from mono_depth_ros.core.camera_model import CameraModel

NODES = {'depth_node': 'mono_depth_ros.nodes.depth_node',
         'triangulation_node': 'mono_depth_ros.nodes.triangulation_node'}
PROFILE_VARIABLES = ('FASTDDS_DEFAULT_PROFILES_FILE', 'FASTRTPS_DEFAULT_PROFILES_FILE')
PACKAGE_ROOT = pathlib.Path(__file__).resolve().parents[2]


def clean_environment() -> dict[str, str]:
    """Return the environment of a shell that set no profile and sourced no ROS (a pip venv)."""
    removed = {*PROFILE_VARIABLES, 'ROS_DISTRO', 'AMENT_PREFIX_PATH'}
    environment = {name: value for name, value in os.environ.items() if name not in removed}
    pythonpath = environment.get('PYTHONPATH', '')
    environment['PYTHONPATH'] = os.pathsep.join(filter(None, [str(PACKAGE_ROOT), pythonpath]))
    return {**environment, 'PYTHONUNBUFFERED': '1'}


def start(node: str, *ros_args: str) -> subprocess.Popen:
    command = [sys.executable, '-m', NODES[node], '--ros-args', *ros_args]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=clean_environment())


def read_until(process: subprocess.Popen, text: str, timeout: float = 60.0) -> str:
    """Return the process's output up to and including the first line with ``text``."""
    output = ''
    deadline = time.monotonic() + timeout
    while text not in output and time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        output += line
    return output


def stop(process: subprocess.Popen) -> str:
    time.sleep(0.5)  # the rest of the start summary
    process.send_signal(signal.SIGINT)
    return process.communicate(timeout=20)[0]


def start_output(node: str, *ros_args: str, ready: str = 'publishes') -> str:
    process = start(node, *ros_args)
    output = read_until(process, ready)
    return output + stop(process)


@pytest.fixture(scope='module')
def tiny_onnx() -> pathlib.Path:
    pytest.importorskip('onnxruntime')
    import model_fixtures
    return model_fixtures.make_onnx()


def test_a_node_started_by_hand_uses_the_packages_profile_and_fast_dds_warns_of_nothing():
    output = start_output('triangulation_node')
    profile = str(PACKAGE_ROOT / 'config' / 'fastdds_large_data.xml')
    lines = [line for line in output.splitlines() if 'Fast DDS profile' in line]
    assert len(lines) == 1 and profile in lines[0] and "package's" in lines[0], output
    assert 'deprecated' not in output, output
    assert 'subscribes to /image, /camera_info, /odom' in output, output


def test_a_profile_the_user_set_is_kept_and_named(tmp_path):
    mine = tmp_path / 'mine.xml'
    shutil.copy(PACKAGE_ROOT / 'config' / 'fastdds_large_data.xml', mine)
    process = subprocess.Popen(
        [sys.executable, '-m', NODES['triangulation_node']], stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True,
        env={**clean_environment(), 'FASTDDS_DEFAULT_PROFILES_FILE': str(mine)})
    output = read_until(process, 'publishes') + stop(process)
    assert f'Fast DDS profile: {mine} (yours, from FASTDDS_DEFAULT_PROFILES_FILE)' in output


def test_a_cpu_start_without_a_params_file_is_short_and_says_what_it_publishes(tiny_onnx):
    # Read up to the summary's last line: a loaded machine can pause between two log lines.
    output = start_output('depth_node', '-p', f'model:={tiny_onnx}', '-p', 'input_size:=140',
                          ready='scale_source is none')
    lines = [line for line in output.splitlines() if line.strip()]
    assert not [line for line in lines if '[WARN]' in line or '[ERROR]' in line], output
    assert sum('running on the CPU' in line for line in lines) == 1, output
    # Messages are short: only the model's own path makes one long.
    messages = [line.partition(']: ')[2].replace(str(tiny_onnx), 'M') for line in lines]
    assert max(map(len, messages)) <= 160, output
    assert 'subscribes to /image, /camera_info' in output
    assert 'publishes /depth/relative, /depth/colored, /diagnostics' in output
    assert ('no /depth/image, /depth/camera_info, /points, /points/filtered: the model is '
            'relative and scale_source is none; set scale_source:=triangulation') in output, output


def test_640x480_depth_crosses_from_a_node_started_with_a_clean_environment(tiny_onnx):
    from mono_depth_ros.ros.graph import BackgroundExecutor, ros_context
    from mono_depth_ros.ros.collector import TopicCollector
    from ros_harness import CameraPublisher
    from synthetic_frames import textured_rgb

    width, height, sent = 640, 480, 12
    process = start('depth_node', '-p', f'model:={tiny_onnx}', '-p', 'input_size:=140')
    try:
        assert 'publishes' in read_until(process, 'publishes')
        camera_model = CameraModel.from_intrinsics(fx=500.0, fy=500.0, cx=320.0, cy=240.0,
                                                   width=width, height=height)
        rgb = textured_rgb(width, height)
        with ros_context() as context:
            camera = CameraPublisher(context)
            collector = TopicCollector({'depth/relative': Image}, context=context)
            with BackgroundExecutor(context, [camera, collector]):
                assert camera.wait_for_subscribers(timeout=30)
                time.sleep(1.0)
                for index in range(sent):  # one at a time: each waits for its answer
                    camera.publish_frame(rgb, camera_model, (index + 1) * 100_000_000)
                    collector.wait_for('depth/relative', index + 1, timeout=5.0)
                received = collector.messages('depth/relative')
    finally:
        stop(process)
    # The 1.2 MB images cross; with Fast DDS's default 512 KB segment most are lost.
    assert len(received) >= sent - 1, f'{len(received)} of {sent} arrived'
    assert all(len(message.data) == width * height * 4 for message in received)


def test_unknown_parameters_are_named_once_with_the_closest_name(tmp_path, tiny_onnx):
    params = tmp_path / 'params.yaml'
    params.write_text('/**:\n  ros__parameters:\n    publish_point: false\n'
                      'depth_node:\n  ros__parameters:\n    modle: x\n    input_size: 140\n'
                      'other_node:\n  ros__parameters:\n    not_mine: 1\n')
    output = start_output('depth_node', '-p', f'model:={tiny_onnx}', '-p', 'modle:=y',
                          '--params-file', str(params))
    assert sum('unknown parameter modle (did you mean model?)' in line
               for line in output.splitlines()) == 1, output
    assert 'unknown parameter publish_point (did you mean publish_points?)' in output
    assert 'not_mine' not in output
    assert 'publishes' in output  # the node runs on


def test_a_missing_params_file_is_one_line_and_exit_code_2(tmp_path):
    missing = tmp_path / 'missing.yaml'
    process = start('triangulation_node', '--params-file', str(missing))
    output = process.communicate(timeout=60)[0]
    assert process.returncode == 2, output
    assert 'Traceback' not in output
    assert [line for line in output.splitlines() if line.strip()] == [
        line for line in output.splitlines() if 'cannot start' in line and str(missing) in line]


def _help_commands(node: str) -> list[list[str]]:
    commands = [[sys.executable, '-m', NODES[node], flag] for flag in ('--help', '-h')]
    script = shutil.which(node, path=str(pathlib.Path(sys.executable).parent))
    if script:
        commands.append([script, '--help'])
    return commands


@pytest.mark.parametrize('node', sorted(NODES))
def test_help_prints_parameters_and_topics_and_exits_without_starting_ros(node):
    from mono_depth_ros.topic_tables import NODE_TOPICS
    from mono_depth_ros.parameter_tables import DEPTH_PARAMETERS, TRIANGULATION_PARAMETERS

    specs = DEPTH_PARAMETERS if node == 'depth_node' else TRIANGULATION_PARAMETERS
    for command in _help_commands(node):
        # The default model is missing here: --help must not load it (nor start ROS).
        result = subprocess.run(command, capture_output=True, text=True, timeout=60,
                                env=clean_environment())
        assert result.returncode == 0, result.stderr
        assert result.stderr == '', result.stderr
        assert result.stdout.startswith(f'usage: {node}')
        assert '[INFO]' not in result.stdout and 'Fast DDS profile' not in result.stdout
        for spec in specs:
            assert f'\n  {spec.name} = ' in result.stdout, spec.name
        topics = NODE_TOPICS[node]
        for topic in topics.subscriptions + topics.publications:
            assert f'\n  {topic.name}  ({topic.message_type})' in result.stdout, topic.name
