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

"""The depth outputs' heavy work on a torch device: edge filter, organized cloud, colorized view.

On the CPU these three take most of depth_node's own time per frame (at 640x480, stride 1:
edge filter ~2.5 ms, cloud ~1 ms, colorize ~1.2 ms; doc/node_overhead.md). With a GPU,
:class:`DeviceOutputStage` uploads the frame's metric depth (and its colours), runs them there
on one CUDA stream and brings each output back once, into pinned host memory, with one
synchronisation per frame. The depth comes from the host, whatever made it (a metric model, a
fixed or fused scale, its local map), so the published depth is exactly the CPU path's; the
stage computes what :mod:`mono_depth_ros.pipeline.outputs` would from it:

- ``depth``: the depth with its flying pixels NaN (``core.depth_edges``: the same erosions,
  dilations and laplacian, as max-pools and shifted sums with replicated borders);
- ``cloud``: the organized cloud's bytes (``core.pointcloud.depth_to_organized_cloud``: x, y,
  z float32 and the alpha-cleared BGRA colour bits);
- ``colored``: the BGR view of the (unfiltered) depth (``core.colorize.colorize_depth``, the
  same index arithmetic and colormap table).

On the CPU (torch's ``cpu`` device, as the tests run it) the bytes equal the OpenCV path's.
On a GPU the laplacian's sums may round differently (fused multiply-adds), so a pixel whose
bend is within an ulp of ``max_kink`` can differ (the GPU test allows 1 in 10^3), and NaN
values keep their meaning but may carry another NaN bit pattern. torch is imported when a
stage is made; depth_node uses one with ``output_device`` cuda.
"""

import contextlib
from dataclasses import dataclass

import numpy as np

from mono_depth_ros.core.colorize import colormap_table, level_gain_offset
from mono_depth_ros.core.depth_edges import (GAP_RADIUS, KINK_RADIUS, MAX_KINK, MIN_GAP,
                                             RAMP_RADIUS)

# Output buffer sets used in turn: a frame's outputs stay valid while the next frame is made
# (depth_node publishes one frame while its worker makes the next).
BUFFER_SETS = 2


@dataclass(frozen=True)
class CloudRequest:
    """The organized cloud wanted: every ``stride``-th pixel's ray, and whether it has colour.

    ``rays`` is ``CameraModel.pixel_rays(stride)`` ((rows, cols, 3) float32, cached by the
    camera model: the stage keeps its device copy while the same array comes).
    """

    stride: int
    rays: np.ndarray
    colour: bool


@dataclass(frozen=True)
class ColorRequest:
    """The colorized view wanted: metric depth over [min_depth, max_depth] in ``colormap``."""

    min_depth: float
    max_depth: float
    colormap: str = 'turbo'
    invalid_bgr: tuple[int, int, int] = (0, 0, 0)


@dataclass
class DeviceOutputs:
    """One frame's outputs on the host (views of pinned buffers, valid for BUFFER_SETS frames).

    ``depth``: (H, W) float32, flying pixels NaN when the edge filter ran (else the depth as
    given); ``cloud``: the organized cloud's bytes, uint8 (rows * cols * point_step,), or None;
    ``colored``: (H, W, 3) uint8 BGR, or None.
    """

    depth: np.ndarray
    cloud: np.ndarray | None = None
    colored: np.ndarray | None = None


class DeviceOutputStage:
    """Makes a frame's edge-filtered depth, organized cloud and colorized view on ``device``."""

    def __init__(self, device: str = 'cuda') -> None:
        import torch

        self._torch = torch
        self.device = torch.device(device)
        self._cuda = self.device.type == 'cuda'
        if self._cuda and not torch.cuda.is_available():
            raise RuntimeError(f'torch {torch.__version__} sees no CUDA device')
        self._stream = torch.cuda.Stream(self.device) if self._cuda else None
        self._rays_source: np.ndarray | None = None
        self._rays = None
        self._tables: dict = {}  # colormap tables and invalid colours, on the device
        self._host: list[dict[str, object]] = [{} for _ in range(BUFFER_SETS)]
        self._frame = 0
        self.allocations = 0

    def run(self, depth: np.ndarray, rgb: np.ndarray | None = None, *, edge_filter: bool = True,
            cloud: CloudRequest | None = None,
            colored: ColorRequest | None = None) -> DeviceOutputs:
        """Return the outputs of one frame's (H, W) float32 metric depth (NaN unknown).

        ``rgb`` (H, W, 3) uint8 colours the cloud when ``cloud.colour``.
        """
        torch = self._torch
        host = self._host[self._frame % BUFFER_SETS]
        self._frame += 1
        depth = np.ascontiguousarray(depth, dtype=np.float32)
        colour = cloud is not None and cloud.colour and rgb is not None
        stream = torch.cuda.stream(self._stream) if self._cuda else contextlib.nullcontext()
        with torch.inference_mode(), stream:
            depth_device = self._upload(host, 'depth_in', depth)
            filtered = (_remove_flying_pixels(torch, depth_device) if edge_filter
                        else depth_device)
            outputs = {'depth': filtered}
            if cloud is not None:
                rgb_device = (self._upload(host, 'rgb_in', np.ascontiguousarray(rgb))
                              if colour else None)
                outputs['cloud'] = self._cloud(filtered, cloud, rgb_device)
            if colored is not None:
                outputs['colored'] = self._colored(depth_device, colored)
            results = {name: self._download(host, name, value)
                       for name, value in outputs.items()}
            if self._cuda:
                self._stream.synchronize()
        return DeviceOutputs(depth=results['depth'], cloud=results.get('cloud'),
                             colored=results.get('colored'))

    # Transfers ------------------------------------------------------------------------------

    def _buffer(self, host: dict, name: str, shape: tuple, dtype):
        torch = self._torch
        buffer = host.get(name)
        if buffer is None or tuple(buffer.shape) != tuple(shape) or buffer.dtype != dtype:
            buffer = torch.empty(shape, dtype=dtype, pin_memory=self._cuda)
            host[name] = buffer
            self.allocations += 1
        return buffer

    def _upload(self, host: dict, name: str, array: np.ndarray):
        staging = self._buffer(host, name, array.shape, self._torch.from_numpy(array[:0]).dtype)
        staging.numpy()[...] = array
        return staging.to(self.device, non_blocking=self._cuda)

    def _download(self, host: dict, name: str, value) -> np.ndarray:
        target = self._buffer(host, name, tuple(value.shape), value.dtype)
        target.copy_(value, non_blocking=self._cuda)
        return target.numpy()

    # The cloud and the colorized view ---------------------------------------------------------

    def _device_rays(self, rays: np.ndarray):
        if rays is not self._rays_source:
            planes = np.ascontiguousarray(np.moveaxis(np.asarray(rays, np.float32), -1, 0))
            self._rays = self._torch.from_numpy(planes).to(self.device)
            self._rays_source = rays
        return self._rays

    def _cloud(self, depth, request: CloudRequest, rgb):
        torch = self._torch
        stride = int(request.stride)
        sampled = depth[::stride, ::stride]
        unusable = (sampled <= 0) | (sampled == float('inf'))
        sampled = torch.where(unusable, torch.full_like(sampled, float('nan')), sampled)
        rays = self._device_rays(request.rays)
        if tuple(rays.shape[1:]) != tuple(sampled.shape):
            raise ValueError(f'rays of shape {tuple(rays.shape[1:])} for a cloud of '
                             f'{tuple(sampled.shape)} points')
        channels = [sampled * rays[0], sampled * rays[1], sampled * rays[2]]
        if rgb is not None:
            colours = rgb[::stride, ::stride].to(torch.int32)
            packed = (colours[..., 0] << 16) | (colours[..., 1] << 8) | colours[..., 2]
            channels.append(packed.view(torch.float32))
        return torch.stack(channels, dim=-1).contiguous().view(torch.uint8).reshape(-1)

    def _colored(self, depth, request: ColorRequest):
        torch = self._torch
        table = self._tables.get(request.colormap)
        if table is None:
            table = torch.from_numpy(colormap_table(request.colormap)).to(self.device)
            self._tables[request.colormap] = table
        gain, offset = level_gain_offset(float(request.min_depth), float(request.max_depth))
        levels = depth * float(gain) + float(offset)  # float32 arithmetic, as numpy's
        invalid = ~torch.isfinite(levels)
        levels = torch.nan_to_num(levels, nan=0.0, posinf=255.0, neginf=0.0).clamp_(0.0, 255.0)
        colored = table[levels.to(torch.uint8).long()]
        # Unconditional (no .any()): nothing on the stream waits for the host until the end.
        fill = self._tables.get(request.invalid_bgr)
        if fill is None:
            fill = torch.tensor(request.invalid_bgr, dtype=torch.uint8, device=self.device)
            self._tables[request.invalid_bgr] = fill
        return torch.where(invalid[..., None], fill, colored)


# The edge filter ----------------------------------------------------------------------------

def _dilate(torch, image, radius: int):
    """Return the max over each (2r+1)^2 window of a float (H, W) image, borders replicated."""
    if radius == 0:
        return image
    padded = torch.nn.functional.pad(image[None, None], (radius,) * 4, mode='replicate')
    return torch.nn.functional.max_pool2d(padded, 2 * radius + 1, stride=1)[0, 0]


def _laplacian(torch, image):
    """Return the 4-neighbour laplacian of an (H, W) image with replicated borders."""
    padded = torch.nn.functional.pad(image[None, None], (1, 1, 1, 1), mode='replicate')[0, 0]
    return (padded[:-2, 1:-1] + padded[1:-1, :-2] - 4.0 * image + padded[1:-1, 2:]
            + padded[2:, 1:-1])


def flying_pixel_mask_on_device(torch, depth, min_gap: float = MIN_GAP,
                                gap_radius: int = GAP_RADIUS, max_kink: float = MAX_KINK,
                                kink_radius: int = KINK_RADIUS, ramp_radius: int = RAMP_RADIUS):
    """Return the bool mask of ``core.depth_edges.flying_pixel_mask`` for a device tensor."""
    known = (depth > 0) & (depth < float('inf'))
    inf, zero = torch.full_like(depth, float('inf')), torch.zeros_like(depth)
    nearest = -_dilate(torch, -torch.where(known, depth, inf), gap_radius)
    farthest = _dilate(torch, torch.where(known, depth, zero), gap_radius)
    gap = depth * min_gap
    between = ((depth - nearest) > gap) & ((farthest - depth) > gap)
    inverse = torch.where(known, 1.0 / depth, zero)
    bend = _laplacian(torch, inverse)
    limit = inverse * max_kink
    convex, concave = bend > limit, bend < -limit
    # A laplacian that reaches an unknown pixel says nothing: no bend there. (Always computed:
    # testing for unknown pixels first would make the host wait for the device mid-frame.)
    reaches_unknown = _dilate(torch, (~known).to(depth.dtype), 1) > 0
    convex &= ~reaches_unknown
    concave &= ~reaches_unknown
    near = _dilate(torch, (convex | concave).to(depth.dtype), kink_radius) > 0
    both = ((_dilate(torch, convex.to(depth.dtype), ramp_radius) > 0)
            & (_dilate(torch, concave.to(depth.dtype), ramp_radius) > 0))
    return between & (near | both) & known


def _remove_flying_pixels(torch, depth):
    flying = flying_pixel_mask_on_device(torch, depth)
    return torch.where(flying, torch.full_like(depth, float('nan')), depth)
