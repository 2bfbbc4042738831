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

"""Aligning a keyframe's relative pose to the sparse tracks (rotating odometry drift)."""

import math

import cv2
import numpy as np
import pytest

from mono_depth_ros.core.dense_stereo import relative_pose
from mono_depth_ros.core.triangulation.dense import DenseMapper
from mono_depth_ros.core.triangulation.keyframe_alignment import align_relative_pose
from mono_depth_ros.core.triangulation.keyframes import Keyframe, KeyframeParams

FOCAL = 500.0


def angle_deg(rotation: np.ndarray) -> float:
    return math.degrees(math.acos(np.clip(0.5 * (np.trace(rotation) - 1.0), -1.0, 1.0)))


def turned(axis, degrees: float) -> np.ndarray:
    axis = np.asarray(axis, np.float64)
    return cv2.Rodrigues(axis / np.linalg.norm(axis) * math.radians(degrees))[0]


def scene(count: int = 300, seed: int = 0) -> np.ndarray:
    """Points 2-8 m ahead of the reference camera, inside a 60 deg view."""
    rng = np.random.default_rng(seed)
    depth = rng.uniform(2.0, 8.0, count)
    rays = rng.uniform(-0.55, 0.55, (count, 2))
    return np.column_stack([rays * depth[:, None], depth])


def observed(points: np.ndarray, rotation: np.ndarray, translation: np.ndarray,
             noise_px: float = 0.3, seed: int = 1) -> np.ndarray:
    moved = points @ rotation.T + translation
    rng = np.random.default_rng(seed)
    return moved[:, :2] / moved[:, 2:3] + rng.normal(0.0, noise_px / FOCAL, (len(points), 2))


def test_a_drifted_rotation_is_recovered_and_the_baseline_length_kept():
    points = scene()
    true_rotation = turned((0.1, 1.0, 0.0), 2.0)
    true_translation = np.array([0.05, -0.01, -0.3])  # mostly forward, as on the drive
    seen = observed(points, true_rotation, true_translation)
    # Odometry: 0.3 deg of rotation and 0.5 deg of direction off, 1 % long.
    odometry_rotation = turned((0.3, -0.5, 1.0), 0.3) @ true_rotation
    odometry_translation = 1.01 * turned((1.0, 0.0, 0.0), 0.5) @ true_translation
    rays = np.column_stack([points[:, :2] / points[:, 2:3], np.ones(len(points))])
    alignment = align_relative_pose(rays, seen, odometry_rotation, odometry_translation, FOCAL)
    assert alignment.applied and alignment.points == len(points)
    assert angle_deg(alignment.rotation @ true_rotation.T) < 0.03
    assert angle_deg(odometry_rotation @ true_rotation.T) == pytest.approx(0.3, abs=1e-6)
    assert np.linalg.norm(alignment.translation) == pytest.approx(
        np.linalg.norm(odometry_translation), rel=1e-9)
    cosine = alignment.translation @ true_translation / (
        np.linalg.norm(alignment.translation) * np.linalg.norm(true_translation))
    assert math.degrees(math.acos(min(cosine, 1.0))) < 0.2
    assert alignment.residual_px < 0.6
    assert 0.0 < alignment.rotation_sigma_rad < math.radians(0.05)


def test_outlying_tracks_do_not_move_the_alignment_far():
    points = scene()
    rotation, translation = turned((0.0, 1.0, 0.0), 1.0), np.array([0.0, 0.0, -0.3])
    seen = observed(points, rotation, translation)
    seen[:30] += np.random.default_rng(2).normal(0.0, 20.0 / FOCAL, (30, 2))  # 10 % bad tracks
    rays = np.column_stack([points[:, :2] / points[:, 2:3], np.ones(len(points))])
    alignment = align_relative_pose(rays, seen, turned((1.0, 0.0, 0.0), 0.25) @ rotation,
                                    translation, FOCAL)
    assert alignment.applied
    assert angle_deg(alignment.rotation @ rotation.T) < 0.05


def test_too_few_tracks_or_no_baseline_keep_the_odometry_pose():
    points = scene(count=10)
    rotation, translation = np.eye(3), np.array([0.0, 0.0, -0.3])
    seen = observed(points, rotation, translation)
    few = align_relative_pose(points, seen, rotation, translation, FOCAL)
    assert not few.applied and few.points == 10
    assert np.array_equal(few.rotation, rotation) and np.array_equal(few.translation,
                                                                     translation)
    still = align_relative_pose(scene(), observed(scene(), rotation, np.zeros(3)), rotation,
                                np.zeros(3), FOCAL)
    assert not still.applied
    nonsense = align_relative_pose(np.full((40, 3), np.nan), np.zeros((40, 2)), rotation,
                                   translation, FOCAL)
    assert not nonsense.applied and nonsense.points == 0


def keyframe(stamp: int, world_to_camera: np.ndarray, ids: np.ndarray,
             rays: np.ndarray) -> Keyframe:
    k = np.array([[FOCAL / 4, 0.0, 80.0], [0.0, FOCAL / 4, 60.0], [0.0, 0.0, 1.0]])
    return Keyframe(stamp_ns=stamp, image=np.zeros((120, 160), np.float32), k=k,
                    world_to_camera=world_to_camera, image_size=(640, 480),
                    sparse_depths=np.full(20, 4.0, np.float32), track_ids=ids,
                    track_rays=rays, focal_px=FOCAL)


def test_the_mapper_aligns_every_keyframe_to_the_newest_by_their_common_tracks():
    points = scene(count=400)  # in the newest keyframe's frame, which is the world here
    reference_pose = np.column_stack([np.eye(3), np.zeros(3)])
    ids = np.arange(1000, 1400)
    keyframes, truths = [], []
    for index, back in enumerate((0.6, 0.4, 0.2)):
        true_pose = np.column_stack([turned((0.0, 1.0, 0.0), 2.0 * back),
                                     [0.02 * index, 0.0, back]])
        drifted = true_pose.copy()
        drifted[:, :3] = turned((1.0, 0.2, 0.0), 0.25) @ true_pose[:, :3]
        seen = observed(points, *relative_pose(reference_pose, true_pose), seed=index)
        keep = slice(50 * index, None)  # older keyframes lost some tracks, in another order
        keyframes.append(keyframe(index, drifted, ids[keep][::-1], seen[keep][::-1]))
        truths.append(true_pose)
    reference_rays = points[:, :2] / points[:, 2:3]
    keyframes.append(keyframe(3, reference_pose, ids, reference_rays))
    mapper = DenseMapper()
    poses, stats = mapper.aligned_poses(keyframes)
    assert stats['aligned_views'] == 3 and stats['alignment_points'] == [400, 350, 300]
    assert poses[-1] is keyframes[-1].world_to_camera
    for pose, truth, drifted in zip(poses, truths, keyframes):
        assert angle_deg(drifted.world_to_camera[:, :3] @ truth[:, :3].T) > 0.2
        assert angle_deg(pose[:, :3] @ truth[:, :3].T) < 0.03
    off, off_stats = DenseMapper(KeyframeParams(align_keyframes=False)).aligned_poses(keyframes)
    assert off_stats['aligned_views'] == 0
    assert all(pose is frame.world_to_camera for pose, frame in zip(off, keyframes))
