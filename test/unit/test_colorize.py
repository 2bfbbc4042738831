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

"""Depth colorization: fixed ranges, near-is-warm, invalid pixels, range tracking, colour bars."""

import cv2
import numpy as np
import pytest

from mono_depth_ros.core.colorize import (
    colorbar, colorize_depth, colormap_names, RangeTracker)
from mono_depth_ros.core.errors import BadMessageError


def _turbo(index: int) -> np.ndarray:
    return cv2.applyColorMap(np.array([[index]], np.uint8), cv2.COLORMAP_TURBO)[0, 0]


def test_near_is_warm_and_far_is_cold():
    colored = colorize_depth(np.array([[1.0, 9.0]], np.float32), 1.0, 9.0)
    np.testing.assert_array_equal(colored[0, 0], _turbo(255))
    np.testing.assert_array_equal(colored[0, 1], _turbo(0))
    near_b, _, near_r = (int(c) for c in colored[0, 0])
    far_b, _, far_r = (int(c) for c in colored[0, 1])
    assert near_r > near_b and far_b > far_r


def test_inverse_inputs_are_warm_where_large():
    colored = colorize_depth(np.array([[0.1, 2.0]]), 0.1, 2.0, inverse=True)
    np.testing.assert_array_equal(colored[0, 1], _turbo(255))
    np.testing.assert_array_equal(colored[0, 0], _turbo(0))


def test_fixed_range_gives_a_value_the_same_colour_in_every_frame():
    first = colorize_depth(np.array([[2.0, 3.0]]), 0.5, 10.0)
    second = colorize_depth(np.array([[2.0, 8.0], [9.0, 0.7]]), 0.5, 10.0)
    np.testing.assert_array_equal(first[0, 0], second[0, 0])


def test_values_outside_the_range_take_the_end_colours():
    colored = colorize_depth(np.array([[0.1, 50.0]]), 1.0, 5.0, colormap='jet')
    np.testing.assert_array_equal(colored, colorize_depth(np.array([[1.0, 5.0]]), 1.0, 5.0,
                                                          colormap='jet'))


def test_nan_and_infinite_pixels_take_the_invalid_colour():
    depth = np.array([[np.nan, np.inf, 2.0]], np.float32)
    colored = colorize_depth(depth, 1.0, 3.0, invalid_color=(10, 20, 30))
    assert colored.tolist()[0][:2] == [[10, 20, 30], [10, 20, 30]]
    assert colored.shape == (1, 3, 3) and colored.dtype == np.uint8


def test_gray_and_every_listed_colormap_work_and_unknown_ones_are_refused():
    names = colormap_names()
    assert 'turbo' in names and 'gray' in names
    depth = np.linspace(1, 2, 12).reshape(3, 4)
    for name in names:
        assert colorize_depth(depth, 1, 2, colormap=name).shape == (3, 4, 3)
    gray = colorize_depth(np.array([[1.0]]), 1.0, 2.0, colormap='gray')
    assert gray.tolist() == [[[255, 255, 255]]]
    with pytest.raises(BadMessageError, match='colormap'):
        colorize_depth(depth, 1, 2, colormap='sunset')
    with pytest.raises(BadMessageError, match='range'):
        colorize_depth(depth, 2, 2)


def test_range_tracker_starts_at_the_percentiles_then_smooths():
    tracker = RangeTracker(low_percentile=0, high_percentile=100, smoothing=0.5)
    assert tracker.value_range is None
    assert tracker.update(np.array([1.0, 2.0, 3.0, np.nan])) == (1.0, 3.0)
    assert tracker.update(np.array([3.0, 7.0])) == (2.0, 5.0)
    assert tracker.update(np.full(4, np.nan)) == (2.0, 5.0)
    tracker.reset()
    low, high = tracker.update(np.full(10, 4.0))
    assert low < 4.0 < high


def test_range_tracker_ignores_isolated_extremes():
    values = np.linspace(0.0, 1.0, 1000)
    values[0], values[-1] = -100.0, 100.0
    low, high = RangeTracker().update(values)
    assert 0.0 <= low < 0.05 and 0.95 < high <= 1.0


def test_colorbar_matches_the_image_colours_and_carries_labels():
    bar = colorbar(200, 0.5, 8.0, 'turbo')
    assert bar.shape[0] == 200 and bar.dtype == np.uint8
    np.testing.assert_array_equal(bar[0, 5], colorize_depth(np.array([[8.0]]), 0.5, 8.0)[0, 0])
    np.testing.assert_array_equal(bar[-1, 5], colorize_depth(np.array([[0.5]]), 0.5, 8.0)[0, 0])
    labels = bar[:, 25:]
    assert (labels < 100).all(axis=2).sum() > 50   # dark text on the white panel
    assert colorbar(200, 0.5, 8.0, label='metres').shape[1] > bar.shape[1]


def test_log_scale_gives_equal_ratios_equal_colour_steps_and_keeps_the_ends():
    colored = colorize_depth(np.array([[0.5, 2.0, 8.0, 0.0, np.nan]]), 0.5, 8.0, log_scale=True)
    np.testing.assert_array_equal(colored[0, 0], _turbo(255))   # near end: red
    np.testing.assert_array_equal(colored[0, 1], _turbo(128))   # 2 m: half way in log
    np.testing.assert_array_equal(colored[0, 2], _turbo(0))
    np.testing.assert_array_equal(colored[0, 3], _turbo(255))   # below the range: near colour
    assert colored[0, 4].tolist() == [0, 0, 0]
    with pytest.raises(BadMessageError, match='log scale'):
        colorize_depth(np.ones((1, 1)), 0.0, 8.0, log_scale=True)


def test_log_scale_matches_the_colours_of_the_triangulation_track_picture():
    from mono_depth_ros.core.triangulation.pipeline import draw_tracks

    class Tracks:
        ids = np.arange(3)
        depths = np.array([0.7, 3.0, 11.0])
        depth_range = (0.5, 12.0)
        pixels = np.array([[10.0, 10.0], [30.0, 10.0], [50.0, 10.0]])
        trails = np.repeat(pixels[:, None, :], 2, axis=1)

    class Result:
        tracks = Tracks()

    drawn = draw_tracks(np.zeros((20, 60, 3), np.uint8), Result())
    expected = colorize_depth(Tracks.depths[None], 0.5, 12.0, log_scale=True)[0]
    for (u, v), colour in zip(Tracks.pixels.astype(int), expected):
        # the node truncates where colorize_depth rounds: at most one colormap step apart
        assert np.abs(drawn[v, u].astype(int) - colour.astype(int)).max() <= 12


def test_log_colorbar_ticks_fall_on_one_two_five_and_match_the_image_colours():
    bar = colorbar(200, 0.5, 12.0, log_scale=True)
    np.testing.assert_array_equal(
        bar[0, 5], colorize_depth(np.array([[12.0]]), 0.5, 12.0, log_scale=True)[0, 0])
    np.testing.assert_array_equal(
        bar[-1, 5], colorize_depth(np.array([[0.5]]), 0.5, 12.0, log_scale=True)[0, 0])
    for value in (0.5, 1.0, 2.0, 5.0, 10.0):   # a tick mark beside the bar at each of them
        row = round(np.log(12.0 / value) / np.log(12.0 / 0.5) * 199)
        assert (bar[row, 20:24] < 50).all(), value
