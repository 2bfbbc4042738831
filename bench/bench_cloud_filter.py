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

"""Benchmark of clouds for costmaps at 640x480: the flying-pixel filter and points/filtered.

Run ``python bench/bench_cloud_filter.py`` or ``mono-depth-ros bench --only cloud_filter``;
prints JSON. ``timing``: medians in milliseconds per frame (``ms`` wall clock, ``cpu_ms`` the
calling thread's CPU time, which a busy machine inflates less) of ``edge_filter``
(``remove_flying_pixels`` on the metric depth) and ``points_filtered`` (``costmap_cloud``: the
rays, gates, voxels and the packed cloud, at the default ``points_stride`` 2 and at 1), on a
synthetic room (``mono_depth_ros.synth``) whose depth is smeared as a network smears it. The
goal is ``points_filtered`` <= 3 ms at stride 2. ``flying_pixels``: per scene (rooms and a
floor with a box at 640x480, smeared 4x and 8x; rooms at 320x240, smeared 4x: an 8x smear of
that is a 40x30 network), the share of published pixels off every true surface by more than 5 %
of their depth, and the share of smooth-surface pixels kept, before and after the filter
(definitions in ``mono_depth_ros.evaluation.surfaces``); goals < 1 % and >= 95 %.
"""

import json
import time

import numpy as np

from mono_depth_ros.core.camera_model import CameraModel
from mono_depth_ros.core.depth_edges import remove_flying_pixels
from mono_depth_ros.evaluation.surfaces import (edge_figures, floor_and_box_depth,
                                                network_like_depth)
from mono_depth_ros.pipeline.outputs import costmap_cloud, DepthOutputSettings
from mono_depth_ros.synth import render_sequence

WIDTH, HEIGHT = 640, 480
MAX_DEPTH = 20.0
POINTS_FILTERED_GOAL_MS = 3.0
OFF_SURFACE_GOAL_PERCENT = 1.0
SMOOTH_KEPT_GOAL_PERCENT = 95.0


def run(repeats: int = 30, rounds: int = 3) -> dict:
    """Time the filters on a synthetic frame and measure the flying pixels of three scenes."""
    sequence = render_sequence(frames=1, width=WIDTH, height=HEIGHT, seed=0, supersample=1)
    frame = sequence.frames[0]
    k = sequence.k
    camera = CameraModel.from_intrinsics(fx=k[0, 0], fy=k[1, 1], cx=k[0, 2], cy=k[1, 2],
                                         width=WIDTH, height=HEIGHT)
    depth = network_like_depth(frame.depth, factor=4)
    bgr = np.ascontiguousarray(frame.rgb[:, :, ::-1])
    cleaned, _ = remove_flying_pixels(depth)
    settings = DepthOutputSettings()
    calls = {'edge_filter': lambda: remove_flying_pixels(depth)}
    for stride in (2, 1):
        strided = DepthOutputSettings(points_stride=stride)
        calls[f'points_filtered_stride{stride}'] = (
            lambda s=strided: costmap_cloud(cleaned, camera, s, bgr))
    timing = _medians(calls, repeats, rounds)
    cloud = costmap_cloud(cleaned, camera, settings, bgr)
    flying = _flying_pixel_figures()
    return {
        'image': {'width': WIDTH, 'height': HEIGHT},
        'repeats': repeats * rounds,
        'settings': {'voxel_size': settings.voxel_size, 'max_range': settings.max_range,
                     'points_stride': settings.points_stride},
        'timing': timing,
        'points_filtered_points': cloud.width,
        'points_filtered_goal_ms': POINTS_FILTERED_GOAL_MS,
        'points_filtered_goal_met': timing['points_filtered_stride2']['ms']
        <= POINTS_FILTERED_GOAL_MS,
        'flying_pixels': flying,
        'flying_pixels_goal_met': all(
            scene['after']['off_surface_percent'] < OFF_SURFACE_GOAL_PERCENT
            and scene['after']['smooth_kept_percent'] >= SMOOTH_KEPT_GOAL_PERCENT
            for scene in flying.values()),
    }


def _flying_pixel_figures() -> dict:
    scenes = {f'room_seed{seed}': render_sequence(frames=1, width=WIDTH, height=HEIGHT,
                                                  seed=seed, supersample=1).frames[0].depth
              for seed in (0, 3)}
    scenes['floor_and_box'] = floor_and_box_depth(WIDTH, HEIGHT)
    # A quarter of the pixels: steeper gradients per pixel, creases closer together.
    scenes.update({f'room_seed{seed}_320x240': render_sequence(
        frames=1, width=WIDTH // 2, height=HEIGHT // 2, seed=seed, supersample=1).frames[0].depth
        for seed in (0, 3)})
    figures = {}
    for factor in (4, 8):
        for name, truth in scenes.items():
            if factor == 8 and truth.shape[1] < WIDTH:
                continue
            estimate = network_like_depth(truth, factor=factor, seed=factor)
            estimate[estimate > MAX_DEPTH] = np.nan
            cleaned, removed = remove_flying_pixels(estimate)
            figures[f'{name}_smear{factor}'] = {
                'before': edge_figures(estimate, truth, MAX_DEPTH).as_dict(),
                'after': edge_figures(cleaned, truth, MAX_DEPTH).as_dict(),
                'removed_pixels': removed,
            }
    return figures


def _medians(calls: dict, repeats: int, rounds: int) -> dict:
    """Time each call ``repeats`` times in a row, cycling through the calls ``rounds`` times."""
    wall = {name: [] for name in calls}
    cpu = {name: [] for name in calls}
    for _ in range(rounds):
        for name, call in calls.items():
            call()  # warm-up
            for _ in range(repeats):
                start, start_cpu = time.perf_counter(), time.thread_time()
                call()
                cpu[name].append(time.thread_time() - start_cpu)
                wall[name].append(time.perf_counter() - start)
    return {name: {'ms': round(float(np.median(wall[name])) * 1e3, 3),
                   'cpu_ms': round(float(np.median(cpu[name])) * 1e3, 3)} for name in calls}


if __name__ == '__main__':
    print(json.dumps(run(), indent=2))
