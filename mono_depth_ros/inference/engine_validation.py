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

"""Check a TensorRT engine against ONNX Runtime on the CPU before the node publishes from it.

Some TensorRT releases build Depth Anything engines that run without an error and give wrong
depth (TensorRT 10.3 of JetPack 6.1/6.2 is the reported one). :func:`validate_engine` runs a
few deterministic reference frames through the engine and through the same ONNX on ONNX
Runtime's CPU provider and compares them by AbsRel (mean of |engine - reference| / |reference|
where the reference is not near zero); the bound depends on the precision. The result is kept
in the engine's sidecar, so a cached engine is checked once per TensorRT version.
"""

from dataclasses import asdict, dataclass
import datetime
from typing import Callable

import cv2
import numpy as np

from mono_depth_ros.core.preprocessing import (
    network_input_size, output_to_input_size, prepare_input)

# AbsRel an engine may differ from the fp32 CPU reference by, per precision.
ABS_REL_BOUNDS = {'fp32': 0.01, 'fp16': 0.03, 'int8': 0.12}
REFERENCE_FRAME_SIZE = (480, 640)
REFERENCE_FRAMES = 3
# Pixels whose reference magnitude is below this fraction of the frame's largest are left out
# of AbsRel (relative models give ~0 at the horizon, where a ratio means nothing).
NEAR_ZERO_FRACTION = 0.02


@dataclass(frozen=True)
class ValidationResult:
    """How an engine compared with ONNX Runtime on the CPU (kept in the engine's sidecar)."""

    passed: bool
    abs_rel: float
    bound: float
    precision: str
    frames: int
    network_size: tuple
    tensorrt_version: str
    reason: str = ''
    checked: str = ''

    def record(self) -> dict:
        """Return the sidecar's ``validation`` entry."""
        return asdict(self)

    def describe(self) -> str:
        """Return a short line for logs and diagnostics."""
        verdict = 'passed' if self.passed else 'FAILED'
        return (f'{verdict}: AbsRel {self.abs_rel:.4f} against ONNX Runtime CPU (bound '
                f'{self.bound:g} for {self.precision}, {self.frames} frames at '
                f'{self.network_size[0]}x{self.network_size[1]})'
                + (f', {self.reason}' if self.reason else ''))


def reference_frames(count: int = REFERENCE_FRAMES, size: tuple = REFERENCE_FRAME_SIZE,
                     seed: int = 19) -> list[np.ndarray]:
    """Return ``count`` deterministic uint8 RGB frames: smooth shapes with some texture."""
    rng = np.random.default_rng(seed)
    height, width = size
    frames = []
    for _ in range(count):
        coarse = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
        smooth = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
        texture = rng.integers(-12, 13, (height, width, 3))
        frames.append(np.clip(smooth.astype(np.int64) + texture, 0, 255).astype(np.uint8))
    return frames


def abs_rel(prediction: np.ndarray, reference: np.ndarray) -> float:
    """Return the AbsRel of ``prediction`` against ``reference`` (inf for non-finite output)."""
    prediction = np.asarray(prediction, np.float64).reshape(-1)
    reference = np.asarray(reference, np.float64).reshape(-1)
    if prediction.shape != reference.shape or not np.all(np.isfinite(prediction)):
        return float('inf')
    magnitude = np.abs(reference)
    valid = magnitude > NEAR_ZERO_FRACTION * max(float(magnitude.max(initial=0.0)), 1e-12)
    if not np.any(valid):
        return float(np.abs(prediction - reference).max(initial=0.0))
    return float(np.mean(np.abs(prediction[valid] - reference[valid]) / magnitude[valid]))


def onnxruntime_cpu_reference(onnx_path: str) -> Callable[[np.ndarray], np.ndarray]:
    """Return a function running a (1, 3, h, w) tensor through ``onnx_path`` on the CPU."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    session = onnxruntime.InferenceSession(str(onnx_path), options,
                                           providers=['CPUExecutionProvider'])
    name = session.get_inputs()[0].name
    return lambda tensor: np.asarray(session.run(None, {name: tensor})[0])


def validate_engine(run_engine: Callable[[np.ndarray], np.ndarray],
                    reference: Callable[[np.ndarray], np.ndarray], precision: str,
                    network_size: tuple[int, int], tensorrt_version: str,
                    frames: list[np.ndarray] | None = None,
                    at_frame_size: bool = False) -> ValidationResult:
    """Compare ``run_engine`` with ``reference`` on the reference frames at ``network_size``.

    ``run_engine`` takes a uint8 RGB frame; ``reference`` the (1, 3, h, w) float32 tensor the
    shared preprocessing makes of it. ``at_frame_size``: the engine returns depth at the
    frame's size, compared with the reference resized as the pipeline resizes it. An engine
    that raises, or gives a non-finite or wrongly shaped output, fails; so does one whose
    worst frame's AbsRel exceeds the bound.
    """
    frames = reference_frames() if frames is None else frames
    bound = ABS_REL_BOUNDS.get(precision, ABS_REL_BOUNDS['fp32'])
    size = tuple(int(value) for value in network_size)
    worst, reason = 0.0, ''
    for frame in frames:
        expected = np.squeeze(reference(prepare_input(frame, size)))
        if at_frame_size:
            expected = output_to_input_size(expected, frame.shape[1], frame.shape[0])
        try:
            actual = np.squeeze(run_engine(frame))
        except Exception as error:  # noqa: B902 (what failed is the verdict)
            worst, reason = float('inf'), f'the engine raised {type(error).__name__}: {error}'
            break
        worst = max(worst, abs_rel(actual, expected))
        if not np.isfinite(worst):
            reason = 'the engine gave non-finite or misshaped output'
            break
    checked = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')
    return ValidationResult(bool(worst <= bound), worst, bound, precision, len(frames), size,
                            str(tensorrt_version), reason, checked)


def validation_size(profile: tuple, input_size: int) -> tuple[int, int]:
    """Return the network (h, w) to validate at: the 640x480 frame's, clamped to the profile."""
    low, opt, high = profile
    height, width = network_input_size(*REFERENCE_FRAME_SIZE, int(input_size))
    if low[2:] == high[2:]:
        return int(low[2]), int(low[3])
    if not (low[2] <= height <= high[2] and low[3] <= width <= high[3]):
        return int(opt[2]), int(opt[3])
    return height, width


def refusal(path: str, result: ValidationResult) -> str:
    """Return the one line an engine that failed validation is refused with."""
    return (f'TensorRT {result.tensorrt_version} built an engine whose depth differs from ONNX '
            f'Runtime on the CPU ({result.describe()}): do not trust it; upgrade TensorRT '
            '(10.3 of JetPack 6.1/6.2 is known to give wrong Depth Anything output), try '
            'precision fp32, or run backend onnxruntime; set validate_engine false only if you '
            f'know the engine is right ({path})')


def stored_result(sidecar: dict, tensorrt_version: str) -> ValidationResult | None:
    """Return the validation a sidecar recorded for this TensorRT version, or None."""
    entry = (sidecar or {}).get('validation')
    if not isinstance(entry, dict) or entry.get('tensorrt_version') != str(tensorrt_version):
        return None
    try:
        entry = {**entry, 'network_size': tuple(entry['network_size'])}
        return ValidationResult(**entry)
    except (KeyError, TypeError):
        return None
