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

"""Benchmark of depth_node's online flicker figure (``OnlineFlicker``): its cost and accuracy.

Run ``python bench/bench_flicker.py`` or ``mono-depth-ros bench --only flicker``; prints JSON.
On a synthetic drive (seed 5, 10 frames, true camera poses) it scores true depth (what the
figure reads when depth is consistent with the motion: the grid's rounding only) and true
depth under a per-frame scale jitter uniform in +-10 % (``expected``: the exact value, the
mean over pairs of (|s_a/s_b - 1| + |s_b/s_a - 1|) / 2), at 320x240 and 640x480, every 4th
pixel (the node's setting) and every pixel. ``frame_ms``: median time of one ``add`` that
scores a pair; the goal is at most 2 ms at 640x480 with stride 4.
"""

import json
import time

import numpy as np

from mono_depth_ros.core.camera_model import CameraModel
from mono_depth_ros.core.temporal_consistency import OnlineFlicker
from mono_depth_ros.synth import render_sequence

FRAME_MS_GOAL = 2.0
JITTER = 0.1


def run(frames: int = 10) -> dict:
    """Score the drive at both sizes and strides; return figures and times."""
    results = {}
    for width, height in ((320, 240), (640, 480)):
        sequence = render_sequence(frames=frames, width=width, height=height, seed=5,
                                   supersample=1)
        k = sequence.k
        camera = CameraModel.from_intrinsics(k[0, 0], k[1, 1], k[0, 2], k[1, 2], width, height)
        scales = 1.0 + np.random.default_rng(1).uniform(-JITTER, JITTER, frames)
        expected = float(np.mean([0.5 * (abs(a / b - 1.0) + abs(b / a - 1.0))
                                  for a, b in zip(scales[:-1], scales[1:])]))
        for stride in (4, 1):
            true_figure, times = _figure(sequence, camera, np.ones(frames), stride)
            jitter_figure, _ = _figure(sequence, camera, scales, stride)
            entry = {'true_depth': true_figure, 'jitter': jitter_figure,
                     'jitter_expected': expected, 'frame_ms': float(np.median(times))}
            if stride == 4 and width == 640:
                entry['frame_ms_goal'] = FRAME_MS_GOAL
                entry['goal_met'] = entry['frame_ms'] <= FRAME_MS_GOAL
            results[f'{width}x{height}_stride{stride}'] = entry
    return results


def _figure(sequence, camera: CameraModel, scales, stride: int) -> tuple[float, list[float]]:
    """Feed the scaled true depth with the true poses; return the figure and each pair's ms."""
    flicker = OnlineFlicker(stride=stride)
    times = []
    for frame, scale in zip(sequence.frames, scales):
        depth = (scale * frame.depth).astype(np.float32)
        start = time.perf_counter()
        scored = flicker.add(frame.stamp_ns, depth, camera,
                             frame.base_pose @ sequence.camera_to_base)
        if scored is not None:
            times.append(1e3 * (time.perf_counter() - start))
    return flicker.value(), times


if __name__ == '__main__':
    print(json.dumps(run(), indent=2))
