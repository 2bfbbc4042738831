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
in ``bench_depth_node.py`` (``benchmark_support`` has their model, raw-inference timing,
node processes and meters).

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
import functools
import json
import math
import os
import pathlib
import time
from typing import Callable

from diagnostic_msgs.msg import DiagnosticArray
from nav_msgs.msg import Odometry
import numpy as np
from rclpy.qos import qos_profile_sensor_data, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image, PointCloud2
from std_msgs.msg import Header

from benchmark_support import (bench_model_path, CpuMeter, DEPTH_NODE_PARAMETERS,
                               diagnostic_values, latency_against_inference,
                               latency_bound_ms, latency_bound_report, node_logs,
                               node_process, OutputLog, ProcessMonitor, random_domain_id,
                               raw_backend, summary_ms, textured_rgb, timed,
                               use_loopback_large_data_dds, V2_SMALL_DESCRIPTION,
                               wait_until_connected, WindowLatency)
from mono_depth_ros.core.camera_model import CameraModel
from mono_depth_ros.core.image_codec import numpy_to_image
from mono_depth_ros.core.transforms import matrix_to_quaternion
from mono_depth_ros.ros.graph import BackgroundCamera
from mono_depth_ros.ros.messages import camera_info_message, image_message, ns_to_stamp
from mono_depth_ros.synth import FRAME_IDS, render_sequence
from mono_depth_ros.synth.scene import base_pose_at, base_twist_at

OVERLOAD_S = 60.0
SOAK_S = 600.0
WARMUP_S = 10.0
OVERLOAD_RATE_HZ = 60.0
SOAK_RATE_HZ = 15.0
ODOMETRY_RATE_HZ = 30.0
OVERLOAD_INPUT_SIZE = 308
SOAK_INPUT_SIZE = 140
SOAK_MODELS = ('v2-vit-tiny', 'v2-small')
# Depth Anything V2's layout with a ViT-Tiny-sized encoder: benchmark_support's V2-Small maker
# with these sizes in place of V2-Small's.
VIT_TINY_SIZES = {'hidden_size': 192, 'num_hidden_layers': 12, 'num_attention_heads': 3,
                  'neck_hidden_sizes': [24, 48, 96, 192], 'fusion_hidden_size': 32,
                  'head_hidden_size': 16}
VIT_TINY_MODEL = 'depth_anything_v2_vit_tiny_random_seed0.onnx'
SEQUENCE_FRAMES = 90  # 6 s of motion at 15 Hz, played forwards then backwards
RAW_FRAMES = 5
RSS_EVERY_S = 1.0
REPORT_EVERY_S = 10.0
RSS_GROWTH_GOAL_PERCENT = 5.0
WIDTH, HEIGHT = 640, 480
STAMP_ORIGIN_NS = 1_700_000_000_000_000_000
START_TIMEOUT_S = 120.0
DRAIN_S = 1.5
DEPTH_NODE = 'depth_node'
TRIANGULATION_NODE = 'triangulation_node'
STATUS_NAMES = {DEPTH_NODE: 'depth_node: depth',
                TRIANGULATION_NODE: 'triangulation_node: triangulation'}
DIAGNOSTIC_KEYS = {
    DEPTH_NODE: ('frames_received', 'frames_dropped', 'rate_in_hz', 'rate_out_hz',
                 'latency_mean_ms', 'latency_p95_ms', 'inference_mean_ms', 'frames_failed',
                 'backend'),
    TRIANGULATION_NODE: ('frames_received', 'frames_dropped', 'rate_in_hz', 'rate_out_hz',
                         'latency_mean_ms', 'latency_p95_ms', 'frame_ms', 'tracks', 'points',
                         'frames_resets', 'frames_no_pose', 'frames_failed'),
}
COUNTERS = ('frames_received', 'frames_dropped', 'frames_resets', 'frames_no_pose',
            'frames_failed')
TRIANGULATION_PARAMETERS = {'qos': 'sensor_data'}
# Odometry usually comes reliable; triangulation_node's best-effort subscription takes either.
ODOMETRY_QOS = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)


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
            _Stream(domain_id, [rgb], info, ('depth/image',)) as stream, \
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
        'node_diagnostics': _diagnostics_report(
            before, stream.diagnostics_at(DEPTH_NODE, window.end), after),
        'memory': {DEPTH_NODE: _memory_report(monitor.samples[DEPTH_NODE], window.start,
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


def _latency_report(window: '_Window', arrivals: dict[int, float], raw: dict,
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
    motion = _PingPong(sequence_frames, rate_hz)
    parameters = {'model': model_path, 'input_size': input_size, **DEPTH_NODE_PARAMETERS}
    topics = ('depth/image', 'points', 'triangulation/depth', 'triangulation/points')
    domain_id = random_domain_id()
    load_before = os.getloadavg()[0]
    with node_process(DEPTH_NODE, parameters, domain_id) as depth_node, \
            node_process(TRIANGULATION_NODE, TRIANGULATION_PARAMETERS, domain_id) as tri_node, \
            _Stream(domain_id, [frame.rgb for frame in sequence.frames],
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
    memory = {name: _memory_report(monitor.samples[name], window.start, window.end,
                                   report_every_s) for name in STATUS_NAMES}
    diagnostics = {name: _diagnostics_report(before[name], during[name], after[name])
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


class _PingPong:
    """Plays a rendered sequence forwards then backwards, so poses and images stay continuous."""

    def __init__(self, frames: int, fps: float) -> None:
        self.frames = frames
        self.fps = fps
        self.span_s = (frames - 1) / fps

    def sequence_time(self, stream_s: float) -> tuple[float, float]:
        """Return (time in the rendered sequence, +1 forwards or -1 backwards)."""
        if self.span_s <= 0:
            return 0.0, 1.0
        phase = math.fmod(stream_s, 2.0 * self.span_s)
        return (phase, 1.0) if phase <= self.span_s else (2.0 * self.span_s - phase, -1.0)

    def frame_index(self, stream_s: float) -> int:
        """Return the rendered frame shown at a stream time."""
        return min(self.frames - 1, round(self.sequence_time(stream_s)[0] * self.fps))

    def odometry(self, stream_s: float, stamp_ns: int) -> Odometry:
        """Return the base's odometry at a stream time (the twist flips when playing back)."""
        seconds, direction = self.sequence_time(stream_s)
        pose = base_pose_at(seconds)
        linear, angular = (direction * np.asarray(part) for part in base_twist_at(seconds))
        message = Odometry()
        message.header.stamp = ns_to_stamp(stamp_ns)
        message.header.frame_id = FRAME_IDS['odom']
        message.child_frame_id = FRAME_IDS['base']
        position, orientation = message.pose.pose.position, message.pose.pose.orientation
        position.x, position.y, position.z = (float(value) for value in pose[:3, 3])
        (orientation.x, orientation.y, orientation.z,
         orientation.w) = (float(value) for value in matrix_to_quaternion(pose[:3, :3]))
        twist = message.twist.twist
        twist.linear.x, twist.linear.y, twist.linear.z = (float(value) for value in linear)
        twist.angular.x, twist.angular.y, twist.angular.z = (float(value) for value in angular)
        return message


def _memory_report(samples: list[tuple[float, float]], start: float, end: float,
                   report_every_s: float) -> dict:
    """Summarise RSS samples (perf_counter s, MB) taken between start and end."""
    slack = 0.5 * RSS_EVERY_S  # the samples nearest the window's ends
    inside = [(at, mb) for at, mb in samples if start - slack <= at <= end + slack]
    if len(inside) < 2:
        return {'samples': len(inside), 'goal_met': False, 'why_not': 'fewer than 2 samples'}
    at_s = np.array([at - start for at, _ in inside])
    rss_mb = np.array([mb for _, mb in inside])
    growth = 100.0 * (rss_mb[-1] - rss_mb[0]) / rss_mb[0]
    slope = float(np.polyfit(at_s / 60.0, rss_mb, 1)[0])
    reported, next_at = [], 0.0
    for seconds, mb in zip(at_s, rss_mb):
        if seconds >= next_at - 0.5 * RSS_EVERY_S:
            reported.append([round(float(seconds), 1), round(float(mb), 2)])
            next_at += report_every_s
    return {
        'samples': len(inside),
        'rss_start_mb': round(float(rss_mb[0]), 2),
        'rss_end_mb': round(float(rss_mb[-1]), 2),
        'rss_min_mb': round(float(rss_mb.min()), 2),
        'rss_max_mb': round(float(rss_mb.max()), 2),
        'rss_growth_percent': round(float(growth), 3),
        'rss_slope_mb_per_min': round(slope, 4),
        'rss_fit_growth_percent': round(100.0 * slope * float(at_s[-1]) / 60.0
                                        / float(rss_mb[0]), 3),
        # A leak keeps growing; an allocator settling in grows early and then stays flat.
        'rss_growth_second_half_percent': round(
            100.0 * float(rss_mb[-1] - rss_mb[len(rss_mb) // 2]) / float(rss_mb[0]), 3),
        f'rss_every_{report_every_s:g}_s_mb': reported,
        'goal_percent': RSS_GROWTH_GOAL_PERCENT,
        'goal_met': bool(growth < RSS_GROWTH_GOAL_PERCENT),
    }


def _diagnostics_report(before: dict, during: dict, after: dict) -> dict:
    """Return a node's /diagnostics over a window.

    Rates and latencies come from its last message in the window (``during``; the rates decay
    once the input stops), counters from the first message after the window, with each
    counter's change since ``before``.
    """
    result = {key: value for key, value in (during or after).items() if key not in COUNTERS}
    result.update({key: after[key] for key in COUNTERS if key in after})
    for key in COUNTERS:
        if isinstance(after.get(key), int) and isinstance(before.get(key), int):
            result[f'{key}_in_window'] = after[key] - before[key]
    return result


# The camera, the odometry and the receiver -------------------------------------------------

class _Window:
    """What one publishing run sent: its wall span, image stamps and publish times."""

    def __init__(self) -> None:
        self.start = self.end = 0.0
        self.published: dict[int, float] = {}
        self.images = 0
        self.odometry = 0


class _Stream(BackgroundCamera):
    """Publishes the camera (and odometry) and records when each stamp's outputs arrive."""

    node_name = 'bench_robustness_camera'

    def __init__(self, domain_id: int, frames: list[np.ndarray], camera_info_fields: dict,
                 topics: tuple[str, ...], motion: _PingPong | None = None) -> None:
        super().__init__(domain_id)
        self._frames = frames
        self._info_fields = camera_info_fields
        self._topics = topics
        self._motion = motion
        self._log = OutputLog(topics)
        self._stream_s = 0.0  # stream time already published: stamps continue across runs

    def _add_endpoints(self, node) -> None:
        self._odometry_publisher = (node.create_publisher(Odometry, 'odom', ODOMETRY_QOS)
                                    if self._motion is not None else None)
        self._subscriptions = [
            node.create_subscription(
                PointCloud2 if topic.endswith('points') else Image, topic,
                functools.partial(self._log.record, topic), qos_profile_sensor_data)
            for topic in self._topics]
        node.create_subscription(DiagnosticArray, '/diagnostics', self._log.record_diagnostics,
                                 10)
        header = Header(frame_id=FRAME_IDS['camera'])
        self._images = [image_message(numpy_to_image(rgb, 'rgb8'), header)
                        for rgb in self._frames]
        self._info = camera_info_message(self._info_fields, header)

    def arrivals(self, topic: str) -> dict[int, float]:
        """Return {stamp ns: first arrival time} of an output topic so far."""
        with self._log.condition:
            return dict(self._log.arrivals[topic])

    def wait_connected(self, nodes: list, consumers: int,
                       timeout_s: float = START_TIMEOUT_S) -> None:
        """Wait until the nodes subscribe to the inputs and publish every subscribed output."""
        publishers = [self._image_publisher, self._info_publisher]
        wait_until_connected(
            lambda: bool(all(p.get_subscription_count() >= consumers for p in publishers)
                         and (self._odometry_publisher is None
                              or self._odometry_publisher.get_subscription_count())
                         and self._outputs_connected()),
            nodes, timeout_s, who='the nodes')

    def first_output(self, topic: str, nodes: list,
                     timeout_s: float = START_TIMEOUT_S) -> None:
        """Publish a frame every half second until ``topic`` answers (the model is loaded)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for node in nodes:
                node.check_alive()
            self.publish_for(0.5, 2.0, 10.0 if self._motion is not None else None)
            with self._log.condition:
                if self._log.condition.wait_for(lambda: self._log.arrivals[topic], 1.0):
                    return
        raise RuntimeError(f'no {topic} within {timeout_s:.0f} s\n{node_logs(nodes)}')

    def publish_for(self, duration_s: float, rate_hz: float,
                    odometry_rate_hz: float | None = None,
                    on_tick: Callable[[], None] = lambda: None) -> _Window:
        """Publish images at ``rate_hz`` (and odometry) for ``duration_s``; return the window.

        Stamps are stream time (image i at i / rate_hz); odometry for a stamp goes out just
        before the image with the same stamp, so the pose is there when the image is.
        """
        window = _Window()
        images = max(1, round(duration_s * rate_hz))
        span_s = images / rate_hz
        events = [(index / rate_hz, 1, index) for index in range(images)]
        if odometry_rate_hz and self._odometry_publisher is not None:
            events += [(index / odometry_rate_hz, 0, index)
                       for index in range(math.ceil(span_s * odometry_rate_hz))]
        events.sort()
        window.start = time.perf_counter()
        for at_s, is_image, _ in events:
            delay = window.start + at_s - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            stream_s = self._stream_s + at_s
            stamp_ns = STAMP_ORIGIN_NS + round(stream_s * 1e9)
            if is_image:
                window.published[stamp_ns] = self._publish_image(stream_s, stamp_ns)
                window.images += 1
            else:
                self._odometry_publisher.publish(self._motion.odometry(stream_s, stamp_ns))
                window.odometry += 1
            on_tick()
        window.end = time.perf_counter()
        self._stream_s += span_s
        return window

    def _publish_image(self, stream_s: float, stamp_ns: int) -> float:
        """Publish CameraInfo and the frame for a stream time; return the publish time."""
        index = self._motion.frame_index(stream_s) if self._motion is not None else 0
        image = self._images[index % len(self._images)]
        stamp = ns_to_stamp(stamp_ns)
        self._info.header.stamp = stamp
        image.header.stamp = stamp
        self._info_publisher.publish(self._info)
        published = time.perf_counter()
        self._image_publisher.publish(image)
        return published

    def fresh_diagnostics(self, node_name: str, timeout_s: float = 5.0) -> dict:
        """Return a node's next /diagnostics values (published once a second)."""
        return diagnostic_values(
            self._log.fresh_diagnostics(STATUS_NAMES[node_name], timeout_s),
            DIAGNOSTIC_KEYS[node_name])

    def diagnostics_at(self, node_name: str, at: float) -> dict:
        """Return a node's last /diagnostics values received by ``at`` (perf_counter s)."""
        return diagnostic_values(self._log.diagnostics_at(STATUS_NAMES[node_name], at),
                                 DIAGNOSTIC_KEYS[node_name])


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
