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

"""Depth accuracy metrics (Eigen et al.) and scale / shift alignment of predictions."""

from collections.abc import Iterable, Mapping

import numpy as np

from mono_depth_ros.core.errors import BadMessageError

METRIC_NAMES = ('abs_rel', 'sq_rel', 'rmse', 'rmse_log', 'silog', 'delta1', 'delta2', 'delta3')
ROBUST_METHODS = ('huber', 'ransac')
ALIGN_SPACES = ('depth', 'inverse')

_MAD_TO_SIGMA = 1.4826   # median absolute deviation -> standard deviation of a normal
_HUBER_K = 1.345         # 95 % efficiency under normal noise
_RANSAC_SCORING_POINTS = 4096


def valid_mask(pred: np.ndarray, gt: np.ndarray, min_depth: float = 1e-3,
               max_depth: float | None = None) -> np.ndarray:
    """Return where depths can be scored: gt finite in (min_depth, max_depth], pred finite > 0."""
    pred, gt = _same_shape(pred, gt)
    with np.errstate(invalid='ignore'):
        mask = np.isfinite(gt) & (gt > min_depth) & np.isfinite(pred) & (pred > 0)
        if max_depth is not None:
            mask &= gt <= max_depth
    return mask


def compute_metrics(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray | None = None,
                    min_depth: float = 1e-3, max_depth: float | None = None) -> dict[str, float]:
    """Return the ``METRIC_NAMES`` errors of ``pred`` against ``gt`` (metres) and ``count``.

    Over the ``count`` valid pixels (``valid_mask`` and ``mask``), with d = log pred - log gt:
    abs_rel = mean(|pred - gt| / gt), sq_rel = mean((pred - gt)^2 / gt), rmse =
    sqrt(mean((pred - gt)^2)), rmse_log = sqrt(mean(d^2)), silog = 100 * sqrt(mean(d^2) -
    mean(d)^2) (the KITTI benchmark convention, lambda = 1), delta_i = fraction with
    max(pred / gt, gt / pred) < 1.25^i. ``pred`` is not clipped. With no valid pixel every
    metric is NaN and ``count`` is 0.
    """
    valid = valid_mask(pred, gt, min_depth, max_depth)
    if mask is not None:
        valid &= _boolean_mask(mask, valid.shape)
    p = np.asarray(pred)[valid].astype(np.float64)
    g = np.asarray(gt)[valid].astype(np.float64)
    metrics = {'count': int(p.size)}
    if p.size == 0:
        metrics.update({name: float('nan') for name in METRIC_NAMES})
        return metrics
    error = p - g
    log_error = np.log(p) - np.log(g)
    ratio = np.maximum(p / g, g / p)
    mean_log = log_error.mean()
    metrics.update({
        'abs_rel': float(np.mean(np.abs(error) / g)),
        'sq_rel': float(np.mean(error ** 2 / g)),
        'rmse': float(np.sqrt(np.mean(error ** 2))),
        'rmse_log': float(np.sqrt(np.mean(log_error ** 2))),
        'silog': float(100.0 * np.sqrt(max(np.mean(log_error ** 2) - mean_log ** 2, 0.0))),
        'delta1': float(np.mean(ratio < 1.25)),
        'delta2': float(np.mean(ratio < 1.25 ** 2)),
        'delta3': float(np.mean(ratio < 1.25 ** 3)),
    })
    return metrics


def aggregate_metrics(per_frame: Iterable[Mapping[str, float]],
                      weighting: str = 'frame') -> dict[str, float]:
    """Combine per-frame ``compute_metrics`` results into one dict.

    ``weighting='frame'`` (default, as the Eigen-split benchmarks report) averages each metric
    over the frames with at least one valid pixel; ``'pixel'`` weights each frame by its
    ``count``. Adds ``count`` (total valid pixels) and ``frames`` (frames averaged).
    """
    if weighting not in ('frame', 'pixel'):
        raise BadMessageError('weighting', weighting, "'frame' or 'pixel'")
    frames = [m for m in per_frame if m.get('count', 0) > 0]
    result: dict[str, float] = {}
    counts = np.array([m['count'] for m in frames], dtype=np.float64)
    for name in METRIC_NAMES:
        values = np.array([m[name] for m in frames], dtype=np.float64)
        if values.size == 0:
            result[name] = float('nan')
        elif weighting == 'pixel':
            result[name] = float(np.sum(values * counts) / np.sum(counts))
        else:
            result[name] = float(values.mean())
    result['count'] = int(counts.sum())
    result['frames'] = len(frames)
    return result


def align_median(pred: np.ndarray, gt: np.ndarray,
                 mask: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """Return ``pred * scale`` and ``scale = median(gt) / median(pred)`` over the valid pixels."""
    valid = valid_mask(pred, gt)
    if mask is not None:
        valid &= _boolean_mask(mask, valid.shape)
    if not valid.any():
        raise BadMessageError('mask', int(valid.sum()), 'at least one valid pixel to align')
    pred = np.asarray(pred)
    scale = float(np.median(np.asarray(gt)[valid]) / np.median(pred[valid]))
    return pred * np.asarray(scale, dtype=_float_type(pred)), scale


def fit_scale_shift(pred: np.ndarray, target: np.ndarray, mask: np.ndarray | None = None,
                    weights: np.ndarray | None = None) -> tuple[float, float]:
    """Return (scale, shift) minimising sum(weights * (scale * pred + shift - target)^2).

    Uses the finite pairs inside ``mask`` with positive weight; raises ``BadMessageError``
    when fewer than two distinct ``pred`` values are left.
    """
    p, t, w = _fit_inputs(pred, target, mask, weights)
    return _weighted_line(p, t, w)


def fit_scale_shift_robust(pred: np.ndarray, target: np.ndarray, mask: np.ndarray | None = None,
                           *, method: str = 'huber', threshold: float | None = None,
                           iterations: int | None = None,
                           seed: int = 0) -> tuple[float, float, np.ndarray]:
    """Return (scale, shift, inliers) of scale * pred + shift ~ target despite outliers.

    ``'huber'``: iteratively reweighted least squares with Huber weights; the cut-off is
    ``threshold`` or 1.345 robust sigmas (1.4826 * median absolute residual, re-estimated each
    iteration); ``iterations`` defaults to 50; then least squares on the inliers, which removes
    the pull one-sided outliers leave on a Huber fit. ``'ransac'``: lines through random pairs
    (``iterations`` defaults to 200, ``seed`` fixes them), the best by MSAC score within
    ``threshold`` or, without one, by least median of residuals (then the threshold is 2.5
    robust sigmas); then least squares on the inliers. ``inliers`` has ``pred``'s shape and
    marks the pairs within the final cut-off.
    """
    if method not in ROBUST_METHODS:
        raise BadMessageError('method', method, f'one of {ROBUST_METHODS}')
    if threshold is not None and not threshold > 0:
        raise BadMessageError('threshold', threshold, 'a positive residual or None')
    pred, target = _same_shape(pred, target)
    usable = _usable_pairs(pred, target, mask)
    p = pred[usable].astype(np.float64)
    t = target[usable].astype(np.float64)
    if method == 'huber':
        scale, shift, cutoff = _huber_fit(p, t, threshold, iterations or 50)
    else:
        scale, shift, cutoff = _ransac_fit(p, t, threshold, iterations or 200, seed)
    inliers = np.zeros(pred.shape, dtype=bool)
    inliers[usable] = np.abs(scale * p + shift - t) <= cutoff
    return scale, shift, inliers


def align_scale_shift(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray | None = None,
                      space: str = 'depth',
                      robust: bool | str = False) -> tuple[np.ndarray, float, float]:
    """Return (aligned depth, scale, shift) fitting ``pred`` to the ground-truth depth ``gt``.

    ``space='depth'`` fits scale * pred + shift ~ gt. ``space='inverse'`` treats ``pred`` as
    inverse-depth-like (as relative Depth Anything outputs are), fits scale * pred + shift ~
    1 / gt and returns the depth 1 / (scale * pred + shift). Either way the aligned depth is
    NaN where it is not positive. ``robust``: False (least squares), True (``'huber'``), or a
    ``fit_scale_shift_robust`` method name.
    """
    if space not in ALIGN_SPACES:
        raise BadMessageError('space', space, f'one of {ALIGN_SPACES}')
    pred, gt = _same_shape(pred, gt)
    with np.errstate(invalid='ignore'):
        usable = np.isfinite(gt) & (gt > 0)
    if mask is not None:
        usable &= _boolean_mask(mask, usable.shape)
    with np.errstate(divide='ignore'):
        target = gt if space == 'depth' else 1.0 / gt
    if robust is False:
        scale, shift = fit_scale_shift(pred, target, usable)
    else:
        method = 'huber' if robust is True else robust
        scale, shift, _ = fit_scale_shift_robust(pred, target, usable, method=method)
    dtype = _float_type(pred)
    fitted = pred.astype(dtype) * dtype.type(scale) + dtype.type(shift)
    with np.errstate(divide='ignore', invalid='ignore'):
        aligned = fitted if space == 'depth' else 1 / fitted
        aligned = np.where(fitted > 0, aligned, dtype.type(np.nan))
    return aligned, scale, shift


# --------------------------------------------------------------------------------------------
# Fitting internals (float64, 1-D)


def _weighted_line(p: np.ndarray, t: np.ndarray, w: np.ndarray | None) -> tuple[float, float]:
    if w is None:
        w = np.ones_like(p)
    total = w.sum()
    if p.size < 2 or not total > 0:
        raise BadMessageError('pred', int(p.size), 'at least two valid values to fit a line')
    p_mean = np.dot(w, p) / total
    t_mean = np.dot(w, t) / total
    dp = p - p_mean
    variance = np.dot(w, dp * dp)
    if not variance > 1e-12 * total * max(p_mean * p_mean, np.finfo(float).tiny):
        raise BadMessageError('pred', float(p_mean), 'at least two distinct valid values')
    scale = np.dot(w, dp * (t - t_mean)) / variance
    return float(scale), float(t_mean - scale * p_mean)


def _robust_sigma(residuals: np.ndarray, floor: float) -> float:
    return max(_MAD_TO_SIGMA * float(np.median(np.abs(residuals))), floor)


def _residual_floor(t: np.ndarray) -> float:
    """Return the smallest residual scale worth resolving, relative to the targets."""
    return 1e-9 * max(float(np.median(np.abs(t))), 1e-12)


def _huber_fit(p: np.ndarray, t: np.ndarray, threshold: float | None,
               iterations: int) -> tuple[float, float, float]:
    scale, shift = _weighted_line(p, t, None)
    floor = _residual_floor(t)
    cutoff = threshold
    for _ in range(iterations):
        residuals = np.abs(scale * p + shift - t)
        if threshold is None:
            cutoff = _HUBER_K * _robust_sigma(residuals, floor)
        weights = cutoff / np.maximum(residuals, cutoff)
        new_scale, new_shift = _weighted_line(p, t, weights)
        converged = (abs(new_scale - scale) <= 1e-10 * abs(scale) + 1e-15
                     and abs(new_shift - shift) <= 1e-10 * (abs(shift) + floor))
        scale, shift = new_scale, new_shift
        if converged:
            break
    if threshold is None:
        cutoff = _HUBER_K * _robust_sigma(scale * p + shift - t, floor)
    # One-sided outliers still pull a Huber fit by about cutoff * outlier share: refit the
    # inliers by plain least squares to remove that bias.
    return (*_inlier_refit(p, t, scale, shift, cutoff, rounds=1), cutoff)


def _ransac_fit(p: np.ndarray, t: np.ndarray, threshold: float | None, iterations: int,
                seed: int) -> tuple[float, float, float]:
    if p.size < 2:
        raise BadMessageError('pred', int(p.size), 'at least two valid values to fit a line')
    rng = np.random.default_rng(seed)
    first = rng.integers(0, p.size, iterations)
    second = (first + rng.integers(1, p.size, iterations)) % p.size   # never the same pair
    dp = p[second] - p[first]
    distinct = dp != 0
    if not distinct.any():
        raise BadMessageError('pred', float(p[0]), 'at least two distinct valid values')
    first, second, dp = first[distinct], second[distinct], dp[distinct]
    scales = (t[second] - t[first]) / dp
    shifts = t[first] - scales * p[first]
    scoring = rng.choice(p.size, min(p.size, _RANSAC_SCORING_POINTS), replace=False)
    residuals = np.abs(scales[:, None] * p[scoring] + shifts[:, None] - t[scoring])
    floor = _residual_floor(t)
    if threshold is None:
        medians = np.median(residuals, axis=1)
        best = int(np.argmin(medians))
        small_sample = 1.0 + 5.0 / max(scoring.size - 2, 1)
        cutoff = max(2.5 * _MAD_TO_SIGMA * small_sample * float(medians[best]), floor)
    else:
        best = int(np.argmin((np.minimum(residuals, threshold) ** 2).sum(axis=1)))
        cutoff = threshold
    scale, shift = _inlier_refit(p, t, float(scales[best]), float(shifts[best]), cutoff, rounds=2)
    return scale, shift, cutoff


def _inlier_refit(p: np.ndarray, t: np.ndarray, scale: float, shift: float, cutoff: float,
                  rounds: int) -> tuple[float, float]:
    """Refit by least squares on the pairs within ``cutoff``; keep the line if that fails."""
    for _ in range(rounds):
        inliers = np.abs(scale * p + shift - t) <= cutoff
        try:
            scale, shift = _weighted_line(p[inliers], t[inliers], None)
        except BadMessageError:
            break
    return scale, shift


# --------------------------------------------------------------------------------------------
# Input checks


def _same_shape(a, b) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        raise BadMessageError('pred.shape', a.shape, f'the ground truth shape {b.shape}')
    return a, b


def _boolean_mask(mask, shape: tuple[int, ...]) -> np.ndarray:
    mask = np.asarray(mask)
    if mask.shape != shape:
        raise BadMessageError('mask.shape', mask.shape, f'{shape}')
    return mask.astype(bool, copy=False)


def _usable_pairs(pred: np.ndarray, target: np.ndarray, mask) -> np.ndarray:
    usable = np.isfinite(pred) & np.isfinite(target)
    if mask is not None:
        usable &= _boolean_mask(mask, usable.shape)
    return usable


def _fit_inputs(pred, target, mask, weights):
    pred, target = _same_shape(pred, target)
    usable = _usable_pairs(pred, target, mask)
    w = None
    if weights is not None:
        weights = np.asarray(weights, dtype=np.float64)
        if weights.shape != pred.shape:
            raise BadMessageError('weights.shape', weights.shape, f'{pred.shape}')
        usable &= np.isfinite(weights) & (weights > 0)
        w = weights[usable]
    return pred[usable].astype(np.float64), target[usable].astype(np.float64), w


def _float_type(array: np.ndarray) -> np.dtype:
    return np.dtype(np.float32) if array.dtype == np.float32 else np.dtype(np.float64)
