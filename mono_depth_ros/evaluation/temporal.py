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

"""``eval --tae``: the temporal alignment error of consecutive scored frames.

The camera poses come from the ground truth's ``groundtruth.txt`` (TUM: the optical frame's
pose, as ``synth`` writes it) or ``--poses``; the intrinsics from its ``camera.yaml``, a TUM
calibration its name implies, or ``--camera``. Each pair of consecutive scored frames is warped
both ways with :func:`mono_depth_ros.core.temporal_consistency.temporal_alignment_error` after
the same per-frame alignment as the other metrics, scored where the ground truth is known.
"""

import argparse
import pathlib

import numpy as np

from mono_depth_ros.core import tum
from mono_depth_ros.core.camera_model import camera_for_image, CameraModel
from mono_depth_ros.core.errors import BadMessageError
from mono_depth_ros.core.temporal_consistency import temporal_alignment_error
from mono_depth_ros.evaluation import EvalError


class TemporalScorer:
    """Consecutive frames in, the mean TAE over pairs out (``summary``)."""

    def __init__(self, camera: CameraModel, trajectory: tum.Trajectory,
                 min_depth: float, max_depth: float | None) -> None:
        order = np.argsort(trajectory.stamps_ns, kind='stable')
        self._trajectory = tum.Trajectory(trajectory.stamps_ns[order],
                                          trajectory.positions[order],
                                          trajectory.quaternions[order])
        self._camera = camera
        self._min_depth = min_depth
        self._max_depth = max_depth
        self._previous: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._errors: list[float] = []
        self._pixels = 0
        self._without_pose = 0

    def add(self, stamp_ns: int | None, prediction: np.ndarray, truth: np.ndarray) -> float:
        """Score this frame against the previous one; return its pair's TAE (NaN if none)."""
        pose = self._trajectory.pose_at(stamp_ns) if stamp_ns is not None else None
        if pose is None:
            self._without_pose += 1
            self._previous = None
            return float('nan')
        valid = np.isfinite(truth) & (truth > self._min_depth)
        if self._max_depth is not None:
            valid &= truth <= self._max_depth
        height, width = prediction.shape
        camera = camera_for_image(self._camera, width, height)
        current = (np.where(valid, prediction, np.nan), valid, pose)
        value = float('nan')
        if self._previous is not None:
            depth_a, valid_a, pose_a = self._previous
            if depth_a.shape == prediction.shape:
                error = temporal_alignment_error(depth_a, current[0], camera, pose_a, pose,
                                                 valid_a, valid)
                if error.count:
                    value = error.absrel
                    self._errors.append(value)
                    self._pixels += error.count
        self._previous = current
        return value

    def summary(self) -> dict:
        """Return ``tae`` (mean over pairs), ``tae_pairs``, ``tae_pixels``, frames without pose."""
        return {'tae': float(np.mean(self._errors)) if self._errors else float('nan'),
                'tae_pairs': len(self._errors), 'tae_pixels': self._pixels,
                'tae_frames_without_pose': self._without_pose}


def open_temporal_scorer(args: argparse.Namespace) -> TemporalScorer:
    """Return the scorer for ``--tae``: poses and camera from the ground truth or the options."""
    gt_path = pathlib.Path(args.gt)
    poses_path = pathlib.Path(args.poses) if args.poses else gt_path / 'groundtruth.txt'
    if not poses_path.is_file():
        raise EvalError(f'--tae needs camera poses: {poses_path} does not exist (give a TUM '
                        'trajectory of the camera optical frame with --poses)')
    try:
        trajectory = tum.read_trajectory(poses_path)
        if args.camera:
            camera = tum.camera_from_yaml(args.camera)
        elif tum.is_tum_directory(gt_path):
            camera = tum.read_tum_directory(gt_path).camera
        elif (gt_path / 'camera.yaml').is_file():
            camera = tum.camera_from_yaml(gt_path / 'camera.yaml')
        else:
            raise EvalError(f'--tae needs the intrinsics: {gt_path} has no camera.yaml (give a '
                            'camera_info YAML with --camera)')
    except BadMessageError as error:
        raise EvalError(f'--tae: {error}') from None
    return TemporalScorer(camera, trajectory, args.min_depth, args.max_depth)
