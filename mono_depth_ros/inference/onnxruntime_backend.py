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
allows: TensorRT (engine cache in ``cache_dir``, fp16 when asked), CUDA, then the CPU. onnxruntime
is imported here only, when a backend is created.
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

        from mono_depth_ros.inference.model_loading import read_onnx_contract

        if precision not in PRECISIONS:
            raise ValueError(f'precision {precision!r}: expected one of {", ".join(PRECISIONS)}')
        contract = contract or read_onnx_contract(onnx_path)
        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        if threads > 0:
            options.intra_op_num_threads = int(threads)
        providers = _providers(device, precision, cache_dir)
        try:
            self._session = onnxruntime.InferenceSession(str(contract.path), sess_options=options,
                                                         providers=providers)
        except Exception as error:
            raise ModelLoadError(contract.path, 'ONNX Runtime cannot create a session: '
                                 f'{type(error).__name__}: {error}') from error
        active = self._session.get_providers()
        on_gpu = active[0] in (TENSORRT_PROVIDER, CUDA_PROVIDER)
        if device == 'cuda' and not on_gpu:
            raise BackendUnavailableError(f'device cuda: onnxruntime fell back to {active[0]}')
        effective = precision if active[0] == TENSORRT_PROVIDER and precision == 'fp16' else 'fp32'
        super().__init__('cuda' if on_gpu else 'cpu', effective, contract.input_spec, logger)
        if effective != precision:
            self.logger.warning('onnxruntime with %s runs %s; precision %s is not applied',
                                active[0], effective, precision)
        self.providers = active
        self.threads = int(threads)
        self._input_name = contract.input_name
        self._output_name = contract.output_name

    def _infer(self, tensor: np.ndarray) -> np.ndarray:
        return self._session.run([self._output_name], {self._input_name: tensor})[0]

    def close(self) -> None:
        """Drop the session (frees its memory once no other reference holds it)."""
        self._session = None
        super().close()

    def describe(self) -> str:
        """Return the backend line plus the execution providers in use."""
        return f'{super().describe()} [{", ".join(self.providers)}]'
