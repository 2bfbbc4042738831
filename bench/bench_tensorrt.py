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

"""Benchmark of Depth-Anything-V2-Small latency: TensorRT fp16, ONNX Runtime CUDA, torch CUDA.

GPU only: without a CUDA GPU and TensorRT, ``run()`` returns ``{'skipped': reason}``. Run
``python bench/bench_tensorrt.py`` or ``mono-depth-ros bench --only tensorrt``; prints JSON.

The network has the real V2-Small architecture (DINOv2 ViT-S/14: 384 wide, 12 layers, 6 heads;
neck 48/96/192/384, fusion 64, head 32) with random weights (``benchmark_model``), so no
download is needed; speed does not depend on the weights. A 640x480 frame is preprocessed at
``input_size`` 518 and 308 (518x686 and 308x406 network inputs). Times are per
``backend.infer`` call (host tensor in, host depth out, so the copies are included), in
milliseconds, after warm-up; ``tensorrt_fp16_frame_engine`` is the engine the node builds for
its camera, timed per ``infer_rgb`` (uint8 frame in, depth at the frame's size out: the resizes
included). ``abs_rel`` is each backend's mean relative difference from torch
fp32 on the same GPU (on the CPU where torch has no CUDA). For TensorRT, ``load_s`` includes
the engine build and its validation against ONNX Runtime on the CPU (``validation``: its
verdict and AbsRel); ``build_s`` is a second build of the same engine, forced, without the
validation.
"""

import copy
import json
import logging
import tempfile
import time

import numpy as np

from benchmark_model import abs_rel, random_depth_anything_v2_small
from mono_depth_ros.core.preprocessing import prepare_input

INPUT_SIZES = (518, 308)
FRAME = (480, 640)


def _skip_reason() -> str | None:
    try:
        import torch  # noqa: F401 (the model; torch CUDA only for the torch rows)
    except ImportError:
        return 'PyTorch is not installed (it makes the random model)'
    from mono_depth_ros.inference.tensorrt_backend import availability

    available, reason = availability()
    return None if available else reason


def _time(run, repeats: int, warmup: int) -> tuple[dict, np.ndarray]:
    for _ in range(warmup):
        output = run()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        output = run()
        times.append((time.perf_counter() - started) * 1e3)
    times = np.asarray(times)
    return {'median_ms': round(float(np.median(times)), 3),
            'p90_ms': round(float(np.percentile(times, 90)), 3),
            'mean_ms': round(float(times.mean()), 3),
            'fps': round(1e3 / float(np.median(times)), 1)}, output


def _measure(name: str, make_backend, tensor, reference, repeats, warmup,
             frame: tuple | None = None) -> dict:
    """Time one backend's ``infer(tensor)``, or its ``infer_rgb`` for a ``frame``.

    ``frame`` is (rgb, input_size): the output is at the frame's size and is compared with
    the reference resized to it.
    """
    from mono_depth_ros.core.preprocessing import output_to_input_size
    from mono_depth_ros.inference.base import BackendUnavailableError, ModelLoadError

    started = time.perf_counter()
    try:
        backend = make_backend()
    except (BackendUnavailableError, ModelLoadError) as error:
        return {'skipped': f'{name}: {error}'}
    load_s = time.perf_counter() - started
    try:
        if frame is None:
            result, output = _time(lambda: backend.infer(tensor), repeats, warmup)
        else:
            rgb, input_size = frame
            result, output = _time(lambda: backend.infer_rgb(rgb, input_size), repeats, warmup)
            reference = output_to_input_size(reference, rgb.shape[1], rgb.shape[0])
        result['load_s'] = round(load_s, 2)
        result['abs_rel'] = round(abs_rel(output, reference), 6)
        result['backend'] = backend.describe()
        validation = getattr(backend, 'validation', None)
        if validation is not None:
            result['validation'] = validation.describe()
        return result
    finally:
        backend.close()


def _build_seconds(onnx_path: str, input_size: int, cache_dir: str) -> float | None:
    """Return the seconds a forced fp16 engine build takes (timing cache warm), or None."""
    from mono_depth_ros.inference.base import BackendUnavailableError, ModelLoadError
    from mono_depth_ros.inference.engine_builder import ensure_engine

    started = time.perf_counter()
    try:
        ensure_engine(onnx_path, 'fp16', input_size, cache_dir, force_rebuild=True)
    except (BackendUnavailableError, ModelLoadError):
        return None
    return round(time.perf_counter() - started, 1)


def run(repeats: int = 50, warmup: int = 10) -> dict:
    """Measure every backend at each input size and return the results (or why not)."""
    reason = _skip_reason()
    if reason:
        return {'skipped': reason}
    import onnxruntime
    import tensorrt
    import torch

    from mono_depth_ros.inference import engine_builder
    from mono_depth_ros.inference.onnx_export import export_onnx
    from mono_depth_ros.inference.onnxruntime_backend import OnnxRuntimeBackend
    from mono_depth_ros.inference.tensorrt_backend import TensorRTBackend
    from mono_depth_ros.inference.torch_backend import TorchBackend

    logging.getLogger('mono_depth_ros').setLevel(logging.WARNING)
    model, info = random_depth_anything_v2_small()
    rgb = np.random.default_rng(0).integers(0, 256, (*FRAME, 3), dtype=np.uint8)
    results = {}
    with tempfile.TemporaryDirectory(prefix='bench_tensorrt_') as scratch:
        onnx_path = f'{scratch}/depth_anything_v2_small_random.onnx'
        export_onnx(model, onnx_path, input_size=518, info=info)
        for input_size in INPUT_SIZES:
            tensor = prepare_input(rgb, input_size)
            torch_device = 'cuda' if torch.cuda.is_available() else 'cpu'
            with TorchBackend(copy.deepcopy(model), torch_device, 'fp32') as exact:
                reference = exact.infer(tensor)
            backends = {  # TorchBackend converts the module in place: give it a copy
                'tensorrt_fp16': lambda: TensorRTBackend(
                    onnx_path, precision='fp16', input_size=input_size,
                    cache_dir=f'{scratch}/engines'),
                'onnxruntime_cuda_fp16': lambda: OnnxRuntimeBackend(onnx_path, device='cuda',
                                                                    precision='fp16'),
                'onnxruntime_cuda_fp32': lambda: OnnxRuntimeBackend(onnx_path, device='cuda'),
            }
            if torch_device == 'cuda':  # a Jetson's TensorRT path has no CUDA torch
                backends['torch_cuda_fp16'] = lambda: TorchBackend(copy.deepcopy(model), 'cuda',
                                                                   'fp16')
                backends['torch_cuda_fp32'] = lambda: TorchBackend(copy.deepcopy(model), 'cuda',
                                                                   'fp32')
            results[str(input_size)] = {'network_input': list(tensor.shape[2:]), **{
                name: _measure(name, make, tensor, reference, repeats, warmup)
                for name, make in backends.items()}}
            # The engine made for the camera: frame in, depth at the frame's size out.
            results[str(input_size)]['tensorrt_fp16_frame_engine'] = _measure(
                'tensorrt_fp16_frame_engine', lambda: TensorRTBackend(
                    onnx_path, precision='fp16', input_size=input_size,
                    cache_dir=f'{scratch}/engines', frame_size=FRAME),
                tensor, reference, repeats, warmup, frame=(rgb, input_size))
            results[str(input_size)]['tensorrt_fp16']['build_s'] = _build_seconds(
                onnx_path, input_size, f'{scratch}/engines')
    return {'model': info.source, 'frame': list(FRAME), 'repeats': repeats,
            'gpu': engine_builder.open_cuda().identity().fields(),
            'tensorrt': tensorrt.__version__,
            'onnxruntime': onnxruntime.__version__, 'torch': torch.__version__,
            'results': results}


if __name__ == '__main__':
    print(json.dumps(run(), indent=2))
