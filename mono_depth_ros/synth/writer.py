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

"""Writing a synthetic sequence to disk as a rosbag2 plus TUM-style files, and reading it back.

Layout of ``DIR`` (``write_sequence``):

- ``sequence/``: the rosbag2 directory (``metadata.yaml`` and ``sequence.mcap``), written with
  :class:`mono_depth_ros.bags.BagWriter` (MCAP storage, metadata version 8, the Jazzy message
  definitions, which are Kilted's too). Topics (``BAG_TOPICS``): sensor_msgs/Image ``rgb8``
  and sensor_msgs/CameraInfo at the frame stamps (frame ``camera_optical_frame``),
  nav_msgs/Odometry (``odom`` -> ``base_link``, pose and twist of the base) at twice the frame
  rate. Receive time = stamp.
- ``sequence.mcap``: a hard link to ``sequence/sequence.mcap`` (a copy where links fail), so
  that the single file ``DIR/sequence.mcap`` is the bag for ``ros2 bag play`` (Jazzy and later
  open a bare .mcap) and for :func:`mono_depth_ros.bags.open_reader`, while ``DIR/sequence/``
  is the classic rosbag2 directory for older tools. The two names share one file on disk.
- ``rgb/<stamp>.png`` (8-bit colour) and ``depth/<stamp>.png`` (16-bit, 5000 per metre, 0 for
  no depth or beyond 13.1 m), stamps in seconds with six decimals; ``rgb.txt`` and
  ``depth.txt`` list them as in the TUM RGB-D benchmark.
- ``groundtruth.txt``: TUM ``timestamp tx ty tz qx qy qz qw``, the pose of the camera optical
  frame in the odometry frame, one line per frame; ``#`` header lines also give camera_to_base
  and the frame rate.
- ``camera.yaml``: the camera_info YAML that camera_calibration_parsers reads and writes.
"""

from concurrent.futures import ThreadPoolExecutor
import os
import pathlib
import shutil

import cv2
import numpy as np
import yaml

from mono_depth_ros.bags import BagWriter, messages, open_reader
from mono_depth_ros.core.errors import BadMessageError
from mono_depth_ros.core.image_codec import numpy_to_image
from mono_depth_ros.core.transforms import (invert_pose, matrix_to_quaternion, pose_matrix,
                                            quaternion_to_matrix, xyz_quaternion_from_pose)
from mono_depth_ros.core.tum import format_stamp as tum_stamp
from mono_depth_ros.core.tum import parse_stamp as parse_tum_stamp
from mono_depth_ros.synth.sequence import (BAG_TOPICS, FRAME_IDS, OdometrySample,
                                           SyntheticFrame, SyntheticSequence)

DEPTH_SCALE = 5000.0  # 16-bit depth PNG units per metre (TUM RGB-D)
BAG_NAME = 'sequence'
CAMERA_NAME = 'camera'


def write_sequence(sequence: SyntheticSequence, out_dir) -> dict[str, pathlib.Path]:
    """Write a sequence under out_dir (see the module docstring) and return the paths written.

    Keys: bag (DIR/sequence.mcap), bag_dir, rgb, depth, rgb_list, depth_list, groundtruth,
    camera_yaml. Earlier output of this function in out_dir is replaced.
    """
    out = pathlib.Path(out_dir)
    paths = {
        'bag': out / f'{BAG_NAME}.mcap',
        'bag_dir': out / BAG_NAME,
        'rgb': out / 'rgb',
        'depth': out / 'depth',
        'rgb_list': out / 'rgb.txt',
        'depth_list': out / 'depth.txt',
        'groundtruth': out / 'groundtruth.txt',
        'camera_yaml': out / 'camera.yaml',
    }
    out.mkdir(parents=True, exist_ok=True)
    _remove_previous_output(paths)
    paths['rgb'].mkdir()
    paths['depth'].mkdir()

    names = [tum_stamp(frame.stamp_ns) for frame in sequence.frames]
    workers = max(1, min(4, os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(_write_pngs, sequence.frames, names, [out] * len(names)))
    rgb_lines = ['# color images', '# timestamp filename']
    rgb_lines += [f'{name} rgb/{name}.png' for name in names]
    depth_lines = ['# depth maps (16-bit PNG, 5000 per metre, 0 = no depth)',
                   '# timestamp filename']
    depth_lines += [f'{name} depth/{name}.png' for name in names]
    paths['rgb_list'].write_text('\n'.join(rgb_lines) + '\n')
    paths['depth_list'].write_text('\n'.join(depth_lines) + '\n')
    paths['groundtruth'].write_text(_groundtruth_text(sequence))
    paths['camera_yaml'].write_text(camera_yaml_text(sequence.camera_info_fields()))
    _write_bag(sequence, paths['bag_dir'])
    _link_or_copy(paths['bag_dir'] / f'{BAG_NAME}.mcap', paths['bag'])
    return paths


def load_sequence(out_dir) -> SyntheticSequence:
    """Read back what write_sequence wrote: PNGs, groundtruth.txt, camera.yaml, the bag's odom.

    Depth comes back quantised to 1/5000 m (NaN where the PNG holds 0); poses to 1e-9. Frame
    twists and the odometry stream come from the bag's odometry when the bag is there,
    otherwise twists are central differences of the ground-truth poses.
    """
    out = pathlib.Path(out_dir)
    camera = yaml.safe_load((out / 'camera.yaml').read_text())
    width, height = int(camera['image_width']), int(camera['image_height'])
    k = np.asarray(camera['camera_matrix']['data'], dtype=np.float64).reshape(3, 3)
    header, rows = _read_groundtruth(out / 'groundtruth.txt')
    camera_to_base = (pose_matrix_from_values(header['camera_to_base'].split())
                      if 'camera_to_base' in header else None)
    if camera_to_base is None:
        raise BadMessageError('groundtruth.txt', str(out), 'a "# camera_to_base:" header line')
    rgb_files = _read_file_list(out / 'rgb.txt')
    depth_files = _read_file_list(out / 'depth.txt')
    base_from_camera = invert_pose(camera_to_base)
    stamps = [stamp for _, stamp, _ in rows]
    camera_poses = [pose for _, _, pose in rows]
    odometry = _read_odometry(out)
    odometry_by_stamp = {sample.stamp_ns: sample for sample in odometry}
    frames = []
    for index, (name, stamp_ns, camera_pose) in enumerate(rows):
        rgb = cv2.imread(str(out / rgb_files.get(name, f'rgb/{name}.png')), cv2.IMREAD_COLOR)
        depth = cv2.imread(str(out / depth_files.get(name, f'depth/{name}.png')),
                           cv2.IMREAD_UNCHANGED)
        if rgb is None or depth is None:
            raise BadMessageError('frame', name, 'rgb and depth PNGs listed in rgb.txt/depth.txt')
        sample = odometry_by_stamp.get(stamp_ns)
        twist = (sample.base_twist if sample is not None
                 else _finite_difference_twist(stamps, camera_poses, base_from_camera, index))
        frames.append(SyntheticFrame(
            index=index, stamp_ns=stamp_ns, rgb=cv2.cvtColor(rgb, cv2.COLOR_BGR2RGB),
            depth=decode_depth_png(depth), base_pose=camera_pose @ base_from_camera,
            camera_pose=camera_pose, base_twist=twist))
    fps = float(header['fps']) if 'fps' in header else _rate_from_stamps(stamps)
    return SyntheticSequence(width=width, height=height, k=k, camera_to_base=camera_to_base,
                             fps=fps, frames=frames, odometry=odometry)


def _write_pngs(frame: SyntheticFrame, name: str, out: pathlib.Path) -> None:
    rgb_path, depth_path = out / 'rgb' / f'{name}.png', out / 'depth' / f'{name}.png'
    if not cv2.imwrite(str(rgb_path), cv2.cvtColor(frame.rgb, cv2.COLOR_RGB2BGR)):
        raise OSError(f'could not write {rgb_path}')
    if not cv2.imwrite(str(depth_path), encode_depth_png(frame.depth)):
        raise OSError(f'could not write {depth_path}')


def encode_depth_png(depth: np.ndarray) -> np.ndarray:
    """Return 16-bit TUM depth (5000 per metre, 0 where not finite, not positive or too far)."""
    scaled = np.asarray(depth, dtype=np.float64) * DEPTH_SCALE
    valid = np.isfinite(scaled) & (scaled > 0) & (scaled < 65535.5)
    return np.where(valid, np.rint(np.where(valid, scaled, 0.0)), 0).astype(np.uint16)


def decode_depth_png(depth_png: np.ndarray) -> np.ndarray:
    """Return float32 metres of 16-bit TUM depth, NaN where the PNG holds 0."""
    depth = depth_png.astype(np.float32) / np.float32(DEPTH_SCALE)
    depth[depth_png == 0] = np.nan
    return depth


def camera_yaml_text(info: dict, camera_name: str = CAMERA_NAME) -> str:
    """Return the camera_info YAML text, laid out as camera_calibration_parsers writes it."""
    def matrix(name: str, rows: int, cols: int, values) -> str:
        data = ', '.join(repr(float(value)) for value in values)
        return f'{name}:\n  rows: {rows}\n  cols: {cols}\n  data: [{data}]\n'

    return (f'image_width: {int(info["width"])}\n'
            f'image_height: {int(info["height"])}\n'
            f'camera_name: {camera_name}\n'
            + matrix('camera_matrix', 3, 3, info['k'])
            + f'distortion_model: {info["distortion_model"]}\n'
            + matrix('distortion_coefficients', 1, len(info['d']), info['d'])
            + matrix('rectification_matrix', 3, 3, info['r'])
            + matrix('projection_matrix', 3, 4, info['p']))


def pose_matrix_from_values(values) -> np.ndarray:
    """Return the 4x4 pose of seven numbers x y z qx qy qz qw."""
    numbers = [float(value) for value in values]
    if len(numbers) != 7:
        raise BadMessageError('pose', numbers, '7 numbers: x y z qx qy qz qw')
    return pose_matrix(numbers[:3], numbers[3:])


def _groundtruth_text(sequence: SyntheticSequence) -> str:
    extrinsics = ' '.join(f'{value:.12g}'
                          for value in xyz_quaternion_from_pose(sequence.camera_to_base))
    lines = [
        f'# ground truth trajectory: pose of the camera optical frame ({FRAME_IDS["camera"]}) '
        f'in the odometry frame ({FRAME_IDS["odom"]}), TUM convention',
        f'# camera_to_base: {extrinsics}',
        f'# fps: {sequence.fps!r}',
        '# timestamp tx ty tz qx qy qz qw',
    ]
    for frame in sequence.frames:
        values = ' '.join(f'{value:.9f}' for value in xyz_quaternion_from_pose(frame.camera_pose))
        lines.append(f'{tum_stamp(frame.stamp_ns)} {values}')
    return '\n'.join(lines) + '\n'


def _read_groundtruth(path: pathlib.Path):
    """Return the 'key: value' header lines and (stamp text, stamp ns, camera pose) rows."""
    header: dict[str, str] = {}
    rows = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if line.startswith('#'):
            key, colon, value = line[1:].partition(':')
            if colon:
                header[key.strip()] = value.strip()
        elif line:
            fields = line.split()
            if len(fields) != 8:
                raise BadMessageError('groundtruth.txt line', line, 't tx ty tz qx qy qz qw')
            rows.append((fields[0], parse_tum_stamp(fields[0]),
                         pose_matrix_from_values(fields[1:])))
    return header, rows


def _read_file_list(path: pathlib.Path) -> dict[str, str]:
    if not path.exists():
        return {}
    entries = {}
    for line in path.read_text().splitlines():
        fields = line.split()
        if len(fields) == 2 and not line.startswith('#'):
            entries[fields[0]] = fields[1]
    return entries


def _finite_difference_twist(stamps: list[int], camera_poses: list[np.ndarray],
                             base_from_camera: np.ndarray, index: int):
    """Return the base twist at a frame from its neighbours' poses (zero for a single frame)."""
    if len(stamps) < 2:
        return np.zeros(3), np.zeros(3)
    before, after = max(index - 1, 0), min(index + 1, len(stamps) - 1)
    dt = (stamps[after] - stamps[before]) * 1e-9
    pose_before = camera_poses[before] @ base_from_camera
    pose_after = camera_poses[after] @ base_from_camera
    rotation = (camera_poses[index] @ base_from_camera)[:3, :3]
    linear = rotation.T @ (pose_after[:3, 3] - pose_before[:3, 3]) / dt
    relative = matrix_to_quaternion(pose_before[:3, :3].T @ pose_after[:3, :3])
    half_angle = np.arctan2(np.linalg.norm(relative[:3]), relative[3])
    axis = relative[:3] / max(np.linalg.norm(relative[:3]), 1e-12)
    angular_in_before = axis * (2.0 * half_angle / dt)
    angular = rotation.T @ pose_before[:3, :3] @ angular_in_before
    return linear, angular


def _rate_from_stamps(stamps: list[int]) -> float:
    if len(stamps) < 2:
        return 0.0
    return (len(stamps) - 1) / ((stamps[-1] - stamps[0]) * 1e-9)


def _remove_previous_output(paths: dict[str, pathlib.Path]) -> None:
    for key in ('rgb', 'depth'):
        if paths[key].is_dir():
            for png in paths[key].glob('*.png'):
                png.unlink()
            if not any(paths[key].iterdir()):
                paths[key].rmdir()
            else:
                raise FileExistsError(f'{paths[key]} holds files other than PNGs')
    if paths['bag'].exists():
        paths['bag'].unlink()
    bag_dir = paths['bag_dir']
    if bag_dir.exists():
        if not (bag_dir / 'metadata.yaml').exists():
            raise FileExistsError(f'{bag_dir} exists and is not a rosbag2 directory')
        shutil.rmtree(bag_dir)


def _link_or_copy(source: pathlib.Path, target: pathlib.Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def _write_bag(sequence: SyntheticSequence, bag_dir: pathlib.Path) -> None:
    """Write the image, camera_info and odometry topics to a rosbag2 (MCAP) directory."""
    info = sequence.camera_info_fields()

    def image_message(frame: SyntheticFrame):
        rgb = np.ascontiguousarray(frame.rgb, dtype=np.uint8)
        return messages.image(numpy_to_image(rgb, 'rgb8'),
                              messages.header(frame.stamp_ns, FRAME_IDS['camera']))

    def camera_info_message(frame: SyntheticFrame):
        return messages.camera_info(info, messages.header(frame.stamp_ns, FRAME_IDS['camera']))

    def odometry_message(sample: OdometrySample):
        values = xyz_quaternion_from_pose(sample.base_pose)
        linear, angular = sample.base_twist
        return messages.odometry(messages.header(sample.stamp_ns, FRAME_IDS['odom']),
                                 FRAME_IDS['base'], values[:3], values[3:], linear, angular)

    odometry = sequence.odometry or [
        OdometrySample(frame.stamp_ns, frame.base_pose, frame.base_twist)
        for frame in sequence.frames]
    # At equal stamps odometry goes first, then camera_info, then the image.
    events = [(sample.stamp_ns, 0, 'odom', sample) for sample in odometry]
    events += [(frame.stamp_ns, 1, 'camera_info', frame) for frame in sequence.frames]
    events += [(frame.stamp_ns, 2, 'image', frame) for frame in sequence.frames]
    events.sort(key=lambda event: event[:2])
    builders = {'odom': (messages.ODOMETRY_TYPE, odometry_message),
                'camera_info': (messages.CAMERA_INFO_TYPE, camera_info_message),
                'image': (messages.IMAGE_TYPE, image_message)}
    with BagWriter(bag_dir, 'mcap') as writer:
        topics = {key: writer.add_topic(BAG_TOPICS[key], msgtype)
                  for key, (msgtype, _) in builders.items()}
        for stamp_ns, _, key, item in events:
            writer.write_message(topics[key], stamp_ns, builders[key][1](item))


def _read_odometry(out: pathlib.Path) -> list[OdometrySample]:
    """Return the odometry samples of the bag in out (empty when there is no bag)."""
    bag = out / f'{BAG_NAME}.mcap'
    if not bag.exists():
        bag = out / BAG_NAME
    if not bag.exists():
        return []
    samples = []
    with open_reader(bag) as reader:
        for record in reader.messages([BAG_TOPICS['odom']]):
            message = reader.deserialize(record)
            position, orientation = message.pose.pose.position, message.pose.pose.orientation
            pose = np.eye(4)
            pose[:3, :3] = quaternion_to_matrix(
                [orientation.x, orientation.y, orientation.z, orientation.w])
            pose[:3, 3] = (position.x, position.y, position.z)
            twist = message.twist.twist
            samples.append(OdometrySample(
                stamp_ns=messages.stamp_ns(message.header.stamp), base_pose=pose,
                base_twist=(np.array([twist.linear.x, twist.linear.y, twist.linear.z]),
                            np.array([twist.angular.x, twist.angular.y, twist.angular.z]))))
    return samples
