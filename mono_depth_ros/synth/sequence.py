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

"""A rendered camera sequence with exact poses, twists and depth: the data types and the renderer.

Frame i is stamped ``start_stamp_ns + round(i * 1e6 / fps) * 1000`` (whole microseconds, so
TUM file names with six decimals name stamps exactly) and shows the scene at that instant of
the analytic base path. The odometry samples run at twice the frame rate, from half a frame
period before the first frame to half a period after the last, so that consumers interpolate
poses between samples.

What a robot would see can be made imperfect (the ground truth stays exact): ``motion`` and
``sway_deg`` pick the path (``synth.motion``); ``camera_latency`` stamps each image that many
seconds after the instant it shows (its ground-truth pose and depth are those of that instant,
filed under the late stamp; the odometry keeps true stamps and covers the late ones);
``odom_drift`` and ``odom_drift_deg`` make the odometry drift smoothly by that fraction of the
distance travelled and that angle by the end (``drifting_odometry``; random directions from
the seed).
"""

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
import os

import numpy as np

from mono_depth_ros.core.errors import BadMessageError
from mono_depth_ros.core.transforms import default_camera_to_base
from mono_depth_ros.core.triangulation.evaluation import drifting_odometry
from mono_depth_ros.synth.motion import Motion
from mono_depth_ros.synth.renderer import Renderer
from mono_depth_ros.synth.scene import build_scene

BAG_TOPICS = {'image': '/camera/image_raw', 'camera_info': '/camera/camera_info', 'odom': '/odom'}
FRAME_IDS = {'camera': 'camera_optical_frame', 'odom': 'odom', 'base': 'base_link'}
DEFAULT_START_STAMP_NS = 1_700_000_000_000_000_000


@dataclass
class SyntheticFrame:
    """One rendered frame and the ground truth at its stamp."""

    index: int
    stamp_ns: int
    rgb: np.ndarray  # (H, W, 3) uint8 RGB
    depth: np.ndarray  # (H, W) float32 z-depth in metres (REP 118), finite everywhere
    base_pose: np.ndarray  # 4x4 pose of the base in the odometry frame (base -> odom)
    camera_pose: np.ndarray  # 4x4 pose of the optical frame in odom: base_pose @ camera_to_base
    base_twist: tuple[np.ndarray, np.ndarray]  # linear (3,), angular (3,) in the base frame
    capture_ns: int | None = None  # the instant the image shows (None: the stamp)


@dataclass
class OdometrySample:
    """The base's pose (4x4, base -> odom) and twist (base frame) at a stamp."""

    stamp_ns: int
    base_pose: np.ndarray
    base_twist: tuple[np.ndarray, np.ndarray]


@dataclass
class SyntheticSequence:
    """A camera sequence: intrinsics, extrinsics, frames and the odometry stream."""

    width: int
    height: int
    k: np.ndarray  # 3x3 intrinsics (no distortion)
    camera_to_base: np.ndarray  # 4x4 pose of the optical frame in the base frame
    fps: float
    frames: list[SyntheticFrame]
    odometry: list[OdometrySample] = field(default_factory=list)

    def camera_info_fields(self) -> dict:
        """Return the CameraInfo fields: height, width, distortion_model, d, k, r, p."""
        k = np.asarray(self.k, dtype=np.float64)
        projection = np.zeros((3, 4))
        projection[:, :3] = k
        return {
            'height': int(self.height),
            'width': int(self.width),
            'distortion_model': 'plumb_bob',
            'd': [0.0] * 5,
            'k': [float(value) for value in k.reshape(-1)],
            'r': [float(value) for value in np.eye(3).reshape(-1)],
            'p': [float(value) for value in projection.reshape(-1)],
        }


def intrinsics(width: int, height: int) -> np.ndarray:
    """Return the synthetic camera's K: fx = fy = 0.8 * width, principal point off-centre."""
    focal = 0.8 * width
    return np.array([[focal, 0.0, 0.5 * width + 7.3],
                     [0.0, focal, 0.5 * height - 5.1],
                     [0.0, 0.0, 1.0]])


def frame_stamps_ns(frames: int, fps: float, start_stamp_ns: int) -> list[int]:
    """Return the frame stamps: whole microseconds after the start at the frame rate."""
    return [int(start_stamp_ns) + round(index * 1e6 / fps) * 1000 for index in range(frames)]


def render_sequence(frames: int = 100, width: int = 640, height: int = 480, seed: int = 0,
                    fps: float = 15.0, start_stamp_ns: int = DEFAULT_START_STAMP_NS, *,
                    camera_to_base: np.ndarray | None = None, supersample: int = 2,
                    motion: str = 'drive', sway_deg: float = 0.0, camera_latency: float = 0.0,
                    odom_drift: float = 0.0, odom_drift_deg: float = 0.0) -> SyntheticSequence:
    """Render a sequence of the seed's scene along the base path; identical for equal arguments.

    camera_to_base defaults to ``default_camera_to_base()`` (optical frame at the base origin,
    looking along base +x). supersample 2 anti-aliases colour; 1 is four times cheaper. The
    imperfections (motion, sway_deg, camera_latency s, odom_drift, odom_drift_deg) are in the
    module docstring; their defaults give the exact sequence.
    """
    _check_positive('frames', frames)
    _check_positive('width', width)
    _check_positive('height', height)
    if not fps > 0:
        raise BadMessageError('fps', fps, 'a positive frame rate')
    if int(seed) < 0:
        raise BadMessageError('seed', seed, 'a non-negative integer')
    if not (np.isfinite(camera_latency) and abs(camera_latency) < 1.0):
        raise BadMessageError('camera_latency', camera_latency, 'a number of seconds in (-1, 1)')
    for name, value in (('odom_drift', odom_drift), ('odom_drift_deg', odom_drift_deg)):
        if not (np.isfinite(value) and value >= 0):
            raise BadMessageError(name, value, 'a finite number >= 0')
    path = Motion(kind=motion, sway_deg=float(sway_deg))
    extrinsics = (default_camera_to_base() if camera_to_base is None
                  else np.asarray(camera_to_base, dtype=np.float64).reshape(4, 4))
    k = intrinsics(width, height)
    renderer = Renderer(build_scene(int(seed)), k, width, height, supersample=supersample)
    captures = frame_stamps_ns(frames, fps, start_stamp_ns)
    latency_ns = round(camera_latency * 1e6) * 1000
    seconds = [(stamp - start_stamp_ns) * 1e-9 for stamp in captures]
    base_poses = [path.base_pose_at(time_s) for time_s in seconds]
    camera_poses = [pose @ extrinsics for pose in base_poses]
    workers = max(1, min(4, os.cpu_count() or 1, frames))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        images = list(pool.map(renderer.render, camera_poses))
    sequence_frames = [
        SyntheticFrame(index=index, stamp_ns=captures[index] + latency_ns, rgb=rgb, depth=depth,
                       base_pose=base_poses[index], camera_pose=camera_poses[index],
                       base_twist=path.base_twist_at(seconds[index]),
                       capture_ns=captures[index] if latency_ns else None)
        for index, (rgb, depth) in enumerate(images)]
    odometry = _odometry(captures, fps, start_stamp_ns, path, latency_ns)
    if odom_drift or odom_drift_deg:
        drifted = drifting_odometry(odometry, translation_drift=float(odom_drift),
                                    rotation_drift_deg=float(odom_drift_deg), seed=int(seed))
        odometry = [OdometrySample(stamp_ns=stamp, base_pose=pose, base_twist=sample.base_twist)
                    for (stamp, pose), sample in zip(drifted, odometry)]
    return SyntheticSequence(width=int(width), height=int(height), k=k,
                             camera_to_base=extrinsics, fps=float(fps), frames=sequence_frames,
                             odometry=odometry)


def _odometry(stamps: list[int], fps: float, start_stamp_ns: int, path: Motion,
              latency_ns: int = 0) -> list[OdometrySample]:
    """Return samples at twice the frame rate covering the frames by half a period each side.

    With a camera latency the samples also cover the late image stamps by half a period.
    """
    half_period_us = 0.5e6 / fps
    extra = int(np.ceil(abs(latency_ns) * 1e-3 / half_period_us))
    first = -1 - (extra if latency_ns < 0 else 0)
    last = 2 * (len(stamps) - 1) + 1 + (extra if latency_ns > 0 else 0)
    samples = []
    for half_step in range(first, last + 1):
        if half_step % 2 == 0 and 0 <= half_step // 2 < len(stamps):
            stamp = stamps[half_step // 2]
        else:
            stamp = int(start_stamp_ns) + round(half_step * half_period_us) * 1000
        time_s = (stamp - start_stamp_ns) * 1e-9
        samples.append(OdometrySample(stamp_ns=stamp, base_pose=path.base_pose_at(time_s),
                                      base_twist=path.base_twist_at(time_s)))
    return samples


def _check_positive(name: str, value: int) -> None:
    if int(value) != value or value < 1:
        raise BadMessageError(name, value, 'a positive integer')
