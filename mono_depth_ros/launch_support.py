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

"""What the launch files decide, without importing launch: files, remappings, which pipeline.

The launch files in launch/ stay declarative and call these functions from their
OpaqueFunctions, so the decisions are tested where the ROS launch packages are not installed.
The arguments they share are declared once, in :data:`LAUNCH_ARGUMENTS`; the two helpers that
build launch actions (:func:`declare_arguments`, :func:`fastdds_profile_actions`) import
launch when called.

``pipeline:=auto`` runs the depth network when a model *can be found*, without loading it
(that takes seconds to minutes and belongs to depth_node): the model resolves with
:func:`~mono_depth_ros.inference.model_files.model_format` (a file of a known type, a Hugging
Face directory, or a Hugging Face id), a Hugging Face id is in the local Hugging Face cache (or
``allow_download`` is true), and the Python packages that its format and the chosen backend need
are installed. Anything else means "no model": triangulation runs alone.
"""

from dataclasses import dataclass
import hashlib
import importlib.util
import math
import os
import pathlib
import re
import tempfile

import yaml

from mono_depth_ros.core.errors import BadMessageError
from mono_depth_ros.inference.errors import ModelLoadError
from mono_depth_ros.inference.model_files import model_format
from mono_depth_ros.parameter_tables import depth_parameter
from mono_depth_ros.resources import fastdds_profile_environment, package_file

PIPELINES = ('auto', 'depth', 'triangulation', 'both')
PARAMS_PROFILES = ('cpu', 'desktop_gpu', 'jetson_orin')
DEFAULT_PARAMS_PROFILE = 'cpu'
RVIZ_CONFIG = 'config/mono_depth.rviz'
# The topics the RViz config shows, as written there (namespace 'camera', image 'image_raw').
RVIZ_NAMESPACE = 'camera'
RVIZ_IMAGE_TOPIC = '/camera/image_raw'
RVIZ_FIXED_FRAME = 'camera_optical_frame'

# Python packages a model format needs (any one of each group), and a backend needs.
_FORMAT_PACKAGES = {
    'onnx': (('onnxruntime', 'tensorrt'),),
    'engine': (('tensorrt',),),
    'hf': (('torch',), ('transformers',)),
    'pth': (('torch',), ('transformers',)),
    'safetensors': (('torch',), ('transformers',), ('safetensors',)),
}
_BACKEND_PACKAGES = {'onnxruntime': 'onnxruntime', 'tensorrt': 'tensorrt', 'torch': 'torch'}
_HF_WEIGHT_FILES = ('model.safetensors', 'pytorch_model.bin')


# The launch arguments the launch files share: name -> (default, description).
LAUNCH_ARGUMENTS = {
    'pipeline': ('auto', 'auto (depth + triangulation when a model is found, else '
                         'triangulation), depth, triangulation or both'),
    'model': ('', 'Depth Anything model: an .onnx, .engine, .pth or .safetensors file, a '
                  'Hugging Face directory or id (empty: the one in params_file)'),
    'backend': ('', 'auto, tensorrt, onnxruntime or torch (empty: the one in params_file)'),
    'params_file': ('cpu', 'Parameter file: cpu, desktop_gpu, jetson_orin (config/*.yaml) or a '
                           'path'),
    'namespace': ('camera', 'Namespace of the nodes and of their relative topic names'),
    'image': ('image_raw', 'Camera image topic (image/compressed follows it)'),
    'camera_info': ('camera_info', 'CameraInfo topic'),
    'odom': ('/odom', 'nav_msgs/Odometry topic: the pose of the base in the odometry frame'),
    'camera_to_base': ('', 'Pose of the camera optical frame in the base frame, '
                           "'x y z qx qy qz qw' (empty: the one in params_file)"),
    'scale_source': ('', 'Metric scale for a relative model: none, fixed or triangulation '
                         '(empty: the one in params_file)'),
    'dense_depth': ('', 'triangulation_node dense depth from keyframes, true or false (empty: '
                        'the one in params_file; mono_depth.launch.py sets true when no depth '
                        'network runs)'),
    'scale_points': ('sparse', 'The points that give a relative model its metric scale: sparse '
                               '(triangulation/points) or dense (triangulation/dense/points, '
                               'which turns dense_depth on)'),
    'use_sim_time': ('false', 'Use /clock (true when playing a bag)'),
    'rviz': ('false', 'Start RViz with config/mono_depth.rviz'),
    'rviz_frame': (RVIZ_FIXED_FRAME,
                   "RViz's fixed frame: the frame_id of the camera's images where there is no "
                   'TF (the default is the camera of the synthetic bags), or a TF frame such as '
                   'odom'),
    'lifecycle': ('false', 'Run the managed (lifecycle) nodes: depth_lifecycle_node, '
                           'triangulation_lifecycle_node'),
    'autostart': ('true', 'With lifecycle:=true, configure and activate the nodes at launch '
                          '(false: leave them to a lifecycle manager)'),
    'cameras': ('', "Several cameras, one namespace each: 'front,rear' starts the nodes in "
                    '/front and /rear, each reading its own image and camera_info (empty: one '
                    'camera in namespace)'),
    'costmap': ('voxel', 'Nav2 costmap layer for points/filtered: voxel (Nav2 voxel and '
                         'obstacle layers, config/nav2_costmap_voxel.yaml) or stvl '
                         '(config/nav2_costmap_stvl.yaml)'),
    'nav2_params_file': ('', "Nav2's parameter file the costmap settings are merged into "
                             "(empty: nav2_bringup's params/nav2_params.yaml)"),
}
COSTMAP_CHOICES = ('voxel', 'stvl')
# depth_node's cloud for costmaps, which the Nav2 costmap files read.
FILTERED_POINTS = 'points/filtered'
_ARGUMENT_CHOICES = {'pipeline': PIPELINES, 'costmap': COSTMAP_CHOICES}
# The managed (lifecycle) executable of each node.
MANAGED_EXECUTABLES = {'depth_node': 'depth_lifecycle_node',
                       'triangulation_node': 'triangulation_lifecycle_node'}


def dense_depth_argument(value: str, depth_network_runs: bool,
                         dense_scale_points: bool = False) -> str:
    """Return triangulation.launch.py's dense_depth: the one given, else on where it is needed.

    It is on without a network (the fallback) and when the network's scale comes from the dense
    points. Empty leaves the node's parameter (params_file, else its default: off).
    """
    if value.strip():
        return 'true' if is_true(value) else 'false'
    return '' if depth_network_runs and not dense_scale_points else 'true'


SCALE_POINTS_TOPICS = {'sparse': 'triangulation/points', 'dense': 'triangulation/dense/points'}


def scale_points_remappings(value: str) -> list[tuple[str, str]]:
    """Return depth_node's remapping for scale_points: none for sparse, the dense cloud else.

    Raises ValueError naming the argument for anything but sparse or dense.
    """
    choice = value.strip().lower() or 'sparse'
    if choice not in SCALE_POINTS_TOPICS:
        choices = ', '.join(SCALE_POINTS_TOPICS)
        raise ValueError(f'scale_points:={value!r}: expected one of {choices}')
    if choice == 'sparse':
        return []
    return [(SCALE_POINTS_TOPICS['sparse'], SCALE_POINTS_TOPICS[choice])]


def is_true(value: str) -> bool:
    """Return True for a launch argument meaning yes: 'true' or '1' (any case)."""
    return value.strip().lower() in ('true', '1')


def declare_arguments(names, defaults: dict[str, str] | None = None) -> list:
    """Return DeclareLaunchArgument actions for ``names`` of :data:`LAUNCH_ARGUMENTS`.

    ``defaults`` overrides the default of some (bag_replay starts RViz, say).
    """
    from launch.actions import DeclareLaunchArgument

    defaults = defaults or {}
    actions = []
    for name in names:
        default, description = LAUNCH_ARGUMENTS[name]
        extra = {'choices': list(_ARGUMENT_CHOICES[name])} if name in _ARGUMENT_CHOICES else {}
        actions.append(DeclareLaunchArgument(name, default_value=defaults.get(name, default),
                                             description=description, **extra))
    return actions


def fastdds_profile_actions() -> list:
    """Return the actions that point Fast DDS 2 and 3 at one profile, where needed.

    Fast DDS moves messages between processes on one machine through shared memory with a
    512 KB segment by default: images, depth images and clouds bigger than that are mostly
    lost on the way. The package's profile enlarges it; a profile the user set is kept
    (:func:`~mono_depth_ros.resources.fastdds_profile_environment`).
    """
    from launch.actions import SetEnvironmentVariable

    return [SetEnvironmentVariable(name, value)
            for name, value in fastdds_profile_environment().items()]


def resolve_params_file(value: str) -> str:
    """Return the parameter file for ``value``: a profile name from config/, or a path.

    '' means the default profile (cpu). Raises FileNotFoundError naming the path.
    """
    name = value.strip() or DEFAULT_PARAMS_PROFILE
    if name in PARAMS_PROFILES:
        return str(package_file(f'config/{name}.yaml'))
    path = pathlib.Path(os.path.expanduser(name))
    if not path.is_file():
        raise FileNotFoundError(f'params_file {value!r}: no such file (give a path or one of '
                                f'{", ".join(PARAMS_PROFILES)})')
    return str(path)


def node_parameters(params_file: str, node_name: str) -> dict:
    """Return the ``ros__parameters`` a ROS parameter file gives ``node_name``.

    Sections apply when their last name part is the node name or a wildcard (``/**``,
    ``/**/depth_node``, ``/camera/depth_node``); wildcard sections first, then the node's own.
    """
    with open(params_file, encoding='utf-8') as stream:
        document = yaml.safe_load(stream) or {}
    if not isinstance(document, dict):
        raise BadMessageError(params_file, type(document).__name__,
                              'a mapping of node names to ros__parameters')
    generic, specific = {}, {}
    for key, section in document.items():
        last = str(key).rstrip('/').rsplit('/', 1)[-1]
        parameters = (section or {}).get('ros__parameters') if isinstance(section, dict) else None
        if not isinstance(parameters, dict):
            continue
        if last == node_name:
            specific.update(parameters)
        elif last in ('*', '**'):
            generic.update(parameters)
    return {**generic, **specific}


def camera_remappings(image: str, camera_info: str,
                      odom: str | None = None) -> list[tuple[str, str]]:
    """Return the remappings that connect a node's ``image``, ``camera_info`` (and ``odom``).

    ``image/compressed`` follows ``image``, so image_transport compressed needs no extra remap.
    """
    remappings = [('image', image), ('image/compressed', f'{image.rstrip("/")}/compressed'),
                  ('camera_info', camera_info)]
    if odom is not None:
        remappings.append(('odom', odom))
    return remappings


def parse_camera_to_base(text: str) -> list[float] | None:
    """Return the 7 floats of 'x y z qx qy qz qw' (spaces or commas, brackets allowed).

    '' means "leave the parameter file's value": None. Raises BadMessageError otherwise.
    """
    stripped = text.strip().strip('[]()').strip()
    if not stripped:
        return None
    parts = [part for part in re.split(r'[\s,]+', stripped) if part]
    try:
        values = [float(part) for part in parts]
    except ValueError:
        values = []
    if len(values) != 7 or not all(math.isfinite(v) for v in values):
        raise BadMessageError('camera_to_base', text, "7 numbers 'x y z qx qy qz qw'")
    return values


def default_model() -> str:
    """Return depth_node's default ``model`` parameter."""
    return depth_parameter('model').default


def effective_model(model_argument: str, depth_parameters: dict) -> str:
    """Return the model depth_node will use: the launch argument, the file's, or the default."""
    return (model_argument.strip() or str(depth_parameters.get('model') or '').strip()
            or default_model())


@dataclass(frozen=True)
class ModelCheck:
    """Whether a model can be found without loading it, and why (or why not)."""

    available: bool
    reason: str


def _installed(package: str) -> bool:
    try:
        return importlib.util.find_spec(package) is not None
    except (ImportError, ValueError):
        return False


def _in_hugging_face_cache(model_id: str) -> bool:
    """Return whether a Hugging Face model's config and weights are in the local cache."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return False
    if not isinstance(try_to_load_from_cache(model_id, 'config.json'), str):
        return False
    return any(isinstance(try_to_load_from_cache(model_id, name), str)
               for name in _HF_WEIGHT_FILES)


def check_model(model: str, backend: str = 'auto', allow_download: bool = False) -> ModelCheck:
    """Return whether ``model`` can be found and run here, without loading any weights."""
    try:
        kind = model_format(model)
    except ModelLoadError as error:
        return ModelCheck(False, str(error))
    for group in _FORMAT_PACKAGES[kind]:
        if not any(_installed(package) for package in group):
            return ModelCheck(False, f'{model} ({kind}) needs the Python package '
                                     f'{" or ".join(group)}, which is not installed')
    needed = _BACKEND_PACKAGES.get(backend)
    if needed and not _installed(needed):
        return ModelCheck(False, f'backend {backend} needs the Python package {needed}, which '
                                 'is not installed')
    local = pathlib.Path(os.path.expanduser(model)).exists()
    if kind == 'hf' and not local:
        if allow_download:
            return ModelCheck(True, f'{model} (Hugging Face id; downloaded if not cached)')
        if not _in_hugging_face_cache(model):
            return ModelCheck(False, f'{model} is not in the Hugging Face cache and '
                                     f'allow_download is false: download it once with '
                                     f'`hf download {model}` or give model:=/path/to/model')
        return ModelCheck(True, f'{model} (Hugging Face cache)')
    return ModelCheck(True, f'{model} ({kind} file)' if kind != 'hf' else f'{model} (directory)')


@dataclass(frozen=True)
class PipelinePlan:
    """Which nodes a launch starts, the depth node's scale_source override, and a log line."""

    depth: bool
    triangulation: bool
    scale_source: str | None
    summary: str


def plan_pipeline(pipeline: str, model: str, depth_parameters: dict,
                  backend: str = '') -> PipelinePlan:
    """Return what ``pipeline`` (auto|depth|triangulation|both) starts for this model.

    With both nodes, depth_node takes its metric scale from triangulation/points
    (``scale_source: triangulation``; metric models ignore it) unless the parameter file chose
    ``fixed``. auto runs both when :func:`check_model` finds the model, else triangulation alone.
    """
    if pipeline not in PIPELINES:
        raise BadMessageError('pipeline', pipeline, ', '.join(PIPELINES))
    configured_scale = str(depth_parameters.get('scale_source', 'none'))
    fused_scale = 'fixed' if configured_scale == 'fixed' else 'triangulation'
    fusion = ('a relative model scaled to metres by the triangulated points '
              f'(scale_source {fused_scale})'
              if fused_scale == 'triangulation' else 'scale_source fixed from the parameters')
    if pipeline == 'depth':
        return PipelinePlan(True, False, None, f'pipeline depth: depth_node with {model}')
    if pipeline == 'triangulation':
        return PipelinePlan(False, True, None,
                            'pipeline triangulation: triangulation_node only (no model)')
    if pipeline == 'both':
        return PipelinePlan(True, True, fused_scale,
                            f'pipeline both: depth_node with {model} + triangulation_node, '
                            f'{fusion}')
    check = check_model(model, backend or str(depth_parameters.get('backend', 'auto')),
                        bool(depth_parameters.get('allow_download', False)))
    if check.available:
        return PipelinePlan(True, True, fused_scale,
                            f'pipeline auto: model {check.reason} found: depth_node + '
                            f'triangulation_node, {fusion}')
    return PipelinePlan(False, True, None,
                        f'pipeline auto: no depth model ({check.reason}): triangulation_node '
                        'only, sparse metric depth from odometry')


def _absolute_topic(namespace: str, topic: str) -> str:
    if topic.startswith('/'):
        return topic
    namespace = namespace.strip('/')
    return f'/{namespace}/{topic}' if namespace else f'/{topic}'


def rviz_config(namespace: str, image: str, fixed_frame: str = RVIZ_FIXED_FRAME) -> str:
    """Return the RViz config for this namespace, camera image topic and fixed frame.

    The packaged config shows /camera/... in ``camera_optical_frame``; for anything else a
    rewritten copy is written to the temporary directory.
    """
    template = package_file(RVIZ_CONFIG)
    image_topic = _absolute_topic(namespace, image)
    namespace_prefix = _absolute_topic(namespace, '')
    fixed_frame = fixed_frame.strip() or RVIZ_FIXED_FRAME
    if (namespace_prefix == f'/{RVIZ_NAMESPACE}/' and image_topic == RVIZ_IMAGE_TOPIC
            and fixed_frame == RVIZ_FIXED_FRAME):
        return str(template)
    if not re.fullmatch(r'[A-Za-z0-9_/]+', fixed_frame):
        raise BadMessageError('rviz_frame', fixed_frame, 'a frame id (letters, digits, _ and /)')
    text = re.sub(
        rf'(?m)^(\s*Value: )/{RVIZ_NAMESPACE}/(\S*)$',
        lambda match: match.group(1) + (
            image_topic if f'/{RVIZ_NAMESPACE}/{match.group(2)}' == RVIZ_IMAGE_TOPIC
            else namespace_prefix + match.group(2)),
        template.read_text(encoding='utf-8'))
    text = re.sub(rf'(?m)^(\s*Fixed Frame: ){RVIZ_FIXED_FRAME}$',
                  lambda match: match.group(1) + fixed_frame, text)
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    path = pathlib.Path(tempfile.gettempdir()) / f'mono_depth_ros_{digest}.rviz'
    path.write_text(text, encoding='utf-8')
    return str(path)


def node_actions(executable: str, *, lifecycle: bool, autostart: bool, **node_arguments) -> list:
    """Return the launch actions that start one of the package's nodes.

    Plain: a launch_ros ``Node``. With ``lifecycle`` the managed executable as a
    ``LifecycleNode`` (``name`` and ``namespace`` in ``node_arguments``); with ``autostart``
    also the events that configure it at launch and activate it once configured (only after
    configuring, so a later deactivate by the user sticks).
    """
    from launch_ros.actions import LifecycleNode, Node

    if not lifecycle:
        return [Node(package='mono_depth_ros', executable=executable, **node_arguments)]
    from launch.actions import EmitEvent, RegisterEventHandler
    from launch.events import matches_action
    from launch_ros.event_handlers import OnStateTransition
    from launch_ros.events.lifecycle import ChangeState
    from lifecycle_msgs.msg import Transition

    node = LifecycleNode(package='mono_depth_ros', executable=MANAGED_EXECUTABLES[executable],
                         **node_arguments)
    if not autostart:
        return [node]

    def change(transition_id: int) -> EmitEvent:
        return EmitEvent(event=ChangeState(lifecycle_node_matcher=matches_action(node),
                                           transition_id=transition_id))

    activate = RegisterEventHandler(OnStateTransition(
        target_lifecycle_node=node, start_state='configuring', goal_state='inactive',
        entities=[change(Transition.TRANSITION_ACTIVATE)]))
    return [node, activate, change(Transition.TRANSITION_CONFIGURE)]


def camera_namespaces(cameras: str, namespace: str) -> list[str]:
    """Return the namespace of each camera: ``cameras`` split at commas, or ``namespace``.

    Raises BadMessageError for a name that is not a ROS name part, or a repeated one.
    """
    names = [name.strip().strip('/') for name in cameras.split(',') if name.strip()]
    if not names:
        return [namespace]
    for name in names:
        if not re.fullmatch(r'[A-Za-z][A-Za-z0-9_/]*', name) or '//' in name:
            raise BadMessageError('cameras', cameras,
                                  "comma-separated namespaces such as 'front,rear'")
    if len(set(names)) != len(names):
        raise BadMessageError('cameras', cameras, 'each camera once')
    return names


def camera_launch_arguments(cameras: str, arguments: dict[str, str]) -> list[dict[str, str]]:
    """Return the launch arguments of each camera's nodes: ``arguments`` in its namespace.

    With several cameras the image and camera_info topics must be relative (they resolve in
    each camera's namespace, /front/image_raw and /rear/image_raw): an absolute one would feed
    every camera's nodes the same images, so it is refused (BadMessageError).
    """
    namespaces = camera_namespaces(cameras, arguments.get('namespace', ''))
    if len(namespaces) > 1:
        for name in ('image', 'camera_info'):
            if str(arguments.get(name, '')).startswith('/'):
                raise BadMessageError(name, arguments[name],
                                      'a name relative to each camera namespace with cameras:=')
    return [{**arguments, 'namespace': namespace} for namespace in namespaces]


def resolved_topic(namespace: str, topic: str) -> str:
    """Return the absolute name of ``topic`` (relative names resolve in ``namespace``)."""
    return _absolute_topic(namespace, topic)


def _merge(base: dict, overlay: dict) -> dict:
    merged = dict(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _per_camera_sources(layer: dict, namespaces: list[str]) -> None:
    """Point a layer's points/filtered sources at each camera (one source per camera)."""
    sources = str(layer.get('observation_sources', '')).split()
    camera_sources = [source for source in sources
                      if str(layer[source].get('topic', '')).endswith(FILTERED_POINTS)]
    if not camera_sources:
        return
    for source in camera_sources:
        template = layer.pop(source)
        names = [source] if len(namespaces) == 1 else [f'{source}_{namespace.replace("/", "_")}'
                                                       for namespace in namespaces]
        for name, namespace in zip(names, namespaces):
            layer[name] = {**template, 'topic': resolved_topic(namespace, FILTERED_POINTS)}
        position = sources.index(source)
        sources[position:position + 1] = names
    layer['observation_sources'] = ' '.join(sources)


def nav2_costmap_parameters(costmap: str, namespaces: list[str], base_file: str = '') -> dict:
    """Return Nav2 parameters: ``base_file``'s with the costmap file for ``costmap`` merged in.

    Every observation source on points/filtered reads /NAMESPACE/points/filtered; with several
    cameras it becomes one source per camera (``mono_depth_front``, ``mono_depth_rear``).
    """
    if costmap not in COSTMAP_CHOICES:
        raise BadMessageError('costmap', costmap, ' or '.join(COSTMAP_CHOICES))
    overlay_path = package_file(f'config/nav2_costmap_{costmap}.yaml')
    overlay = yaml.safe_load(overlay_path.read_text(encoding='utf-8'))
    for costmaps in overlay.values():
        for section in costmaps.values():
            parameters = section['ros__parameters']
            for layer in parameters.get('plugins', []):
                _per_camera_sources(parameters[layer], namespaces)
    base = {}
    if base_file:
        with open(base_file, encoding='utf-8') as stream:
            base = yaml.safe_load(stream) or {}
    return _merge(base, overlay)


def package_share(package: str) -> str | None:
    """Return a ROS package's share directory from the ament index, or None where it is not."""
    try:
        from ament_index_python.packages import get_package_share_directory
        return get_package_share_directory(package)
    except (ImportError, LookupError, ValueError, OSError):
        return None


def write_parameter_file(parameters: dict, stem: str) -> str:
    """Write ``parameters`` as a ROS parameter file in the temporary directory; return it."""
    text = yaml.safe_dump(parameters, sort_keys=False)
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    path = pathlib.Path(tempfile.gettempdir()) / f'mono_depth_ros_{stem}_{digest}.yaml'
    path.write_text(text, encoding='utf-8')
    return str(path)
