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

from dataclasses import dataclass, field
import time

import numpy as np

from mono_depth_ros.core.depth_encoding import mask_depth_range
from mono_depth_ros.core.preprocessing import output_to_input_size, prepare_input
from mono_depth_ros.core.relative_depth import relative_to_metric
from mono_depth_ros.inference.base import DepthBackend, ModelInfo
from mono_depth_ros.pipeline.scale_fusion import MetricScale


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

    @property
    def is_metric_model(self) -> bool:
        """Return True when the network itself predicts metres."""
        return self.model_info.is_metric

    def predict(self, rgb: np.ndarray) -> tuple[np.ndarray, dict[str, float]]:
        """Return the network output resized to the image, and the stage timings in ms."""
        height, width = rgb.shape[:2]
        start = time.perf_counter()
        size = self.backend.input_spec.network_size(self.settings.input_size)
        if self.backend.preprocesses_on_device:
            # Resize and normalisation run on the GPU inside the inference call.
            prepared = start
            output = self.backend.infer_rgb(rgb, size)
        else:
            tensor = prepare_input(rgb, size)
            prepared = time.perf_counter()
            output = self.backend.infer(tensor)
        inferred = time.perf_counter()
        prediction = output_to_input_size(output, width, height)
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
                 scale_shift: tuple[float, float] | None = None) -> DepthResult:
        """Return the depth of one (H, W, 3) uint8 RGB frame.

        For a relative model, ``scale_shift`` (or the fixed one) maps the output to inverse
        metres: ``1 / depth = scale * relative + shift``.
        """
        prediction, timings = self.predict(rgb)
        result = DepthResult(prediction=prediction, is_metric_model=self.is_metric_model,
                             depth=None, timings_ms=timings)
        if self.is_metric_model:
            result.depth = self.gate(prediction)
        else:
            self.apply_scale(result, scale_shift or self.fixed_scale_shift())
        return result

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
            result.depth = self.gate(scale.depth(result.prediction))
            return
        result.scale_shift = (float(scale[0]), float(scale[1]))
        result.depth = self.gate(relative_to_metric(result.prediction, *result.scale_shift))

    def gate(self, depth: np.ndarray) -> np.ndarray:
        """Return depth with NaN outside [min_depth, max_depth]."""
        return mask_depth_range(depth, self.settings.min_depth, self.settings.max_depth)
