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

"""Accuracy of the triangulation pipeline on a sequence with ground truth, and odometry drift.

Used by the tests and bench/bench_triangulation.py. A sequence is anything shaped like
``mono_depth_ros.synth.SyntheticSequence``: ``k``, ``width``, ``height``, ``camera_to_base``,
``frames`` (``stamp_ns``, ``rgb``, ``depth``, ``index``) and ``odometry`` (``stamp_ns``,
``base_pose``).
"""

from dataclasses import dataclass, field, replace
import time

import cv2
import numpy as np

from mono_depth_ros.core.camera_model import CameraModel
from mono_depth_ros.core.transforms import matrix_to_quaternion
from mono_depth_ros.core.triangulation.pipeline import (TriangulationParams,
                                                        TriangulationPipeline)


@dataclass
class SequenceEvaluation:
    """Per-frame figures of one pass over a sequence.

    Frames before ``warmup_frames`` count in the timings only.

    Attributes:
        absrel: mean |d - gt| / gt over every published pixel after the warm-up.
        points_per_frame: published points of each frame after the warm-up.
        coverage: fraction of those points whose |d - gt| is at most twice their sigma (95 %
            for an honest Gaussian sigma). A tracked corner lies on a depth edge as often as
            not, and its pixel is known to a fraction of a pixel: gt for the coverage is the
            depth in the point's 3x3 pixel neighbourhood nearest to the estimate.
        edge_coverage: the same over the points whose 3x3 neighbourhood spans more than 5 %
            of depth (depth edges), with gt at the rounded pixel: the strict figure there.
        new_converged: tracks that first converged in each frame after the warm-up.
        frame_ms, tracking_ms, triangulation_ms: per-frame timings of every frame (wall
            clock); triangulation_ms includes the depth filters.
        frame_cpu_ms: the process's CPU time of each frame: less inflated than frame_ms on a
            machine that other jobs load.
        statuses: status of every frame.
    """

    absrel: float
    points_per_frame: list[int] = field(default_factory=list)
    coverage: float = float('nan')
    edge_coverage: float = float('nan')
    new_converged: list[int] = field(default_factory=list)
    time_offsets: list[float] = field(default_factory=list)
    frame_ms: list[float] = field(default_factory=list)
    frame_cpu_ms: list[float] = field(default_factory=list)
    tracking_ms: list[float] = field(default_factory=list)
    triangulation_ms: list[float] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)


def drifting_odometry(samples, translation_drift: float = 0.01, rotation_drift_deg: float = 0.5,
                      seed: int = 0) -> list[tuple[int, np.ndarray]]:
    """Return (stamp_ns, base pose) samples with the drift of a dead-reckoning odometry.

    The error grows smoothly with the distance travelled: at the end of the sequence the
    position is off by ``translation_drift`` times the distance travelled (in a random
    direction) and the orientation by ``rotation_drift_deg`` (about a random axis). The error
    is applied in the base frame, as integrating biased wheel and gyro increments would.
    """
    rng = np.random.default_rng(seed)
    poses = [np.asarray(sample.base_pose, dtype=np.float64) for sample in samples]
    steps = [np.linalg.norm(b[:3, 3] - a[:3, 3]) for a, b in zip(poses, poses[1:])]
    travelled = np.concatenate([[0.0], np.cumsum(steps)])
    total = max(float(travelled[-1]), 1e-9)
    axis = rng.normal(size=3)
    axis /= np.linalg.norm(axis)
    direction = rng.normal(size=3)
    direction /= np.linalg.norm(direction)
    drifted = []
    for sample, pose, distance in zip(samples, poses, travelled):
        error = np.eye(4)
        error[:3, :3] = cv2.Rodrigues(axis * np.radians(rotation_drift_deg) * distance / total)[0]
        error[:3, 3] = translation_drift * distance * direction
        drifted.append((int(sample.stamp_ns), pose @ error))
    return drifted


def random_walk_odometry(samples, translation_noise: float = 0.01,
                         rotation_noise_deg: float = 0.5,
                         seed: int = 0) -> list[tuple[int, np.ndarray]]:
    """Return (stamp_ns, base pose) samples from integrating noisy odometry increments.

    Each increment between consecutive samples gets an independent random translation of
    ``translation_noise`` times its length (standard deviation) and a random rotation whose
    standard deviation makes the accumulated error reach ``rotation_noise_deg`` (1 sigma) at
    the last sample. Unlike ``drifting_odometry`` this jitters from sample to sample.
    """
    rng = np.random.default_rng(seed)
    poses = [np.asarray(sample.base_pose, dtype=np.float64) for sample in samples]
    step_sigma = np.radians(rotation_noise_deg) / np.sqrt(max(len(poses) - 1, 1))
    error = np.eye(4)
    noisy = [(int(samples[0].stamp_ns), poses[0])]
    for sample, before, pose in zip(samples[1:], poses, poses[1:]):
        length = np.linalg.norm(pose[:3, 3] - before[:3, 3])
        increment = np.eye(4)
        increment[:3, :3] = cv2.Rodrigues(rng.normal(0.0, step_sigma / np.sqrt(3), 3))[0]
        increment[:3, 3] = rng.normal(0.0, translation_noise * length / np.sqrt(3), 3)
        error = error @ increment
        noisy.append((int(sample.stamp_ns), pose @ error))
    return noisy


def sequence_pipeline(sequence, params: TriangulationParams | None = None, odometry=None
                      ) -> tuple[TriangulationParams, CameraModel, TriangulationPipeline]:
    """Return the params (the sequence's camera_to_base), camera and a fed pipeline.

    ``odometry`` is a list of (stamp_ns, 4x4 base pose); the sequence's exact odometry by
    default. The pipeline holds all of it before the first frame.
    """
    params = params or TriangulationParams()
    extrinsics = np.asarray(sequence.camera_to_base, dtype=np.float64)
    params = replace(params, camera_to_base=(
        *extrinsics[:3, 3], *matrix_to_quaternion(extrinsics[:3, :3])))
    k = np.asarray(sequence.k, dtype=np.float64)
    camera = CameraModel.from_intrinsics(k[0, 0], k[1, 1], k[0, 2], k[1, 2],
                                         sequence.width, sequence.height)
    if odometry is None:
        odometry = [(sample.stamp_ns, sample.base_pose) for sample in sequence.odometry]
    pipeline = TriangulationPipeline(params)
    for stamp_ns, pose in odometry:
        pose = np.asarray(pose, dtype=np.float64)
        pipeline.add_odometry(stamp_ns, pose[:3, 3], matrix_to_quaternion(pose[:3, :3]))
    return params, camera, pipeline


def evaluate_sequence(sequence, params: TriangulationParams | None = None, odometry=None,
                      warmup_frames: int = 30) -> SequenceEvaluation:
    """Run the pipeline over a sequence; return accuracy against its ground-truth depth.

    ``odometry`` is a list of (stamp_ns, 4x4 base pose); the sequence's exact odometry by
    default. The pipeline's camera_to_base is the sequence's.
    """
    params, camera, pipeline = sequence_pipeline(sequence, params, odometry)

    evaluation = SequenceEvaluation(absrel=float('nan'))
    errors, within, edge_within = [], [], []
    seen: set = set()
    for frame in sequence.frames:
        gray = cv2.cvtColor(frame.rgb, cv2.COLOR_RGB2GRAY)
        started = time.process_time()
        result = pipeline.process_frame(frame.stamp_ns, gray, camera)
        evaluation.frame_cpu_ms.append((time.process_time() - started) * 1e3)
        evaluation.frame_ms.append(result.stats['total_ms'])
        evaluation.tracking_ms.append(result.stats['tracking_ms'])
        evaluation.triangulation_ms.append(
            result.stats['triangulation_ms'] + result.stats['filter_ms'])
        evaluation.statuses.append(result.status)
        evaluation.time_offsets.append(result.stats.get('time_offset_s', 0.0))
        new_ids = set(result.track_ids.tolist()) - seen
        seen |= new_ids
        if frame.index < warmup_frames:
            continue
        evaluation.points_per_frame.append(len(result))
        evaluation.new_converged.append(len(new_ids))
        if len(result):
            columns, rows = np.rint(result.pixels).astype(np.int64).T
            truth = np.asarray(frame.depth)[rows, columns]
            errors.append(np.abs(result.depths - truth) / truth)
            nearest, edge = _neighbourhood_truth(np.asarray(frame.depth), rows, columns,
                                                 result.depths)
            within.append(np.abs(result.depths - nearest) <= 2.0 * result.sigmas)
            edge_within.append((np.abs(result.depths - truth) <= 2.0 * result.sigmas)[edge])
    if errors:
        evaluation.absrel = float(np.concatenate(errors).mean())
        evaluation.coverage = float(np.concatenate(within).mean())
        on_edges = np.concatenate(edge_within)
        evaluation.edge_coverage = float(on_edges.mean()) if len(on_edges) else float('nan')
    return evaluation


def _neighbourhood_truth(depth: np.ndarray, rows: np.ndarray, columns: np.ndarray,
                         estimates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the 3x3-neighbourhood depth nearest to each estimate, and which lie on an edge."""
    height, width = depth.shape
    offsets = np.arange(-1, 2)
    around_rows = np.clip(rows[:, None, None] + offsets[None, :, None], 0, height - 1)
    around_columns = np.clip(columns[:, None, None] + offsets[None, None, :], 0, width - 1)
    around = depth[around_rows, around_columns].reshape(len(rows), 9)
    with np.errstate(invalid='ignore'):
        pick = np.nanargmin(np.abs(np.where(np.isfinite(around), around, np.inf)
                                   - estimates[:, None]), axis=1)
        span = (np.nanmax(around, axis=1) - np.nanmin(around, axis=1)) \
            / depth[rows, columns]
    return around[np.arange(len(rows)), pick], span > 0.05
