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

"""Frame to depth: preprocessing, the backend, postprocessing, metric scale and range gating.

The depth node and ``process-bag`` both run frames through :class:`DepthPipeline`; the node
only adds topics, threads and diagnostics around it. Clouds and images for the outputs are made
from its result in :mod:`mono_depth_ros.pipeline.outputs`.
"""

import ctypes
from dataclasses import dataclass, field
import sys
import time

import numpy as np

from mono_depth_ros.core.depth_encoding import mask_depth_range
from mono_depth_ros.core.preprocessing import (DEFAULT_PREPROCESSING, InputBuffers,
                                               output_to_input_size, prepare_input)
from mono_depth_ros.core.relative_depth import (model_output_to_depth, relative_inverse_depth,
                                                relative_to_metric)
from mono_depth_ros.inference.base import DepthBackend, ModelInfo
from mono_depth_ros.pipeline.scale_fusion import MetricScale


# glibc mallopt parameters, and what a pipeline sets them to (see retain_freed_memory).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
RETAINED_FREE_BYTES = 128 << 20
LARGEST_HEAP_ALLOCATION = 32 << 20
_retained = False


def retain_freed_memory() -> bool:
    """Keep freed frame buffers in this process's heap instead of returning them to the kernel.

    A frame's arrays (tensor, depth, cloud, message payloads: 10-60 MB) are freed and made
    again every frame. glibc hands the top of its heap back to the kernel once more than
    about twice the largest recent block is free, and the next frame page-faults every page
    back: ~2000 faults and 3-6 ms of system time per 640x480 frame, measured. With the trim
    threshold at ``RETAINED_FREE_BYTES`` and blocks up to ``LARGEST_HEAP_ALLOCATION`` on the
    heap (not mmap), the pages stay mapped (~15 faults per frame); the process keeps up to
    that much freed memory. Once per process; a no-op (False) without glibc.
    """
    global _retained
    if _retained:
        return True
    if not sys.platform.startswith('linux'):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    _retained = bool(mallopt(_M_TRIM_THRESHOLD, RETAINED_FREE_BYTES)
                     and mallopt(_M_MMAP_THRESHOLD, LARGEST_HEAP_ALLOCATION))
    return _retained


def gate_in_place(depth: np.ndarray, min_depth: float, max_depth: float) -> np.ndarray:
    """Set float ``depth`` to NaN outside [min_depth, max_depth] in place (as mask_depth_range)."""
    with np.errstate(invalid='ignore'):
        outside = depth < min_depth
        outside |= depth > max_depth
    outside |= np.isnan(depth)
    np.copyto(depth, np.nan, where=outside)
    return depth


@dataclass
class DepthSettings:
    """How network outputs become published depth (the node's parameters of the same names)."""

    input_size: int = 518
    min_depth: float = 0.1
    max_depth: float = 20.0
    scale_source: str = 'none'
    fixed_scale: float = 1.0
    fixed_shift: float = 0.0
    points_stride: int = 2
    points_color: bool = True


@dataclass
class DepthResult:
    """One frame's depth.

    ``prediction`` is the network output resized to the image (metres for a metric model,
    inverse-depth-like for a relative one); ``depth`` is metres with NaN outside
    [min_depth, max_depth], or None while a relative model has no scale.
    """

    prediction: np.ndarray
    is_metric_model: bool
    depth: np.ndarray | None
    scale_shift: tuple[float, float] | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)
    # The fused scale behind ``depth`` (its sigma gives depth/sigma), when it came from points.
    metric_scale: MetricScale | None = None

    @property
    def relative(self) -> np.ndarray | None:
        """Return the relative output, or None for a metric model."""
        return None if self.is_metric_model else self.prediction


class DepthPipeline:
    """Runs one backend over RGB frames and turns its output into gated, metric depth."""

    def __init__(self, backend: DepthBackend, model_info: ModelInfo,
                 settings: DepthSettings) -> None:
        self.backend = backend
        self.model_info = model_info
        self.settings = settings
        # The preprocessing's float buffers, kept from frame to frame (one frame at a time).
        self.input_buffers = InputBuffers()
        retain_freed_memory()
        # The model card (None: the Depth Anything contract, exactly as before cards).
        self.card = getattr(model_info, 'card', None) or getattr(backend, 'card', None)
        # Frames of a metric-via-camera model (focal, baseline, model_fov) without intrinsics.
        self.frames_without_fx = 0
        self.network_width = 0

    @property
    def extra_inputs(self) -> tuple[str, ...]:
        """Return the model card's extra inputs (e.g. prompt_depth) the caller must feed."""
        return tuple(self.card.extra_inputs) if self.card else ()

    @property
    def is_metric_model(self) -> bool:
        """Return True when the network itself predicts metres."""
        return self.model_info.is_metric

    def predict(self, rgb: np.ndarray, extras: dict | None = None
                ) -> tuple[np.ndarray, dict[str, float]]:
        """Return the network output resized to the image, and the stage timings in ms.

        ``extras``: the card's extra inputs by name (see :attr:`extra_inputs`).
        """
        height, width = rgb.shape[:2]
        start = time.perf_counter()
        card = self.card
        size = self.backend.input_spec.network_size(self.settings.input_size)
        preprocessing = None
        if card is not None:
            size = self.backend.input_spec.fixed_size or card.network_input_size(
                self.settings.input_size)
            # The Depth Anything contract keeps the calls (and backends) of files without a card.
            preprocessing = (None if card.preprocessing == DEFAULT_PREPROCESSING
                             else card.preprocessing)
        if self.backend.preprocesses_on_device and not extras:
            # Resize and normalisation run on the GPU inside the inference call.
            prepared = start
            output = (self.backend.infer_rgb(rgb, size) if preprocessing is None
                      else self.backend.infer_rgb(rgb, size, preprocessing))
        else:
            tensor = prepare_input(rgb, size, preprocessing=preprocessing,
                                   buffers=self.input_buffers)
            prepared = time.perf_counter()
            output = self.backend.infer(tensor, extras) if extras else self.backend.infer(tensor)
        inferred = time.perf_counter()
        # The network output's width: a focal-scaled model's focal is in its pixels.
        self.network_width = int(np.shape(output)[-1])
        prediction = output_to_input_size(output, width, height,
                                          card.output_resize if card else 'linear')
        done = time.perf_counter()
        return prediction, {'preprocess': 1e3 * (prepared - start),
                            'inference': 1e3 * (inferred - prepared),
                            'postprocess': 1e3 * (done - inferred)}

    def fixed_scale_shift(self) -> tuple[float, float] | None:
        """Return the configured (scale, shift) when ``scale_source`` is ``fixed``."""
        if self.settings.scale_source == 'fixed':
            return float(self.settings.fixed_scale), float(self.settings.fixed_shift)
        return None

    def estimate(self, rgb: np.ndarray,
                 scale_shift: tuple[float, float] | None = None, *, fx: float | None = None,
                 extras: dict | None = None) -> DepthResult:
        """Return the depth of one (H, W, 3) uint8 RGB frame.

        For a relative model, ``scale_shift`` (or the fixed one) maps the output to inverse
        metres: ``1 / depth = scale * relative + shift``. With a model card, ``fx`` (the
        camera's, pixels) turns disparity, focal-scaled and FoV-scaled outputs into metres.
        """
        prediction, timings = self.predict(rgb, extras)
        if self.card is not None:
            return self._card_result(prediction, timings, scale_shift, fx, rgb.shape[1])
        result = DepthResult(prediction=prediction, is_metric_model=self.is_metric_model,
                             depth=None, timings_ms=timings)
        if self.is_metric_model:
            result.depth = self.gate(prediction)
        else:
            self.apply_scale(result, scale_shift or self.fixed_scale_shift())
        return result

    def _card_result(self, prediction: np.ndarray, timings: dict, scale_shift, fx,
                     width: int) -> DepthResult:
        """Return the result of a model with a card: its output kind and metric source."""
        card = self.card
        if not card.is_metric:
            result = DepthResult(prediction=relative_inverse_depth(prediction, card.output),
                                 is_metric_model=False, depth=None, timings_ms=timings)
            self.apply_scale(result, scale_shift or self.fixed_scale_shift())
            return result
        if card.metric == 'focal' and fx is not None and self.network_width:
            # Depth Anything 3 scales by the focal length of the image it saw (the network's).
            fx = fx * self.network_width / width
        depth = model_output_to_depth(prediction, card.output, card.metric, fx, width,
                                      card.focal_reference, card.baseline)
        if depth is None:
            self.frames_without_fx += 1
            return DepthResult(prediction=prediction, is_metric_model=True, depth=None,
                               timings_ms=timings)
        return DepthResult(prediction=depth, is_metric_model=True, depth=self.gate(depth),
                           timings_ms=timings)

    def apply_scale(self, result: DepthResult,
                    scale: MetricScale | tuple[float, float] | None) -> None:
        """Fill ``result.depth`` from its relative prediction and a scale, if any.

        ``scale`` is a fused :class:`MetricScale` (with its local map and sigma) or a plain
        (scale, shift).
        """
        if result.is_metric_model or scale is None:
            return
        if isinstance(scale, MetricScale):
            result.metric_scale = scale
            result.scale_shift = (scale.scale, scale.shift)
            depth = scale.depth(result.prediction)
        else:
            result.scale_shift = (float(scale[0]), float(scale[1]))
            depth = relative_to_metric(result.prediction, *result.scale_shift)
        result.depth = gate_in_place(depth, self.settings.min_depth, self.settings.max_depth)

    def gate(self, depth: np.ndarray) -> np.ndarray:
        """Return depth with NaN outside [min_depth, max_depth]."""
        return mask_depth_range(depth, self.settings.min_depth, self.settings.max_depth)
