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


"""The inputs of process-bag: a rosbag2 or a TUM RGB-D directory as one stream of events."""

import argparse
import dataclasses
import pathlib
from typing import Iterator, TYPE_CHECKING

import cv2
import numpy as np

from mono_depth_ros import bags
from mono_depth_ros.bags import messages
from mono_depth_ros.bags.messages import CAMERA_INFO_TYPE, IMAGE_TYPE, ODOMETRY_TYPE
from mono_depth_ros.core import tum
from mono_depth_ros.core.errors import BadMessageError
from mono_depth_ros.core.image_codec import numpy_to_image
from mono_depth_ros.core.transforms import default_camera_to_base, pose_from_xyz_quaternion
from mono_depth_ros.offline import InputError, LOGGER
from mono_depth_ros.offline.processor import InputFrame
from mono_depth_ros.offline.topics import select_topics, SelectedTopics

if TYPE_CHECKING:
    from mono_depth_ros.offline.output_bag import OutputBag

# Topics and frames of a TUM directory turned into a recording.
TUM_TOPICS = {'image': '/camera/image_raw', 'camera_info': '/camera/camera_info',
              'odom': '/odom'}
TUM_FRAMES = {'camera': 'camera_optical_frame', 'odom': 'odom', 'base': 'base_link'}


@dataclasses.dataclass
class Event:
    """One input message in recording order: what it is for the processor, and its copy."""

    log_time_ns: int
    kind: str  # 'image', 'camera_info', 'odom' or 'other'
    payload: object = None
    copy_key: tuple[str, str] | None = None  # (topic, msgtype) of the copy in the output
    copy_data: bytes | memoryview | None = None


class BagSource:
    """A rosbag2 (read through :mod:`mono_depth_ros.bags`): topic selection and the stream."""

    def __init__(self, path: pathlib.Path, args: argparse.Namespace, mode: str) -> None:
        self.path = path
        try:
            self.reader = bags.open_reader(path)
        except bags.BagReadError as error:
            raise InputError(str(error)) from None
        try:
            self._select(args, mode)
        except (InputError, BadMessageError):
            self.close()
            raise

    def _select(self, args: argparse.Namespace, mode: str) -> None:
        topics = self.reader.topics
        self.topics = select_topics(
            topics, image_topic=args.image_topic, camera_info_topic=args.camera_info_topic,
            odom_topic=args.odom_topic, compressed=args.compressed,
            need_camera_info=args.camera_yaml is None, need_odometry=mode != 'depth',
            output_namespace=args.output_namespace, source=str(self.path))
        self.fixed_camera = tum.camera_from_yaml(args.camera_yaml) if args.camera_yaml else None
        self.frame_count = topics[self.topics.image][1]
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
            LOGGER.warning('not copying %s: the outputs replace them', ', '.join(skipped))
        return kept

    def events(self, out: 'OutputBag | None', output_topics: set[str]) -> Iterator[Event]:
        """Yield every message of interest (and, with ``out``, every one to copy) in order."""
        t = self.topics
        wanted = {t.image, t.camera_info, t.odom if self.mode != 'depth' else None} - {None}
        copies = {}
        if out is not None:
            for connection in self.copy_connections(output_topics):
                copies[connection.id] = out.add_copy(connection, self.reader.typestore)
        read = wanted | {c.topic for c in self.reader.connections if c.id in copies}
        kinds = {t.image: 'image', t.camera_info: 'camera_info', t.odom: 'odom'}
        for record in self.reader.messages(read):
            kind = kinds.get(record.topic, 'other') if record.topic in wanted else 'other'
            payload = None
            if kind != 'other':
                payload = self._payload(kind, self.reader.deserialize(record),
                                        record.log_time_ns)
            yield Event(record.log_time_ns, kind, payload, copies.get(record.connection.id),
                        record.data)

    def _payload(self, kind: str, message, log_time: int):
        if kind == 'image':
            header = message.header
            return InputFrame(stamp_ns=messages.stamp_ns(header.stamp), frame_id=header.frame_id,
                              image=message, camera_info=self.fixed_camera,
                              log_time_ns=log_time, compressed=self.topics.compressed)
        if kind == 'odom':
            pose = message.pose.pose
            return (messages.stamp_ns(message.header.stamp),
                    (pose.position.x, pose.position.y, pose.position.z),
                    (pose.orientation.x, pose.orientation.y, pose.orientation.z,
                     pose.orientation.w))
        return message

    def close(self) -> None:
        """Close the bag."""
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
                    data = bags.serialize(messages.odometry(
                        messages.header(stamp, TUM_FRAMES['odom']), TUM_FRAMES['base'],
                        position, quaternion))
                yield Event(stamp, 'odom', (stamp, position, quaternion),
                            copy_keys.get('odom'), data)
                continue
            rgb = self._read_rgb(self.dataset.rgb[index])
            if rgb is None:
                continue
            if 'camera_info' in copy_keys:
                header = messages.header(stamp, TUM_FRAMES['camera'])
                yield Event(stamp, 'other', None, copy_keys['camera_info'],
                            bags.serialize(messages.camera_info(camera_fields, header)))
            data = None
            if 'image' in copy_keys:
                header = messages.header(stamp, TUM_FRAMES['camera'])
                data = bags.serialize(messages.image(numpy_to_image(rgb, 'rgb8'), header))
            frame = InputFrame(stamp_ns=stamp, frame_id=TUM_FRAMES['camera'],
                               image=rgb,
                               camera_info=self.dataset.camera, log_time_ns=stamp)
            yield Event(stamp, 'image', frame, copy_keys.get('image'), data)

    def _read_rgb(self, entry: tum.ListEntry) -> np.ndarray | None:
        path = self.dataset.path(entry)
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            LOGGER.warning('cannot read %s: frame %s skipped', path, entry.stamp_text)
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
