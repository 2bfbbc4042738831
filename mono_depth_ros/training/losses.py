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

"""The training losses: supervised on ground-truth depth, self-supervised from poses.

Supervised (relative): the scale-invariant log loss of Eigen et al. (2014) on inverse depth
plus a multi-scale gradient-matching term on the same log residual (as MiDaS), both blind to a
global scale, so the network learns relative inverse depth as Depth Anything gives it.
Self-supervised (metric, Monodepth2-style): each target pixel is back-projected with the
predicted depth, moved by the known relative pose into a neighbouring frame and sampled there;
the error is 0.85 * (1 - SSIM) / 2 + 0.15 * L1, the per-pixel minimum over the neighbours, and
pixels where the unwarped neighbour already matches better (static scenes, objects moving with
the camera) are masked out. Sparse metric points (triangulation) add a direct log-depth loss.
"""

import torch
from torch.nn import functional

SSIM_WEIGHT = 0.85
_SSIM_C1 = 0.01 ** 2
_SSIM_C2 = 0.03 ** 2


def _masked_mean(values: torch.Tensor, mask: torch.Tensor, dims) -> tuple:
    count = mask.sum(dim=dims).clamp(min=1)
    return (values * mask).sum(dim=dims) / count, count


def scale_invariant_loss(log_inverse: torch.Tensor, depth: torch.Tensor,
                         mask: torch.Tensor | None = None, variance_weight: float = 1.0
                         ) -> torch.Tensor:
    """Return Eigen's scale-invariant log loss, mean(d^2) - w * mean(d)^2, per image, averaged.

    ``d = log_inverse + log(depth)`` over the valid pixels (depth > 0 and ``mask``). With
    ``variance_weight`` 1 (the default) it is the variance of d, unchanged by any global scale
    of the prediction or of the depth.
    """
    valid = depth > 0
    if mask is not None:
        valid = valid & mask
    valid = valid.to(log_inverse.dtype)
    residual = log_inverse + torch.log(depth.clamp(min=1e-6))
    dims = (1, 2, 3)
    mean, _ = _masked_mean(residual, valid, dims)
    square, _ = _masked_mean(residual ** 2, valid, dims)
    return (square - variance_weight * mean ** 2).clamp(min=0).mean()


def gradient_matching_loss(log_inverse: torch.Tensor, depth: torch.Tensor,
                           mask: torch.Tensor | None = None, scales: int = 4) -> torch.Tensor:
    """Return the mean |x and y gradient| of the log residual over ``scales`` halvings.

    The residual's gradient is zero wherever the prediction has the right shape up to a
    global scale: the term sharpens edges without caring about scale.
    """
    valid = depth > 0
    if mask is not None:
        valid = valid & mask
    valid = valid.to(log_inverse.dtype)
    residual = (log_inverse + torch.log(depth.clamp(min=1e-6))) * valid
    total = log_inverse.new_zeros(())
    for level in range(scales):
        if level:
            residual = functional.avg_pool2d(residual, 2)
            valid = (functional.avg_pool2d(valid, 2) > 0.99).to(valid.dtype)
            residual = residual * valid
        both_x = valid[..., :, 1:] * valid[..., :, :-1]
        both_y = valid[..., 1:, :] * valid[..., :-1, :]
        grad_x = (residual[..., :, 1:] - residual[..., :, :-1]).abs() * both_x
        grad_y = (residual[..., 1:, :] - residual[..., :-1, :]).abs() * both_y
        count = (both_x.sum() + both_y.sum()).clamp(min=1)
        total = total + (grad_x.sum() + grad_y.sum()) / count
    return total / scales


def supervised_loss(log_inverse: torch.Tensor, depth: torch.Tensor,
                    gradient_weight: float = 0.5) -> torch.Tensor:
    """Return the supervised training loss: scale-invariant + weighted gradient matching."""
    return (scale_invariant_loss(log_inverse, depth)
            + gradient_weight * gradient_matching_loss(log_inverse, depth))


def ssim_distance(first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    """Return (1 - SSIM) / 2 per pixel over 3x3 windows (reflection padding), in [0, 1]."""
    first = functional.pad(first, (1, 1, 1, 1), mode='reflect')
    second = functional.pad(second, (1, 1, 1, 1), mode='reflect')
    mean_a = functional.avg_pool2d(first, 3, 1)
    mean_b = functional.avg_pool2d(second, 3, 1)
    var_a = functional.avg_pool2d(first ** 2, 3, 1) - mean_a ** 2
    var_b = functional.avg_pool2d(second ** 2, 3, 1) - mean_b ** 2
    covariance = functional.avg_pool2d(first * second, 3, 1) - mean_a * mean_b
    numerator = (2 * mean_a * mean_b + _SSIM_C1) * (2 * covariance + _SSIM_C2)
    denominator = (mean_a ** 2 + mean_b ** 2 + _SSIM_C1) * (var_a + var_b + _SSIM_C2)
    return ((1 - numerator / denominator) / 2).clamp(0, 1)


def photometric_error(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Return the per-pixel error (N, 1, H, W): 0.85 * SSIM distance + 0.15 * L1."""
    l1 = (prediction - target).abs().mean(dim=1, keepdim=True)
    ssim = ssim_distance(prediction, target).mean(dim=1, keepdim=True)
    return SSIM_WEIGHT * ssim + (1 - SSIM_WEIGHT) * l1


def warp(source: torch.Tensor, depth: torch.Tensor, k: torch.Tensor,
         target_to_source: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (the source image seen from the target camera, where that is known).

    ``source`` (N, C, H, W), ``depth`` (N, 1, H, W) of the target in metres, ``k`` (N, 3, 3),
    ``target_to_source`` (N, 4, 4): a point in the target camera frame -> the source's. The
    mask is 1 where the pixel projects in front of the source camera and inside its image.
    """
    batch, _, height, width = depth.shape
    rows, cols = torch.meshgrid(torch.arange(height, dtype=depth.dtype),
                                torch.arange(width, dtype=depth.dtype), indexing='ij')
    pixels = torch.stack([cols, rows, torch.ones_like(cols)]).reshape(1, 3, -1)
    rays = torch.linalg.solve(k, pixels.expand(batch, 3, -1))
    points = rays * depth.reshape(batch, 1, -1)
    moved = target_to_source[:, :3, :3] @ points + target_to_source[:, :3, 3:]
    projected = k @ moved
    z = projected[:, 2:].clamp(min=1e-6)
    u, v = projected[:, 0] / z[:, 0], projected[:, 1] / z[:, 0]
    inside = ((moved[:, 2] > 1e-3) & (u >= 0) & (u <= width - 1) & (v >= 0)
              & (v <= height - 1))
    grid = torch.stack([2 * u / max(width - 1, 1) - 1, 2 * v / max(height - 1, 1) - 1], dim=-1)
    sampled = functional.grid_sample(source, grid.reshape(batch, height, width, 2),
                                     mode='bilinear', padding_mode='border', align_corners=True)
    return sampled, inside.reshape(batch, 1, height, width).to(depth.dtype)


def reprojection_loss(target: torch.Tensor, sources: list[torch.Tensor], depth: torch.Tensor,
                      k: torch.Tensor, target_to_sources: list[torch.Tensor],
                      auto_mask: bool = True) -> torch.Tensor:
    """Return the Monodepth2 photometric loss of the target's depth against its neighbours.

    Per pixel: the minimum over the neighbours of the warped error; with ``auto_mask`` a pixel
    counts only where that minimum beats the minimum of the unwarped errors. Pixels that no
    neighbour sees (or whose SSIM window does not lie inside the view) are left out.
    """
    warped_errors, identity_errors = [], []
    for source, pose in zip(sources, target_to_sources):
        warped, inside = warp(source, depth, k, pose)
        # SSIM looks at 3x3 windows: keep the pixels whose whole window was seen.
        inside = -functional.max_pool2d(-inside, 3, 1, 1)
        error = photometric_error(warped, target)
        warped_errors.append(torch.where(inside > 0, error, torch.full_like(error, 1e3)))
        identity_errors.append(photometric_error(source, target))
    best, _ = torch.cat(warped_errors, dim=1).min(dim=1, keepdim=True)
    keep = best < 1e3
    if auto_mask:
        identity, _ = torch.cat(identity_errors, dim=1).min(dim=1, keepdim=True)
        keep = keep & (best < identity)
    keep = keep.to(best.dtype)
    return (best * keep).sum() / keep.sum().clamp(min=1)


def sparse_depth_loss(log_inverse: torch.Tensor, sparse_depth: torch.Tensor) -> torch.Tensor:
    """Return the mean |log predicted depth - log point depth| where a point exists (> 0)."""
    valid = (sparse_depth > 0) & torch.isfinite(sparse_depth)
    if not bool(valid.any()):
        return log_inverse.new_zeros(())
    residual = log_inverse + torch.log(torch.where(valid, sparse_depth,
                                                   torch.ones_like(sparse_depth)))
    return residual.abs()[valid].mean()
