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

"""Benchmark of depth_node's own cost per frame: everything but the network, over DDS.

Run ``python bench/bench_node_overhead.py`` or ``mono-depth-ros bench --only node_overhead``;
prints JSON. Times are in milliseconds (key names say so).

The real depth_node runs in a process of its own with ONNX Runtime on the CPU and a near-free
model (``benchmark_model.near_free_onnx``: a real ONNX graph of three cheap ops mapping
[1, 3, h, w] to [1, h, w]), ``input_size`` 518, ``scale_source`` fixed, every output on. This
process publishes an rgb8 camera and subscribes to ``depth/image``, ``depth/camera_info``,
``points``, ``depth/colored`` and ``/diagnostics`` (large-data Fast DDS profile, loopback, a
random domain).

- ``configurations``: at 640x480 and 1280x720, ``points_stride`` 1 and 2, colour on
  (``points_color`` and ``publish_colored``) and off, set through the node's parameter
  service. One frame at a time: ``end_to_end`` is publish image -> every output received;
  ``overhead_ms`` = its median - the node's mean inference time (``stage_inference_mean_ms``
  of /diagnostics, the backend's own ``infer``). ``node_stages_ms``: the node's mean per
  stage (decode, preprocess, inference, postprocess, depth_image, cloud, colorize,
  message_build, publish) over the measured frames (the node's stage window is
  ``STAGE_WINDOW`` frames, the count measured). ``published_bytes_per_frame``, and
  ``plain_copy_ms``: one memcpy of those bytes in this process; ``overhead_to_copy_ratio``.
  ``node_stages_total_ms``: the sum of the node's stage means (its work from the worker
  taking the frame to the last output handed to DDS); ``transport_ms`` = end_to_end median
  - that: the image's way in, the wait for the worker, the outputs' way out to this side.
  ``node_cpu_ms_per_frame``: the node process's CPU time (all its threads, inference
  included) per measured frame, from /proc: less sensitive to other processes than wall
  times. ``subscriber_decode_ms``: for the record, this side's cost to turn each output into
  arrays (rclpy's deserialisation, then ``image_to_numpy``, ``read_cloud``), timed after each
  frame's outputs all arrived: this side subscribes raw (an arrival is when DDS hands it the
  serialized message), on a single-threaded executor, and its callbacks only note the stamp.
  Goals: overhead <= 5 ms at 640x480, stride
  1, colour on; <= 3 ms at stride 2, colour off.
- ``throughput``: 640x480, stride 1, colour on, images at 30 Hz and 60 Hz: frames published,
  received and dropped by the node (its /diagnostics), outputs received, per-stage times under
  that load. Goal: no frame dropped at 30 and 60 Hz.
- ``rclpy_floor``: bench/output_floor_node.py, which takes the same image and publishes the same
  bytes without computing anything, per configuration (the best of ``FLOOR_ROUNDS`` rounds);
  each configuration gets ``rclpy_floor_ms`` and ``own_work_ms`` = overhead_ms - that.
- ``output_device_cuda``: 640x480, stride 1, every output, with ``output_device`` cuda (the
  edge filter, cloud and colorized view on the GPU), where torch sees a CUDA device.
- ``real_model``: the same one-frame-at-a-time measure at 640x480, stride 1, colour on, with
  the Depth-Anything-V2-Small-architecture ONNX (random weights) bench_depth_node uses, so
  the near-free figure is not the only one (``input_size`` 308 as there).
- ``process_bag``: ``OfflineProcessor`` (what ``process-bag`` runs) per frame at 640x480 with
  the near-free model, stride 1 and 2, colour on and off: the processor's time per frame
  (wall, and CPU time of this process: all its threads, inference included), the pipeline's
  stages, and CDR serialisation of the outputs as the output bag does.
- ``cpu``: cores used by the machine, by this benchmark and by other processes while it ran:
  on a shared machine every figure is inflated by the others' load.
"""

import argparse
import json
import os
import pathlib
import tempfile
import time

import cv2
from diagnostic_msgs.msg import DiagnosticArray
import numpy as np
from rcl_interfaces.srv import SetParameters
from rclpy.parameter import Parameter
from rclpy.qos import qos_profile_sensor_data
from rclpy.serialization import deserialize_message
from sensor_msgs.msg import CameraInfo, Image, PointCloud2
from std_msgs.msg import Header

from benchmark_latency import summary_ms
from benchmark_meters import CpuMeter, read_proc
from benchmark_model import (bench_model_path, NEAR_FREE_DESCRIPTION, near_free_onnx,
                             textured_rgb, V2_SMALL_DESCRIPTION)
from benchmark_support import (cdr_stamp_ns, DEPTH_NODE_PARAMETERS, diagnostic_values,
                               node_process, NodeProcess, OutputLog, random_domain_id,
                               use_loopback_large_data_dds, wait_until_connected)
from mono_depth_ros.core.camera_model import CameraModel
from mono_depth_ros.core.image_codec import image_to_numpy, numpy_to_image
from mono_depth_ros.core.pointcloud import read_cloud
from mono_depth_ros.pipeline.depth_pipeline import (DepthPipeline, DepthSettings,
                                                    retain_freed_memory)
from mono_depth_ros.ros import frame_loop
from mono_depth_ros.ros.graph import BackgroundCamera
from mono_depth_ros.ros.messages import camera_info_message, image_message

STATUS_NAME = 'depth_node: depth'
# The node's stage window (30 in a checkout from before stage times, to compare with it).
STAGE_WINDOW = getattr(frame_loop, 'STAGE_WINDOW', 30)
TOPICS = ('depth/image', 'depth/camera_info', 'points', 'depth/colored')
SIZES = ((640, 480), (1280, 720))
STRIDES = (1, 2)
RATES_HZ = (30.0, 60.0)
STAGES = ('decode', 'preprocess', 'inference', 'postprocess', 'depth_image', 'cloud',
          'colorize', 'message_build', 'publish')
GOALS_MS = {'640x480_stride1_colour_on': 5.0, '640x480_stride2_colour_off': 3.0}
NEAR_FREE_INPUT_SIZE = 518
REAL_MODEL_INPUT_SIZE = 308
START_TIMEOUT_S = 120.0
FRAME_TIMEOUT_S = 30.0
SETTLE_S = 0.05
SETTLE_START_S = 6.0
FLOOR_ROUNDS = 2
FLOOR_NODE = pathlib.Path(__file__).resolve().with_name('output_floor_node.py')


def run(frames: int = STAGE_WINDOW, warmup: int = 5, load_s: float = 8.0,
        real_model: bool = True, bag_frames: int = 30, sizes=SIZES, strides=STRIDES,
        rates_hz=RATES_HZ, settle_s: float = SETTLE_START_S) -> dict:
    """Measure the node's overhead per configuration, its throughput, a real model, process-bag.

    ``frames`` per configuration should be at least ``STAGE_WINDOW`` (the node's per-stage
    means then cover only the measured frames). Tests pass smaller counts and fewer sizes
    (width, height), strides and rates; throughput and process-bag use the first size.
    ``settle_s``: seconds of frames at the first configuration before any is measured.
    """
    use_loopback_large_data_dds()
    # This process receives every output (~7 MB a frame at 640x480): without this, glibc gives
    # the freed receive buffers back to the kernel and page-faults them in for the next frame,
    # ~10-20 ms per frame on this machine, counted in end_to_end (a subscriber's cost, not the
    # node's). The node does the same (DepthPipeline).
    retain_freed_memory()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix='bench_node_overhead_') as scratch:
        model = str(near_free_onnx(scratch))
        domain_id = random_domain_id()
        result = {'model': NEAR_FREE_DESCRIPTION, 'input_size': NEAR_FREE_INPUT_SIZE,
                  'cpu_count': os.cpu_count(),
                  'load_average_1min_before': round(load_before, 2),
                  'stage_window_frames': STAGE_WINDOW,
                  'note': 'wall times on a shared machine: inflated by the other processes '
                          '(see cpu); the goals are for a quiet 2-core machine'}
        parameters = {**DEPTH_NODE_PARAMETERS, 'model': model,
                      'input_size': NEAR_FREE_INPUT_SIZE}
        with node_process('depth_node', parameters, domain_id) as node, \
                _Camera(domain_id) as camera:
            camera.wait_connected(node)
            _settle(camera, sizes[0], strides[0], settle_s)
            cpu = CpuMeter(node.process.pid)
            started = cpu.start()
            configurations = {}
            for width, height in sizes:
                for stride in strides:
                    for colour in (True, False):
                        name = (f'{width}x{height}_stride{stride}_colour_'
                                f'{"on" if colour else "off"}')
                        configurations[name] = _configuration(
                            camera, node, width, height, stride, colour, frames, warmup)
                        cpu.track()
            result['configurations'] = configurations
            result['configurations_cpu'] = cpu.usage(started)
            started = cpu.start()
            result['throughput'] = {
                f'{rate:g}_hz': _throughput(camera, node, sizes[0], rate, load_s, cpu)
                for rate in rates_hz}
            result['throughput_cpu'] = cpu.usage(started)
            result['throughput_goal_met'] = all(
                load['no_drops'] for load in result['throughput'].values())
        result['rclpy_floor'] = _rclpy_floor(configurations, sizes, strides, frames, warmup,
                                             settle_s)
        result['goals'] = _goals(configurations)
        if real_model:
            result['real_model'] = _real_model(frames, warmup)
        result['output_device_cuda'] = _output_device_cuda(model, frames, warmup, settle_s)
        result['process_bag'] = _process_bag(model, bag_frames, sizes[0], strides)
    return result


# One configuration, one frame at a time -------------------------------------------------------

def _configuration(camera: '_Camera', node: NodeProcess, width: int, height: int, stride: int,
                   colour: bool, frames: int, warmup: int) -> dict:
    expected = _use_configuration(camera, width, height, stride, colour)
    for index in range(warmup):
        if camera.sequential_frame(expected, FRAME_TIMEOUT_S * 2) is None and index == 0:
            raise RuntimeError(f'depth_node sent no {", ".join(expected)} within '
                               f'{FRAME_TIMEOUT_S * 2:.0f} s\n{node.log_tail()}')
    camera.reset_records()
    ticks = os.sysconf('SC_CLK_TCK') if hasattr(os, 'sysconf') else 100
    cpu_before = read_proc(node.process.pid, ticks)[1]
    latencies, lost = _sequential_latencies(camera, expected, frames)
    cpu_after = read_proc(node.process.pid, ticks)[1]
    stages = camera.stage_means()
    end_to_end = summary_ms(latencies)
    inference = stages.get('inference')
    node_total = round(sum(stages.values()), 2)
    overhead = (round(end_to_end['median_ms'] - inference, 2)
                if latencies and inference is not None else None)
    published = camera.published_bytes()
    copy_ms = _plain_copy_ms(sum(published.values()))
    return {
        'image': f'{width}x{height} rgb8', 'points_stride': stride, 'colour': colour,
        'outputs': list(expected), 'frames': len(latencies), 'frames_lost': lost,
        'end_to_end': end_to_end,
        'overhead_ms': overhead,
        'node_stages_total_ms': node_total,
        'transport_ms': (round(end_to_end['median_ms'] - node_total, 2)
                         if latencies and stages else None),
        'node_stages_ms': stages,
        'node_stages_without_inference_ms': round(
            sum(value for key, value in stages.items() if key != 'inference'), 2),
        'node_cpu_ms_per_frame': (round(1e3 * (cpu_after - cpu_before) / frames, 2)
                                  if None not in (cpu_before, cpu_after) and frames else None),
        'published_bytes_per_frame': published,
        'plain_copy_ms': round(copy_ms, 3),
        'overhead_to_copy_ratio': (round(overhead / copy_ms, 1)
                                   if overhead is not None and copy_ms > 0 else None),
        'subscriber_decode_ms': camera.decode_medians_ms(),
    }


def _use_configuration(camera: '_Camera', width: int, height: int, stride: int,
                       colour: bool) -> tuple[str, ...]:
    """Set the node's stride and colour, send frames of that size; return the topics expected."""
    camera.set_node_parameters(points_stride=stride, points_color=colour,
                               publish_colored=colour)
    camera.use_frame(width, height)
    return tuple(topic for topic in TOPICS if colour or topic != 'depth/colored')


def _sequential_latencies(camera: '_Camera', expected: tuple[str, ...],
                          frames: int) -> tuple[list[float], int]:
    """Send ``frames`` frames one at a time; return the seconds of those received, and the lost.

    Each received frame's outputs are decoded after its timing, before the next frame.
    """
    latencies, lost = [], 0
    for _ in range(frames):
        latency = camera.sequential_frame(expected, FRAME_TIMEOUT_S)
        lost += latency is None
        if latency is not None:
            latencies.append(latency)
            camera.decode_last(expected)
        time.sleep(SETTLE_S)
    return latencies, lost


def _settle(camera: '_Camera', size: tuple[int, int], stride: int, seconds: float) -> None:
    """Send frames one at a time, every output on, for ``seconds`` before any measurement.

    A warm-up of the node, DDS and this process before the first configuration. It does not
    remove the floor node's dependence on what was published before (the first configuration
    measured still took up to twice as long after it): that is what the floor's rounds are for.
    """
    camera.set_node_parameters(points_stride=stride, points_color=True, publish_colored=True)
    camera.use_frame(*size)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        camera.sequential_frame(TOPICS, FRAME_TIMEOUT_S)
        time.sleep(SETTLE_S)


def _goals(configurations: dict) -> dict:
    goals = {}
    for name, goal_ms in GOALS_MS.items():
        measured = configurations.get(name, {})
        overhead = measured.get('overhead_ms')
        goals[name] = {'overhead_ms': overhead, 'goal_ms': goal_ms,
                       'goal_met': overhead is not None and overhead <= goal_ms,
                       'rclpy_floor_ms': measured.get('rclpy_floor_ms'),
                       'own_work_ms': measured.get('own_work_ms')}
    return goals


def _plain_copy_ms(size: int, repeats: int = 20) -> float:
    """Return the median milliseconds of one copy of ``size`` bytes (numpy, warm buffers)."""
    source, target = np.ones(max(size, 1), np.uint8), np.empty(max(size, 1), np.uint8)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        np.copyto(target, source)
        times.append(time.perf_counter() - started)
    return 1e3 * float(np.median(times))


# The floor: what rclpy and DDS cost for the same image and outputs -----------------------------

def _rclpy_floor(configurations: dict, sizes, strides, frames: int, warmup: int,
                 settle_s: float, rounds: int = FLOOR_ROUNDS) -> dict:
    """Measure output_floor_node per configuration; add ``rclpy_floor_ms`` and ``own_work_ms``.

    The floor node receives the same image and publishes the same bytes without computing
    anything, so its end to end is the part of ``overhead_ms`` any rclpy node with these
    topics pays here; ``own_work_ms`` = overhead_ms - that is what depth_node's code adds.
    Every configuration is measured ``rounds`` times, in turn, and the round with the lowest
    median is kept: the same frames' end to end varied up to twofold with what the process had
    published before (slowest for the first configuration, whatever the warm-up), and a floor
    is the least these bytes cost.
    """
    domain_id = random_domain_id()
    floors: dict[str, dict] = {}
    with node_process('depth_node', {}, domain_id, script=str(FLOOR_NODE)) as node, \
            _Camera(domain_id) as camera:
        camera.wait_connected(node)
        _settle(camera, sizes[0], strides[0], settle_s)
        for _ in range(max(1, rounds)):
            for width, height in sizes:
                for stride in strides:
                    for colour in (True, False):
                        name = (f'{width}x{height}_stride{stride}_colour_'
                                f'{"on" if colour else "off"}')
                        measured = _floor_round(camera, width, height, stride, colour, frames,
                                                warmup)
                        if measured and (name not in floors or measured['median_ms']
                                         < floors[name]['median_ms']):
                            floors[name] = measured
    for name, floor in floors.items():
        measured = configurations.get(name, {})
        if measured.get('overhead_ms') is not None:
            measured['rclpy_floor_ms'] = floor['median_ms']
            measured['own_work_ms'] = round(measured['overhead_ms'] - floor['median_ms'], 2)
    return {'what': 'bench/output_floor_node.py: the same image in and the same output bytes '
                    'out (rclpy messages, DDS), nothing computed; end to end per frame, the '
                    f'best of {max(1, rounds)} rounds', **floors}


def _floor_round(camera: '_Camera', width: int, height: int, stride: int, colour: bool,
                 frames: int, warmup: int) -> dict | None:
    """Return one round's end to end of the floor node for one configuration (None: lost)."""
    expected = _use_configuration(camera, width, height, stride, colour)
    for _ in range(warmup):
        camera.sequential_frame(expected, FRAME_TIMEOUT_S)
    latencies, _ = _sequential_latencies(camera, expected, frames)
    if not latencies:
        return None
    return {**summary_ms(latencies), 'published_bytes_per_frame': camera.published_bytes()}


# Throughput ---------------------------------------------------------------------------------

def _throughput(camera: '_Camera', node: NodeProcess, size: tuple[int, int], rate_hz: float,
                duration_s: float, cpu: CpuMeter) -> dict:
    camera.set_node_parameters(points_stride=1, points_color=True, publish_colored=True)
    camera.use_frame(*size)
    for _ in range(3):
        camera.sequential_frame(TOPICS, FRAME_TIMEOUT_S)
    before = camera.fresh_diagnostics()
    camera.reset_records()
    published = camera.stream(rate_hz, duration_s, cpu.track)
    time.sleep(1.0)  # the last frame's outputs
    after = camera.fresh_diagnostics()
    node.check_alive()
    received = after.get('frames_received', 0) - before.get('frames_received', 0)
    dropped = after.get('frames_dropped', 0) - before.get('frames_dropped', 0)
    complete = camera.complete_count(published, TOPICS)
    return {
        'image': f'{size[0]}x{size[1]} rgb8', 'points_stride': 1, 'colour': True,
        'rate_hz': rate_hz, 'duration_s': duration_s,
        'frames_published': len(published), 'frames_received_by_node': received,
        'frames_dropped_by_node': dropped, 'outputs_complete_received': complete,
        'no_drops': bool(dropped == 0 and complete == len(published)),
        'node_rate_out_hz': after.get('rate_out_hz'),
        'node_latency_mean_ms': after.get('latency_mean_ms'),
        'node_stages_ms': camera.stage_means(after),
    }


# A real model ---------------------------------------------------------------------------------

def _real_model(frames: int, warmup: int) -> dict:
    model = str(bench_model_path())
    parameters = {**DEPTH_NODE_PARAMETERS, 'model': model, 'input_size': REAL_MODEL_INPUT_SIZE}
    domain_id = random_domain_id()
    with node_process('depth_node', parameters, domain_id) as node, \
            _Camera(domain_id) as camera:
        camera.wait_connected(node)
        measured = _configuration(camera, node, 640, 480, 1, True, frames, min(warmup, 2))
    return {'model': V2_SMALL_DESCRIPTION, 'input_size': REAL_MODEL_INPUT_SIZE, **measured}


# The device output stage ------------------------------------------------------------------

def _output_device_cuda(model: str, frames: int, warmup: int, settle_s: float) -> dict:
    """Measure 640x480, stride 1, every output with ``output_device`` cuda, where there is one.

    Without torch or a CUDA device: only why not (the CPU figures are the configurations').
    """
    try:
        import torch
        if not torch.cuda.is_available():
            return {'skipped': f'torch {torch.__version__} sees no CUDA device'}
    except ImportError:
        return {'skipped': 'no torch'}
    parameters = {**DEPTH_NODE_PARAMETERS, 'model': model, 'input_size': NEAR_FREE_INPUT_SIZE,
                  'output_device': 'cuda'}
    domain_id = random_domain_id()
    with node_process('depth_node', parameters, domain_id) as node, \
            _Camera(domain_id) as camera:
        camera.wait_connected(node)
        _settle(camera, (640, 480), 1, settle_s)
        return _configuration(camera, node, 640, 480, 1, True, frames, warmup)


# process-bag --------------------------------------------------------------------------------

def _process_bag(model: str, frames: int, size: tuple[int, int], strides) -> dict:
    from mono_depth_ros import bags
    from mono_depth_ros.bags import messages as bag_messages
    from mono_depth_ros.inference.selection import load_backend
    from mono_depth_ros.offline.processor import InputFrame, OfflineProcessor, OfflineSettings

    width, height = size
    rgb = _frame(width, height)
    image = image_message(numpy_to_image(rgb, 'rgb8'), Header())
    info = camera_info_message(_camera(width, height).to_camera_info_fields(), Header())
    results = {}
    backend, model_info = load_backend(model, backend='onnxruntime', device='cpu',
                                       input_size=NEAR_FREE_INPUT_SIZE)
    with backend:
        for stride in strides:
            for colour in (True, False):
                settings = DepthSettings(input_size=NEAR_FREE_INPUT_SIZE, scale_source='fixed',
                                         points_stride=stride, points_color=colour)
                pipeline = _TimedPipeline(backend, model_info, settings)
                processor = OfflineProcessor(
                    OfflineSettings(mode='depth', publish_colored=colour), depth=pipeline)
                per_frame, serialise, cpu_s = [], [], []
                for index in range(frames + 3):
                    frame = InputFrame(stamp_ns=index, frame_id='camera', image=image,
                                       camera_info=info, log_time_ns=index)
                    started, cpu_started = time.perf_counter(), time.process_time()
                    output = processor.add_frame(frame)[0]
                    processed = time.perf_counter()
                    if index >= 3:
                        cpu_s.append(time.process_time() - cpu_started)
                    header = bag_messages.header(index, 'camera')
                    for fields in output.messages.values():
                        bytes(bags.serialize(bag_messages.from_fields(fields, header)))
                    if index >= 3:
                        per_frame.append(processed - started)
                        serialise.append(time.perf_counter() - processed)
                stages = {name: round(float(np.mean(values[3:])), 3)
                          for name, values in pipeline.timings.items()}
                frame_ms = summary_ms(per_frame)
                name = f'{width}x{height}_stride{stride}_colour_{"on" if colour else "off"}'
                results[name] = {
                    'frames': len(per_frame), 'outputs': sorted(output.messages),
                    'processor_per_frame': frame_ms,
                    'processor_cpu_ms_per_frame': round(1e3 * float(np.mean(cpu_s)), 2),
                    'overhead_ms': round(frame_ms['median_ms'] - stages['inference'], 2),
                    'pipeline_stages_ms': stages,
                    'serialise_outputs': summary_ms(serialise),
                }
    return {'what': 'OfflineProcessor.add_frame per frame (decode, pipeline, outputs) and '
                    'CDR serialisation of its outputs, in this process; overhead_ms = '
                    'processor median - mean inference', **results}


class _TimedPipeline(DepthPipeline):
    """A DepthPipeline that keeps every frame's stage times (the bench's process-bag view)."""

    def __init__(self, *args) -> None:
        super().__init__(*args)
        self.timings: dict[str, list[float]] = {}

    def estimate(self, rgb, scale_shift=None, **options):
        """Estimate as DepthPipeline does and keep the stage times."""
        result = super().estimate(rgb, scale_shift, **options)
        for name, value in result.timings_ms.items():
            self.timings.setdefault(name, []).append(value)
        return result


# The camera and the receiver -----------------------------------------------------------------

def _frame(width: int, height: int) -> np.ndarray:
    return cv2.resize(textured_rgb(), (width, height), interpolation=cv2.INTER_CUBIC)


def _camera(width: int, height: int) -> CameraModel:
    focal = 525.0 * width / 640.0
    return CameraModel.from_intrinsics(fx=focal, fy=focal, cx=(width - 1) / 2.0,
                                       cy=(height - 1) / 2.0, width=width, height=height)


OUTPUT_TYPES = {'depth/image': Image, 'depth/camera_info': CameraInfo, 'points': PointCloud2,
                'depth/colored': Image}
# How a subscriber turns each output into arrays (subscriber_decode_ms).
DECODERS = {'depth/image': image_to_numpy, 'depth/colored': image_to_numpy,
            'points': read_cloud, 'depth/camera_info': CameraModel.from_camera_info}


class _Camera(BackgroundCamera):
    """Publishes the camera, sets the node's parameters, records and decodes every output."""

    node_name = 'bench_overhead_camera'
    # The receive callbacks only note arrivals: a single-threaded executor takes each output
    # as it comes (rclpy's multi-threaded one added 10-18 ms per output, measured).
    executor_threads = 1

    def __init__(self, domain_id: int) -> None:
        super().__init__(domain_id)
        self._log = OutputLog(TOPICS)
        self._next_stamp_ns = 1_700_000_000_000_000_000
        self._decode_s: dict[str, list[float]] = {}
        self._bytes: dict[str, int] = {}
        self._last: dict[str, object] = {}
        self._image = self._info = None

    def _add_endpoints(self, node) -> None:
        # Raw subscriptions: the arrival is when DDS hands this side the serialized message;
        # turning it into a Python message (rclpy) is a subscriber's cost, timed in
        # subscriber_decode_ms with the rest of the decoding.
        self._subscriptions = [
            node.create_subscription(kind, topic, self._receiver(topic), qos_profile_sensor_data,
                                     raw=True)
            for topic, kind in OUTPUT_TYPES.items()]
        node.create_subscription(DiagnosticArray, '/diagnostics', self._log.record_diagnostics,
                                 10)
        self._parameters = node.create_client(SetParameters, '/depth_node/set_parameters')

    def _receiver(self, topic: str):
        def on_message(serialized: bytes) -> None:
            # Only the arrival and the bytes: decoding here would hold this process's
            # executor (and the GIL) while the frame's other outputs wait to be taken.
            self._log.record_stamp(topic, cdr_stamp_ns(serialized))
            with self._log.condition:
                self._last[topic] = serialized
        return on_message

    def decode_last(self, topics: tuple[str, ...]) -> None:
        """Time this side's decoding of the last message of each topic (outside any timing).

        Decoding is rclpy's deserialisation into a message, then arrays from it.
        """
        with self._log.condition:
            received = {topic: self._last.get(topic) for topic in topics}
        for topic, serialized in received.items():
            if serialized is None:
                continue
            started = time.perf_counter()
            message = deserialize_message(serialized, OUTPUT_TYPES[topic])
            DECODERS[topic](message)
            spent = time.perf_counter() - started
            with self._log.condition:
                self._decode_s.setdefault(topic, []).append(spent)
                self._bytes[topic] = len(getattr(message, 'data', b''))

    def wait_connected(self, node: NodeProcess, timeout_s: float = START_TIMEOUT_S) -> None:
        """Wait until depth_node subscribes to the camera, publishes and serves parameters."""
        wait_until_connected(lambda: bool(self._image_publisher.get_subscription_count()
                                          and self._info_publisher.get_subscription_count()
                                          and self._outputs_connected()
                                          and self._parameters.service_is_ready()),
                             [node], timeout_s, who='depth_node')

    def set_node_parameters(self, timeout_s: float = 10.0, **values) -> None:
        """Set depth_node parameters through its service; raise when one is refused."""
        request = SetParameters.Request(
            parameters=[Parameter(name, value=value).to_parameter_msg()
                        for name, value in values.items()])
        future = self._parameters.call_async(request)
        deadline = time.monotonic() + timeout_s
        while not future.done() and time.monotonic() < deadline:
            time.sleep(0.01)
        if not future.done():
            raise RuntimeError(f'depth_node did not answer set_parameters {values}')
        refused = [result.reason for result in future.result().results if not result.successful]
        if refused:
            raise RuntimeError(f'depth_node refused {values}: {refused}')

    def use_frame(self, width: int, height: int) -> None:
        """Publish ``width`` x ``height`` frames (and their camera_info) from now on."""
        self._image = image_message(numpy_to_image(_frame(width, height), 'rgb8'), Header())
        self._info = camera_info_message(_camera(width, height).to_camera_info_fields(),
                                         Header())

    def reset_records(self) -> None:
        """Forget the decode times and sizes recorded so far."""
        with self._log.condition:
            self._decode_s.clear()
            self._bytes.clear()

    def _publish(self) -> tuple[int, float]:
        """Publish CameraInfo and the image with a new stamp; return (stamp, publish time)."""
        return self.publish_frame(self._image, self._info)

    def _complete_at(self, stamp_ns: int, topics: tuple[str, ...]) -> float | None:
        times = [self._log.arrivals[topic].get(stamp_ns) for topic in topics]
        return None if None in times else max(times)

    def sequential_frame(self, topics: tuple[str, ...], timeout_s: float) -> float | None:
        """Publish one frame; return seconds until all ``topics`` had it (None: lost)."""
        stamp_ns, published = self._publish()
        with self._log.condition:
            done = self._log.condition.wait_for(
                lambda: self._complete_at(stamp_ns, topics) is not None, timeout_s)
            return self._complete_at(stamp_ns, topics) - published if done else None

    def stream(self, rate_hz: float, duration_s: float, on_frame) -> list[int]:
        """Publish at ``rate_hz`` for ``duration_s``; return the stamps published."""
        period, stamps = 1.0 / rate_hz, []
        start = time.perf_counter()
        for index in range(max(1, round(duration_s * rate_hz))):
            delay = start + index * period - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            stamps.append(self._publish()[0])
            on_frame()
        return stamps

    def complete_count(self, stamps: list[int], topics: tuple[str, ...]) -> int:
        """Return how many of ``stamps`` had every one of ``topics`` arrive."""
        with self._log.condition:
            return sum(self._complete_at(stamp, topics) is not None for stamp in stamps)

    def fresh_diagnostics(self, timeout_s: float = 5.0) -> dict:
        """Return the node's next /diagnostics values (published once a second)."""
        keys = ('frames_received', 'frames_dropped', 'rate_in_hz', 'rate_out_hz',
                'latency_mean_ms', 'inference_mean_ms',
                *(f'stage_{stage}_mean_ms' for stage in STAGES))
        return diagnostic_values(self._log.fresh_diagnostics(STATUS_NAME, timeout_s), keys)

    def stage_means(self, values: dict | None = None) -> dict[str, float]:
        """Return the node's mean ms per stage from its next (or the given) /diagnostics."""
        values = self.fresh_diagnostics() if values is None else values
        stages = {stage: round(float(values[f'stage_{stage}_mean_ms']), 3) for stage in STAGES
                  if f'stage_{stage}_mean_ms' in values}
        if 'inference' not in stages and 'inference_mean_ms' in values:
            # A node without stage times (before they were added): its mean inference time.
            stages['inference'] = round(float(values['inference_mean_ms']), 3)
        return stages

    def published_bytes(self) -> dict[str, int]:
        """Return the payload bytes of the last message of each topic."""
        with self._log.condition:
            return dict(self._bytes)

    def decode_medians_ms(self) -> dict[str, float]:
        """Return this side's median ms to turn each output into arrays."""
        with self._log.condition:
            return {topic: round(1e3 * float(np.median(times)), 3)
                    for topic, times in self._decode_s.items()}


def main(argv: list[str] | None = None) -> int:
    """Parse the options, run the benchmark and print its JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--frames', type=int, default=STAGE_WINDOW)
    parser.add_argument('--load-s', type=float, default=8.0)
    parser.add_argument('--bag-frames', type=int, default=30)
    parser.add_argument('--sizes', nargs='+', default=[f'{w}x{h}' for w, h in SIZES],
                        help='frame sizes WIDTHxHEIGHT (throughput and process-bag: the first)')
    parser.add_argument('--strides', nargs='+', type=int, default=list(STRIDES))
    parser.add_argument('--rates', nargs='+', type=float, default=list(RATES_HZ))
    parser.add_argument('--no-real-model', action='store_true')
    parser.add_argument('--settle-s', type=float, default=SETTLE_START_S,
                        help='seconds of frames before the first measurement')
    args = parser.parse_args(argv)
    sizes = tuple(tuple(int(v) for v in size.lower().split('x')) for size in args.sizes)
    print(json.dumps(run(frames=args.frames, load_s=args.load_s,
                         real_model=not args.no_real_model, bag_frames=args.bag_frames,
                         sizes=sizes, strides=tuple(args.strides),
                         rates_hz=tuple(args.rates), settle_s=args.settle_s), indent=2))
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
