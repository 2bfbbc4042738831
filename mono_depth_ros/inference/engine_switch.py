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

"""Serve from ONNX Runtime while a TensorRT engine builds, then switch to the engine.

An engine build takes minutes (tens on a Jetson); a node should publish depth meanwhile.
:class:`EngineSwitch` is the :class:`DepthBackend` the node sees: it runs frames on the
TensorRT engine when one is ready and takes the frame's network size, and otherwise on ONNX
Runtime (CUDA if it has it, else the CPU) while one build runs on a thread of its own:

* no cached engine at start: the first frame starts a build whose profile is made for that
  frame (the camera's aspect); ONNX Runtime serves until the engine is built and validated;
* a frame outside the running engine's profile (the camera changed resolution): one warning,
  one rebuild for the new shape in the background, ONNX Runtime serving meanwhile;
* a build or validation that fails: said once (the reason on /diagnostics), ONNX Runtime
  keeps serving.

The switch happens on the inference thread at the start of a frame, so no frame ever runs on
a closed backend. Build time, state and the switch are in :meth:`diagnostic_values`.
"""

import datetime
import logging
import threading
import time
from typing import Callable

import numpy as np

from mono_depth_ros.core.preprocessing import check_rgb, network_input_size
from mono_depth_ros.inference.base import (
    BackendUnavailableError, DepthBackend, InputSpec, ModelLoadError)

# open_engine(frame_size, build) -> a TensorRT backend with ``accepts(frame_size, input_size)``;
# with build False it raises EngineNotCached when no engine is cached for that frame size.
OpenEngine = Callable[[tuple | None, bool], DepthBackend]


class EngineNotCached(LookupError):
    """No engine is cached for these settings (raised by an ``open_engine(..., build=False)``)."""


class EngineSwitch(DepthBackend):
    """ONNX Runtime until the TensorRT engine is ready and validated, then the engine."""

    name = 'tensorrt'
    preprocesses_on_device = True  # infer_rgb: frames, so the frame size picks the profile

    def __init__(self, open_engine: OpenEngine, open_serving: Callable[[], DepthBackend],
                 input_spec: InputSpec, precision: str,
                 logger: logging.Logger | None = None, start_thread=None):
        self._open_engine = open_engine
        self._open_serving = open_serving
        self._start_thread = start_thread or _start_daemon
        self._lock = threading.Lock()
        self._engine = self._serving = self._ready = None
        self._building_for = None  # the frame size the running build is for
        self._failed_sizes = set()
        self._warned_sizes = set()
        self._retired = []
        self._closing = False
        self.state = 'starting'
        self.build_seconds = None
        self.switched_at = ''
        self.failure = ''
        self.builds = 0
        super().__init__('cuda', precision, input_spec, logger)
        try:
            self._engine = open_engine(None, False)
            self.state = 'engine'
        except EngineNotCached:
            self._serving = open_serving()
            self.state = 'serving while waiting for the first frame to build the engine'
            self.logger.info(f'no TensorRT engine cached yet: serving from '
                             f'{self._serving.describe()}; the engine is built in the '
                             'background from the first frame (minutes)')
        except (ModelLoadError, BackendUnavailableError) as error:  # e.g. failed validation
            self._serving = open_serving()
            self.failure = str(error)
            self.state = 'engine failed: serving from ONNX Runtime'
            self.logger.error(f'TensorRT engine not used, {self._serving.describe()} serves: '
                              f'{error}')

    # Frames --------------------------------------------------------------------------------
    def infer_rgb(self, rgb: np.ndarray, input_size: int | tuple[int, int]) -> np.ndarray:
        """Run a frame on the engine when it takes it, else on ONNX Runtime (and build)."""
        self._check_open()
        image = check_rgb(rgb)
        frame_size = tuple(int(size) for size in image.shape[:2])
        engine = self._take_ready_engine()
        if engine is not None and engine.accepts(frame_size, input_size):
            return engine.infer_rgb(image, input_size)
        size = network_input_size(*frame_size, input_size)
        self._start_build(frame_size, size, engine is not None)
        return self._serving_backend().infer_rgb(image, input_size)

    def _infer(self, tensor: np.ndarray) -> np.ndarray:
        engine = self._take_ready_engine()
        if (engine is not None and getattr(engine, 'frame_size', None) is None
                and engine.fits(tuple(tensor.shape[2:]))):
            return engine.infer(tensor)
        return self._serving_backend().infer(tensor)

    def _take_ready_engine(self):
        """Switch to a newly built engine (inference thread); return the engine in use."""
        with self._lock:
            ready, self._ready = self._ready, None
            retired, self._retired = self._retired, []
            if ready is not None:
                if self._engine is not None:
                    retired.append(self._engine)
                self._engine = ready
                self.state = 'engine'
                self.switched_at = _now()
            engine = self._engine
        for backend in retired:
            backend.close()
        if ready is not None:
            self.logger.info(f'switched to {ready.describe()} (built in '
                             f'{self.build_seconds:.0f} s, validated)')
        return engine

    def _serving_backend(self) -> DepthBackend:
        if self._serving is None:
            self._serving = self._open_serving()
        return self._serving

    # The background build ------------------------------------------------------------------
    def _start_build(self, frame_size: tuple, network_size: tuple, have_engine: bool) -> None:
        with self._lock:
            if (self._building_for is not None or self._closing
                    or frame_size in self._failed_sizes):
                return
            self._building_for = frame_size
            self.state = f'building the engine for {frame_size[1]}x{frame_size[0]} frames'
        if have_engine and network_size not in self._warned_sizes:
            self._warned_sizes.add(network_size)
            self.logger.warning(
                f'frames of {frame_size[1]}x{frame_size[0]} ({network_size[0]}x'
                f'{network_size[1]} network input) do not fit the running engine: rebuilding '
                'it for them in the background, ONNX Runtime serves meanwhile')
        else:
            self.logger.info(f'building the TensorRT engine for {frame_size[1]}x'
                             f'{frame_size[0]} frames in the background')
        self._start_thread(lambda: self._build(frame_size), 'tensorrt-engine-build')

    def _build(self, frame_size: tuple) -> None:
        """Build, load and validate the engine for ``frame_size`` (build thread)."""
        start = time.monotonic()
        try:
            engine = self._open_engine(frame_size, True)
        except Exception as error:  # any failure: ONNX Runtime keeps serving
            with self._lock:
                self._building_for = None
                self._failed_sizes.add(frame_size)
                self.failure = f'{type(error).__name__}: {error}'
                self.state = 'engine failed: serving from ONNX Runtime'
            self.logger.error(f'TensorRT engine not used, ONNX Runtime keeps serving: '
                              f'{self.failure}')
            return
        seconds = time.monotonic() - start
        with self._lock:
            self._building_for = None
            self.builds += 1
            self.build_seconds = seconds
            if self._closing:
                engine.close()
                return
            if self._ready is not None:
                self._retired.append(self._ready)
            self._ready = engine
            self.state = 'engine ready: switching on the next frame'

    # Reporting and closing -----------------------------------------------------------------
    def accepts(self, frame_size: tuple[int, int], input_size) -> bool:
        """Return True: any frame runs here (on the engine or on ONNX Runtime)."""
        del frame_size, input_size
        return True

    @property
    def serving(self) -> str:
        """Return the name of the backend that runs frames now."""
        return 'tensorrt' if self._engine is not None else 'onnxruntime'

    def diagnostic_values(self) -> dict:
        """Return the engine's state, build time and switch, for /diagnostics."""
        values = {'serving_backend': self.serving, 'engine_state': self.state,
                  'engine_builds': self.builds}
        if self.build_seconds is not None:
            values['engine_build_s'] = round(self.build_seconds, 1)
        if self.switched_at:
            values['engine_switched_at'] = self.switched_at
        if self.failure:
            values['engine_failure'] = self.failure
        validation = getattr(self._engine, 'validation', None)
        if validation is not None:
            values['engine_validation'] = validation.describe()
        return values

    def describe(self) -> str:
        """Return the serving backend's description and the engine's state."""
        current = self._engine or self._serving
        head = current.describe() if current is not None else super().describe()
        return head if self._engine is not None else f'{head} ({self.state})'

    def close(self) -> None:
        """Close both backends; a build still running closes its engine when it ends."""
        with self._lock:
            self._closing = True
            backends = [self._engine, self._serving, self._ready, *self._retired]
            self._engine = self._serving = self._ready = None
            self._retired = []
        for backend in backends:
            if backend is not None:
                backend.close()
        super().close()


def _start_daemon(target: Callable[[], None], name: str) -> None:
    threading.Thread(target=target, name=name, daemon=True).start()


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')
