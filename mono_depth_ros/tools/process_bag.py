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

"""``mono-depth-ros process-bag``: the nodes' outputs for a recording, offline and without ROS.

``IN`` is a rosbag2 (a directory with metadata.yaml, or a single .mcap or .db3 file) or a TUM
RGB-D directory (rgb.txt, groundtruth.txt as odometry, camera.yaml or a TUM calibration).
``OUT`` is a new rosbag2 (MCAP, or sqlite3 with ``--storage sqlite3``) holding the topics
depth_node and triangulation_node publish, in the image topic's namespace (``/camera/image_raw``
-> ``/camera/depth/image`` ...), stamped like the input images and recorded at their receive
times, plus the input topics unless ``--no-copy``. The bag is read and written with rosbags;
frames run through :class:`mono_depth_ros.pipeline.offline.OfflineProcessor`, which uses the
nodes' own pipelines.
"""

import argparse
from collections import Counter
import dataclasses
import heapq
import itertools
import logging
import pathlib
import shutil
import sys
import time
from typing import Iterator

import cv2
import numpy as np

from mono_depth_ros.core import tum
from mono_depth_ros.core.colorize import colormap_names
from mono_depth_ros.core.errors import BadMessageError
from mono_depth_ros.core.image_codec import ImageFields, numpy_to_image
from mono_depth_ros.core.pointcloud import CloudFields
from mono_depth_ros.core.transforms import default_camera_to_base, pose_from_xyz_quaternion
from mono_depth_ros.pipeline.offline import (FrameOutput, InputFrame, MODES, OfflineProcessor,
                                             OfflineSettings, OUTPUT_TOPICS)
from mono_depth_ros.synth.writer import BAG_METADATA_VERSION

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
IMAGE_TYPE = 'sensor_msgs/msg/Image'
COMPRESSED_TYPE = 'sensor_msgs/msg/CompressedImage'
CAMERA_INFO_TYPE = 'sensor_msgs/msg/CameraInfo'
ODOMETRY_TYPE = 'nav_msgs/msg/Odometry'
STORAGES = ('mcap', 'sqlite3')
# Topics and frames of a TUM directory turned into a recording.
TUM_TOPICS = {'image': '/camera/image_raw', 'camera_info': '/camera/camera_info',
              'odom': '/odom'}
TUM_FRAMES = {'camera': 'camera_optical_frame', 'odom': 'odom', 'base': 'base_link'}
# Preferred image topic names, best first (image_transport / image_pipeline conventions).
_IMAGE_NAMES = ('image_raw', 'image_color', 'image_rect_color', 'image_rect', 'image')
# Path segments of topics that carry depth or this package's outputs, not camera images.
_NOT_CAMERA_SEGMENTS = {'depth', 'depth_registered', 'triangulation', 'disparity', 'colored',
                        'relative', 'tracks'}
_LOGGER = logging.getLogger('mono_depth_ros.process_bag')


class InputError(Exception):
    """A problem with the command line or the input that the user must fix (exit code 2)."""


# Command line ---------------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the process-bag options."""
    parser.add_argument('input', metavar='IN', type=pathlib.Path,
                        help='rosbag2 directory, .mcap or .db3 file, or TUM RGB-D directory')
    parser.add_argument('--out', required=True, type=pathlib.Path,
                        help='output rosbag2 directory (must not exist unless --overwrite)')
    parser.add_argument('--model', default='',
                        help='depth model (ONNX, engine, Hugging Face id or directory, .pth, '
                             '.safetensors); needed by --mode depth and both')
    parser.add_argument('--mode', choices=MODES, default=None,
                        help='what to run (default: both with --model, else triangulation)')
    topics = parser.add_argument_group('input topics (detected when not given)')
    topics.add_argument('--image-topic', help='sensor_msgs/Image or CompressedImage topic')
    topics.add_argument('--camera-info-topic', help='sensor_msgs/CameraInfo topic')
    topics.add_argument('--odom-topic', help='nav_msgs/Odometry topic (base pose)')
    topics.add_argument('--compressed', action='store_true',
                        help='read the CompressedImage topic (IMAGE_TOPIC or '
                             'IMAGE_TOPIC/compressed)')
    topics.add_argument('--camera-yaml', type=pathlib.Path,
                        help='camera_info YAML to use instead of a camera_info topic')
    topics.add_argument('--tum-camera', default='auto',
                        help='TUM input: auto (camera.yaml, else from the directory name), '
                             'fr1, fr2, fr3, ros, or a camera_info YAML file')
    output = parser.add_argument_group('output')
    output.add_argument('--storage', choices=STORAGES, default='mcap', help='rosbag2 storage')
    output.add_argument('--output-namespace',
                        help="namespace of the output topics (default: the image topic's)")
    output.add_argument('--no-copy', action='store_true', help='leave the input topics out')
    output.add_argument('--overwrite', action='store_true', help='replace an existing OUT bag')
    output.add_argument('--max-frames', type=int, default=0, help='stop after N images')
    output.add_argument('--quiet', action='store_true', help='no progress bar or log')
    depth = parser.add_argument_group('depth (depth_node parameters)')
    depth.add_argument('--backend', default='auto',
                       choices=('auto', 'tensorrt', 'onnxruntime', 'torch'))
    depth.add_argument('--device', default='auto', choices=('auto', 'cuda', 'cpu'))
    depth.add_argument('--precision', default='fp16', choices=('fp32', 'fp16', 'int8'))
    depth.add_argument('--input-size', type=int, default=518,
                       help='network input, shorter side, a multiple of 14')
    depth.add_argument('--depth-type', default='auto', choices=('auto', 'relative', 'metric'))
    depth.add_argument('--min-depth', type=float,
                       help='smallest depth written (m; default 0.1 depth, 0.2 triangulation)')
    depth.add_argument('--max-depth', type=float,
                       help='largest depth written (m; default 20 depth, 30 triangulation)')
    depth.add_argument('--fixed-scale', type=float,
                       help='depth mode, relative model: 1/depth = scale * relative + shift')
    depth.add_argument('--fixed-shift', type=float, default=0.0)
    depth.add_argument('--points-stride', type=int, default=2)
    depth.add_argument('--no-points', action='store_true', help='leave out the points cloud')
    depth.add_argument('--no-points-color', action='store_true', help='points without rgb')
    depth.add_argument('--no-colored', action='store_true', help='leave out depth/colored')
    depth.add_argument('--colormap', default='turbo', choices=colormap_names())
    depth.add_argument('--engine-cache-dir', default='')
    depth.add_argument('--allow-download', action='store_true',
                       help='let a Hugging Face id be downloaded')
    triangulation = parser.add_argument_group('triangulation (triangulation_node parameters)')
    triangulation.add_argument('--camera-to-base', type=float, nargs=7,
                               metavar=('X', 'Y', 'Z', 'QX', 'QY', 'QZ', 'QW'),
                               help='pose of the optical frame in the base frame (default: '
                                    'looking along base +x; TUM: groundtruth.txt header)')
    triangulation.add_argument('--max-features', type=int)
    triangulation.add_argument('--odom-max-gap', type=float,
                               help='longest odometry gap interpolation bridges (s)')


def run(args: argparse.Namespace) -> int:
    """Process the input; return 0, 1 (nothing could be processed) or 2 (bad input)."""
    _configure_log(args.quiet)
    try:
        mode = resolve_mode(args.mode, args.model)
        source = open_source(args, mode)
    except (InputError, BadMessageError) as error:
        print(f'process-bag: {error}', file=sys.stderr)
        return EXIT_USAGE
    processor = None
    try:
        processor = build_processor(args, mode, source.camera_to_base)
        out = OutputBag.create(args.out, args.storage, args.overwrite)
    except (InputError, BadMessageError, RuntimeError, FileExistsError) as error:
        source.close()
        if processor is not None:
            processor.close()
        print(f'process-bag: {error}', file=sys.stderr)
        return EXIT_USAGE
    _LOGGER.info('process-bag: %s', source.describe())
    try:
        summary = process(source, processor, out, args)
    except KeyboardInterrupt:
        out.close()
        print(f'process-bag: interrupted; {args.out} holds the frames done so far',
              file=sys.stderr)
        return EXIT_INTERRUPTED
    except BaseException:
        out.abort()
        raise
    finally:
        source.close()
        processor.close()
    out.close()
    print(summary_text(summary, processor, out, args.out))
    if processor.counts.frames_out == 0:
        problem = processor.counts.last_problem or _no_output_reason(processor)
        print(f'process-bag: no frame produced output: {problem}', file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def _configure_log(quiet: bool) -> None:
    """Send this tool's log (and the model loader's) to stderr, unless quiet."""
    _LOGGER.setLevel(logging.ERROR if quiet else logging.INFO)
    if not _LOGGER.handlers:
        _LOGGER.addHandler(_StderrHandler())
        _LOGGER.propagate = False


class _StderrHandler(logging.Handler):
    """Prints records to whatever sys.stderr is at the time."""

    def emit(self, record: logging.LogRecord) -> None:
        print(self.format(record), file=sys.stderr)


def resolve_mode(mode: str | None, model: str) -> str:
    """Return the mode to run: the one asked for, else both with a model, else triangulation."""
    if mode is None:
        return 'both' if model else 'triangulation'
    if mode != 'triangulation' and not model:
        raise InputError(f'--mode {mode} runs the depth network: give it with --model')
    return mode


def _no_output_reason(processor: OfflineProcessor) -> str:
    counts = processor.counts
    if counts.frames_in == 0:
        return 'no images were read'
    if counts.no_camera_info == counts.frames_in:
        return 'no camera_info arrived before any image'
    return 'see the log above'


# Topic selection ------------------------------------------------------------------------------
@dataclasses.dataclass
class SelectedTopics:
    """The input topics to read, and the namespace of the outputs."""

    image: str
    compressed: bool
    camera_info: str | None
    odom: str | None
    namespace: str

    def output_topic(self, relative: str) -> str:
        """Return the full name of a relative output topic."""
        return f'{self.namespace}/{relative}' if self.namespace != '/' else f'/{relative}'


def topic_listing(topics: dict[str, tuple[str, int]]) -> str:
    """Return one line per topic: name, type and message count."""
    if not topics:
        return '  (no topics)'
    width = max(len(name) for name in topics)
    type_width = max(len(msgtype) for msgtype, _ in topics.values())
    return '\n'.join(f'  {name:<{width}}  {msgtype:<{type_width}}  {count} messages'
                     for name, (msgtype, count) in sorted(topics.items()))


def select_topics(topics: dict[str, tuple[str, int]], *, image_topic: str | None = None,
                  camera_info_topic: str | None = None, odom_topic: str | None = None,
                  compressed: bool = False, need_camera_info: bool = True,
                  need_odometry: bool = True, output_namespace: str | None = None,
                  source: str = 'the bag') -> SelectedTopics:
    """Choose the image, camera_info and odometry topics of a bag (``{name: (type, count)}``).

    Raises InputError, listing the bag's topics, when a needed topic is missing or a named
    one is not there with the right type.
    """
    def fail(problem: str) -> InputError:
        return InputError(f'{problem}. Topics in {source}:\n{topic_listing(topics)}')

    def of_type(*types: str) -> list[str]:
        return [name for name, (msgtype, _) in topics.items() if msgtype in types]

    image, is_compressed = _select_image(topics, image_topic, compressed, of_type, fail)
    base = image[:-len('/compressed')] if image.endswith('/compressed') else image
    namespace = base.rsplit('/', 1)[0] or '/'

    info = _select_named(topics, camera_info_topic, CAMERA_INFO_TYPE, fail, 'camera_info')
    if info is None:
        infos = of_type(CAMERA_INFO_TYPE)
        sibling = f'{namespace.rstrip("/")}/camera_info'
        if sibling in infos:
            info = sibling
        elif infos:
            info = max(sorted(infos), key=lambda name: _common_prefix(name, base))
    if info is None and need_camera_info:
        raise fail(f'no sensor_msgs/msg/CameraInfo topic for {image} (give --camera-info-topic, '
                   'or --camera-yaml with the intrinsics)')

    odom = _select_named(topics, odom_topic, ODOMETRY_TYPE, fail, 'odom')
    if odom is None and need_odometry:
        candidates = of_type(ODOMETRY_TYPE)
        if not candidates:
            raise fail('no nav_msgs/msg/Odometry topic: triangulation needs the base pose '
                       '(give --odom-topic, or --mode depth)')
        odom = '/odom' if '/odom' in candidates else min(
            candidates, key=lambda name: (-topics[name][1], name))
    if output_namespace is not None:
        namespace = '/' + output_namespace.strip('/')
    return SelectedTopics(image=image, compressed=is_compressed, camera_info=info, odom=odom,
                          namespace=namespace.rstrip('/') or '/')


def _select_image(topics, image_topic, compressed, of_type, fail) -> tuple[str, bool]:
    if image_topic:
        for name in (image_topic, f'{image_topic.rstrip("/")}/compressed'):
            msgtype = topics.get(name, ('', 0))[0]
            if msgtype == IMAGE_TYPE and not compressed:
                return name, False
            if msgtype == COMPRESSED_TYPE:
                return name, True
        wanted = 'a sensor_msgs/msg/CompressedImage' if compressed else 'an image'
        raise fail(f'--image-topic {image_topic}: {wanted} topic of that name is not in the bag')

    def camera_like(name: str) -> bool:
        segments = set(name.strip('/').split('/'))
        return not (segments & _NOT_CAMERA_SEGMENTS) and not name.endswith('compressedDepth')

    raw = [name for name in of_type(IMAGE_TYPE) if camera_like(name)]
    packed = [name for name in of_type(COMPRESSED_TYPE) if camera_like(name)]
    pool, is_compressed = (packed, True) if compressed or not raw else (raw, False)
    if not pool:
        kind = 'sensor_msgs/msg/CompressedImage' if compressed else \
            'camera image (sensor_msgs/msg/Image or CompressedImage)'
        raise fail(f'no {kind} topic (give --image-topic)')

    def rank(name: str) -> tuple:
        base = name[:-len('/compressed')] if name.endswith('/compressed') else name
        last = base.rsplit('/', 1)[-1]
        preference = _IMAGE_NAMES.index(last) if last in _IMAGE_NAMES else len(_IMAGE_NAMES)
        return preference, -topics[name][1], name

    return min(pool, key=rank), is_compressed


def _select_named(topics, name, msgtype, fail, what) -> str | None:
    if not name:
        return None
    if topics.get(name, ('', 0))[0] != msgtype:
        raise fail(f'--{what.replace("_", "-")}-topic {name}: no {msgtype} topic of that name')
    return name


def _common_prefix(a: str, b: str) -> int:
    """Return how many leading name segments two topics share."""
    shared = 0
    for x, y in zip(a.split('/'), b.split('/')):
        if x != y:
            break
        shared += 1
    return shared


# Inputs ---------------------------------------------------------------------------------------
@dataclasses.dataclass
class Event:
    """One input message in recording order: what it is for the processor, and its copy."""

    log_time_ns: int
    kind: str  # 'image', 'camera_info', 'odom' or 'other'
    payload: object = None
    copy_key: tuple[str, str] | None = None  # (topic, msgtype) of the copy in the output
    copy_data: bytes | memoryview | None = None


class BagSource:
    """A rosbag2 read with rosbags' AnyReader: topic selection and the message stream."""

    def __init__(self, path: pathlib.Path, args: argparse.Namespace, mode: str) -> None:
        from rosbags.highlevel import AnyReader, AnyReaderError
        from rosbags.typesys import get_typestore, Stores

        self.path = path
        self.reader = AnyReader([path], default_typestore=get_typestore(Stores.ROS2_JAZZY))
        try:
            self.reader.open()
        except AnyReaderError as error:
            raise InputError(f'cannot read {path} as a rosbag2: {error}') from None
        try:
            self._select(args, mode)
        except (InputError, BadMessageError):
            self.close()
            raise

    def _select(self, args: argparse.Namespace, mode: str) -> None:
        counts: Counter = Counter()
        types: dict[str, str] = {}
        for connection in self.reader.connections:
            counts[connection.topic] += connection.msgcount
            types[connection.topic] = connection.msgtype
        topics = {name: (types[name], counts[name]) for name in types}
        self.topics = select_topics(
            topics, image_topic=args.image_topic, camera_info_topic=args.camera_info_topic,
            odom_topic=args.odom_topic, compressed=args.compressed,
            need_camera_info=args.camera_yaml is None, need_odometry=mode != 'depth',
            output_namespace=args.output_namespace, source=str(self.path))
        self.fixed_camera = tum.camera_from_yaml(args.camera_yaml) if args.camera_yaml else None
        self.frame_count = counts[self.topics.image]
        if args.max_frames > 0:
            self.frame_count = min(self.frame_count, args.max_frames)
        self.camera_to_base = (pose_from_xyz_quaternion(args.camera_to_base)
                               if args.camera_to_base else default_camera_to_base())
        self.mode = mode

    def describe(self) -> str:
        """Return which topics are read and where the outputs go."""
        t = self.topics
        info = 'from --camera-yaml' if self.fixed_camera is not None else t.camera_info
        return (f'{self.path}: image {t.image} ({"compressed" if t.compressed else "raw"}, '
                f'{self.frame_count} frames), camera_info {info}'
                + (f', odometry {t.odom}' if t.odom and self.mode != 'depth' else '')
                + f'; outputs under {t.namespace}')

    def copy_connections(self, output_topics: set[str]) -> list:
        """Return the connections to copy: all of them but those an output topic replaces."""
        kept = [c for c in self.reader.connections if c.topic not in output_topics]
        skipped = sorted({c.topic for c in self.reader.connections} & output_topics)
        if skipped:
            _LOGGER.warning('not copying %s: the outputs replace them', ', '.join(skipped))
        return kept

    def events(self, out: 'OutputBag | None', output_topics: set[str]) -> Iterator[Event]:
        """Yield every message of interest (and, with ``out``, every one to copy) in order."""
        t = self.topics
        wanted = {t.image, t.camera_info, t.odom if self.mode != 'depth' else None} - {None}
        copies = {}
        if out is not None:
            for connection in self.copy_connections(output_topics):
                copies[connection.id] = out.add_copy(connection, self.reader.typestore)
        connections = [c for c in self.reader.connections
                       if c.topic in wanted or c.id in copies]
        kinds = {t.image: 'image', t.camera_info: 'camera_info', t.odom: 'odom'}
        for connection, log_time, raw in self.reader.messages(connections=connections):
            kind = kinds.get(connection.topic, 'other') if connection.topic in wanted else 'other'
            payload = None
            if kind != 'other':
                message = self.reader.deserialize(raw, connection.msgtype)
                payload = self._payload(kind, message, log_time)
            yield Event(log_time, kind, payload, copies.get(connection.id), raw)

    def _payload(self, kind: str, message, log_time: int):
        if kind == 'image':
            header = message.header
            return InputFrame(stamp_ns=_stamp_ns(header.stamp), frame_id=header.frame_id,
                              image=message, camera_info=self.fixed_camera,
                              log_time_ns=log_time, compressed=self.topics.compressed)
        if kind == 'odom':
            pose = message.pose.pose
            return (_stamp_ns(message.header.stamp),
                    (pose.position.x, pose.position.y, pose.position.z),
                    (pose.orientation.x, pose.orientation.y, pose.orientation.z,
                     pose.orientation.w))
        return message

    def close(self) -> None:
        """Close the bag."""
        if self.reader is not None and self.reader.stack is not None:
            self.reader.close()


class TumSource:
    """A TUM RGB-D directory as a recording: colour images, the camera and ground-truth poses.

    groundtruth.txt holds optical-frame poses; they become base odometry through
    ``inverse(camera_to_base)`` (the ``# camera_to_base:`` header line when there is one, else
    ``--camera-to-base``, else the default), so the triangulation sees the recorded camera poses.
    """

    def __init__(self, path: pathlib.Path, args: argparse.Namespace, mode: str) -> None:
        self.path = path
        self.dataset = tum.read_tum_directory(path, args.tum_camera)
        if args.camera_yaml:
            self.dataset.camera = tum.camera_from_yaml(args.camera_yaml)
            self.dataset.camera_source = str(args.camera_yaml)
        header_pose = self.dataset.camera_to_base()
        if args.camera_to_base:
            self.camera_to_base = pose_from_xyz_quaternion(args.camera_to_base)
        else:
            self.camera_to_base = header_pose if header_pose is not None \
                else default_camera_to_base()
        if mode != 'depth' and (self.dataset.groundtruth is None
                                or not len(self.dataset.groundtruth)):
            raise InputError(f'{path} has no groundtruth.txt poses: triangulation needs them '
                             '(use --mode depth)')
        namespace = ('/' + args.output_namespace.strip('/')) if args.output_namespace \
            else '/camera'
        self.topics = SelectedTopics(image=TUM_TOPICS['image'], compressed=False,
                                     camera_info=TUM_TOPICS['camera_info'],
                                     odom=TUM_TOPICS['odom'] if mode != 'depth' else None,
                                     namespace=namespace.rstrip('/') or '/')
        self.frame_count = len(self.dataset.rgb)
        if args.max_frames > 0:
            self.frame_count = min(self.frame_count, args.max_frames)
        self.mode = mode

    def describe(self) -> str:
        """Return what is read and where the outputs go."""
        poses = len(self.dataset.groundtruth) if self.dataset.groundtruth is not None else 0
        return (f'{self.path}: TUM directory, {self.frame_count} colour frames, {poses} poses, '
                f'camera from {self.dataset.camera_source}; outputs under '
                f'{self.topics.namespace}')

    def events(self, out: 'OutputBag | None', output_topics: set[str]) -> Iterator[Event]:
        """Yield odometry, camera_info and image events in stamp order."""
        from rosbags.typesys import get_typestore, Stores

        factory = MessageFactory(get_typestore(Stores.ROS2_JAZZY)) if out is not None else None
        copy_keys = {}
        if out is not None:
            for key, topic in TUM_TOPICS.items():
                if key == 'odom' and self.mode == 'depth':
                    continue
                msgtype = {'image': IMAGE_TYPE, 'camera_info': CAMERA_INFO_TYPE,
                           'odom': ODOMETRY_TYPE}[key]
                if topic not in output_topics:
                    copy_keys[key] = out.add_output(topic, msgtype)
        camera_fields = self.dataset.camera.to_camera_info_fields()
        schedule = []  # (stamp, order, kind, index): at equal stamps odometry goes first
        if self.mode != 'depth':
            trajectory = tum.base_trajectory(self.dataset.groundtruth, self.camera_to_base)
            schedule += [(int(s), 0, 'odom', i) for i, s in enumerate(trajectory.stamps_ns)]
        schedule += [(entry.stamp_ns, 1, 'image', i)
                     for i, entry in enumerate(self.dataset.rgb)]
        schedule.sort()
        for stamp, _, kind, index in schedule:
            if kind == 'odom':
                position = trajectory.positions[index]
                quaternion = trajectory.quaternions[index]
                data = None
                if 'odom' in copy_keys:
                    data = factory.serialize(factory.odometry(
                        stamp, position, quaternion, TUM_FRAMES['odom'], TUM_FRAMES['base']))
                yield Event(stamp, 'odom', (stamp, position, quaternion),
                            copy_keys.get('odom'), data)
                continue
            rgb = self._read_rgb(self.dataset.rgb[index])
            if rgb is None:
                continue
            if 'camera_info' in copy_keys:
                header = factory.header(stamp, TUM_FRAMES['camera'])
                yield Event(stamp, 'other', None, copy_keys['camera_info'],
                            factory.serialize(factory.camera_info(camera_fields, header)))
            data = None
            if 'image' in copy_keys:
                header = factory.header(stamp, TUM_FRAMES['camera'])
                data = factory.serialize(factory.image(numpy_to_image(rgb, 'rgb8'), header))
            frame = InputFrame(stamp_ns=stamp, frame_id=TUM_FRAMES['camera'],
                               image=rgb,
                               camera_info=self.dataset.camera, log_time_ns=stamp)
            yield Event(stamp, 'image', frame, copy_keys.get('image'), data)

    def _read_rgb(self, entry: tum.ListEntry) -> np.ndarray | None:
        path = self.dataset.path(entry)
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            _LOGGER.warning('cannot read %s: frame %s skipped', path, entry.stamp_text)
            return None
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    def close(self) -> None:
        """Nothing to close."""


def open_source(args: argparse.Namespace, mode: str):
    """Return a BagSource or TumSource for ``args.input``."""
    path = pathlib.Path(args.input)
    if not path.exists():
        raise InputError(f'{path} does not exist')
    if path.is_dir() and not (path / 'metadata.yaml').exists():
        if tum.is_tum_directory(path):
            return TumSource(path, args, mode)
        raise InputError(f'{path} is neither a rosbag2 directory (metadata.yaml) nor a TUM '
                         'RGB-D directory (rgb.txt)')
    if path.suffix == '.bag':
        raise InputError(f'{path} is a ROS 1 bag: convert it first with '
                         f'"rosbags-convert --src {path} --dst {path.with_suffix("")}"')
    if path.is_file() and path.suffix not in ('.mcap', '.db3'):
        raise InputError(f'{path}: expected a rosbag2 directory, an .mcap or .db3 file, or a '
                         'TUM RGB-D directory')
    return BagSource(path, args, mode)


# Outputs --------------------------------------------------------------------------------------
class MessageFactory:
    """Builds rosbags messages (ROS 2 Jazzy definitions) from the core's plain fields."""

    def __init__(self, typestore) -> None:
        self.typestore = typestore
        self.types = typestore.types

    def serialize(self, message) -> memoryview:
        """Return the CDR bytes of a message."""
        return self.typestore.serialize_cdr(message, message.__msgtype__)

    def header(self, stamp_ns: int, frame_id: str):
        """Return a std_msgs/Header."""
        seconds, nanoseconds = divmod(int(stamp_ns), 1_000_000_000)
        stamp = self.types['builtin_interfaces/msg/Time'](sec=seconds, nanosec=nanoseconds)
        return self.types['std_msgs/msg/Header'](stamp=stamp, frame_id=frame_id)

    def image(self, fields: ImageFields, header):
        """Return a sensor_msgs/Image."""
        return self.types[IMAGE_TYPE](
            header=header, height=int(fields.height), width=int(fields.width),
            encoding=fields.encoding, is_bigendian=int(fields.is_bigendian),
            step=int(fields.step), data=_byte_array(fields.data))

    def cloud(self, fields: CloudFields, header):
        """Return a sensor_msgs/PointCloud2."""
        point_field = self.types['sensor_msgs/msg/PointField']
        return self.types['sensor_msgs/msg/PointCloud2'](
            header=header, height=int(fields.height), width=int(fields.width),
            fields=[point_field(name=f.name, offset=f.offset, datatype=f.datatype,
                                count=f.count) for f in fields.fields],
            is_bigendian=bool(fields.is_bigendian), point_step=int(fields.point_step),
            row_step=int(fields.row_step), data=_byte_array(fields.data),
            is_dense=bool(fields.is_dense))

    def camera_info(self, fields: dict, header):
        """Return a sensor_msgs/CameraInfo from ``CameraModel.to_camera_info_fields()``."""
        roi = fields.get('roi') or {}
        return self.types[CAMERA_INFO_TYPE](
            header=header, height=int(fields['height']), width=int(fields['width']),
            distortion_model=str(fields['distortion_model']),
            d=np.asarray(fields['d'], dtype=np.float64).reshape(-1),
            k=np.asarray(fields['k'], dtype=np.float64).reshape(9),
            r=np.asarray(fields['r'], dtype=np.float64).reshape(9),
            p=np.asarray(fields['p'], dtype=np.float64).reshape(12),
            binning_x=int(fields.get('binning_x', 0)), binning_y=int(fields.get('binning_y', 0)),
            roi=self.types['sensor_msgs/msg/RegionOfInterest'](
                x_offset=int(roi.get('x_offset', 0)), y_offset=int(roi.get('y_offset', 0)),
                height=int(roi.get('height', 0)), width=int(roi.get('width', 0)),
                do_rectify=bool(roi.get('do_rectify', False))))

    def odometry(self, stamp_ns: int, position, quaternion, frame_id: str, child_frame_id: str):
        """Return a nav_msgs/Odometry with a pose and no twist."""
        types = self.types
        pose = types['geometry_msgs/msg/Pose'](
            position=types['geometry_msgs/msg/Point'](*(float(v) for v in position)),
            orientation=types['geometry_msgs/msg/Quaternion'](*(float(v) for v in quaternion)))
        zero = types['geometry_msgs/msg/Vector3'](0.0, 0.0, 0.0)
        return types[ODOMETRY_TYPE](
            header=self.header(stamp_ns, frame_id), child_frame_id=child_frame_id,
            pose=types['geometry_msgs/msg/PoseWithCovariance'](pose=pose,
                                                               covariance=np.zeros(36)),
            twist=types['geometry_msgs/msg/TwistWithCovariance'](
                twist=types['geometry_msgs/msg/Twist'](linear=zero, angular=zero),
                covariance=np.zeros(36)))

    def output_message(self, relative_topic: str, fields, header):
        """Return the message of one processor output."""
        msgtype = OUTPUT_TOPICS[relative_topic]
        if msgtype == IMAGE_TYPE:
            return self.image(fields, header)
        if msgtype == CAMERA_INFO_TYPE:
            return self.camera_info(fields, header)
        return self.cloud(fields, header)


def _byte_array(data) -> np.ndarray:
    return np.frombuffer(memoryview(data).cast('B'), dtype=np.uint8)


class OutputBag:
    """A rosbag2 being written in log-time order, whatever order the messages come in.

    Messages wait in a heap until ``flush(before_ns)``; the caller flushes up to the log time of
    the oldest frame still being processed, so outputs land between the inputs they belong to.
    """

    def __init__(self, writer, typestore) -> None:
        self._writer = writer
        self.typestore = typestore
        self._connections: dict[tuple[str, str], object] = {}
        self._heap: list = []
        self._order = itertools.count()
        self.counts: Counter = Counter()
        self._closed = False

    @classmethod
    def create(cls, path: pathlib.Path, storage: str, overwrite: bool) -> 'OutputBag':
        """Open a new rosbag2 for writing (``overwrite`` replaces an existing rosbag2 there)."""
        from rosbags.rosbag2 import StoragePlugin, Writer
        from rosbags.typesys import get_typestore, Stores

        path = pathlib.Path(path)
        if path.exists():
            if not overwrite:
                raise FileExistsError(f'{path} exists (use --overwrite to replace it)')
            if not (path / 'metadata.yaml').exists():
                raise FileExistsError(f'{path} exists and is not a rosbag2: not replacing it')
            shutil.rmtree(path)
        plugin = StoragePlugin.MCAP if storage == 'mcap' else StoragePlugin.SQLITE3
        writer = Writer(path, version=BAG_METADATA_VERSION, storage_plugin=plugin)
        writer.open()
        return cls(writer, get_typestore(Stores.ROS2_JAZZY))

    def add_output(self, topic: str, msgtype: str) -> tuple[str, str]:
        """Register a topic written with the standard (Jazzy) definition; return its key."""
        key = (topic, msgtype)
        if key not in self._connections:
            self._connections[key] = self._writer.add_connection(
                topic, msgtype, typestore=self.typestore)
        return key

    def add_copy(self, connection, typestore) -> tuple[str, str] | None:
        """Register an input connection for copying, with its own definition; return its key."""
        key = (connection.topic, connection.msgtype)
        if key in self._connections:
            return key
        definition = connection.msgdef
        qos = list(getattr(connection.ext, 'offered_qos_profiles', None) or [])
        try:
            if definition is not None and definition.data and connection.digest:
                self._connections[key] = self._writer.add_connection(
                    connection.topic, connection.msgtype, msgdef=definition.data,
                    rihs01=connection.digest, offered_qos_profiles=qos)
            else:
                self._connections[key] = self._writer.add_connection(
                    connection.topic, connection.msgtype, typestore=typestore,
                    offered_qos_profiles=qos)
        except Exception as error:  # noqa: B902 - rosbags raises several types here
            _LOGGER.warning('not copying %s (%s): %s', connection.topic, connection.msgtype,
                            error)
            return None
        return key

    def put(self, log_time_ns: int, key: tuple[str, str], data) -> None:
        """Queue one serialized message."""
        heapq.heappush(self._heap, (int(log_time_ns), next(self._order), key, bytes(data)))

    def flush(self, before_ns: int | None = None) -> None:
        """Write the queued messages older than ``before_ns`` (all of them with None)."""
        while self._heap and (before_ns is None or self._heap[0][0] < before_ns):
            log_time, _, key, data = heapq.heappop(self._heap)
            self._writer.write(self._connections[key], log_time, data)
            self.counts[key[0]] += 1

    def close(self) -> None:
        """Write what is queued and finish the bag (metadata.yaml)."""
        if not self._closed:
            self.flush()
            self._writer.close()
            self._closed = True

    def abort(self) -> None:
        """Stop writing without finishing the bag."""
        if not self._closed:
            self._writer.abort()
            self._closed = True


# The run --------------------------------------------------------------------------------------
def build_processor(args: argparse.Namespace, mode: str,
                    camera_to_base: np.ndarray) -> OfflineProcessor:
    """Load the model (depth modes) and build the pipelines with the nodes' settings."""
    from mono_depth_ros.core.transforms import matrix_to_quaternion
    from mono_depth_ros.core.triangulation.pipeline import (TriangulationParams,
                                                            TriangulationPipeline)

    depth = triangulation = None
    if mode != 'triangulation':
        depth = _depth_pipeline(args, mode)
    if mode != 'depth':
        values = {'camera_to_base': (*(float(v) for v in camera_to_base[:3, 3]),
                                     *(float(v) for v in matrix_to_quaternion(
                                         camera_to_base[:3, :3])))}
        for name in ('min_depth', 'max_depth', 'max_features', 'odom_max_gap'):
            if getattr(args, name) is not None:
                values[name] = getattr(args, name)
        triangulation = TriangulationPipeline(
            dataclasses.replace(TriangulationParams(), **values))
    settings = OfflineSettings(
        mode=mode, publish_points=not args.no_points, publish_colored=not args.no_colored,
        colormap=args.colormap,
        odom_max_gap_s=triangulation.params.odom_max_gap if triangulation else 0.0)
    return OfflineProcessor(settings, depth=depth, triangulation=triangulation)


def _depth_pipeline(args: argparse.Namespace, mode: str):
    from mono_depth_ros.inference.base import BackendUnavailableError, ModelLoadError
    from mono_depth_ros.inference.selection import load_backend
    from mono_depth_ros.pipeline.depth_pipeline import DepthPipeline, DepthSettings

    defaults = DepthSettings()
    settings = DepthSettings(
        input_size=args.input_size,
        min_depth=defaults.min_depth if args.min_depth is None else args.min_depth,
        max_depth=defaults.max_depth if args.max_depth is None else args.max_depth,
        scale_source=('triangulation' if mode == 'both'
                      else 'fixed' if args.fixed_scale is not None else 'none'),
        fixed_scale=1.0 if args.fixed_scale is None else args.fixed_scale,
        fixed_shift=args.fixed_shift, points_stride=args.points_stride,
        points_color=not args.no_points_color)
    if settings.min_depth >= settings.max_depth:
        raise InputError(f'--min-depth {settings.min_depth} must be below --max-depth '
                         f'{settings.max_depth}')
    if not 1 <= settings.points_stride <= 16:
        raise InputError(f'--points-stride {settings.points_stride} (expected 1 to 16)')
    try:
        backend, info = load_backend(
            args.model, backend=args.backend, device=args.device, precision=args.precision,
            input_size=args.input_size, depth_type=args.depth_type,
            max_depth=settings.max_depth, allow_download=args.allow_download,
            cache_dir=args.engine_cache_dir or None, logger=_LOGGER)
    except (ModelLoadError, BackendUnavailableError) as error:
        raise InputError(str(error)) from None
    return DepthPipeline(backend, info, settings)


@dataclasses.dataclass
class RunSummary:
    """Counts and timing of one run."""

    frames: int = 0
    seconds: float = 0.0
    scale_shift: tuple[float, float] | None = None


def process(source, processor: OfflineProcessor, out: OutputBag,
            args: argparse.Namespace) -> RunSummary:
    """Stream the source through the processor into the output bag, with a progress bar."""
    factory = MessageFactory(out.typestore)
    topics = source.topics
    output_topics = {topics.output_topic(name) for name in OUTPUT_TOPICS}
    summary = RunSummary()
    started = time.perf_counter()
    bar = _progress_bar(source.frame_count, args.quiet)
    latest_info = None

    def write(outputs: list[FrameOutput]) -> None:
        for output in outputs:
            frame = output.frame
            header = factory.header(frame.stamp_ns, frame.frame_id)
            for relative, fields in output.messages.items():
                key = out.add_output(topics.output_topic(relative), OUTPUT_TOPICS[relative])
                message = factory.output_message(relative, fields, header)
                out.put(frame.log_time_ns, key, factory.serialize(message))
            if output.scale_shift is not None:
                summary.scale_shift = output.scale_shift
            summary.frames += 1
            bar.update(1)

    images = 0
    try:
        for event in source.events(None if args.no_copy else out, output_topics):
            if event.copy_key is not None and event.copy_data is not None:
                out.put(event.log_time_ns, event.copy_key, event.copy_data)
            if event.kind == 'camera_info':
                latest_info = event.payload
                done = processor.advance(event.log_time_ns)
            elif event.kind == 'odom':
                stamp, position, orientation = event.payload
                done = processor.add_odometry(stamp, position, orientation, event.log_time_ns)
            elif event.kind == 'image' and not (0 < args.max_frames <= images):
                frame = event.payload
                if frame.camera_info is None:
                    frame.camera_info = latest_info
                done = processor.add_frame(frame)
                images += 1
            else:
                done = processor.advance(event.log_time_ns)
            write(done)
            out.flush(processor.waiting_since_ns)
            if 0 < args.max_frames <= images and processor.waiting_since_ns is None:
                break
        write(processor.finish())
        out.flush()
    finally:
        bar.close()
    summary.seconds = time.perf_counter() - started
    return summary


def summary_text(summary: RunSummary, processor: OfflineProcessor, out: OutputBag,
                 path: pathlib.Path) -> str:
    """Return the end-of-run report: frames, problems and the topics written."""
    counts = processor.counts
    rate = summary.frames / summary.seconds if summary.seconds > 0 else 0.0
    lines = [f'processed {counts.frames_in} frames in {summary.seconds:.1f} s '
             f'({rate:.2f} frames/s); {counts.frames_out} with output']
    problems = {'without camera_info': counts.no_camera_info, 'bad': counts.bad_input,
                'without a pose': counts.no_pose, 'track resets': counts.resets}
    noted = [f'{count} {what}' for what, count in problems.items() if count]
    if noted:
        lines.append('frames: ' + ', '.join(noted))
    if processor.depth is not None:
        lines.append(f'depth: {counts.metric_depth} metric frames, {counts.relative_only} '
                     'relative only' + (f'; last scale {summary.scale_shift[0]:.4g}, shift '
                                        f'{summary.scale_shift[1]:.4g}'
                                        if summary.scale_shift else ''))
    lines.append(f'wrote {path}:')
    width = max((len(topic) for topic in out.counts), default=0)
    lines += [f'  {topic:<{width}}  {count}' for topic, count in sorted(out.counts.items())]
    return '\n'.join(lines)


def _progress_bar(total: int, quiet: bool):
    try:
        from tqdm import tqdm
    except ImportError:  # tqdm comes with the 'bags' extra; run without a bar otherwise
        tqdm = None
    if quiet or tqdm is None:
        return _NoBar()
    return tqdm(total=total or None, unit='frame', desc='process-bag', file=sys.stderr,
                dynamic_ncols=True, smoothing=0.1)


class _NoBar:
    def update(self, count: int) -> None:
        pass

    def close(self) -> None:
        pass


def _stamp_ns(stamp) -> int:
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)
