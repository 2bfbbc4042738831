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

"""Accuracy of the dense depth (keyframe plane sweep) on a sequence with ground truth.

Used by the tests and bench/bench_triangulation.py. The sequence is shaped like
``mono_depth_ros.synth.SyntheticSequence`` (see ``evaluation``). The sparse pipeline runs on
every frame; each keyframe taken after ``warmup_frames`` with a full window gets its dense
depth, compared at the image size with the frame's ground-truth depth.

Figures (over those keyframes, pixels pooled):

* ``fraction_within[b]``: the fraction of *all* image pixels that have a dense depth whose
  relative error |d - gt| / gt is at most ``b`` (NaN pixels count as failures);
* ``valid_fraction``: pixels with a dense depth; ``absrel``: mean relative error over them;
* ``coverage``: fraction of them with |d - gt| <= 2 sigma (95 % for an honest sigma);
* ``dense_cpu_ms``: the process CPU time of each dense step (plane sweep and regularisation
  at the stereo resolution; the process is single-threaded there, so it is the step's own
  CPU time however loaded the machine is) and ``dense_wall_ms`` its wall-clock time;
* ``alignment_ms``: the part of the dense step that aligns the keyframes' poses to the
  sparse tracks (wall clock), ``aligned_views``: the keyframes aligned per dense depth.
"""

from dataclasses import dataclass, field
import time

import cv2
import numpy as np

from mono_depth_ros.core.dense_stereo import DenseStereoParams
from mono_depth_ros.core.triangulation.dense import DenseMapper, pipeline_pose_lookup
from mono_depth_ros.core.triangulation.evaluation import sequence_pipeline
from mono_depth_ros.core.triangulation.keyframes import KeyframeParams
from mono_depth_ros.core.triangulation.pipeline import TriangulationParams

BOUNDS = (0.05, 0.10)


@dataclass
class DenseEvaluation:
    """Figures of the dense depth over a sequence's keyframes (module docstring)."""

    keyframes: int = 0
    fraction_within: dict = field(default_factory=dict)
    valid_fraction: float = float('nan')
    absrel: float = float('nan')
    coverage: float = float('nan')
    per_keyframe: list[dict] = field(default_factory=list)
    dense_cpu_ms: list[float] = field(default_factory=list)
    dense_wall_ms: list[float] = field(default_factory=list)
    alignment_ms: list[float] = field(default_factory=list)
    aligned_views: list[int] = field(default_factory=list)
    decisions: list[str] = field(default_factory=list)
    stereo_size: tuple[int, int] = (0, 0)


@dataclass
class DenseScore:
    """One dense depth against the truth: per known pixel, its error and 2-sigma hit."""

    relative: np.ndarray
    covered: np.ndarray
    pixels: int

    def figures(self) -> dict:
        """Return valid, absrel, coverage and within_<bound> (fractions of all pixels)."""
        count = len(self.relative)
        figures = {'valid': count / self.pixels if self.pixels else 0.0,
                   'absrel': float(self.relative.mean()) if count else float('nan'),
                   'coverage': float(self.covered.mean()) if count else float('nan')}
        for bound in BOUNDS:
            figures[f'within_{bound:.2f}'] = (
                int((self.relative <= bound).sum()) / self.pixels if self.pixels else 0.0)
        return figures


def score_dense(depth: np.ndarray, sigma: np.ndarray, truth: np.ndarray) -> DenseScore:
    """Score a dense depth and its 1-sigma (image size, NaN unknown) against the truth."""
    truth = np.asarray(truth, dtype=np.float64)
    known = np.isfinite(depth) & np.isfinite(sigma) & np.isfinite(truth) & (truth > 0)
    error = np.abs(depth[known] - truth[known])
    return DenseScore(relative=error / truth[known], covered=error <= 2.0 * sigma[known],
                      pixels=int(truth.size))


def evaluate_dense_sequence(sequence, params: TriangulationParams | None = None,
                            keyframe_params: KeyframeParams | None = None,
                            stereo_params: DenseStereoParams | None = None,
                            odometry=None, warmup_frames: int = 15) -> DenseEvaluation:
    """Run the sparse pipeline and the dense step over a sequence; return the dense figures.

    ``odometry`` is a list of (stamp_ns, 4x4 base pose); the sequence's own by default. The
    stereo sigma's odometry scale term is the pipeline's ``odom_scale_sigma``.
    """
    params, camera, pipeline = sequence_pipeline(sequence, params, odometry)
    stereo_params = stereo_params or DenseStereoParams(odom_scale_sigma=params.odom_scale_sigma)
    mapper = DenseMapper(keyframe_params, stereo_params, (params.min_depth, params.max_depth))
    lookup = pipeline_pose_lookup(pipeline)
    evaluation = DenseEvaluation()
    within = {bound: [] for bound in BOUNDS}
    errors, covered, valid = [], [], []
    for frame in sequence.frames:
        gray = cv2.cvtColor(frame.rgb, cv2.COLOR_RGB2GRAY)
        result = pipeline.process_frame(frame.stamp_ns, gray, camera)
        decision = mapper.offer(result, gray, camera, lookup)
        evaluation.decisions.append(decision.reason)
        full = len(mapper.window) == mapper.keyframe_params.window_size
        if not decision.taken or frame.index < warmup_frames or not full:
            continue
        cpu, wall = time.process_time(), time.perf_counter()
        dense = mapper.compute()
        evaluation.dense_cpu_ms.append((time.process_time() - cpu) * 1e3)
        evaluation.dense_wall_ms.append((time.perf_counter() - wall) * 1e3)
        if dense is None or not dense.ok:
            continue
        evaluation.stereo_size = dense.dense.depth.shape[::-1]
        depth, sigma = dense.at_image_size()
        score = score_dense(depth, sigma, frame.depth)
        figures = {'index': frame.index, **score.figures(),
                   'cpu_ms': evaluation.dense_cpu_ms[-1],
                   'aligned_views': dense.dense.stats.get('aligned_views', 0)}
        evaluation.alignment_ms.append(dense.dense.stats.get('alignment_ms', 0.0))
        evaluation.aligned_views.append(figures['aligned_views'])
        for bound in BOUNDS:
            within[bound].append((int((score.relative <= bound).sum()), score.pixels))
        evaluation.per_keyframe.append(figures)
        errors.append(score.relative)
        covered.append(score.covered)
        valid.append((len(score.relative), score.pixels))
    evaluation.keyframes = len(evaluation.per_keyframe)
    if errors:
        evaluation.fraction_within = {
            bound: sum(c for c, _ in pairs) / sum(n for _, n in pairs)
            for bound, pairs in within.items()}
        evaluation.valid_fraction = sum(c for c, _ in valid) / sum(n for _, n in valid)
        pooled = np.concatenate(errors)
        evaluation.absrel = float(pooled.mean()) if len(pooled) else float('nan')
        hits = np.concatenate(covered)
        evaluation.coverage = float(hits.mean()) if len(hits) else float('nan')
    return evaluation
