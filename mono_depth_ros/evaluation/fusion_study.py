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

"""Scale fusion against the errors real networks make, on held-out drives with real points.

Synthetic sequences of seed 7 (the tests and the demo train and run on others), driving
sideways or forward, triangulated by the real pipeline; the "network" is the true inverse depth
distorted as :mod:`mono_depth_ros.synth.network_errors` describes (per-frame scale and shift
jitter, flicker, a smooth spatial scale field, per-pixel noise). :func:`run_fusion` scores one
way of making metric depth after a 30-frame warm-up against the per-frame oracle (the same
relative map aligned to the ground truth with one scale and shift): AbsRel, 2-sigma coverage of
``depth/sigma`` and the temporal alignment error. test/unit/test_scale_fusion_realistic.py
asserts on it and ``bench/bench_scale_fusion.py`` reports it.
"""

from dataclasses import dataclass, replace

import cv2
import numpy as np

from mono_depth_ros.core.camera_model import CameraModel
from mono_depth_ros.core.depth_encoding import mask_depth_range
from mono_depth_ros.core.metrics import align_scale_shift, compute_metrics
from mono_depth_ros.core.relative_depth import relative_to_metric
from mono_depth_ros.core.temporal_consistency import temporal_alignment_error
from mono_depth_ros.core.transforms import matrix_to_quaternion
from mono_depth_ros.core.triangulation import TriangulationParams
from mono_depth_ros.core.triangulation.pipeline import TriangulationPipeline
from mono_depth_ros.pipeline.scale_fusion import (fit_frame, FitRefusal, ScaleFusion,
                                                  ScaleFusionSettings)
from mono_depth_ros.synth import render_sequence
from mono_depth_ros.synth.network_errors import distort_relative, NetworkErrors

SCALE, SHIFT = 3.7, 0.25   # the undistorted relative map: SCALE / depth + SHIFT
HELD_OUT_SEED = 7
WARMUP = 30
MIN_DEPTH, MAX_DEPTH = 0.1, 20.0
AFFINE = NetworkErrors(scale_jitter=0.05, shift_jitter=0.02, noise=0.01, seed=1)
FLICKER = NetworkErrors(scale_jitter=0.06, alternate=True, seed=1)   # +-6 %: 12 % steps
FIELD = NetworkErrors(field_amplitude=0.10, scale_jitter=0.03, noise=0.01, seed=2)
STEADY = NetworkErrors(field_amplitude=0.05, seed=3)


@dataclass
class TriangulatedFrame:
    """One frame of a drive: the truth, the camera pose, the triangulated points, the image."""

    stamp_ns: int
    depth: np.ndarray
    camera_pose: np.ndarray
    points: np.ndarray
    sigmas: np.ndarray
    rgb: np.ndarray | None = None


def triangulate(motion: str) -> tuple[CameraModel, list[TriangulatedFrame]]:
    sequence = render_sequence(frames=60, width=640, height=480, seed=HELD_OUT_SEED,
                               motion=motion, supersample=1)
    extrinsics = sequence.camera_to_base
    params = replace(TriangulationParams(), camera_to_base=(
        *extrinsics[:3, 3], *matrix_to_quaternion(extrinsics[:3, :3])))
    k = sequence.k
    camera = CameraModel.from_intrinsics(k[0, 0], k[1, 1], k[0, 2], k[1, 2], 640, 480)
    pipeline = TriangulationPipeline(params)
    for sample in sequence.odometry:
        pipeline.add_odometry(sample.stamp_ns, sample.base_pose[:3, 3],
                              matrix_to_quaternion(sample.base_pose[:3, :3]))
    frames = []
    for frame in sequence.frames:
        result = pipeline.process_frame(frame.stamp_ns,
                                        cv2.cvtColor(frame.rgb, cv2.COLOR_RGB2GRAY), camera)
        frames.append(TriangulatedFrame(frame.stamp_ns, frame.depth, frame.camera_pose,
                                        result.points_camera, result.sigmas, frame.rgb))
    return camera, frames


@dataclass
class Scores:
    """One run's scores over the frames after the warm-up."""

    absrel: float
    oracle_absrel: float
    coverage: float   # of the pixels within 2 sigma of the truth (NaN without a sigma)
    tae: float
    frames: int
    frames_without_depth: int = 0


def network_relative(frames, model_path: str, input_size: int = 140) -> list[np.ndarray]:
    """Return a real network's relative output for each frame, at the image size (ONNX, CPU)."""
    from mono_depth_ros.inference.selection import load_backend
    from mono_depth_ros.pipeline.depth_pipeline import DepthPipeline, DepthSettings

    backend, info = load_backend(model_path, backend='onnxruntime', device='cpu',
                                 input_size=input_size)
    with backend:
        pipeline = DepthPipeline(backend, info, DepthSettings(input_size=input_size))
        return [pipeline.estimate(frame.rgb).prediction.copy() for frame in frames]


def run_fusion(camera, frames, errors: NetworkErrors | None, mode: str = 'fused',
               settings: ScaleFusionSettings | None = None,
               points_per_frame: int | None = None, point_noise: float = 0.0,
               relative_maps: list[np.ndarray] | None = None) -> Scores:
    """Score one way of making metric depth: 'fused', or 'per-frame' global fits alone.

    The relative maps are the true inverse depth with ``errors``, or a network's
    (``relative_maps``, :func:`network_relative`). ``points_per_frame`` keeps a random subset
    of each frame's points and ``point_noise`` adds that relative depth noise to them (with
    their sigmas grown to match): fewer, noisier points, as at long range or on real
    recordings.
    """
    fusion = ScaleFusion(settings)
    rng = np.random.default_rng(11)
    absrel, oracle, within, counted, tae, missing = [], [], 0, 0, [], 0
    previous = None
    half = camera.scaled(320, 240)
    for index, frame in enumerate(frames):
        relative = (relative_maps[index] if relative_maps is not None
                    else distort_relative(SCALE / frame.depth + SHIFT, index, errors))
        points, sigmas = frame.points, frame.sigmas
        if points_per_frame is not None and len(points) > points_per_frame:
            keep = rng.choice(len(points), points_per_frame, replace=False)
            points, sigmas = points[keep], sigmas[keep]
        if point_noise:
            factor = 1.0 + point_noise * rng.standard_normal(len(points))
            points = points * factor[:, None].astype(np.float32)
            sigmas = np.hypot(sigmas, point_noise * points[:, 2])
        sigma = None
        if mode == 'fused':
            fusion.add_points(frame.stamp_ns, points, sigmas)
            estimate = fusion.update(frame.stamp_ns, relative, camera)
            depth = None
            if estimate is not None:
                depth = mask_depth_range(estimate.depth(relative), MIN_DEPTH, MAX_DEPTH)
                sigma = estimate.sigma(relative, depth)
        else:
            fit = fit_frame(frame.stamp_ns, relative, camera, points, ScaleFusionSettings(),
                            sigmas)
            depth = None
            if not isinstance(fit, FitRefusal):
                depth = mask_depth_range(relative_to_metric(relative, fit.scale, fit.shift),
                                         MIN_DEPTH, MAX_DEPTH)
        if index < WARMUP:
            continue
        if depth is None:
            missing += 1
            continue
        absrel.append(compute_metrics(depth, frame.depth)['abs_rel'])
        aligned, _, _ = align_scale_shift(relative, frame.depth, space='inverse')
        oracle.append(compute_metrics(aligned, frame.depth)['abs_rel'])
        if sigma is not None:
            known = np.isfinite(depth)
            within += int(np.sum(np.abs(depth - frame.depth)[known] <= 2.0 * sigma[known]))
            counted += int(known.sum())
        if previous is not None:
            tae.append(temporal_alignment_error(previous[0][::2, ::2], depth[::2, ::2], half,
                                                previous[1], frame.camera_pose).absrel)
        previous = (depth, frame.camera_pose)
    return Scores(float(np.mean(absrel)), float(np.mean(oracle)),
                  within / counted if counted else float('nan'), float(np.mean(tae)),
                  len(absrel), missing)
