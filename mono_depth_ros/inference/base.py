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

"""The one interface every inference backend implements, and what a loaded model says about itself.

Nothing outside a backend module knows which library runs the model: callers see
:class:`DepthBackend` (``infer`` a (1, 3, h, w) float32 tensor, get an (h, w) float32 prediction)
and :class:`ModelInfo` (relative or metric, and where the model came from).
"""

import abc
from dataclasses import dataclass
import logging

import numpy as np

from mono_depth_ros.core.errors import BadMessageError
from mono_depth_ros.core.preprocessing import (check_rgb, network_input_size, prepare_input,
                                               Preprocessing)
from mono_depth_ros.inference.errors import BackendUnavailableError, ModelLoadError

# ModelLoadError and BackendUnavailableError live in inference.errors (light to import) and
# belong to this interface too.
__all__ = ['BackendUnavailableError', 'check_input_tensor', 'DEPTH_TYPES', 'DepthBackend',
           'DEVICES', 'InputSpec', 'ModelInfo', 'ModelLoadError', 'prediction_to_2d',
           'PRECISIONS']

DEPTH_TYPES = ('relative', 'metric')
PRECISIONS = ('fp32', 'fp16', 'int8')
DEVICES = ('auto', 'cuda', 'cpu')


@dataclass(frozen=True)
class InputSpec:
    """The network input: its name, a fixed (height, width) or None for dynamic, and dtype."""

    name: str
    height: int | None = None
    width: int | None = None
    dtype: str = 'float32'

    @property
    def fixed_size(self) -> tuple[int, int] | None:
        """Return (height, width) when the model only accepts that size, else None."""
        if self.height is None or self.width is None:
            return None
        return int(self.height), int(self.width)

    @property
    def is_dynamic(self) -> bool:
        """Return True when the model accepts any height and width (multiples of 14)."""
        return self.fixed_size is None

    def network_size(self, input_size: int) -> int | tuple[int, int]:
        """Return the ``input_size`` argument for ``prepare_input`` that this model accepts."""
        return self.fixed_size or int(input_size)


@dataclass(frozen=True)
class ModelInfo:
    """What a loaded model predicts and where it came from.

    ``depth_type`` 'relative': the output is inverse-depth-like and unitless; 'metric': metres,
    at most ``max_depth``. ``encoder`` is vits/vitb/vitl/vitg when the width says so;
    ``version`` 'v1' or 'v2' when known; ``model_format`` one of hf, pth, safetensors, onnx.
    """

    depth_type: str
    max_depth: float | None
    source: str
    encoder: str | None = None
    version: str | None = None
    model_format: str = ''
    # The model card (inference.model_card.ModelCard) read from the file, a sidecar or
    # ``model_card``; None: the Depth Anything contract.
    card: object | None = None

    @property
    def license(self) -> str:  # noqa: A003 (the model card's field name)
        """Return the model's licence where its card names one, else ''."""
        return getattr(self.card, 'license', '') or ''

    @property
    def is_metric(self) -> bool:
        """Return True when the prediction is in metres."""
        return self.depth_type == 'metric'

    def describe(self) -> str:
        """Return a one-line summary for logs and diagnostics."""
        parts = [self.depth_type]
        if self.is_metric and self.max_depth is not None:
            parts.append(f'max {self.max_depth:g} m')
        parts.extend(value for value in (self.version, self.encoder, self.model_format) if value)
        family = getattr(self.card, 'family', None)
        if family not in (None, 'depth_anything', 'depth_anything_v2'):
            parts.insert(0, family)
        if self.license:
            parts.append(f'licence {self.license}')
        return f"{self.source} ({', '.join(parts)})"


def check_input_tensor(tensor: np.ndarray, spec: InputSpec) -> np.ndarray:
    """Return ``tensor`` as a C-contiguous float32 (1, 3, h, w) array, or raise BadMessageError."""
    array = np.asarray(tensor)
    if array.ndim != 4 or array.shape[0] != 1 or array.shape[1] != 3:
        raise BadMessageError('tensor.shape', array.shape, '(1, 3, height, width)')
    if array.dtype != np.float32:
        raise BadMessageError('tensor.dtype', str(array.dtype), 'float32')
    fixed = spec.fixed_size
    if fixed is not None and tuple(array.shape[2:]) != fixed:
        raise BadMessageError('tensor.shape', array.shape,
                              f'(1, 3, {fixed[0]}, {fixed[1]}): the model has a fixed input size')
    return np.ascontiguousarray(array)


def prediction_to_2d(prediction: np.ndarray) -> np.ndarray:
    """Return a (1, h, w) or (1, 1, h, w) network output as an (h, w) float32 array."""
    array = np.asarray(prediction)
    while array.ndim > 2 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 2:
        raise BadMessageError('prediction.shape', np.shape(prediction),
                              '(1, height, width) or (1, 1, height, width)')
    return np.ascontiguousarray(array, dtype=np.float32)


class DepthBackend(abc.ABC):
    """A loaded depth network behind one call: ``infer(tensor) -> (h, w) float32``.

    Lifecycle: construct (loads the model, allocates what it needs once), ``infer`` any number
    of times, ``close`` (also on ``with`` exit). Subclasses implement ``_infer``; ``infer`` checks
    the input and shapes the output the same way for all of them.
    """

    name: str = ''
    # True where ``infer_rgb`` resizes and normalises on the inference device itself.
    preprocesses_on_device: bool = False
    # The model card the backend read with the model (None: the Depth Anything contract).
    card = None

    def __init__(self, device: str, precision: str, input_spec: InputSpec,
                 logger: logging.Logger | None = None):
        self.device = device
        self.precision = precision
        self.input_spec = input_spec
        self.logger = logger or logging.getLogger(f'mono_depth_ros.inference.{self.name}')
        self._closed = False

    def infer(self, tensor: np.ndarray, extras: dict | None = None) -> np.ndarray:
        """Run the network on a (1, 3, h, w) float32 tensor; return the (h, w) float32 output.

        ``extras``: a model card's extra inputs by name (e.g. ``prompt_depth``, float32
        (1, 1, h', w')), for backends that run models with more than one input.
        """
        self._check_open()
        checked = check_input_tensor(tensor, self.input_spec)
        if extras:
            return prediction_to_2d(self._infer_with(checked, extras))
        return prediction_to_2d(self._infer(checked))

    def infer_rgb(self, rgb: np.ndarray, input_size: int | tuple[int, int],
                  preprocessing: Preprocessing | None = None) -> np.ndarray:
        """Run the network on an (H, W, 3) uint8 RGB frame; return the (h, w) float32 output.

        ``input_size`` is what :meth:`InputSpec.network_size` returns. This runs the shared
        OpenCV preprocessing (the card's ``preprocessing`` when given); GPU backends override
        it to preprocess on the device.
        """
        return self.infer(prepare_input(rgb, input_size, preprocessing=preprocessing))

    def _infer_with(self, tensor: np.ndarray, extras: dict) -> np.ndarray:
        """Run a model with extra inputs; backends that support them override this."""
        raise BadMessageError('extra inputs', sorted(extras),
                              f'none: the {self.name} backend runs single-input models only')

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(f'{self.name} backend is closed')

    def _frame_and_network_size(self, rgb: np.ndarray, input_size: int | tuple[int, int],
                                preprocessing: Preprocessing | None = None
                                ) -> tuple[np.ndarray, tuple[int, int]]:
        """Check the backend is open and ``rgb`` a frame; return it and its network (h, w)."""
        self._check_open()
        image = check_rgb(rgb)
        if preprocessing is not None:
            return image, preprocessing.network_size(image.shape[0], image.shape[1], input_size)
        return image, network_input_size(image.shape[0], image.shape[1], input_size)

    @abc.abstractmethod
    def _infer(self, tensor: np.ndarray) -> np.ndarray:
        """Run the network; return its raw output as a numpy array."""

    def close(self) -> None:
        """Release the model and any device memory; ``infer`` raises afterwards."""
        self._closed = True

    def describe(self) -> str:
        """Return a one-line description for logs and diagnostics."""
        size = self.input_spec.fixed_size
        shape = f'{size[0]}x{size[1]}' if size else 'dynamic'
        return f'{self.name} on {self.device} ({self.precision}, input {shape})'

    def __enter__(self) -> 'DepthBackend':
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __repr__(self) -> str:
        return f'<{type(self).__name__} {self.describe()}>'
