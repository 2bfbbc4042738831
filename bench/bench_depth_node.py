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

"""Benchmark of depth_node end to end over DDS: latency against raw inference, and overload.

Run ``python bench/bench_depth_node.py`` or ``mono-depth-ros bench --only depth_node``; prints
JSON. Times are in milliseconds (key names say so).

The real depth_node runs in a process of its own (``python -m mono_depth_ros.nodes.depth_node``)
with ONNX Runtime on the CPU, a 640x480 rgb8 camera, ``scale_source`` fixed (so ``depth/image``
is published) and points on (stride 2, with colour). This process publishes the camera and
subscribes to ``depth/image``, ``points`` and ``/diagnostics``; both sides use the large-data
Fast DDS profile, loopback discovery and a random domain. The model is Depth-Anything-V2-Small's
architecture with random weights (speed does not depend on the weights), exported once to ONNX
and cached in ``~/.cache/mono_depth_ros/bench``.

- ``raw_inference``: ``backend.infer`` on the preprocessed frame in this process, same backend
  and thread settings as the node (ONNX Runtime's default intra-op threads: one per core).
- ``end_to_end``: one frame at a time, the wall time from publishing the image to receiving both
  ``depth/image`` and ``points`` with its stamp. Raw and end-to-end frames alternate (with a
  short pause, so neither side's spinning ONNX Runtime threads slow the other) while the node is
  up, so a busy machine affects both alike. Goal: median end to end / median raw inference
  <= 1.10.
- ``overload``: images at 30 Hz while one frame takes longer than the 33 ms period. The node
  keeps only the newest frame, so each output should be at most one inference plus one frame
  period old (goal: max latency <= 1.10 x raw inference + frame period), and the latency should
  not grow over time (no queue): the slope of latency against time, and each picked frame's age
  (previous output's arrival - its publish time), which a queue would push past a whole
  processing time. ``frames_dropped`` comes from the node's /diagnostics.
- ``cpu``: cores used per phase by the machine, by this benchmark (both processes) and by other
  processes, from /proc: on a shared machine, other work slows inference and transport alike.
"""

import argparse
import json
import os
import pathlib
import time

from diagnostic_msgs.msg import DiagnosticArray
import numpy as np
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image, PointCloud2
from std_msgs.msg import Header

from benchmark_latency import (goal_met, latency_against_inference, latency_bound_report,
                               RATIO_GOAL, summary_ms, timed, WindowLatency)
from benchmark_meters import CpuMeter
from benchmark_model import (bench_model_path, FRAME_HEIGHT as HEIGHT, FRAME_WIDTH as WIDTH,
                             raw_backend, textured_rgb, V2_SMALL_DESCRIPTION)
from benchmark_support import (DEPTH_NODE_PARAMETERS, diagnostic_values, node_process,
                               NodeProcess, OutputLog, random_domain_id,
                               use_loopback_large_data_dds, wait_until_connected)
from mono_depth_ros.core.camera_model import CameraModel
from mono_depth_ros.core.image_codec import numpy_to_image
from mono_depth_ros.ros.graph import BackgroundCamera
from mono_depth_ros.ros.messages import camera_info_message, image_message

DEFAULT_INPUT_SIZE = 308
OVERLOAD_RATE_HZ = 30.0
STATUS_NAME = 'depth_node: depth'
OUTPUT_TOPICS = ('depth/image', 'points')
DIAGNOSTIC_KEYS = ('frames_received', 'frames_dropped', 'rate_in_hz', 'rate_out_hz',
                   'latency_mean_ms', 'latency_p95_ms', 'inference_mean_ms', 'backend')
# ONNX Runtime's idle threads spin ~40 ms after a run: let them stop before the other side runs.
SETTLE_S = 0.1
START_TIMEOUT_S = 120.0
FRAME_TIMEOUT_S = 30.0


def run(frames: int = 30, overload_s: float = 15.0, input_size: int = DEFAULT_INPUT_SIZE,
        onnx_path: str | None = None, warmup: int = 3, block: int = 1,
        rate_hz: float = OVERLOAD_RATE_HZ) -> dict:
    """Measure raw inference, sequential end-to-end latency and overload; return the results.

    ``frames`` is the count of measured frames for raw and for end-to-end timing each; they
    alternate in runs of ``block`` frames. ``onnx_path`` replaces the V2-Small model (tests use
    a tiny one).
    """
    use_loopback_large_data_dds()
    load_before = os.getloadavg()[0]
    model_path, model_name = ((str(onnx_path), pathlib.Path(onnx_path).name) if onnx_path
                              else (str(bench_model_path()), V2_SMALL_DESCRIPTION))
    rgb = textured_rgb()
    domain_id = random_domain_id()
    parameters = {'model': model_path, 'input_size': input_size, **DEPTH_NODE_PARAMETERS}
    with raw_backend(model_path, input_size) as (backend, tensor), \
            node_process('depth_node', parameters, domain_id) as node, \
            _CameraLoop(domain_id, rgb) as camera:
        camera.wait_connected(node)
        for index in range(warmup):
            if camera.sequential_frame(timeout_s=FRAME_TIMEOUT_S * 2) is None and index == 0:
                raise RuntimeError('depth_node sent no depth/image and points for the first '
                                   f'frame within {FRAME_TIMEOUT_S * 2:.0f} s\n{node.log_tail()}')
        backend.infer(tensor)  # warm-up
        raw_s, end_to_end_s, lost = [], [], 0
        cpu = CpuMeter(node.process.pid)
        sequential_start = cpu.start()
        for first in range(0, frames, block):
            count = min(block, frames - first)
            raw_s += [timed(backend.infer, tensor) for _ in range(count)]
            time.sleep(SETTLE_S)
            for _ in range(count):
                latency = camera.sequential_frame(timeout_s=FRAME_TIMEOUT_S)
                lost += latency is None
                if latency is not None:
                    end_to_end_s.append(latency)
            time.sleep(SETTLE_S)
            cpu.track()
        sequential_cpu = cpu.usage(sequential_start)
        diagnostics_sequential = camera.fresh_diagnostics()
        overload_start = cpu.start()
        overload = camera.overload(overload_s, rate_hz, cpu.track)
        overload_cpu = cpu.usage(overload_start)
        diagnostics_overload = camera.fresh_diagnostics()
        outputs = camera.output_shapes
        backend_name = backend.describe()
    raw = summary_ms(raw_s)
    end_to_end = summary_ms(end_to_end_s)
    ratio = end_to_end['median_ms'] / raw['median_ms'] if end_to_end_s else None
    return {
        'model': model_name,
        'model_path': model_path,
        'input_size': input_size,
        'network_input_hw': list(tensor.shape[2:]),
        'image': {'width': WIDTH, 'height': HEIGHT, 'encoding': 'rgb8'},
        'outputs': outputs,
        'node_parameters': {key: value for key, value in parameters.items() if key != 'model'},
        'backend': backend_name,
        'onnxruntime_intra_op_threads': 'default in both processes (one per physical core); '
                                        'depth_node has no thread-count parameter',
        'cpu_count': os.cpu_count(),
        'load_average_1min_before': round(load_before, 2),
        'raw_inference': {'what': 'backend.infer on the preprocessed frame, in this process',
                          'frames': len(raw_s), **raw},
        'end_to_end': {
            'what': 'publish image -> depth/image and points both received, one frame at a '
                    'time (adds transport both ways, decode, pre/postprocessing, the cloud)',
            'frames': len(end_to_end_s), 'frames_lost': lost,
            'alternating_with_raw_every_frames': block, **end_to_end,
            'overhead_ms': (round(end_to_end['median_ms'] - raw['median_ms'], 2)
                            if ratio is not None else None),
            'ratio_to_raw_inference': round(ratio, 3) if ratio is not None else None,
            'ratio_goal': RATIO_GOAL,
            'goal_met': goal_met(ratio),
            'node_diagnostics': diagnostics_sequential,
            'cpu': sequential_cpu,
        },
        'overload': {**_overload_report(overload, raw, end_to_end['median_ms'],
                                        rate_hz, diagnostics_sequential, diagnostics_overload),
                     'cpu': overload_cpu},
    }


# The camera and the receiver -----------------------------------------------------------------

class _CameraLoop(BackgroundCamera):
    """Publishes the camera and records when each stamp's depth and points arrive."""

    node_name = 'bench_camera'

    def __init__(self, domain_id: int, rgb: np.ndarray) -> None:
        super().__init__(domain_id)
        self._rgb = rgb
        self._log = OutputLog(OUTPUT_TOPICS)
        self._next_stamp_ns = 1_700_000_000_000_000_000
        self.output_shapes: dict[str, str] = {}

    def _add_endpoints(self, node) -> None:
        self._subscriptions = [
            node.create_subscription(Image, 'depth/image', self._on_depth,
                                     qos_profile_sensor_data),
            node.create_subscription(PointCloud2, 'points', self._on_points,
                                     qos_profile_sensor_data)]
        node.create_subscription(DiagnosticArray, '/diagnostics', self._log.record_diagnostics,
                                 10)
        camera = CameraModel.from_intrinsics(fx=525.0, fy=525.0, cx=319.5, cy=239.5,
                                             width=WIDTH, height=HEIGHT)
        self._image = image_message(numpy_to_image(self._rgb, 'rgb8'), Header())
        self._info = camera_info_message(camera.to_camera_info_fields(), Header())

    # Callbacks (executor threads) ----------------------------------------------------------
    def _record(self, topic: str, message, shape: str) -> None:
        with self._log.condition:
            self.output_shapes.setdefault(topic, shape)
            self._log.record(topic, message)

    def _on_depth(self, message) -> None:
        self._record('depth/image', message,
                     f'{message.width}x{message.height} {message.encoding}')

    def _on_points(self, message) -> None:
        fields = ','.join(field.name for field in message.fields)
        self._record('points', message, f'{message.width}x{message.height} organized, '
                                        f'{message.point_step} B/point ({fields})')

    # Publishing ----------------------------------------------------------------------------
    def _publish(self) -> tuple[int, float]:
        """Publish CameraInfo and the image with a new stamp; return (stamp, publish time)."""
        return self.publish_frame(self._image, self._info)

    def _complete_at(self, stamp_ns: int) -> float | None:
        """Return when both outputs of a stamp had arrived, or None (caller holds the lock)."""
        times = [received.get(stamp_ns) for received in self._log.arrivals.values()]
        return None if None in times else max(times)

    def wait_connected(self, node: NodeProcess, timeout_s: float = START_TIMEOUT_S) -> None:
        """Wait until depth_node subscribes to the camera and publishes both outputs."""
        wait_until_connected(lambda: bool(self._image_publisher.get_subscription_count()
                                          and self._info_publisher.get_subscription_count()
                                          and self._outputs_connected()),
                             [node], timeout_s, who='depth_node')

    def sequential_frame(self, timeout_s: float) -> float | None:
        """Publish one frame and return seconds until both outputs arrived (None: lost)."""
        stamp_ns, published = self._publish()
        with self._log.condition:
            done = self._log.condition.wait_for(
                lambda: self._complete_at(stamp_ns) is not None, timeout_s)
            return self._complete_at(stamp_ns) - published if done else None

    def overload(self, duration_s: float, rate_hz: float, on_frame=lambda: None) -> dict:
        """Publish at ``rate_hz`` for ``duration_s``; return publish and completion times."""
        period = 1.0 / rate_hz
        published = {}
        start = time.perf_counter()
        for index in range(max(1, round(duration_s * rate_hz))):
            delay = start + index * period - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            stamp_ns, at = self._publish()
            published[stamp_ns] = at
            on_frame()
        end = time.perf_counter()
        time.sleep(1.5)  # let the frame in progress come out
        with self._log.condition:
            completed = {stamp: self._complete_at(stamp) for stamp in published}
            counts = {topic: sum(stamp in received for stamp in published)
                      for topic, received in self._log.arrivals.items()}
        return {'start': start, 'end': end, 'published': published,
                'completed': {stamp: at for stamp, at in completed.items() if at is not None},
                'counts': counts}

    def fresh_diagnostics(self, timeout_s: float = 5.0) -> dict:
        """Return the node's next /diagnostics values (published once a second)."""
        return diagnostic_values(self._log.fresh_diagnostics(STATUS_NAME, timeout_s),
                                 DIAGNOSTIC_KEYS)


def _overload_report(overload: dict, raw: dict, sequential_ms: float | None, rate_hz: float,
                     before: dict, after: dict) -> dict:
    """Summarise the overload run: counts, latency, its trend, and the age of picked frames."""
    raw_ms = raw['median_ms']
    period_ms = 1e3 / rate_hz
    published, completed = overload['published'], overload['completed']
    # Outputs taken up after the input stopped are old by then (nothing newer came): not counted.
    latency = WindowLatency.measure(published, completed, overload['start'], overload['end'])
    stamps, at_s = latency.kept, latency.at_s
    duration_s = overload['end'] - overload['start']
    result = {
        'what': f'images at {rate_hz:g} Hz; latency = publish -> depth/image and points '
                'both received, per output',
        'duration_s': round(duration_s, 2),
        'frame_period_ms': round(period_ms, 2),
        'model_slower_than_frame_period': bool(raw_ms > period_ms),
        'inputs_published': len(published),
        'input_rate_hz': round(len(published) / max(duration_s, 1e-9), 2),
        'outputs_complete': len(latency.outputs),
        'outputs_depth_image': overload['counts']['depth/image'],
        'outputs_points': overload['counts']['points'],
        'outputs_taken_after_input_stopped': latency.taken_after_input_stopped,
        'output_rate_hz': (round((len(stamps) - 1) / (at_s[-1] - at_s[0]), 2)
                           if len(stamps) > 1 else 0.0),
    }
    if before and after and 'frames_dropped' in after:
        received = after['frames_received'] - before.get('frames_received', 0)
        result['node_diagnostics'] = {
            **after,
            'frames_received_during_overload': received,
            'frames_dropped_during_overload': (after['frames_dropped']
                                               - before.get('frames_dropped', 0)),
            'frames_lost_in_transport': len(published) - received,
        }
    if len(stamps) < 3:
        return {**result, 'goal_met': False, 'why_not': 'fewer than 3 outputs'}
    # The node takes the newest frame when it finishes one, so a frame's age when it is taken
    # (at most: previous output's arrival - this frame's publish) stays near one frame period
    # (plus transport); a queued frame would have waited a whole processing time or more, and
    # every queued frame adds a processing time to the latency.
    age_at_pickup_ms = 1e3 * np.maximum(0.0, [completed[previous] - published[current]
                                              for previous, current in zip(stamps, stamps[1:])])
    interval_ms = latency.interval_ms
    half = len(stamps) // 2
    no_queue = bool(latency.growth_ms < interval_ms
                    and age_at_pickup_ms.max() < max(period_ms, interval_ms / 2))
    latency_ms = latency.latency_ms
    result.update({
        **latency.percentiles(),
        'latency_first_half_median_ms': round(float(np.median(latency_ms[:half])), 2),
        'latency_second_half_median_ms': round(float(np.median(latency_ms[half:])), 2),
        **latency.trend(),
        'frame_age_at_pickup_median_ms': round(float(np.median(age_at_pickup_ms)), 2),
        'frame_age_at_pickup_p95_ms': round(float(np.percentile(age_at_pickup_ms, 95)), 2),
        'frame_age_at_pickup_max_ms': round(float(age_at_pickup_ms.max()), 2),
        'no_queue_growth': no_queue,
        'no_queue_growth_rule': ('latency growth over the run (slope x span) < one output '
                                 'interval, and frame age at pickup max < max(frame period, '
                                 'half an output interval)'),
        **latency_bound_report(latency_ms, raw_ms, period_ms),
        'sequential_end_to_end_plus_period_ms': (round(sequential_ms + period_ms, 2)
                                                 if sequential_ms is not None else None),
        **latency_against_inference(latency_ms, raw, period_ms),
    })
    result['goal_met'] = bool(result['latency_within_inference_bounds'] and no_queue)
    result['goal_rule'] = 'latency_vs_inference_rule, and no_queue_growth'
    return result


def main(argv: list[str] | None = None) -> int:
    """Parse the options, run the benchmark and print its JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--frames', type=int, default=30)
    parser.add_argument('--overload-s', type=float, default=15.0)
    parser.add_argument('--input-size', type=int, default=DEFAULT_INPUT_SIZE)
    parser.add_argument('--onnx', default=None, help='an ONNX model instead of V2-Small')
    args = parser.parse_args(argv)
    print(json.dumps(run(frames=args.frames, overload_s=args.overload_s,
                         input_size=args.input_size, onnx_path=args.onnx), indent=2))
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
