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

"""Robustness of the nodes as processes: latency and memory under overload, and a memory soak.

Run ``python bench/bench_robustness.py`` (about 12 minutes) or
``mono-depth-ros bench --only robustness``; prints JSON. Times are in milliseconds, memory in MB
(10^6 bytes) of resident set size (``VmRSS`` of ``/proc/<pid>/status``, sampled every second).
The nodes run as processes of their own (``python -m mono_depth_ros.nodes.<node>``) with ONNX
Runtime on the CPU, the large-data Fast DDS profile, loopback discovery and a random domain, as
in ``bench_depth_node.py`` (``benchmark_model`` has their model and raw-inference backend,
``benchmark_support`` the node processes, ``benchmark_meters`` the meters; ``robustness_stream``
is the camera and receiver and ``robustness_reports`` summarises memory and /diagnostics).

- ``overload``: 640x480 rgb8 images at 60 Hz for 60 s (after a 10 s warm-up at the same rate)
  into depth_node running a slow model: Depth-Anything-V2-Small's architecture with random
  weights at ``input_size`` 308. The node keeps only the newest frame, so each ``depth/image``
  should be at most one inference plus one frame period old: latency is publish -> receipt of
  ``depth/image`` per output; the bound is 1.10 x the raw inference median (timed in this
  process before the node starts) + the frame period. Dropped frames are the node's own count
  (``frames_dropped`` on /diagnostics) over the measured window. Memory: the node's RSS at the
  start of the window (after the warm-up), at its end, the growth and a linear fit's slope.
- ``soak``: 10 minutes at 15 Hz of a textured synthetic sequence
  (``mono_depth_ros.synth.render_sequence``, played forwards and backwards so the motion stays
  smooth) with odometry at 30 Hz that matches it, into depth_node (points on, stride 2, with
  colour; ``scale_source`` fixed so ``depth/image`` is published) and triangulation_node
  (default parameters) at once. depth_node runs a model that keeps up with 15 Hz on a 2-core
  CPU next to triangulation_node: the Depth Anything V2 architecture with a ViT-Tiny-sized
  encoder (192 wide, 12 layers, 3 heads; random weights; ~20 ms at ``input_size`` 140, where
  V2-Small takes ~70 ms alone and ~120 ms beside the other processes and drops half the frames;
  ``soak_model='v2-small'`` picks it). This process subscribes to
  ``depth/image``, ``points``, ``triangulation/depth`` and ``triangulation/points`` so both
  nodes build them. Goal: each node's RSS grows less than 5 % over the soak (after a 10 s
  warm-up); samples are reported every 10 s.
"""

import argparse
import json
import os
import pathlib
import time

import numpy as np

from benchmark_latency import (latency_against_inference, latency_bound_ms,
                               latency_bound_report, summary_ms, timed, WindowLatency)
from benchmark_meters import CpuMeter, ProcessMonitor
from benchmark_model import bench_model_path, raw_backend, textured_rgb, V2_SMALL_DESCRIPTION
from benchmark_support import (DEPTH_NODE_PARAMETERS, node_process, random_domain_id,
                               use_loopback_large_data_dds)
from mono_depth_ros.core.camera_model import CameraModel
from mono_depth_ros.synth import render_sequence
from robustness_reports import (diagnostics_report, memory_report, RSS_EVERY_S,
                                RSS_GROWTH_GOAL_PERCENT)
from robustness_stream import (CameraStream, DEPTH_NODE, PingPong, PublishWindow, STATUS_NAMES,
                               TRIANGULATION_NODE)

OVERLOAD_S = 60.0
SOAK_S = 600.0
WARMUP_S = 10.0
OVERLOAD_RATE_HZ = 60.0
SOAK_RATE_HZ = 15.0
ODOMETRY_RATE_HZ = 30.0
OVERLOAD_INPUT_SIZE = 308
SOAK_INPUT_SIZE = 140
SOAK_MODELS = ('v2-vit-tiny', 'v2-small')
# Depth Anything V2's layout with a ViT-Tiny-sized encoder: benchmark_model's V2-Small maker
# with these sizes in place of V2-Small's.
VIT_TINY_SIZES = {'hidden_size': 192, 'num_hidden_layers': 12, 'num_attention_heads': 3,
                  'neck_hidden_sizes': [24, 48, 96, 192], 'fusion_hidden_size': 32,
                  'head_hidden_size': 16}
VIT_TINY_MODEL = 'depth_anything_v2_vit_tiny_random_seed0.onnx'
SEQUENCE_FRAMES = 90  # 6 s of motion at 15 Hz, played forwards then backwards
RAW_FRAMES = 5
REPORT_EVERY_S = 10.0
WIDTH, HEIGHT = 640, 480
DRAIN_S = 1.5
TRIANGULATION_PARAMETERS = {'qos': 'sensor_data'}


def run(overload_s: float = OVERLOAD_S, soak_s: float = SOAK_S, warmup_s: float = WARMUP_S,
        phases: tuple[str, ...] = ('overload', 'soak'), onnx_path: str | None = None,
        soak_model: str = 'v2-vit-tiny',
        overload_input_size: int = OVERLOAD_INPUT_SIZE,
        soak_input_size: int = SOAK_INPUT_SIZE, overload_rate_hz: float = OVERLOAD_RATE_HZ,
        soak_rate_hz: float = SOAK_RATE_HZ, odometry_rate_hz: float = ODOMETRY_RATE_HZ,
        sequence_frames: int = SEQUENCE_FRAMES, raw_frames: int = RAW_FRAMES,
        report_every_s: float = REPORT_EVERY_S) -> dict:
    """Run the overload and soak phases (``phases`` picks) and return their results.

    ``onnx_path`` replaces the models of both phases (tests use a tiny one); otherwise the
    overload runs V2-Small and the soak ``soak_model`` (one of SOAK_MODELS). The durations are
    the measured windows, each after ``warmup_s`` of the same input.
    """
    unknown = set(phases) - {'overload', 'soak'}
    if unknown:
        raise ValueError(f'unknown phases {sorted(unknown)}: expected overload and/or soak')
    if soak_model not in SOAK_MODELS:
        raise ValueError(f'soak_model {soak_model!r}: expected one of {SOAK_MODELS}')
    use_loopback_large_data_dds()
    result = {'cpu_count': os.cpu_count(), 'warmup_s': warmup_s}
    if 'overload' in phases:
        model = _model(onnx_path, 'v2-small')
        result['overload'] = {**model, **overload(
            model['model_path'], overload_s, warmup_s, overload_input_size, overload_rate_hz,
            raw_frames, report_every_s)}
    if 'soak' in phases:
        model = _model(onnx_path, soak_model)
        result['soak'] = {**model, **soak(
            model['model_path'], soak_s, warmup_s, soak_input_size, soak_rate_hz,
            odometry_rate_hz, sequence_frames, report_every_s)}
    return result


def _model(onnx_path: str | None, name: str) -> dict:
    """Return {'model': description, 'model_path': path} of a given ONNX file or a named one."""
    if onnx_path:
        return {'model': pathlib.Path(onnx_path).name, 'model_path': str(onnx_path)}
    if name == 'v2-small':
        return {'model': V2_SMALL_DESCRIPTION, 'model_path': str(bench_model_path())}
    return {'model': 'Depth Anything V2 architecture with a ViT-Tiny-sized encoder (192 wide, '
                     '12 layers, 3 heads), random weights',
            'model_path': str(vit_tiny_model_path())}


def vit_tiny_model_path(cache_dir: str | os.PathLike | None = None) -> pathlib.Path:
    """Return the cached ONNX export of the ViT-Tiny-sized V2 model, exporting it on first use."""
    return bench_model_path(
        cache_dir, name=VIT_TINY_MODEL, sizes=VIT_TINY_SIZES,
        source='Depth Anything V2, ViT-Tiny-sized (random weights)')


# Overload ----------------------------------------------------------------------------------

def overload(model_path: str, duration_s: float, warmup_s: float, input_size: int,
             rate_hz: float, raw_frames: int, report_every_s: float) -> dict:
    """Feed depth_node faster than it can run; return latency, drops and its memory."""
    raw_ms = _raw_inference_ms(model_path, input_size, raw_frames)
    rgb = textured_rgb()
    info = CameraModel.from_intrinsics(fx=525.0, fy=525.0, cx=319.5, cy=239.5, width=WIDTH,
                                       height=HEIGHT).to_camera_info_fields()
    parameters = {'model': model_path, 'input_size': input_size, **DEPTH_NODE_PARAMETERS}
    domain_id = random_domain_id()
    load_before = os.getloadavg()[0]
    with node_process(DEPTH_NODE, parameters, domain_id) as node, \
            CameraStream(domain_id, [rgb], info, ('depth/image',)) as stream, \
            ProcessMonitor({DEPTH_NODE: node.process.pid}, RSS_EVERY_S) as monitor:
        stream.wait_connected([node], consumers=1)
        stream.first_output('depth/image', [node])
        stream.publish_for(warmup_s, rate_hz)
        before = stream.fresh_diagnostics(DEPTH_NODE)
        cpu = CpuMeter(node.process.pid)
        cpu_start = cpu.start()
        window = stream.publish_for(duration_s, rate_hz, on_tick=cpu.track)
        cpu_usage = cpu.usage(cpu_start)
        time.sleep(DRAIN_S + 2e-3 * raw_ms['median_ms'])  # the frame in progress comes out
        after = stream.fresh_diagnostics(DEPTH_NODE)
        node.check_alive()
        arrivals = stream.arrivals('depth/image')
    period_ms = 1e3 / rate_hz
    result = {
        'what': f'640x480 rgb8 images at {rate_hz:g} Hz into depth_node with a model slower '
                'than the frame period; latency = publish -> depth/image received',
        'input_size': input_size,
        'node_parameters': {key: value for key, value in parameters.items() if key != 'model'},
        'subscribed_outputs': ['depth/image'],
        'load_average_1min_before': round(load_before, 2),
        'warmup_s': warmup_s,
        'raw_inference': raw_ms,
        **_latency_report(window, arrivals, raw_ms, period_ms, after),
        'node_diagnostics': diagnostics_report(
            before, stream.diagnostics_at(DEPTH_NODE, window.end), after),
        'memory': {DEPTH_NODE: memory_report(monitor.samples[DEPTH_NODE], window.start,
                                             window.end, report_every_s)},
        'cpu': {**cpu_usage, **monitor.cpu_cores(DEPTH_NODE, window.start, window.end)},
    }
    diagnostics = result['node_diagnostics']
    if 'frames_dropped_in_window' in diagnostics:
        result['frames_dropped'] = diagnostics['frames_dropped_in_window']
        result['frames_received_by_node'] = diagnostics['frames_received_in_window']
        result['frames_lost_in_transport'] = (window.images
                                              - diagnostics['frames_received_in_window'])
    result['goal_met'] = bool(result.get('latency_within_inference_bounds', False)
                              and result.get('no_queue_growth', False)
                              and result['memory'][DEPTH_NODE].get('goal_met', False))
    result['goal_rule'] = ('latency_vs_inference_rule, no_queue_growth, and RSS growth over '
                           f'the window < {RSS_GROWTH_GOAL_PERCENT:g} %')
    return result


def _raw_inference_ms(model_path: str, input_size: int, frames: int) -> dict:
    """Time ``backend.infer`` in this process (before the node starts, on a quiet machine)."""
    with raw_backend(model_path, input_size) as (backend, tensor):
        backend.infer(tensor)  # warm-up
        seconds = [timed(backend.infer, tensor) for _ in range(max(1, frames))]
        return {'what': 'backend.infer on the preprocessed frame, in this process, before the '
                        'node starts', 'backend': backend.describe(),
                'network_input_hw': list(tensor.shape[2:]), 'frames': len(seconds),
                **summary_ms(seconds)}


def _latency_report(window: 'PublishWindow', arrivals: dict[int, float], raw: dict,
                    period_ms: float, after: dict) -> dict:
    """Summarise publish -> receipt latency of the frames published in the window.

    An output taken up after the input stopped (its predecessor arrived after the window)
    waited for nothing newer, so it is left out, as in bench_depth_node.
    """
    raw_ms = raw['median_ms']
    latency = WindowLatency.measure(window.published, arrivals, window.start, window.end)
    result = {
        'duration_s': round(window.end - window.start, 2),
        'frame_period_ms': round(period_ms, 2),
        'inputs_published': window.images,
        'input_rate_hz': round(window.images / max(window.end - window.start, 1e-9), 2),
        'outputs_received': len(latency.outputs),
        'outputs_taken_after_input_stopped': latency.taken_after_input_stopped,
        'model_slower_than_frame_period': bool(raw_ms > period_ms),
    }
    if len(latency.kept) < 2:
        return {**result, 'latency_max_within_bound': False,
                'latency_within_inference_bounds': False, 'why_not': 'fewer than 2 outputs'}
    latency_ms, at_s = latency.latency_ms, latency.at_s
    node_inference_ms = after.get('inference_mean_ms')
    result.update({
        'output_rate_hz': round((len(latency.kept) - 1) / max(at_s[-1] - at_s[0], 1e-9), 2),
        **latency.percentiles(),
        **latency.trend(),
        # A queue would add a processing time per queued frame: latency would climb.
        'no_queue_growth': bool(latency.growth_ms < latency.interval_ms),
        'no_queue_growth_rule': 'latency growth over the run (slope x span) < one output '
                                'interval',
        **latency_bound_report(latency_ms, raw_ms, period_ms),
        'latency_max_over_bound_ms': round(
            float(latency_ms.max()) - latency_bound_ms(raw_ms, period_ms), 2),
        **latency_against_inference(latency_ms, raw, period_ms),
    })
    if isinstance(node_inference_ms, (int, float)):
        # Under overload the node shares the cores with this process's publishing: its own
        # inference time (from /diagnostics) is the fairer "one inference".
        node_bound_ms = node_inference_ms + period_ms
        result['node_inference_mean_ms'] = node_inference_ms
        result['latency_bound_from_node_inference_ms'] = round(node_bound_ms, 2)
        result['latency_p95_within_node_inference_bound'] = bool(
            np.percentile(latency_ms, 95) <= node_bound_ms)
        result['latency_max_within_node_inference_bound'] = bool(
            latency_ms.max() <= node_bound_ms)
    return result


# Soak --------------------------------------------------------------------------------------

def soak(model_path: str, duration_s: float, warmup_s: float, input_size: int, rate_hz: float,
         odometry_rate_hz: float, sequence_frames: int, report_every_s: float) -> dict:
    """Run depth_node and triangulation_node on one stream for a long time; return their RSS."""
    sequence = render_sequence(frames=sequence_frames, width=WIDTH, height=HEIGHT, seed=0,
                               fps=rate_hz)
    motion = PingPong(sequence_frames, rate_hz)
    parameters = {'model': model_path, 'input_size': input_size, **DEPTH_NODE_PARAMETERS}
    topics = ('depth/image', 'points', 'triangulation/depth', 'triangulation/points')
    domain_id = random_domain_id()
    load_before = os.getloadavg()[0]
    with node_process(DEPTH_NODE, parameters, domain_id) as depth_node, \
            node_process(TRIANGULATION_NODE, TRIANGULATION_PARAMETERS, domain_id) as tri_node, \
            CameraStream(domain_id, [frame.rgb for frame in sequence.frames],
                         sequence.camera_info_fields(), topics, motion) as stream, \
            ProcessMonitor({DEPTH_NODE: depth_node.process.pid,
                            TRIANGULATION_NODE: tri_node.process.pid}, RSS_EVERY_S) as monitor:
        nodes = [depth_node, tri_node]
        stream.wait_connected(nodes, consumers=2)
        stream.first_output('depth/image', nodes)
        stream.publish_for(warmup_s, rate_hz, odometry_rate_hz)
        before = {name: stream.fresh_diagnostics(name) for name in STATUS_NAMES}
        window = stream.publish_for(duration_s, rate_hz, odometry_rate_hz)
        time.sleep(DRAIN_S)
        after = {name: stream.fresh_diagnostics(name) for name in STATUS_NAMES}
        for node in nodes:
            node.check_alive()
        during = {name: stream.diagnostics_at(name, window.end) for name in STATUS_NAMES}
        arrivals = {topic: stream.arrivals(topic) for topic in topics}
    received = {topic: sum(stamp in arrivals[topic] for stamp in window.published)
                for topic in topics}
    memory = {name: memory_report(monitor.samples[name], window.start, window.end,
                                  report_every_s) for name in STATUS_NAMES}
    diagnostics = {name: diagnostics_report(before[name], during[name], after[name])
                   for name in STATUS_NAMES}
    depth_diagnostics = diagnostics[DEPTH_NODE]
    dropped = depth_diagnostics.get('frames_dropped_in_window')
    result = {
        'what': f'{WIDTH}x{HEIGHT} rgb8 synthetic sequence at {rate_hz:g} Hz (played forwards '
                f'and backwards) + odometry at {odometry_rate_hz:g} Hz into depth_node and '
                'triangulation_node at once; all four outputs subscribed',
        'depth_model_input_size': input_size,
        'depth_node_parameters': {key: value for key, value in parameters.items()
                                  if key != 'model'},
        'triangulation_node_parameters': TRIANGULATION_PARAMETERS,
        'sequence_frames': sequence_frames,
        'load_average_1min_before': round(load_before, 2),
        'warmup_s': warmup_s,
        'duration_s': round(window.end - window.start, 2),
        'inputs_published': window.images,
        'odometry_published': window.odometry,
        'input_rate_hz': round(window.images / max(window.end - window.start, 1e-9), 2),
        'outputs_received': received,
        'depth_node_diagnostics': depth_diagnostics,
        'triangulation_node_diagnostics': diagnostics[TRIANGULATION_NODE],
        'memory': memory,
        'cpu': {name: monitor.cpu_cores(name, window.start, window.end)
                for name in STATUS_NAMES},
        'rss_growth_goal_percent': RSS_GROWTH_GOAL_PERCENT,
    }
    if dropped is not None and window.images:
        result['depth_node_dropped_percent'] = round(100.0 * dropped / window.images, 2)
        result['depth_node_keeps_up'] = bool(dropped <= 0.05 * window.images)
    result['goal_met'] = all(report.get('goal_met', False) for report in memory.values())
    return result


def main(argv: list[str] | None = None) -> int:
    """Parse the options, run the benchmark and print its JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--overload-s', type=float, default=OVERLOAD_S,
                        help='measured overload window (s)')
    parser.add_argument('--soak-s', type=float, default=SOAK_S, help='measured soak (s)')
    parser.add_argument('--warmup-s', type=float, default=WARMUP_S,
                        help='input before each measured window (s)')
    parser.add_argument('--only', choices=('overload', 'soak'), default=None,
                        help='run one phase only')
    parser.add_argument('--onnx', default=None,
                        help='an ONNX model for both phases instead of the built-in ones')
    parser.add_argument('--soak-model', choices=SOAK_MODELS, default='v2-vit-tiny',
                        help="depth_node's model in the soak")
    parser.add_argument('--overload-input-size', type=int, default=OVERLOAD_INPUT_SIZE)
    parser.add_argument('--soak-input-size', type=int, default=SOAK_INPUT_SIZE)
    args = parser.parse_args(argv)
    phases = (args.only,) if args.only else ('overload', 'soak')
    print(json.dumps(run(overload_s=args.overload_s, soak_s=args.soak_s,
                         warmup_s=args.warmup_s, phases=phases, onnx_path=args.onnx,
                         soak_model=args.soak_model,
                         overload_input_size=args.overload_input_size,
                         soak_input_size=args.soak_input_size), indent=2))
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
