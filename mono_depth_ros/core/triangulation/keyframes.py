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

"""Keyframes of the triangulation pipeline: a bounded window for multi-view stereo.

A frame becomes a keyframe when its camera moved, since the last keyframe, by at least
``min_baseline_ratio`` times the scene depth (the median depth of the sparse points, else the
middle of the depth range). Each keyframe keeps its grey image at the stereo resolution
(undistorted to a pinhole camera), its intrinsics at that resolution, its pose (odometry at
the image stamp minus the pipeline's time offset, rotation refined as the pipeline's) and the
depths of the sparse points it saw. The window keeps the newest ``window_size`` keyframes.

Standing still or turning on the spot takes no keyframe and says so (``KeyframeDecision``);
a turn by more than ``max_rotation_deg`` without the baseline restarts the window at the
turned view, since the older keyframes no longer overlap it.
"""

from collections import deque
from dataclasses import dataclass, field, replace
import math
from typing import Callable

import cv2
import numpy as np

from mono_depth_ros.core.errors import BadMessageError

FIRST, BASELINE, RESTARTED = 'first', 'baseline', 'restarted after a rotation'
MOVING, STANDING, ROTATING, NO_POSE = ('moving', 'standing still', 'pure rotation', 'no pose')


@dataclass(frozen=True)
class KeyframeParams:
    """Settings of the keyframe window.

    Attributes:
        min_baseline_ratio: camera travel since the last keyframe, relative to the scene
            depth, that takes a new keyframe.
        window_size: keyframes kept (the newest is the stereo reference).
        min_keyframes: keyframes the window needs before a dense depth is computed (at most
            window_size): with fewer views the sweep is ambiguous and its sigma too small
            (at 3, 0.85 of the pixels within 2 sigma on the synthetic drive; 0.93 at 4).
        stereo_width: width (px) of the stored images; the height keeps the aspect ratio.
        standing_ratio: travel below this fraction of the scene depth counts as standing.
        rotating_deg: a turn by more than this (deg) without the baseline is a pure rotation.
        max_rotation_deg: a turn by more than this without the baseline restarts the window.
        align_keyframes: align each keyframe's pose to the newest's sparse tracks before
            the sweep (``keyframe_alignment``).
    """

    min_baseline_ratio: float = 0.04
    window_size: int = 5
    min_keyframes: int = 4
    stereo_width: int = 160
    standing_ratio: float = 0.002
    rotating_deg: float = 1.0
    max_rotation_deg: float = 20.0
    align_keyframes: bool = True

    def __post_init__(self) -> None:
        for name in ('min_baseline_ratio', 'standing_ratio', 'rotating_deg', 'max_rotation_deg'):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise BadMessageError(name, value, 'a positive number')
        if int(self.window_size) != self.window_size or self.window_size < 2:
            raise BadMessageError('window_size', self.window_size, 'an integer >= 2')
        if int(self.min_keyframes) != self.min_keyframes or self.min_keyframes < 2:
            raise BadMessageError('min_keyframes', self.min_keyframes, 'an integer >= 2')

    @property
    def keyframes_needed(self) -> int:
        """Return how many keyframes a dense depth needs: min_keyframes, at most the window."""
        return min(int(self.min_keyframes), int(self.window_size))
        if int(self.stereo_width) != self.stereo_width or self.stereo_width < 32:
            raise BadMessageError('stereo_width', self.stereo_width, 'an integer >= 32')


@dataclass(frozen=True)
class Keyframe:
    """One keyframe of the window.

    Attributes:
        stamp_ns: the image stamp.
        image: (h, w) float32 grey in [0, 1] at the stereo resolution, pinhole (undistorted).
        k: 3x3 intrinsics of ``image``.
        world_to_camera: 3x4 [R | t], odometry frame -> optical frame.
        image_size: (width, height) of the delivered image.
        sparse_depths: (N,) z (m) of the sparse points published with the frame.
        track_ids, track_rays: (M,) ids and (M, 2) normalized image coordinates (x/z, y/z)
            of every sparse track in the frame (for aligning the keyframes).
        point_ids, points: (P,) ids and (P, 3) optical-frame points of the published tracks.
        focal_px: the delivered image's focal length (px).
    """

    stamp_ns: int
    image: np.ndarray
    k: np.ndarray
    world_to_camera: np.ndarray
    image_size: tuple[int, int]
    sparse_depths: np.ndarray
    track_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    track_rays: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    point_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    points: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    focal_px: float = float('nan')

    @property
    def centre(self) -> np.ndarray:
        """Return the camera centre in the odometry frame."""
        rotation, translation = self.world_to_camera[:, :3], self.world_to_camera[:, 3]
        return -rotation.T @ translation


@dataclass(frozen=True)
class KeyframeDecision:
    """Whether a frame became a keyframe and why (``reason``: one of the module's constants)."""

    keyframe: Keyframe | None
    reason: str
    baseline_ratio: float = 0.0
    rotation_deg: float = 0.0

    @property
    def taken(self) -> bool:
        """Whether the frame was stored."""
        return self.keyframe is not None


class KeyframeWindow:
    """The newest keyframes; ``offer`` each frame with its pose."""

    def __init__(self, params: KeyframeParams | None = None,
                 depth_range: tuple[float, float] = (0.2, 30.0)) -> None:
        self.params = params or KeyframeParams()
        self._depth_guess = float(math.sqrt(depth_range[0] * depth_range[1]))
        self._keyframes: deque[Keyframe] = deque(maxlen=self.params.window_size)
        self._undistortion: tuple | None = None  # (camera signature, map x, map y, K)
        self.taken_total = 0

    def __len__(self) -> int:
        return len(self._keyframes)

    @property
    def keyframes(self) -> list[Keyframe]:
        """Return the keyframes, oldest first."""
        return list(self._keyframes)

    @property
    def newest(self) -> Keyframe | None:
        """Return the newest keyframe, or None."""
        return self._keyframes[-1] if self._keyframes else None

    def clear(self) -> None:
        """Forget every keyframe."""
        self._keyframes.clear()

    def refresh(self, pose_lookup: Callable[[int], np.ndarray | None]) -> int:
        """Look every keyframe's pose up again (``pose_lookup(stamp_ns)``: 3x4 or None).

        For a new time offset estimate: the poses then come from the odometry at the stamps
        minus the new offset. Keyframes without a pose keep theirs. Returns how many changed.
        """
        changed = 0
        for index, keyframe in enumerate(self._keyframes):
            pose = pose_lookup(keyframe.stamp_ns)
            if pose is not None and np.isfinite(pose).all():
                self._keyframes[index] = replace(
                    keyframe, world_to_camera=np.asarray(pose, np.float64)[:3, :4].copy())
                changed += 1
        return changed

    def offer(self, stamp_ns: int, gray: np.ndarray, world_to_camera, camera,
              sparse_depths=(), tracks=None, points=None) -> KeyframeDecision:
        """Store the frame as a keyframe if it moved far enough; return the decision.

        ``world_to_camera`` is the frame's 3x4 odometry -> optical pose (None: no pose),
        ``camera`` its CameraModel, ``sparse_depths`` the depths of its sparse points;
        optional ``tracks`` (ids, (M, 2) pixels of every track) and ``points`` (ids, (P, 3)
        optical-frame points of the published ones) are kept for aligning the keyframes.
        """
        if world_to_camera is None:
            return KeyframeDecision(None, NO_POSE)
        pose = np.asarray(world_to_camera, dtype=np.float64)[:3, :4]
        depths = np.asarray(sparse_depths, dtype=np.float64).reshape(-1)
        depths = depths[np.isfinite(depths) & (depths > 0)]
        last = self.newest
        if last is None:
            return self._take(stamp_ns, gray, pose, camera, depths, FIRST, tracks=tracks,
                              points=points)
        centre = -pose[:, :3].T @ pose[:, 3]
        scene_depth = float(np.median(depths)) if len(depths) >= 10 else (
            float(np.median(last.sparse_depths)) if len(last.sparse_depths) >= 10
            else self._depth_guess)
        ratio = float(np.linalg.norm(centre - last.centre)) / scene_depth
        turn = pose[:, :3] @ last.world_to_camera[:, :3].T
        rotation_deg = math.degrees(math.acos(float(np.clip(0.5 * (np.trace(turn) - 1.0),
                                                            -1.0, 1.0))))
        if ratio >= self.params.min_baseline_ratio:
            return self._take(stamp_ns, gray, pose, camera, depths, BASELINE, ratio,
                              rotation_deg, tracks, points)
        if rotation_deg > self.params.max_rotation_deg:
            self._keyframes.clear()
            return self._take(stamp_ns, gray, pose, camera, depths, RESTARTED, ratio,
                              rotation_deg, tracks, points)
        if ratio < self.params.standing_ratio:
            reason = ROTATING if rotation_deg > self.params.rotating_deg else STANDING
        else:
            reason = ROTATING if rotation_deg > self.params.rotating_deg and \
                ratio < 0.25 * self.params.min_baseline_ratio else MOVING
        return KeyframeDecision(None, reason, ratio, rotation_deg)

    def _take(self, stamp_ns: int, gray: np.ndarray, pose: np.ndarray, camera,
              depths: np.ndarray, reason: str, ratio: float = 0.0,
              rotation_deg: float = 0.0, tracks=None, points=None) -> KeyframeDecision:
        image, k = self._stereo_image(np.asarray(gray), camera)
        height, width = np.shape(gray)[:2]
        keyframe = Keyframe(stamp_ns=int(stamp_ns), image=image, k=k, world_to_camera=pose.copy(),
                            image_size=(int(width), int(height)),
                            sparse_depths=depths.astype(np.float32),
                            **_correspondences(camera, tracks, points))
        self._keyframes.append(keyframe)
        self.taken_total += 1
        return KeyframeDecision(keyframe, reason, ratio, rotation_deg)

    def _stereo_image(self, gray: np.ndarray, camera) -> tuple[np.ndarray, np.ndarray]:
        """Return the grey image at the stereo resolution (pinhole) and its intrinsics."""
        height, width = gray.shape[:2]
        small_width = min(int(self.params.stereo_width), width)
        small_height = max(1, round(height * small_width / width))
        small = camera.scaled(small_width, small_height)
        k = np.array(small.intrinsic_matrix, dtype=np.float64)
        if gray.dtype != np.uint8:
            gray = np.clip(np.nan_to_num(gray), 0, 255).astype(np.uint8)
        image = cv2.resize(gray, (small_width, small_height), interpolation=cv2.INTER_AREA)
        if small.is_distorted:
            image = self._undistorted(image, small, k)
        return image.astype(np.float32) / 255.0, k

    def _undistorted(self, image: np.ndarray, camera, k: np.ndarray) -> np.ndarray:
        """Remap a distorted image onto the pinhole camera ``k`` (maps cached per camera)."""
        signature = camera.rays_signature()
        if self._undistortion is None or self._undistortion[0] != signature:
            size = (image.shape[1], image.shape[0])
            d = camera.distortion_coefficients
            if signature[6] == 'equidistant':
                maps = cv2.fisheye.initUndistortRectifyMap(k, d, np.eye(3), k, size,
                                                           cv2.CV_32FC1)
            else:
                maps = cv2.initUndistortRectifyMap(k, d, None, k, size, cv2.CV_32FC1)
            self._undistortion = (signature, *maps)
        return cv2.remap(image, self._undistortion[1], self._undistortion[2], cv2.INTER_LINEAR)


def _correspondences(camera, tracks, points) -> dict:
    """Return a keyframe's track fields from ``offer``'s ``tracks`` and ``points``."""
    fields = {'focal_px': float(camera.intrinsic_matrix[0][0])}
    try:
        if tracks is not None and len(tracks[0]):
            ids = np.asarray(tracks[0], np.int64).reshape(-1)
            rays = np.asarray(camera.undistort_points(
                np.asarray(tracks[1], np.float64).reshape(-1, 2)), np.float64)
            if len(rays) == len(ids):
                fields.update(track_ids=ids, track_rays=rays)
        if points is not None and len(points[0]):
            ids = np.asarray(points[0], np.int64).reshape(-1)
            xyz = np.asarray(points[1], np.float64).reshape(-1, 3)
            if len(xyz) == len(ids):
                fields.update(point_ids=ids, points=xyz)
    except (ValueError, TypeError, BadMessageError):
        pass  # no alignment for this keyframe: the odometry pose stays
    return fields
