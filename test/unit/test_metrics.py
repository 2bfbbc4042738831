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

"""Depth metrics against hand-computed values, and scale / shift alignment."""

import math

import numpy as np
import pytest

from mono_depth_ros.core.errors import BadMessageError
from mono_depth_ros.core.metrics import (
    aggregate_metrics, align_median, align_scale_shift, compute_metrics, fit_scale_shift,
    fit_scale_shift_robust, METRIC_NAMES, valid_mask)


def test_metrics_match_hand_computed_values_on_a_2x2_image():
    pred = np.array([[2.0, 1.0], [4.0, 3.0]])
    gt = np.array([[1.0, 1.0], [2.0, 4.0]])
    metrics = compute_metrics(pred, gt)
    logs = [math.log(2), 0.0, math.log(2), math.log(0.75)]
    mean_log = sum(logs) / 4
    mean_sq_log = sum(d * d for d in logs) / 4
    expected = {
        'abs_rel': (1 / 1 + 0 + 2 / 2 + 1 / 4) / 4,
        'sq_rel': (1 / 1 + 0 + 4 / 2 + 1 / 4) / 4,
        'rmse': math.sqrt((1 + 0 + 4 + 1) / 4),
        'rmse_log': math.sqrt(mean_sq_log),
        'silog': 100 * math.sqrt(mean_sq_log - mean_log ** 2),
        'delta1': 1 / 4,   # ratios 2, 1, 2, 4/3
        'delta2': 2 / 4,
        'delta3': 2 / 4,
    }
    assert metrics['count'] == 4
    for name in METRIC_NAMES:
        assert metrics[name] == pytest.approx(expected[name], rel=1e-12), name


def test_perfect_prediction_has_no_error_and_full_deltas():
    gt = np.random.default_rng(0).uniform(0.5, 20, (8, 8)).astype(np.float32)
    metrics = compute_metrics(gt.copy(), gt)
    for name in ('abs_rel', 'sq_rel', 'rmse', 'rmse_log', 'silog'):
        assert metrics[name] == pytest.approx(0.0, abs=1e-6)
    assert metrics['delta1'] == metrics['delta2'] == metrics['delta3'] == 1.0


def test_silog_ignores_a_global_scale_but_abs_rel_does_not():
    rng = np.random.default_rng(1)
    gt = rng.uniform(1, 10, (16, 16))
    pred = gt * rng.uniform(0.9, 1.1, gt.shape)
    near, far = compute_metrics(pred, gt), compute_metrics(pred * 3, gt)
    assert far['silog'] == pytest.approx(near['silog'], rel=1e-9)
    assert far['abs_rel'] > near['abs_rel'] + 1


def test_unscorable_pixels_and_masked_pixels_are_left_out():
    gt = np.array([[1.0, np.nan, 0.0, 50.0], [2.0, 2.0, 2.0, 2.0]])
    pred = np.array([[1.0, 1.0, 1.0, 1.0], [np.nan, 0.0, 2.0, 2.0]])
    assert valid_mask(pred, gt, max_depth=10).tolist() == [
        [True, False, False, False], [False, False, True, True]]
    mask = np.array([[True, True, True, True], [True, True, True, False]])
    assert compute_metrics(pred, gt, mask, max_depth=10)['count'] == 2
    assert compute_metrics(pred, gt, max_depth=100)['count'] == 4


def test_no_valid_pixel_gives_nan_metrics_and_zero_count():
    metrics = compute_metrics(np.ones((2, 2)), np.full((2, 2), np.nan))
    assert metrics['count'] == 0
    assert all(math.isnan(metrics[name]) for name in METRIC_NAMES)


def test_aggregate_averages_frames_or_weights_by_pixels():
    small = {**dict.fromkeys(METRIC_NAMES, 1.0), 'count': 1}
    large = {**dict.fromkeys(METRIC_NAMES, 4.0), 'count': 3}
    empty = {**dict.fromkeys(METRIC_NAMES, float('nan')), 'count': 0}
    by_frame = aggregate_metrics([small, large, empty])
    by_pixel = aggregate_metrics([small, large, empty], weighting='pixel')
    assert by_frame['rmse'] == 2.5 and by_pixel['rmse'] == 3.25
    assert by_frame['count'] == by_pixel['count'] == 4
    assert by_frame['frames'] == 2


def test_median_alignment_recovers_a_global_scale():
    gt = np.random.default_rng(2).uniform(1, 10, (10, 12)).astype(np.float32)
    aligned, scale = align_median(gt / 4, gt)
    assert scale == pytest.approx(4.0, rel=1e-6)
    np.testing.assert_allclose(aligned, gt, rtol=1e-6)
    assert aligned.dtype == np.float32


def test_least_squares_recovers_scale_and_shift_exactly():
    pred = np.random.default_rng(3).uniform(0, 1, (20, 30))
    scale, shift = fit_scale_shift(pred, 2.5 * pred - 0.75)
    assert scale == pytest.approx(2.5, rel=1e-12)
    assert shift == pytest.approx(-0.75, rel=1e-12)


def test_weights_and_mask_choose_which_pairs_count():
    pred = np.array([0.0, 1.0, 2.0, 3.0])
    target = np.array([1.0, 3.0, 5.0, 100.0])   # last pair off the line 2 * pred + 1
    assert fit_scale_shift(pred, target, weights=[1, 1, 1, 0]) == pytest.approx((2.0, 1.0))
    assert fit_scale_shift(pred, target, mask=[1, 1, 1, 0]) == pytest.approx((2.0, 1.0))


def test_a_constant_prediction_cannot_be_fitted():
    with pytest.raises(BadMessageError, match='distinct'):
        fit_scale_shift(np.full(10, 3.0), np.arange(10.0))


@pytest.mark.parametrize('method', ['huber', 'ransac'])
def test_robust_fit_recovers_the_line_despite_30_percent_outliers(method):
    rng = np.random.default_rng(4)
    pred = rng.uniform(0.1, 2.0, (40, 50))
    target = 2.5 * pred + 0.3
    outliers = rng.random(pred.shape) < 0.3
    target[outliers] = rng.uniform(5, 50, outliers.sum())
    assert abs(fit_scale_shift(pred, target)[0] - 2.5) > 0.2   # plain least squares fails
    scale, shift, inliers = fit_scale_shift_robust(pred, target, method=method)
    assert scale == pytest.approx(2.5, rel=1e-9)
    assert shift == pytest.approx(0.3, rel=1e-9)
    np.testing.assert_array_equal(inliers, ~outliers)
    noisy = target + np.where(outliers, 0, rng.normal(0, 0.01, pred.shape))
    scale, shift, _ = fit_scale_shift_robust(pred, noisy, method=method)
    assert scale == pytest.approx(2.5, rel=2e-3)
    assert shift == pytest.approx(0.3, abs=3e-3)


def test_inverse_alignment_turns_relative_disparity_into_depth():
    rng = np.random.default_rng(5)
    gt = rng.uniform(0.5, 8.0, (24, 32))
    relative = (1.0 / gt - 0.05) / 0.2   # what a relative model predicts, up to scale and shift
    aligned, scale, shift = align_scale_shift(relative, gt, space='inverse')
    assert (scale, shift) == (pytest.approx(0.2, rel=1e-9), pytest.approx(0.05, rel=1e-9))
    np.testing.assert_allclose(aligned, gt, rtol=1e-9)
    relative[0, 0] = -10.0   # 1 / (0.2 * -10 + 0.05) < 0: no depth there
    sparse = np.where(rng.random(gt.shape) < 0.1, gt, np.nan)
    sparse[0, 0] = np.nan
    aligned, _, _ = align_scale_shift(relative, sparse, space='inverse', robust='ransac')
    assert np.isnan(aligned[0, 0])
    np.testing.assert_allclose(aligned[1:], gt[1:], rtol=1e-6)


def test_depth_space_alignment_can_be_robust():
    rng = np.random.default_rng(6)
    gt = rng.uniform(1.0, 5.0, (20, 20))
    pred = (gt - 0.5) / 2.0
    corrupted = gt.copy()
    corrupted[rng.random(gt.shape) < 0.3] = 30.0
    aligned, scale, shift = align_scale_shift(pred, corrupted, robust=True)
    assert (scale, shift) == (pytest.approx(2.0, rel=1e-9), pytest.approx(0.5, rel=1e-9))
    np.testing.assert_allclose(aligned, gt, rtol=1e-9)


def test_shapes_must_agree():
    with pytest.raises(BadMessageError, match='pred.shape'):
        compute_metrics(np.ones((2, 2)), np.ones((2, 3)))
