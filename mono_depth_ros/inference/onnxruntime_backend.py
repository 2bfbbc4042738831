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

"""ONNX Runtime backend: any ONNX model meeting the contract, on the CPU or a CUDA GPU.

Execution providers, best first, among those onnxruntime reports available and the device
allows: TensorRT (engine cache in ``cache_dir``, fp16 when asked), CUDA, then the CPU. fp16 on
CUDA runs an fp16 copy of the model made in memory (:mod:`onnx_fp16`); on the CPU, fp16 is not
applied (it would only add casts). onnxruntime is imported here only, when a backend is created.
"""

import logging
import os

import numpy as np

from mono_depth_ros.inference.base import (BackendUnavailableError, DepthBackend, ModelLoadError,
                                           PRECISIONS)

CPU_PROVIDER = 'CPUExecutionProvider'
CUDA_PROVIDER = 'CUDAExecutionProvider'
TENSORRT_PROVIDER = 'TensorrtExecutionProvider'


def available_providers() -> list[str]:
    """Return onnxruntime's available execution providers ([] when it is not installed)."""
    try:
        import onnxruntime
    except ImportError:
        return []
    return list(onnxruntime.get_available_providers())


def _providers(device: str, precision: str, cache_dir: str | None) -> list:
    available = available_providers()
    chosen = []
    if device in ('auto', 'cuda'):
        if TENSORRT_PROVIDER in available and cache_dir:
            options = {'trt_engine_cache_enable': True, 'trt_timing_cache_enable': True,
                       'trt_engine_cache_path': os.path.join(cache_dir, 'ort_tensorrt'),
                       'trt_fp16_enable': precision == 'fp16'}
            os.makedirs(options['trt_engine_cache_path'], exist_ok=True)
            chosen.append((TENSORRT_PROVIDER, options))
        if CUDA_PROVIDER in available:
            chosen.append(CUDA_PROVIDER)
        if device == 'cuda' and not chosen:
            raise BackendUnavailableError(
                'device cuda: onnxruntime has no CUDA execution provider (available: '
                f'{", ".join(available) or "none"}); install onnxruntime-gpu or use device cpu')
    chosen.append(CPU_PROVIDER)
    return chosen


def runs_fp16_copy(provider: str, precision: str) -> bool:
    """Return True when fp16 on ``provider`` needs an fp16 copy of the model (CUDA)."""
    return precision == 'fp16' and provider == CUDA_PROVIDER


def effective_precision(provider: str, precision: str) -> str:
    """Return the precision a session on ``provider`` computes in when ``precision`` is asked."""
    if precision == 'fp16' and provider in (TENSORRT_PROVIDER, CUDA_PROVIDER):
        return 'fp16'
    return 'fp32'


def _session(onnxruntime, model, path: str, options, providers):
    """Return an InferenceSession of ``model`` (a path or serialised bytes) or ModelLoadError."""
    try:
        return onnxruntime.InferenceSession(model, sess_options=options, providers=providers)
    except Exception as error:
        raise ModelLoadError(path, 'ONNX Runtime cannot create a session: '
                             f'{type(error).__name__}: {error}') from error


class OnnxRuntimeBackend(DepthBackend):
    """Runs an ONNX depth model with onnxruntime.

    ``threads`` sets the intra-op thread count (0: onnxruntime's default, one per core).
    ``cache_dir`` enables the TensorRT execution provider and holds its engines.
    """

    name = 'onnxruntime'

    def __init__(self, onnx_path: str, device: str = 'auto', precision: str = 'fp32',
                 threads: int = 0, cache_dir: str | None = None,
                 logger: logging.Logger | None = None, contract=None):
        import onnxruntime

        from mono_depth_ros.inference.onnx_contract import read_onnx_contract

        if precision not in PRECISIONS:
            raise ValueError(f'precision {precision!r}: expected one of {", ".join(PRECISIONS)}')
        contract = contract or read_onnx_contract(onnx_path)
        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        if threads > 0:
            options.intra_op_num_threads = int(threads)
        providers = _providers(device, precision, cache_dir)
        if providers == [CPU_PROVIDER]:
            # Idle intra-op threads otherwise spin on the cores after every run, just when the
            # node's postprocessing, clouds and publishing need them (measured: the frame's
            # other work took ~2x as long on 2 cores; inference itself was not slower).
            options.add_session_config_entry('session.intra_op.allow_spinning', '0')
        path = str(contract.path)
        self._session = _session(onnxruntime, path, path, options, providers)
        active = self._session.get_providers()
        on_gpu = active[0] in (TENSORRT_PROVIDER, CUDA_PROVIDER)
        if device == 'cuda' and not on_gpu:
            raise BackendUnavailableError(f'device cuda: onnxruntime fell back to {active[0]}')
        effective, fp16_problem = effective_precision(active[0], precision), None
        if runs_fp16_copy(active[0], precision):
            from mono_depth_ros.inference.onnx_fp16 import fp16_model_bytes

            try:
                half = fp16_model_bytes(path)
            except ValueError as error:
                effective, fp16_problem = 'fp32', str(error)
            else:
                self._session = _session(onnxruntime, half, path, options, providers)
        super().__init__('cuda' if on_gpu else 'cpu', effective, contract.input_spec, logger)
        if fp16_problem:
            self.logger.warning('no fp16 copy of %s (%s); onnxruntime runs it in fp32', path,
                                fp16_problem)
        elif effective != precision:
            self.logger.warning('onnxruntime with %s runs %s; precision %s is not applied',
                                active[0], effective, precision)
        self.providers = active
        self.threads = int(threads)
        self._input_name = contract.input_name
        self._output_name = contract.output_name
        self.card = contract.card
        self.extra_input_names = tuple(contract.extra_input_names)

    def _infer(self, tensor: np.ndarray) -> np.ndarray:
        if self.extra_input_names:
            raise ValueError(f'the model also needs {", ".join(self.extra_input_names)} '
                             '(model card extra_inputs)')
        return self._session.run([self._output_name], {self._input_name: tensor})[0]

    def _infer_with(self, tensor: np.ndarray, extras: dict) -> np.ndarray:
        """Run a model with its card's extra inputs (float32 arrays by input name)."""
        missing = [name for name in self.extra_input_names if name not in extras]
        if missing:
            raise ValueError(f'the model also needs {", ".join(missing)} (model card '
                             'extra_inputs)')
        feeds = {self._input_name: tensor}
        feeds.update({name: np.ascontiguousarray(extras[name], dtype=np.float32)
                      for name in self.extra_input_names})
        return self._session.run([self._output_name], feeds)[0]

    def close(self) -> None:
        """Drop the session (frees its memory once no other reference holds it)."""
        self._session = None
        super().close()

    def describe(self) -> str:
        """Return the backend line plus the execution providers in use."""
        return f'{super().describe()} [{", ".join(self.providers)}]'
