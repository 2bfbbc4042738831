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

"""The launch files' decisions: parameter files, remappings, the model check, the pipeline."""

import ast
import importlib.util
import json
import os
import pathlib
import subprocess
import sys

import pytest
import yaml

from mono_depth_ros import launch_support
from mono_depth_ros.core.errors import BadMessageError
from mono_depth_ros.parameter_tables import DEPTH_PARAMETERS as PARAMETERS

CACHED_ID = 'cached-org/depth-model'


def test_profile_names_resolve_to_the_package_config_and_paths_pass_through(package_root,
                                                                            tmp_path):
    for name in launch_support.PARAMS_PROFILES:
        assert launch_support.resolve_params_file(name) == str(
            package_root / 'config' / f'{name}.yaml')
    assert launch_support.resolve_params_file('').endswith('config/cpu.yaml')
    own = tmp_path / 'robot.yaml'
    own.write_text('{}')
    assert launch_support.resolve_params_file(str(own)) == str(own)
    with pytest.raises(FileNotFoundError, match='gpu_desktop'):
        launch_support.resolve_params_file('gpu_desktop')


def test_node_parameters_merge_wildcard_sections_under_the_nodes_own(tmp_path):
    path = tmp_path / 'params.yaml'
    path.write_text(yaml.safe_dump({
        '/**/depth_node': {'ros__parameters': {'model': 'mine.onnx', 'input_size': 308}},
        '/**': {'ros__parameters': {'input_size': 518, 'qos': 'reliable'}},
        'triangulation_node': {'ros__parameters': {'max_features': 9}},
    }))
    assert launch_support.node_parameters(str(path), 'depth_node') == {
        'model': 'mine.onnx', 'input_size': 308, 'qos': 'reliable'}
    assert launch_support.node_parameters(str(path), 'triangulation_node') == {
        'input_size': 518, 'qos': 'reliable', 'max_features': 9}


def test_the_compressed_image_topic_follows_the_image_remap():
    assert launch_support.camera_remappings('/cam/image_raw', 'info', '/odom') == [
        ('image', '/cam/image_raw'), ('image/compressed', '/cam/image_raw/compressed'),
        ('camera_info', 'info'), ('odom', '/odom')]


def test_camera_to_base_accepts_spaces_commas_and_brackets_and_names_a_bad_value():
    expected = [0.1, 0.0, 0.3, -0.5, 0.5, -0.5, 0.5]
    assert launch_support.parse_camera_to_base('0.1 0 0.3 -0.5 0.5 -0.5 0.5') == expected
    assert launch_support.parse_camera_to_base('[0.1, 0, 0.3, -0.5, 0.5, -0.5, 0.5]') == expected
    assert launch_support.parse_camera_to_base('  ') is None
    with pytest.raises(BadMessageError, match='camera_to_base.*7 numbers'):
        launch_support.parse_camera_to_base('0 0 0 1')


def test_the_model_comes_from_the_argument_then_the_file_then_the_node_default():
    default = next(spec.default for spec in PARAMETERS if spec.name == 'model')
    assert launch_support.effective_model('a.onnx', {'model': 'b.onnx'}) == 'a.onnx'
    assert launch_support.effective_model('', {'model': 'b.onnx'}) == 'b.onnx'
    assert launch_support.effective_model('', {}) == default


@pytest.fixture
def hugging_face_cache(tmp_path, monkeypatch):
    """Point the Hugging Face cache at a directory holding one cached model, CACHED_ID."""
    constants = pytest.importorskip('huggingface_hub.constants')
    snapshot = tmp_path / 'models--cached-org--depth-model' / 'snapshots' / 'abc123'
    snapshot.mkdir(parents=True)
    (snapshot / 'config.json').write_text('{"model_type": "depth_anything"}')
    (snapshot / 'model.safetensors').write_bytes(b'')
    (tmp_path / 'models--cached-org--depth-model' / 'refs').mkdir()
    (tmp_path / 'models--cached-org--depth-model' / 'refs' / 'main').write_text('abc123')
    monkeypatch.setattr(constants, 'HF_HUB_CACHE', str(tmp_path))
    return tmp_path


def test_check_model_finds_files_and_cached_ids_without_loading_them(tiny_onnx,
                                                                     hugging_face_cache):
    assert launch_support.check_model(str(tiny_onnx)).available
    cached = launch_support.check_model(CACHED_ID)
    assert cached.available, cached.reason
    assert 'Hugging Face cache' in cached.reason


def test_check_model_says_why_a_model_cannot_be_found(tmp_path, hugging_face_cache):
    missing = launch_support.check_model(str(tmp_path / 'nothing.onnx'))
    assert not missing.available and 'file not found' in missing.reason
    uncached = launch_support.check_model('other-org/not-downloaded')
    assert not uncached.available
    assert 'not in the Hugging Face cache' in uncached.reason
    assert launch_support.check_model('other-org/not-downloaded', allow_download=True).available
    unknown = tmp_path / 'weights.xyz'
    unknown.write_bytes(b'0')
    assert 'unknown model file type' in launch_support.check_model(str(unknown)).reason


@pytest.mark.skipif(importlib.util.find_spec('tensorrt') is not None,
                    reason='TensorRT is installed here')
def test_check_model_refuses_a_backend_whose_package_is_missing(tiny_onnx):
    check = launch_support.check_model(str(tiny_onnx), backend='tensorrt')
    assert not check.available and 'tensorrt' in check.reason


def test_auto_runs_both_nodes_fused_when_the_model_is_found(tiny_onnx):
    plan = launch_support.plan_pipeline('auto', str(tiny_onnx), {'backend': 'onnxruntime'})
    assert (plan.depth, plan.triangulation, plan.scale_source) == (True, True, 'triangulation')
    assert plan.summary.startswith('pipeline auto: model ')
    assert str(tiny_onnx) in plan.summary


def test_auto_falls_back_to_triangulation_alone_and_says_why(tmp_path):
    plan = launch_support.plan_pipeline('auto', str(tmp_path / 'gone.onnx'), {})
    assert (plan.depth, plan.triangulation, plan.scale_source) == (False, True, None)
    assert 'no depth model' in plan.summary and 'file not found' in plan.summary


def test_explicit_pipelines_need_no_model_check_and_keep_a_fixed_scale(tmp_path):
    gone = str(tmp_path / 'gone.onnx')
    depth = launch_support.plan_pipeline('depth', gone, {'scale_source': 'triangulation'})
    assert (depth.depth, depth.triangulation, depth.scale_source) == (True, False, None)
    both = launch_support.plan_pipeline('both', gone, {'scale_source': 'fixed'})
    assert (both.depth, both.triangulation, both.scale_source) == (True, True, 'fixed')
    alone = launch_support.plan_pipeline('triangulation', gone, {})
    assert (alone.depth, alone.triangulation) == (False, True)
    with pytest.raises(BadMessageError, match='pipeline'):
        launch_support.plan_pipeline('everything', gone, {})


def test_rviz_config_is_rewritten_for_another_namespace_and_image_topic(package_root):
    packaged = package_root / launch_support.RVIZ_CONFIG
    assert launch_support.rviz_config('camera', 'image_raw') == str(packaged)
    assert launch_support.rviz_config('/camera', '/camera/image_raw') == str(packaged)
    rewritten = pathlib.Path(launch_support.rviz_config('front', '/usb_cam/image_raw'))
    displays = yaml.safe_load(rewritten.read_text())['Visualization Manager']['Displays']
    topics = [display['Topic']['Value'] for display in displays]
    assert topics[0] == '/usb_cam/image_raw'
    assert topics[1:] == ['/front/depth/colored', '/front/points', '/front/triangulation/points',
                          '/front/triangulation/tracks']
    assert yaml.safe_load(rewritten.read_text())['Visualization Manager']['Global Options'][
        'Fixed Frame'] == 'camera_optical_frame'


def test_rviz_fixed_frame_follows_the_camera(package_root):
    realsense = pathlib.Path(launch_support.rviz_config('camera', 'image_raw',
                                                        'camera_color_optical_frame'))
    config = yaml.safe_load(realsense.read_text())['Visualization Manager']
    assert config['Global Options']['Fixed Frame'] == 'camera_color_optical_frame'
    assert config['Displays'][0]['Topic']['Value'] == '/camera/image_raw'
    assert launch_support.rviz_config('camera', 'image_raw', '') == str(
        package_root / launch_support.RVIZ_CONFIG)
    with pytest.raises(BadMessageError, match='rviz_frame'):
        launch_support.rviz_config('camera', 'image_raw', 'odom\nPanels: []')


def test_the_large_data_profile_is_set_only_when_the_user_has_none(package_root, monkeypatch):
    from mono_depth_ros.resources import fastdds_profile_environment

    packaged = str(package_root / 'config' / 'fastdds_large_data.xml')
    for name in ('FASTDDS_DEFAULT_PROFILES_FILE', 'FASTRTPS_DEFAULT_PROFILES_FILE'):
        monkeypatch.delenv(name, raising=False)
    assert set(fastdds_profile_environment().values()) == {packaged}
    monkeypatch.setenv('FASTRTPS_DEFAULT_PROFILES_FILE', '/etc/my_profile.xml')
    assert packaged not in fastdds_profile_environment().values()


def test_both_fast_dds_versions_are_pointed_at_one_profile(package_root, monkeypatch):
    from mono_depth_ros import resources
    from mono_depth_ros.resources import fastdds_profile_environment

    # An rclpy of no known distribution: both names.
    monkeypatch.setattr(resources, 'installed_ros_distribution', lambda: None)
    packaged = str(package_root / 'config' / 'fastdds_large_data.xml')
    both = {'FASTDDS_DEFAULT_PROFILES_FILE': packaged, 'FASTRTPS_DEFAULT_PROFILES_FILE': packaged}
    assert fastdds_profile_environment({}) == both  # Fast DDS 3 (Kilted) and 2 (Humble, Jazzy)
    # A profile the user chose in either variable is kept and given to the other version too.
    assert fastdds_profile_environment({'FASTDDS_DEFAULT_PROFILES_FILE': '/etc/mine.xml'}) == {
        'FASTRTPS_DEFAULT_PROFILES_FILE': '/etc/mine.xml'}
    assert fastdds_profile_environment({'FASTRTPS_DEFAULT_PROFILES_FILE': '/etc/mine.xml'}) == {
        'FASTDDS_DEFAULT_PROFILES_FILE': '/etc/mine.xml'}
    assert fastdds_profile_environment(dict.fromkeys(both, '/etc/mine.xml')) == {}
    # Where ROS_DISTRO names the distribution, only the name its Fast DDS reads is set (Fast
    # DDS 3 warns at every start that FASTRTPS_DEFAULT_PROFILES_FILE is deprecated).
    assert fastdds_profile_environment({'ROS_DISTRO': 'kilted'}) == {
        'FASTDDS_DEFAULT_PROFILES_FILE': packaged}
    assert fastdds_profile_environment({'ROS_DISTRO': 'jazzy'}) == {
        'FASTRTPS_DEFAULT_PROFILES_FILE': packaged}
    assert fastdds_profile_environment({'ROS_DISTRO': 'humble',
                                        'FASTDDS_DEFAULT_PROFILES_FILE': '/etc/mine.xml'}) == {
        'FASTRTPS_DEFAULT_PROFILES_FILE': '/etc/mine.xml'}


def test_the_distribution_is_known_without_ros_distro(monkeypatch):
    from mono_depth_ros import resources

    monkeypatch.setattr(resources, 'installed_ros_distribution', lambda: 'jazzy')
    assert resources.ros_distribution({'ROS_DISTRO': 'Kilted'}) == 'kilted'
    assert resources.ros_distribution({'AMENT_PREFIX_PATH': '/ws/install:/opt/ros/humble'}) == (
        'humble')
    # A pip venv: the rclpy wheel names it, so Fast DDS 2 gets only its own variable.
    assert resources.ros_distribution({}) == 'jazzy'
    assert list(resources.fastdds_profile_environment({})) == ['FASTRTPS_DEFAULT_PROFILES_FILE']


def test_the_installed_rclpy_names_its_distribution(monkeypatch):
    from mono_depth_ros import resources

    class Wheel:
        def __init__(self, name):
            self.metadata = {'Name': name}

    detect = resources.installed_ros_distribution.__wrapped__
    monkeypatch.setattr(resources.importlib.util, 'find_spec', lambda name: None)
    monkeypatch.setattr(resources.importlib.metadata, 'distributions',
                        lambda: [Wheel('numpy'), Wheel('ros_kilted_rclpy')])
    assert detect() == 'kilted'
    monkeypatch.setattr(resources.importlib.metadata, 'distributions', lambda: [Wheel('numpy')])
    assert detect() is None

    class Spec:
        origin = '/opt/ros/jazzy/lib/python3.12/site-packages/rclpy/__init__.py'

    monkeypatch.setattr(resources.importlib.util, 'find_spec', lambda name: Spec())
    assert detect() == 'jazzy'


def test_the_profile_line_says_whose_profile_is_in_use(package_root, monkeypatch):
    from mono_depth_ros import resources

    packaged = str(package_root / 'config' / 'fastdds_large_data.xml')
    for name in resources.FASTDDS_PROFILE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv('ROS_DISTRO', 'kilted')
    monkeypatch.setattr(resources, '_SET_BY_PACKAGE', {})
    profile = resources.apply_fastdds_profile()
    assert profile == resources.FastDdsProfile(packaged, None, 'FASTDDS_DEFAULT_PROFILES_FILE')
    assert resources.apply_fastdds_profile() == profile  # a second call changes nothing
    assert profile.describe() == (f"Fast DDS profile: the package's large-data profile "
                                  f'{packaged} (set FASTDDS_DEFAULT_PROFILES_FILE for your own)')
    assert 'FASTRTPS_DEFAULT_PROFILES_FILE' not in resources.os.environ
    monkeypatch.setattr(resources, '_SET_BY_PACKAGE', {})
    monkeypatch.setenv('FASTDDS_DEFAULT_PROFILES_FILE', '/etc/mine.xml')
    assert resources.apply_fastdds_profile().describe() == (
        'Fast DDS profile: /etc/mine.xml (yours, from FASTDDS_DEFAULT_PROFILES_FILE)')


def test_every_launch_file_sets_the_fastdds_profile_with_names_launch_support_has(package_root):
    launch_files = sorted((package_root / 'launch').glob('*.launch.py'))
    assert [path.name for path in launch_files] == [
        'bag_replay.launch.py', 'depth.launch.py', 'mono_depth.launch.py',
        'nav2_depth_sensor.launch.py', 'triangulation.launch.py']
    for path in launch_files:
        tree = ast.parse(path.read_text(), str(path))
        imported = [alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                    and node.module == 'mono_depth_ros.launch_support' for alias in node.names]
        assert 'fastdds_profile_actions' in imported, path.name
        assert all(hasattr(launch_support, name) for name in imported), path.name
        functions = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
        assert 'generate_launch_description' in functions, path.name
        for node in tree.body:   # the shared arguments a launch file declares all exist
            if isinstance(node, ast.Assign) and node.targets[0].id == 'ARGUMENTS':
                names = ast.literal_eval(node.value)
                assert set(names) <= set(launch_support.LAUNCH_ARGUMENTS), path.name


def test_launch_flags_read_true_and_1_as_yes():
    assert all(launch_support.is_true(text) for text in ('true', 'True', '1', ' TRUE '))
    assert not any(launch_support.is_true(text) for text in ('false', '0', '', 'yes'))


_IMPORT_CHECK = '''
import json, sys
from mono_depth_ros import launch_support
check = launch_support.check_model(sys.argv[1], 'onnxruntime')
heavy = ('rclpy', 'torch', 'onnxruntime', 'tensorrt', 'transformers', 'cv2')
print(json.dumps({
    'available': check.available,
    'loaded': sorted(name for name in sys.modules if name.split('.')[0] in heavy),
    'inference': sorted(name for name in sys.modules
                        if name.startswith('mono_depth_ros.inference.'))}))
'''


def test_checking_a_model_imports_neither_ros_nor_an_inference_library(package_root, tmp_path):
    model = tmp_path / 'model.onnx'
    model.write_bytes(b'not read')
    environment = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(package_root), *filter(None, [os.environ.get('PYTHONPATH')])]))
    result = subprocess.run([sys.executable, '-c', _IMPORT_CHECK, str(model)], env=environment,
                            capture_output=True, text=True, timeout=120, check=True)
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report['loaded'] == []
    assert set(report['inference']) <= {'mono_depth_ros.inference.errors',
                                        'mono_depth_ros.inference.model_files'}
    assert report['available'] == (importlib.util.find_spec('onnxruntime') is not None)


def test_the_fallback_turns_dense_depth_on_unless_told_otherwise():
    assert launch_support.dense_depth_argument('', depth_network_runs=False) == 'true'
    assert launch_support.dense_depth_argument('', depth_network_runs=True) == ''
    assert launch_support.dense_depth_argument('false', depth_network_runs=False) == 'false'
    assert launch_support.dense_depth_argument('True', depth_network_runs=True) == 'true'


def test_dense_scale_points_remap_the_depth_node_and_turn_dense_depth_on():
    assert launch_support.scale_points_remappings('sparse') == []
    assert launch_support.scale_points_remappings('') == []
    assert launch_support.scale_points_remappings('Dense') == [
        ('triangulation/points', 'triangulation/dense/points')]
    with pytest.raises(ValueError, match='scale_points'):
        launch_support.scale_points_remappings('both')
    assert launch_support.dense_depth_argument('', True, dense_scale_points=True) == 'true'
    assert launch_support.dense_depth_argument('false', True, dense_scale_points=True) == 'false'
