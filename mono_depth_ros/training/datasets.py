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

"""Training sequences: frames with (where known) ground-truth depth, camera poses, points.

Three sources, all resized to the training size on reading (the intrinsics follow):
synthetic scenes rendered in memory (:func:`synthetic_sequences`), directories in the TUM RGB-D
layout, which ``mono-depth-ros synth`` also writes (:func:`directory_sequence`: rgb.txt,
depth.txt, 16-bit depth at 5000 per metre, groundtruth.txt, camera.yaml), and rosbag2 recordings
(:func:`bag_sequence`: image, camera_info and odometry, plus the triangulation node's sparse
depth where the bag has it), read through :mod:`mono_depth_ros.bags`. A bag has no ground truth:
it trains self-supervised.
"""

from dataclasses import dataclass, field
import logging
import pathlib

import cv2
import numpy as np

from mono_depth_ros.core.errors import BadMessageError
from mono_depth_ros.core.transforms import default_camera_to_base, pose_matrix

DEPTH_SCALE = 5000.0  # 16-bit depth PNG units per metre (TUM RGB-D)
MAX_POSE_GAP_NS = 50_000_000  # an image further than this from any odometry sample has no pose
_LOGGER = logging.getLogger('mono_depth_ros.training.datasets')


@dataclass
class TrainingFrame:
    """One image and what is known about it, at the training size."""

    rgb: np.ndarray                       # (H, W, 3) uint8
    depth: np.ndarray | None = None       # (H, W) float32 metres, 0 where unknown
    sparse: np.ndarray | None = None      # (H, W) float32 metres at points, 0 elsewhere
    camera_pose: np.ndarray | None = None  # 4x4 optical frame -> world (odometry frame)
    stamp_ns: int = 0


@dataclass
class TrainingSequence:
    """Frames of one camera in time order, with its intrinsics at the training size."""

    name: str
    k: np.ndarray
    frames: list[TrainingFrame] = field(default_factory=list)

    @property
    def supervised(self) -> bool:
        """Return True when every frame has ground-truth depth."""
        return bool(self.frames) and all(frame.depth is not None for frame in self.frames)

    @property
    def posed(self) -> bool:
        """Return True when every frame has a camera pose (self-supervision is possible)."""
        return bool(self.frames) and all(frame.camera_pose is not None for frame in self.frames)


def scaled_intrinsics(k: np.ndarray, from_size: tuple[int, int],
                      to_size: tuple[int, int]) -> np.ndarray:
    """Return K for an image resized from (height, width) ``from_size`` to ``to_size``."""
    scale_y, scale_x = to_size[0] / from_size[0], to_size[1] / from_size[1]
    scaled = np.array(k, dtype=np.float64, copy=True)
    scaled[0, 0] *= scale_x
    scaled[0, 2] = (scaled[0, 2] + 0.5) * scale_x - 0.5
    scaled[1, 1] *= scale_y
    scaled[1, 2] = (scaled[1, 2] + 0.5) * scale_y - 0.5
    return scaled


def resize_rgb(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Return an RGB image at (height, width) ``size`` (area filter when shrinking)."""
    if rgb.shape[:2] == tuple(size):
        return rgb
    return cv2.resize(rgb, (size[1], size[0]), interpolation=cv2.INTER_AREA)


def resize_depth(depth: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Return depth at ``size`` by nearest neighbour (no invented depths across edges)."""
    if depth.shape[:2] == tuple(size):
        return depth.astype(np.float32, copy=False)
    return cv2.resize(depth.astype(np.float32), (size[1], size[0]),
                      interpolation=cv2.INTER_NEAREST)


def resize_sparse(sparse: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Return sparse depth at ``size``: each point lands on the pixel it falls in."""
    result = np.zeros(size, np.float32)
    rows, cols = np.nonzero(np.isfinite(sparse) & (sparse > 0))
    if rows.size:
        scale_y, scale_x = size[0] / sparse.shape[0], size[1] / sparse.shape[1]
        target_rows = np.minimum(((rows + 0.5) * scale_y).astype(int), size[0] - 1)
        target_cols = np.minimum(((cols + 0.5) * scale_x).astype(int), size[1] - 1)
        result[target_rows, target_cols] = sparse[rows, cols]
    return result


def synthetic_sequences(seeds, frames: int, size: tuple[int, int], motions=('drive',),
                        supersample: int = 1) -> list[TrainingSequence]:
    """Render one sequence per (seed, motion) at (height, width) ``size``, in memory.

    ``supersample`` 1 (no anti-aliasing) is four times cheaper than the synth default 2; the
    node's bicubic downsizing of a camera image is not anti-aliased either.
    """
    from mono_depth_ros.synth import render_sequence

    sequences = []
    for seed in seeds:
        for motion in motions:
            rendered = render_sequence(frames=frames, width=size[1], height=size[0],
                                       seed=int(seed), motion=motion, supersample=supersample)
            sequences.append(TrainingSequence(
                name=f'synth seed {seed} {motion}', k=rendered.k,
                frames=[TrainingFrame(rgb=frame.rgb, depth=frame.depth,
                                      camera_pose=frame.camera_pose, stamp_ns=frame.stamp_ns)
                        for frame in rendered.frames]))
    return sequences


def directory_sequence(path, size: tuple[int, int],
                       depth_scale: float = DEPTH_SCALE) -> TrainingSequence:
    """Read a TUM RGB-D style directory (a synth output too) at ``size``.

    Depth comes from depth.txt (associated by stamp), 16-bit PNGs of ``depth_scale`` units per
    metre, 0 unknown (TUM and synth: 5000; KITTI's depth maps in a TUM-style directory: 256);
    camera poses from groundtruth.txt where it has the frame's stamp within 50 ms.
    """
    from mono_depth_ros.core.tum import read_tum_directory

    dataset = read_tum_directory(path)
    k_full = dataset.camera.intrinsic_matrix
    full_size = (dataset.camera.height, dataset.camera.width)
    depth_by_rgb = {rgb.stamp_ns: depth for rgb, depth in dataset.rgb_depth_pairs()}
    poses = _trajectory_lookup(dataset.groundtruth)
    sequence = TrainingSequence(name=str(path), k=scaled_intrinsics(k_full, full_size, size))
    for entry in dataset.rgb:
        bgr = cv2.imread(str(dataset.path(entry)), cv2.IMREAD_COLOR)
        if bgr is None:
            _LOGGER.warning('skipping %s: not a readable image', dataset.path(entry))
            continue
        depth = None
        if entry.stamp_ns in depth_by_rgb:
            raw = cv2.imread(str(dataset.path(depth_by_rgb[entry.stamp_ns])),
                             cv2.IMREAD_UNCHANGED)
            if raw is not None:
                depth = resize_depth(raw.astype(np.float32) / np.float32(depth_scale), size)
        sequence.frames.append(TrainingFrame(rgb=resize_rgb(bgr[:, :, ::-1], size), depth=depth,
                                             camera_pose=poses(entry.stamp_ns),
                                             stamp_ns=entry.stamp_ns))
    return sequence


def _trajectory_lookup(trajectory):
    """Return stamp -> nearest pose within MAX_POSE_GAP_NS (or None)."""
    if trajectory is None or not len(trajectory):
        return lambda stamp_ns: None
    stamps = np.asarray(trajectory.stamps_ns, dtype=np.int64)
    poses = trajectory.poses()

    def lookup(stamp_ns: int):
        index = int(np.argmin(np.abs(stamps - stamp_ns)))
        return poses[index] if abs(int(stamps[index]) - stamp_ns) <= MAX_POSE_GAP_NS else None
    return lookup


def _topic_of(topics: dict, msgtype: str, preferred: str | None, exclude=()) -> str | None:
    if preferred:
        if preferred not in topics:
            raise BadMessageError('topic', preferred, f'one of {sorted(topics)}')
        return preferred
    names = sorted(name for name, (kind, _) in topics.items()
                   if kind == msgtype and not any(word in name for word in exclude))
    return names[0] if names else None


def bag_sequence(path, size: tuple[int, int], *, image_topic: str | None = None,
                 camera_to_base: np.ndarray | None = None,
                 max_frames: int | None = None) -> TrainingSequence:
    """Read images, camera_info, odometry (and sparse triangulated depth) from a rosbag2.

    The camera pose is the odometry pose nearest to the image (within 50 ms) times
    ``camera_to_base`` (default: the triangulation node's). A ``.../triangulation/depth``
    topic, as ``process-bag --mode triangulation`` writes it, gives the sparse points.
    """
    from mono_depth_ros.bags import open_reader
    from mono_depth_ros.core.camera_model import CameraModel
    from mono_depth_ros.core.image_codec import image_to_numpy, image_to_rgb8

    extrinsics = default_camera_to_base() if camera_to_base is None else camera_to_base
    with open_reader(path) as reader:
        topics = reader.topics
        image = _topic_of(topics, 'sensor_msgs/msg/Image', image_topic,
                          exclude=('depth', 'tracks', 'colored', 'relative', 'sigma'))
        info = _topic_of(topics, 'sensor_msgs/msg/CameraInfo', None)
        odom = _topic_of(topics, 'nav_msgs/msg/Odometry', None)
        sparse_topic = next((name for name in sorted(topics)
                             if name.endswith('triangulation/depth')), None)
        if image is None or info is None:
            raise BadMessageError(str(path), sorted(topics), 'an Image and a CameraInfo topic')
        images, odometry, sparse, camera = {}, [], {}, None
        wanted = [name for name in (image, info, odom, sparse_topic) if name]
        for message in reader.messages(wanted):
            decoded = reader.deserialize(message)
            stamp = decoded.header.stamp.sec * 1_000_000_000 + decoded.header.stamp.nanosec
            if message.topic == image and (max_frames is None or len(images) < max_frames):
                images[stamp] = image_to_rgb8(decoded)
            elif message.topic == info and camera is None:
                camera = CameraModel.from_camera_info(decoded)
            elif message.topic == odom:
                p, q = decoded.pose.pose.position, decoded.pose.pose.orientation
                odometry.append((stamp, pose_matrix((p.x, p.y, p.z), (q.x, q.y, q.z, q.w))))
            elif message.topic == sparse_topic:
                sparse[stamp] = image_to_numpy(decoded).astype(np.float32)
    if camera is None or not images:
        raise BadMessageError(str(path), 'no camera_info or no images', 'both')
    full_size = (camera.height, camera.width)
    stamps = np.array([stamp for stamp, _ in odometry], dtype=np.int64)
    sequence = TrainingSequence(name=str(path),
                                k=scaled_intrinsics(camera.intrinsic_matrix, full_size, size))
    for stamp in sorted(images):
        pose = None
        if stamps.size:
            index = int(np.argmin(np.abs(stamps - stamp)))
            if abs(int(stamps[index]) - stamp) <= MAX_POSE_GAP_NS:
                pose = odometry[index][1] @ extrinsics
        points = sparse.get(stamp)
        sequence.frames.append(TrainingFrame(
            rgb=resize_rgb(images[stamp], size), camera_pose=pose, stamp_ns=stamp,
            sparse=None if points is None else resize_sparse(points, size)))
    return sequence


def open_data(path, size: tuple[int, int], depth_scale: float = DEPTH_SCALE,
              **bag_options) -> TrainingSequence:
    """Return the sequence at ``path``: a TUM-style directory, else a rosbag2."""
    from mono_depth_ros.core.tum import is_tum_directory

    path = pathlib.Path(path)
    if is_tum_directory(path):
        return directory_sequence(path, size, depth_scale)
    return bag_sequence(path, size, **bag_options)
