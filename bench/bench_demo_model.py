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

"""Benchmark of the committed demo model (models/demo/model.onnx, doc/training.md).

ONNX Runtime on the CPU (one thread) runs it on a 640x480 synthetic frame at ``input_size`` 140
(what the demo uses: the training resolution, recorded in the model) and 476 (nearly the
camera's own size); ``held_out`` scores it on 20 frames of the held-out synthetic seed 100 at
640x480 through the node's preprocessing at 140: AbsRel after a per-frame scale and shift fit
in inverse depth (the issue's goal: <= 0.15). Run ``python bench/bench_demo_model.py`` or
``mono-depth-ros bench --only demo_model``; prints JSON.
"""

import json
import time

ABS_REL_GOAL = 0.15
INPUT_SIZES = (140, 476)
HELD_OUT_SEED = 100


def run() -> dict:
    """Time the demo model and score it on the held-out scene; return the results."""
    import onnxruntime

    from mono_depth_ros.core.preprocessing import prepare_input
    from mono_depth_ros.resources import package_file
    from mono_depth_ros.training.assessment import assess, onnx_predictor
    from mono_depth_ros.training.datasets import synthetic_sequences

    path = package_file('models/demo/model.onnx')
    held_out = synthetic_sequences([HELD_OUT_SEED], frames=20, size=(480, 640), supersample=2)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    session = onnxruntime.InferenceSession(str(path), sess_options=options,
                                           providers=['CPUExecutionProvider'])
    rgb = held_out[0].frames[0].rgb
    latency = {}
    for input_size in INPUT_SIZES:
        tensor = prepare_input(rgb, input_size)
        session.run(None, {'pixel_values': tensor})
        started, repeats = time.perf_counter(), 20
        for _ in range(repeats):
            session.run(None, {'pixel_values': tensor})
        latency[str(input_size)] = round((time.perf_counter() - started) / repeats * 1e3, 2)
    metrics = assess(onnx_predictor(path, input_size=140), held_out, 'relative')
    return {
        'model': str(path), 'size_mb': round(path.stat().st_size / 1e6, 2),
        'cpu_ms_one_thread_by_input_size': latency,
        'held_out_seed': HELD_OUT_SEED, 'held_out_frames': metrics['frames'],
        'held_out_abs_rel_scale_shift': round(metrics['abs_rel'], 4),
        'held_out_rmse_m_scale_shift': round(metrics['rmse'], 4),
        'held_out_delta1_scale_shift': round(metrics['delta1'], 4),
        'abs_rel_goal': ABS_REL_GOAL,
        'meets_goal': bool(metrics['abs_rel'] <= ABS_REL_GOAL),
    }


if __name__ == '__main__':
    print(json.dumps(run(), indent=2))
