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

"""TUM RGB-D directories: file lists, trajectories, intrinsics, and association by timestamp.

A TUM RGB-D sequence directory holds ``rgb.txt`` and ``depth.txt`` (``timestamp filename``),
``groundtruth.txt`` (``timestamp tx ty tz qx qy qz qw``: the pose of the colour camera's optical
frame in the motion-capture frame), ``rgb/`` and ``depth/`` PNGs (depth 16-bit, 5000 per
metre). Lines starting with ``#`` are comments; ``# key: value`` comments are kept as a header.
The synthetic writer (``mono_depth_ros.synth``) writes the same layout plus ``camera.yaml``.

Stamps are integer nanoseconds throughout, parsed from the decimal text without float rounding.
"""

from dataclasses import dataclass, field
import pathlib

import cv2
import numpy as np

from mono_depth_ros.core.camera_model import CameraModel
from mono_depth_ros.core.errors import BadMessageError
from mono_depth_ros.core.transforms import (interpolate_pose, invert_pose, matrix_to_quaternion,
                                            pose_matrix)

DEFAULT_MAX_DIFFERENCE_NS = 20_000_000  # 0.02 s, as TUM's associate.py
TUM_IMAGE_SIZE = (640, 480)
# Intrinsics of the TUM RGB-D colour cameras (fx, fy, cx, cy, d = k1 k2 p1 p2 k3), as published
# with the benchmark. fr3 images are already undistorted; 'ros' is the ROS default calibration
# the benchmark suggests for fr1/fr2 images used without their distortion model.
TUM_CAMERAS = {
    'fr1': (517.306408, 516.469215, 318.643040, 255.313989,
            (0.262383, -0.953104, -0.005358, 0.002628, 1.163314)),
    'fr2': (520.908620, 521.007327, 325.141442, 249.701764,
            (0.231222, -0.784899, -0.003257, -0.000105, 0.917205)),
    'fr3': (535.4, 539.2, 320.1, 247.6, (0.0, 0.0, 0.0, 0.0, 0.0)),
    'ros': (525.0, 525.0, 319.5, 239.5, (0.0, 0.0, 0.0, 0.0, 0.0)),
}
CAMERA_CHOICES = ('auto', *TUM_CAMERAS)
_DIRECTORY_HINTS = {'freiburg1': 'fr1', 'freiburg2': 'fr2', 'freiburg3': 'fr3'}


@dataclass(frozen=True)
class ListEntry:
    """One line of a TUM list: its stamp (ns), the stamp as written, and the other fields."""

    stamp_ns: int
    stamp_text: str
    values: tuple[str, ...]


@dataclass
class Trajectory:
    """Timestamped poses: stamps (N,) int64 ns, positions (N, 3), quaternions (N, 4) x y z w."""

    stamps_ns: np.ndarray
    positions: np.ndarray
    quaternions: np.ndarray
    header: dict[str, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.stamps_ns.size)

    def poses(self) -> list[np.ndarray]:
        """Return the 4x4 poses."""
        return [pose_matrix(position, quaternion, check_norm=False)
                for position, quaternion in zip(self.positions, self.quaternions)]

    def pose_at(self, stamp_ns: int, max_gap_ns: int = DEFAULT_MAX_DIFFERENCE_NS * 5
                ) -> np.ndarray | None:
        """Return the 4x4 pose at ``stamp_ns``, interpolated (slerp) between its neighbours.

        None when the stamp is outside the trajectory (beyond ``max_gap_ns`` of its ends) or
        its neighbours are more than ``max_gap_ns`` apart.
        """
        stamps = self.stamps_ns
        if not len(stamps):
            return None
        after = int(np.searchsorted(stamps, stamp_ns))
        before = after - 1
        if after < len(stamps) and stamps[after] == stamp_ns:
            return pose_matrix(self.positions[after], self.quaternions[after], check_norm=False)
        if before < 0 or after >= len(stamps):
            nearest = 0 if before < 0 else len(stamps) - 1
            if abs(int(stamps[nearest]) - stamp_ns) > max_gap_ns:
                return None
            return pose_matrix(self.positions[nearest], self.quaternions[nearest],
                               check_norm=False)
        gap = int(stamps[after]) - int(stamps[before])
        if gap > max_gap_ns:
            return None
        fraction = (stamp_ns - int(stamps[before])) / gap
        position, quaternion = interpolate_pose(
            self.positions[before], self.quaternions[before], self.positions[after],
            self.quaternions[after], fraction)
        return pose_matrix(position, quaternion, check_norm=False)

    def transformed(self, right: np.ndarray) -> 'Trajectory':
        """Return the trajectory of ``pose @ right`` (a fixed frame change on the moving side).

        With TUM ground truth (optical frame poses) and ``right = inverse(camera_to_base)``
        this gives the base poses that odometry would report.
        """
        right = np.asarray(right, dtype=np.float64).reshape(4, 4)
        moved = [pose @ right for pose in self.poses()]
        positions = np.array([pose[:3, 3] for pose in moved]).reshape(-1, 3)
        quaternions = np.array([matrix_to_quaternion(pose[:3, :3]) for pose in moved])
        return Trajectory(self.stamps_ns.copy(), positions, quaternions.reshape(-1, 4),
                          dict(self.header))


@dataclass
class TumDataset:
    """A TUM RGB-D style directory, read: lists, ground truth, camera and where it came from."""

    root: pathlib.Path
    rgb: list[ListEntry]
    depth: list[ListEntry]
    groundtruth: Trajectory | None
    camera: CameraModel
    camera_source: str
    header: dict[str, str] = field(default_factory=dict)

    def path(self, entry: ListEntry) -> pathlib.Path:
        """Return the file an rgb.txt or depth.txt entry names."""
        if not entry.values:
            raise BadMessageError('list entry', entry.stamp_text, 'a timestamp and a file name')
        return self.root / entry.values[0]

    def rgb_depth_pairs(self, max_difference_ns: int = DEFAULT_MAX_DIFFERENCE_NS
                        ) -> list[tuple[ListEntry, ListEntry]]:
        """Return (rgb, depth) entries associated by stamp, in rgb order."""
        pairs = associate([e.stamp_ns for e in self.rgb], [e.stamp_ns for e in self.depth],
                          max_difference_ns)
        return [(self.rgb[i], self.depth[j]) for i, j in pairs]

    def camera_to_base(self) -> np.ndarray | None:
        """Return the ``# camera_to_base:`` header pose of groundtruth.txt, if it has one."""
        text = self.header.get('camera_to_base')
        if text is None:
            return None
        values = [float(value) for value in text.replace(',', ' ').split()]
        if len(values) != 7:
            raise BadMessageError('groundtruth.txt camera_to_base', text,
                                  '7 numbers: x y z qx qy qz qw')
        return pose_matrix(values[:3], values[3:])


def parse_stamp(text: str) -> int:
    """Return the nanoseconds of a decimal seconds stamp such as ``1305031102.175304``."""
    seconds, _, fraction = text.strip().partition('.')
    negative = seconds.startswith('-')
    digits = seconds[1:] if negative else seconds
    if not digits.isdigit() or (fraction and not fraction.isdigit()):
        raise BadMessageError('timestamp', text, 'decimal seconds such as 1305031102.175304')
    nanoseconds = int(digits) * 1_000_000_000 + int((fraction + '0' * 9)[:9])
    return -nanoseconds if negative else nanoseconds


def format_stamp(stamp_ns: int) -> str:
    """Return a stamp as TUM writes it: seconds with six decimals (sub-microseconds dropped)."""
    seconds, nanoseconds = divmod(int(stamp_ns), 1_000_000_000)
    return f'{seconds}.{nanoseconds // 1000:06d}'


def read_list(path) -> tuple[list[ListEntry], dict[str, str]]:
    """Return the entries of a TUM list file, sorted by stamp, and its ``# key: value`` header."""
    path = pathlib.Path(path)
    entries, header = [], {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        line = line.strip()
        if line.startswith('#'):
            key, colon, value = line[1:].partition(':')
            if colon and key.strip() and ' ' not in key.strip():
                header[key.strip()] = value.strip()
            continue
        if not line:
            continue
        fields = line.replace(',', ' ').split()
        try:
            stamp = parse_stamp(fields[0])
        except BadMessageError as error:
            raise BadMessageError(f'{path.name} line {number}', line,
                                  f'a leading timestamp ({error})') from None
        entries.append(ListEntry(stamp, fields[0], tuple(fields[1:])))
    entries.sort(key=lambda entry: entry.stamp_ns)
    return entries, header


def read_trajectory(path) -> Trajectory:
    """Return a TUM trajectory file (``timestamp tx ty tz qx qy qz qw`` per line)."""
    path = pathlib.Path(path)
    entries, header = read_list(path)
    bad = next((e for e in entries if len(e.values) != 7), None)
    if bad is not None:
        raise BadMessageError(f'{path.name} line', ' '.join((bad.stamp_text, *bad.values)),
                              'timestamp tx ty tz qx qy qz qw')
    values = np.array([[float(v) for v in e.values] for e in entries],
                      dtype=np.float64).reshape(-1, 7)
    if not np.isfinite(values).all():
        raise BadMessageError(path.name, 'non-finite pose values', 'finite numbers')
    norms = np.linalg.norm(values[:, 3:], axis=1)
    if (norms < 1e-9).any():
        raise BadMessageError(path.name, 'a zero quaternion', 'unit quaternions qx qy qz qw')
    return Trajectory(np.array([e.stamp_ns for e in entries], dtype=np.int64),
                      values[:, :3].copy(), values[:, 3:] / norms[:, None], header)


def write_list(path, stamps_ns, values, comment: str = '') -> None:
    """Write a TUM list: one ``timestamp value...`` line per stamp (values: str or sequence)."""
    lines = [f'# {line}' for line in comment.splitlines()]
    for stamp, value in zip(stamps_ns, values, strict=True):
        fields = [value] if isinstance(value, (str, pathlib.PurePath)) else list(value)
        lines.append(' '.join([format_stamp(stamp), *(str(field) for field in fields)]))
    pathlib.Path(path).write_text('\n'.join(lines) + '\n')


def write_trajectory(path, stamps_ns, poses, comment: str = '') -> None:
    """Write 4x4 poses as a TUM trajectory (``timestamp tx ty tz qx qy qz qw``)."""
    rows = []
    for pose in poses:
        pose = np.asarray(pose, dtype=np.float64).reshape(-1, 4)[:3]
        values = (*pose[:, 3], *matrix_to_quaternion(pose[:, :3]))
        rows.append([f'{value:.9f}' for value in values])
    write_list(path, stamps_ns, rows, comment or 'timestamp tx ty tz qx qy qz qw')


def associate(first_ns, second_ns, max_difference_ns: int = DEFAULT_MAX_DIFFERENCE_NS,
              offset_ns: int = 0) -> list[tuple[int, int]]:
    """Return one-to-one (i, j) index pairs of two stamp lists, sorted by i.

    Greedy by time difference, as the TUM benchmark's association: every pair with
    ``|first[i] - (second[j] + offset)| <= max_difference`` is a candidate; the closest pair is
    taken first and each stamp is used at most once (ties go to the lower i, then j).
    """
    first = np.asarray(first_ns, dtype=np.int64).reshape(-1)
    second = np.asarray(second_ns, dtype=np.int64).reshape(-1) + int(offset_ns)
    if max_difference_ns < 0:
        raise BadMessageError('max_difference_ns', max_difference_ns, 'a value >= 0')
    if first.size == 0 or second.size == 0:
        return []
    order = np.argsort(second, kind='stable')
    sorted_second = second[order]
    low = np.searchsorted(sorted_second, first - max_difference_ns, side='left')
    high = np.searchsorted(sorted_second, first + max_difference_ns, side='right')
    counts = high - low
    first_index = np.repeat(np.arange(first.size), counts)
    starts = np.repeat(low - np.concatenate(([0], np.cumsum(counts)[:-1])), counts)
    sorted_index = starts + np.arange(first_index.size)
    second_index = order[sorted_index]
    difference = np.abs(first[first_index] - second[second_index])
    ranking = np.lexsort((second_index, first_index, difference))
    used_first = np.zeros(first.size, dtype=bool)
    used_second = np.zeros(second.size, dtype=bool)
    pairs = []
    for i, j in zip(first_index[ranking].tolist(), second_index[ranking].tolist()):
        if not used_first[i] and not used_second[j]:  # greedy matching is sequential
            used_first[i] = used_second[j] = True
            pairs.append((i, j))
    pairs.sort()
    return pairs


def tum_camera(name: str, width: int = TUM_IMAGE_SIZE[0],
               height: int = TUM_IMAGE_SIZE[1]) -> CameraModel:
    """Return a TUM RGB-D colour camera (``fr1``, ``fr2``, ``fr3`` or ``ros``) as a model.

    The calibration is for 640x480; another size with the same aspect ratio is scaled.
    """
    if name not in TUM_CAMERAS:
        raise BadMessageError('tum camera', name, f'one of {", ".join(TUM_CAMERAS)}')
    fx, fy, cx, cy, d = TUM_CAMERAS[name]
    model = CameraModel.from_intrinsics(fx, fy, cx, cy, *TUM_IMAGE_SIZE, d=np.array(d))
    if (width, height) != TUM_IMAGE_SIZE:
        model = model.scaled(width, height)
    return model


def camera_from_yaml(path) -> CameraModel:
    """Return the camera of a camera_info YAML file (as camera_calibration_parsers writes)."""
    import yaml  # PyYAML: a dependency of the package, imported only here

    path = pathlib.Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise BadMessageError(str(path), 'not YAML', f'camera_info YAML ({error})') from None
    if not isinstance(data, dict):
        raise BadMessageError(str(path), type(data).__name__, 'a camera_info YAML mapping')

    def matrix(name: str, required: bool = True):
        entry = data.get(name)
        if entry is None and not required:
            return None
        if not isinstance(entry, dict) or 'data' not in entry:
            raise BadMessageError(f'{path.name}: {name}', entry, 'a mapping with data: [...]')
        return np.asarray(entry['data'], dtype=np.float64)

    for key in ('image_width', 'image_height'):
        if key not in data:
            raise BadMessageError(f'{path.name}: {key}', None, 'the image size in pixels')
    k = matrix('camera_matrix')
    d = matrix('distortion_coefficients', required=False)
    r = matrix('rectification_matrix', required=False)
    p = matrix('projection_matrix', required=False)
    if p is None:
        p = np.hstack([k.reshape(3, 3), np.zeros((3, 1))]).reshape(-1)
    return CameraModel(width=int(data['image_width']), height=int(data['image_height']), k=k,
                       d=np.zeros(0) if d is None else d, r=np.eye(3) if r is None else r,
                       p=p, distortion_model=str(data.get('distortion_model', 'plumb_bob')))


def is_tum_directory(path) -> bool:
    """Return True for a directory with an ``rgb.txt`` list."""
    path = pathlib.Path(path)
    return path.is_dir() and (path / 'rgb.txt').is_file()


def guess_tum_camera(path) -> str | None:
    """Return fr1/fr2/fr3 when the directory is named like ``rgbd_dataset_freiburg2_desk``."""
    name = pathlib.Path(path).resolve().name.lower()
    return next((camera for hint, camera in _DIRECTORY_HINTS.items() if hint in name), None)


def read_tum_directory(path, camera: str = 'auto') -> TumDataset:
    """Read a TUM RGB-D style directory.

    ``camera``: ``auto`` takes ``camera.yaml`` when the directory has one, else the TUM camera
    its name says (``freiburg1`` -> fr1 ...); ``fr1``, ``fr2``, ``fr3``, ``ros`` pick a TUM
    calibration; any other value is a camera_info YAML file. The image size is read from the
    first rgb image for the TUM calibrations.
    """
    root = pathlib.Path(path)
    if not is_tum_directory(root):
        raise BadMessageError('TUM directory', str(root), 'a directory with rgb.txt')
    rgb, _ = read_list(root / 'rgb.txt')
    if not rgb:
        raise BadMessageError(str(root / 'rgb.txt'), 'no entries', 'timestamp filename lines')
    depth = read_list(root / 'depth.txt')[0] if (root / 'depth.txt').is_file() else []
    groundtruth = None
    header: dict[str, str] = {}
    if (root / 'groundtruth.txt').is_file():
        groundtruth = read_trajectory(root / 'groundtruth.txt')
        header = dict(groundtruth.header)
    model, source = _dataset_camera(root, camera, rgb)
    return TumDataset(root=root, rgb=rgb, depth=depth, groundtruth=groundtruth, camera=model,
                      camera_source=source, header=header)


def base_trajectory(groundtruth: Trajectory, camera_to_base: np.ndarray) -> Trajectory:
    """Return the base poses of optical-frame ground truth: camera_pose @ inv(camera_to_base)."""
    return groundtruth.transformed(invert_pose(camera_to_base))


def _dataset_camera(root: pathlib.Path, camera: str,
                    rgb: list[ListEntry]) -> tuple[CameraModel, str]:
    yaml_path = root / 'camera.yaml'
    if camera == 'auto':
        if yaml_path.is_file():
            return camera_from_yaml(yaml_path), str(yaml_path)
        camera = guess_tum_camera(root) or ''
        if not camera:
            raise BadMessageError(
                'camera', str(root),
                'camera.yaml in the directory, a directory named like '
                'rgbd_dataset_freiburg1_*, or an explicit camera: fr1, fr2, fr3, ros or a '
                'camera_info YAML file')
    if camera in TUM_CAMERAS:
        width, height = (_image_size(root / rgb[0].values[0]) if rgb[0].values
                         else TUM_IMAGE_SIZE)
        return tum_camera(camera, width, height), f'TUM {camera} calibration'
    return camera_from_yaml(camera), str(camera)


def _image_size(path: pathlib.Path) -> tuple[int, int]:
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise BadMessageError('rgb image', str(path), 'a readable image file')
    return int(image.shape[1]), int(image.shape[0])
