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

"""The flying-pixel filter against ground truth: off-surface points go, smooth surfaces stay.

Scenes: synthetic rooms with boxes (``mono_depth_ros.synth``, exact depth; 640x480, and
320x240 for creases) and a flat floor running to grazing angles with a box on it. The estimate
is the true depth smeared as a network smears it (``network_like_depth``: inverse depth from 1/4
or 1/8 resolution, bilinear back, a 1 px blur, 1 % smooth noise). A published point is *off
every surface* when its depth differs by more than 5 % of itself from the true depth at its own
pixel and at every pixel of its 5x5 neighbourhood; a pixel is on a *smooth surface* when no
true discontinuity (a 10 % jump between 4-neighbours) lies within 5 px. The goal: < 1 % of
published points off every surface after filtering, >= 95 % of smooth-surface pixels kept.
"""

import numpy as np
import pytest

from mono_depth_ros.core.depth_edges import flying_pixel_mask, remove_flying_pixels
from mono_depth_ros.core.errors import BadMessageError
from mono_depth_ros.evaluation.surfaces import (edge_figures, floor_and_box_depth,
                                                network_like_depth)
from mono_depth_ros.synth import render_sequence

MAX_DEPTH = 20.0  # depth_node's default: farther depth is NaN before the filter


@pytest.fixture(scope='module')
def scenes() -> dict[str, np.ndarray]:
    rooms = {f'room seed {seed}': render_sequence(frames=1, seed=seed, supersample=1)
             .frames[0].depth for seed in (0, 3)}
    return {**rooms, 'floor and box': floor_and_box_depth()}


@pytest.mark.parametrize('factor', [4, 8])
def test_filtered_depth_has_under_one_percent_off_surface_and_keeps_smooth_surfaces(
        scenes, factor):
    for name, truth in scenes.items():
        estimate = network_like_depth(truth, factor=factor, seed=factor)
        estimate[estimate > MAX_DEPTH] = np.nan
        before = edge_figures(estimate, truth, MAX_DEPTH)
        cleaned, removed = remove_flying_pixels(estimate)
        after = edge_figures(cleaned, truth, MAX_DEPTH)
        assert before.off_surface_percent > 1.0, (name, before)  # the smear is there to remove
        assert after.off_surface_percent < 1.0, (name, before, after)
        assert after.smooth_kept_percent >= 95.0, (name, after)
        assert removed == np.isnan(cleaned).sum() - np.isnan(estimate).sum()


def test_at_a_quarter_of_the_pixels_creases_are_still_kept():
    # 320x240: steeper depth gradients per pixel, creases (walls meeting the floor) closer
    # together; a crease bends one way only and is not taken for a smeared step.
    for seed in (0, 3):
        truth = render_sequence(frames=1, width=320, height=240, seed=seed,
                                supersample=1).frames[0].depth
        estimate = network_like_depth(truth, factor=4, seed=seed)
        cleaned, _ = remove_flying_pixels(estimate)
        after = edge_figures(cleaned, truth, MAX_DEPTH)
        assert after.off_surface_percent < 1.0 and after.smooth_kept_percent >= 95.0, after


def test_a_plane_seen_at_grazing_angles_keeps_every_pixel():
    floor = floor_and_box_depth(box_depth=1e9, far=1e4)  # no box: floor to the horizon
    floor[floor > MAX_DEPTH] = np.nan  # as depth_node publishes it
    assert not flying_pixel_mask(floor).any()
    tilted = floor * np.float32(1.02)  # a different scale is still a plane
    assert not flying_pixel_mask(tilted).any()


def test_a_sharp_step_keeps_both_sides_and_a_smeared_one_loses_the_ramp():
    step = np.full((40, 60), 6.0, dtype=np.float32)
    step[:, :30] = 2.0
    assert not flying_pixel_mask(step).any(), 'no pixel of a sharp step is between surfaces'
    ramp = step.copy()
    ramp[:, 28:33] = [2.5, 3.0, 3.6, 4.3, 5.1]
    flying = flying_pixel_mask(ramp)
    assert flying[:, 28:33].all()
    assert not flying[:, :24].any() and not flying[:, 38:].any()


def test_unknown_depth_stays_unknown_and_makes_no_jump():
    plane = np.full((30, 30), 3.0, dtype=np.float32)
    plane[10:20, 10:20] = np.nan
    plane[0, 0] = 0.0
    plane[0, 1] = np.inf
    cleaned, removed = remove_flying_pixels(plane)
    assert removed == 0
    np.testing.assert_array_equal(np.isnan(cleaned), np.isnan(plane))
    assert cleaned[0, 0] == 0.0 and cleaned[0, 1] == np.inf
    assert remove_flying_pixels(np.full((30, 30), np.nan))[1] == 0


def test_odd_inputs():
    assert flying_pixel_mask(np.zeros((0, 5))).shape == (0, 5)
    assert flying_pixel_mask(np.full((1, 1), 2.0)).shape == (1, 1)
    np.testing.assert_array_equal(flying_pixel_mask(np.full((8, 8), 2.0, dtype=np.float64)),
                                  np.zeros((8, 8), dtype=bool))
    with pytest.raises(BadMessageError, match='depth.shape'):
        flying_pixel_mask(np.zeros((4, 4, 1)))
    with pytest.raises(BadMessageError, match='radius'):
        flying_pixel_mask(np.ones((4, 4)), gap_radius=-1)
