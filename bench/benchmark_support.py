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

"""What the benchmarks share: node processes, /proc meters, the bench model, latency arithmetic.

Not a benchmark (its name does not start with ``bench_``): the benchmarks import it as
``benchmark_support``; ``mono-depth-ros bench`` puts their folder on ``sys.path``, as running
``python bench/bench_<name>.py`` does. Importing it needs no ROS: the node-graph benchmarks
bring their own publishers and subscriptions and keep what arrives in an :class:`OutputLog`.
"""

import contextlib
import dataclasses
import os
import pathlib
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from typing import Callable, Iterator

import cv2
import numpy as np

from mono_depth_ros.resources import use_large_data_fastdds_profile

# Latency goal: an output is at most RATIO_GOAL x one inference old (+ one frame period when
# frames come faster than the model runs).
RATIO_GOAL = 1.10
FRAME_WIDTH, FRAME_HEIGHT = 640, 480
BENCH_MODEL = 'depth_anything_v2_small_random_seed0.onnx'
V2_SMALL_DESCRIPTION = 'Depth-Anything-V2-Small architecture, random weights'
V2_SMALL = {'hidden_size': 384, 'num_hidden_layers': 12, 'num_attention_heads': 6,
            'neck_hidden_sizes': [48, 96, 192, 384], 'fusion_hidden_size': 64,
            'head_hidden_size': 32}
# depth_node as the benchmarks run it (``model`` and ``input_size`` are added per run).
DEPTH_NODE_PARAMETERS = {
    'backend': 'onnxruntime', 'device': 'cpu', 'scale_source': 'fixed', 'fixed_scale': 1.0,
    'fixed_shift': 0.0, 'min_depth': 0.1, 'max_depth': 20.0, 'publish_points': True,
    'points_stride': 2, 'points_color': True, 'qos': 'sensor_data'}
CONNECT_SETTLE_S = 0.3


# Latency arithmetic ------------------------------------------------------------------------

def timed(call: Callable, *args) -> float:
    """Return the seconds one ``call(*args)`` takes."""
    started = time.perf_counter()
    call(*args)
    return time.perf_counter() - started


def summary_ms(seconds: list[float]) -> dict:
    """Return median, p95, min and max of durations in seconds, in milliseconds (2 decimals)."""
    if not seconds:
        return {'median_ms': None, 'p95_ms': None, 'min_ms': None, 'max_ms': None}
    values = 1e3 * np.asarray(seconds)
    return {'median_ms': round(float(np.median(values)), 2),
            'p95_ms': round(float(np.percentile(values, 95)), 2),
            'min_ms': round(float(values.min()), 2), 'max_ms': round(float(values.max()), 2)}


def goal_met(ratio: float | None, goal: float = RATIO_GOAL) -> bool:
    """Return whether a measured ratio (None: not measured) is at most its goal."""
    return ratio is not None and bool(ratio <= goal)


def latency_bound_ms(inference_ms: float, period_ms: float) -> float:
    """Return the most an output may lag under overload: RATIO_GOAL x inference + one period."""
    return RATIO_GOAL * inference_ms + period_ms


def latency_bound_report(latency_ms: np.ndarray, raw_median_ms: float,
                         period_ms: float) -> dict:
    """Hold the latency's max and p95 against the bound from the raw inference median."""
    bound = latency_bound_ms(raw_median_ms, period_ms)
    return {'latency_bound_ms': round(bound, 2),
            'latency_bound_rule': f'{RATIO_GOAL:g} x raw inference median + frame period',
            'latency_max_within_bound': bool(latency_ms.max() <= bound),
            'latency_p95_within_bound': bool(np.percentile(latency_ms, 95) <= bound)}


def latency_against_inference(latency_ms: np.ndarray, raw: dict, period_ms: float) -> dict:
    """Compare latency with "one inference + one frame period", like with like.

    Inference time varies from frame to frame, so each latency percentile (median, p95) is held
    against RATIO_GOAL x the same percentile of the raw inference time (``raw['median_ms']``,
    ``raw['p95_ms']``), plus the frame period.
    """
    report = {}
    for name, percentile in (('median', 50), ('p95', 95)):
        latency = float(np.percentile(latency_ms, percentile))
        bound = latency_bound_ms(float(raw[f'{name}_ms']), period_ms)
        report[name] = {'latency_ms': round(latency, 2), 'bound_ms': round(bound, 2),
                        'within': bool(latency <= bound)}
    return {'latency_vs_inference_by_percentile': report,
            'latency_vs_inference_rule': (f'latency percentile <= {RATIO_GOAL:g} x the same '
                                          'percentile of raw inference + frame period'),
            'latency_within_inference_bounds': all(item['within'] for item in report.values())}


@dataclasses.dataclass
class WindowLatency:
    """Publish -> receipt latency of the outputs of one publishing window, in stamp order.

    An output taken up after the input stopped waited for nothing newer (its predecessor
    arrived after the window): it is in ``outputs`` but not in ``kept`` nor the latencies.
    """

    outputs: list[int]
    kept: list[int]
    latency_ms: np.ndarray
    at_s: np.ndarray  # arrival, seconds after the window's start

    @classmethod
    def measure(cls, published: dict[int, float], arrived: dict[int, float], start: float,
                end: float) -> 'WindowLatency':
        """Pair publish and arrival times (perf_counter s) by stamp for a window start..end."""
        outputs = sorted(stamp for stamp in published if stamp in arrived)
        kept = outputs[:1] + [current for previous, current in zip(outputs, outputs[1:])
                              if arrived[previous] <= end]
        return cls(outputs, kept, np.array([1e3 * (arrived[s] - published[s]) for s in kept]),
                   np.array([arrived[s] - start for s in kept]))

    @property
    def taken_after_input_stopped(self) -> int:
        """Outputs left out: taken up after the input stopped."""
        return len(self.outputs) - len(self.kept)

    @property
    def interval_ms(self) -> float:
        """Median time between outputs."""
        return 1e3 * float(np.median(np.diff(self.at_s)))

    @property
    def slope_ms_per_s(self) -> float:
        """Slope of a line fitted to latency against arrival time (a queue makes it climb)."""
        return float(np.polyfit(self.at_s, self.latency_ms, 1)[0])

    @property
    def growth_ms(self) -> float:
        """Latency growth over the run: slope x the span of the arrivals."""
        return self.slope_ms_per_s * float(self.at_s[-1] - self.at_s[0])

    def percentiles(self) -> dict:
        """Return the latency's median, p95 and max (ms, 2 decimals) under their JSON keys."""
        return {'latency_median_ms': round(float(np.median(self.latency_ms)), 2),
                'latency_p95_ms': round(float(np.percentile(self.latency_ms, 95)), 2),
                'latency_max_ms': round(float(self.latency_ms.max()), 2)}

    def trend(self) -> dict:
        """Return the latency's slope, growth over the run and the output interval (JSON keys)."""
        return {'latency_slope_ms_per_s': round(self.slope_ms_per_s, 3),
                'latency_growth_over_run_ms': round(self.growth_ms, 2),
                'output_interval_median_ms': round(self.interval_ms, 2)}


# CPU and memory from /proc -----------------------------------------------------------------

def machine_busy_jiffies(proc_stat_line: str) -> int:
    """Return the busy jiffies of the ``cpu`` line of /proc/stat: all but idle and iowait."""
    jiffies = [int(value) for value in proc_stat_line.split()[1:9]]
    return sum(jiffies) - jiffies[3] - jiffies[4]


def process_cpu_ticks(pid_stat_text: str) -> int:
    """Return utime + stime (clock ticks) from the text of /proc/<pid>/stat."""
    fields = pid_stat_text.rsplit(')', 1)[1].split()  # the command name may hold ')'
    return int(fields[11]) + int(fields[12])


def vm_rss_bytes(pid_status_text: str) -> int | None:
    """Return VmRSS in bytes from the text of /proc/<pid>/status (None: no such line)."""
    for line in pid_status_text.splitlines():
        if line.startswith('VmRSS:'):
            return int(line.split()[1]) * 1024  # the kernel's kB are KiB
    return None


def _clock_ticks() -> int:
    return os.sysconf('SC_CLK_TCK') if hasattr(os, 'sysconf') else 100


def read_proc(pid: int, ticks: int) -> tuple[int | None, float | None]:
    """Return (VmRSS in bytes, user + system CPU seconds) of a process, None where unknown."""
    rss = cpu = None
    try:
        with open(f'/proc/{pid}/status') as status:
            rss = vm_rss_bytes(status.read())
        with open(f'/proc/{pid}/stat') as stat:
            cpu = process_cpu_ticks(stat.read()) / ticks
    except (OSError, ValueError, IndexError):
        pass
    return rss, cpu


def cores_between(start: tuple[float, float, float],
                  end: tuple[float, float, float]) -> tuple[float, float]:
    """Return (machine cores busy, benchmark cores) between two CpuMeter samples."""
    wall = max(end[0] - start[0], 1e-9)
    return (end[1] - start[1]) / wall, (end[2] - start[2]) / wall


class CpuMeter:
    """CPU time of the machine and of the benchmark (this process and the node), from /proc.

    Other helpers' or users' work on the same cores slows both inference and transport; the
    ``cpu_cores_used_by_other_processes`` figure tells how quiet the machine was.
    """

    def __init__(self, node_pid: int) -> None:
        self._pids = (os.getpid(), node_pid)
        self._ticks = _clock_ticks()
        self._track: list[tuple[float, float, float]] = []

    def track(self, every_s: float = 1.0) -> None:
        """Keep a sample when ``every_s`` has passed since the last kept one (call often)."""
        if not self._track or time.perf_counter() - self._track[-1][0] >= every_s:
            sample = self.sample()
            if sample is not None:
                self._track.append(sample)

    def sample(self) -> tuple[float, float, float] | None:
        """Return (wall s, machine busy CPU s, benchmark CPU s), or None without /proc."""
        try:
            with open('/proc/stat') as stat:
                busy = machine_busy_jiffies(stat.readline())
            ours = 0
            for pid in self._pids:
                with open(f'/proc/{pid}/stat') as stat:
                    ours += process_cpu_ticks(stat.read())
        except (OSError, ValueError, IndexError):
            return None
        return time.perf_counter(), busy / self._ticks, ours / self._ticks

    def start(self) -> tuple[float, float, float] | None:
        """Begin a phase: return its first sample and restart the tracked samples."""
        self._track = []
        self.track()
        return self._track[0] if self._track else None

    def usage(self, start: tuple[float, float, float] | None) -> dict:
        """Return the cores in use since ``start``: in all, by the benchmark, by the rest.

        ``..._max_1s``: the most the other processes used over any tracked second.
        """
        end = self.sample()
        if start is None or end is None:
            return {}
        total, ours = cores_between(start, end)
        result = {'cpu_cores_busy': round(total, 2),
                  'cpu_cores_used_by_benchmark': round(ours, 2),
                  'cpu_cores_used_by_other_processes': round(max(total - ours, 0.0), 2)}
        windows = [cores_between(first, second)
                   for first, second in zip(self._track, self._track[1:])]
        if windows:
            result['cpu_cores_used_by_other_processes_max_1s'] = round(
                max(max(total - ours, 0.0) for total, ours in windows), 2)
        return result


class ProcessMonitor:
    """Samples each process's RSS (MB) and CPU time from /proc every ``every_s``, in a thread."""

    def __init__(self, pids: dict[str, int], every_s: float = 1.0) -> None:
        self._pids = pids
        self._every_s = every_s
        self._ticks = _clock_ticks()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name='rss-monitor', daemon=True)
        self.samples: dict[str, list[tuple[float, float]]] = {name: [] for name in pids}
        self._cpu: dict[str, list[tuple[float, float]]] = {name: [] for name in pids}

    def __enter__(self) -> 'ProcessMonitor':
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5.0)

    def _run(self) -> None:
        next_at = time.perf_counter()
        while not self._stop.is_set():
            for name, pid in self._pids.items():
                now = time.perf_counter()
                rss_bytes, cpu_s = read_proc(pid, self._ticks)
                if rss_bytes is not None:
                    self.samples[name].append((now, rss_bytes / 1e6))
                if cpu_s is not None:
                    self._cpu[name].append((now, cpu_s))
            next_at += self._every_s
            self._stop.wait(max(0.0, next_at - time.perf_counter()))

    def cpu_cores(self, name: str, start: float, end: float) -> dict:
        """Return the cores a process used on average between two perf_counter times."""
        inside = [sample for sample in self._cpu[name] if start <= sample[0] <= end + 1.0]
        if len(inside) < 2:
            return {}
        (first_at, first_s), (last_at, last_s) = inside[0], inside[-1]
        return {f'cpu_cores_used_by_{name}': round((last_s - first_s)
                                                   / max(last_at - first_at, 1e-9), 2)}


# The nodes under test ----------------------------------------------------------------------

def use_loopback_large_data_dds() -> None:
    """Set this process up as the nodes are: large-data Fast DDS profile, loopback discovery."""
    use_large_data_fastdds_profile()
    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')


def random_domain_id() -> int:
    """Return a ROS domain for one run, so that runs side by side do not see each other."""
    return random.SystemRandom().randint(1, 101)


class NodeProcess:
    """A running node process and its log file."""

    def __init__(self, name: str, process: subprocess.Popen, log_path: pathlib.Path) -> None:
        self.name = name
        self.process = process
        self.log_path = log_path

    def check_alive(self) -> None:
        """Raise RuntimeError with the log's end when the node has exited."""
        if self.process.poll() is not None:
            raise RuntimeError(f'{self.name} exited with code {self.process.returncode}\n'
                               f'{self.log_tail()}')

    def log_tail(self, characters: int = 3000) -> str:
        """Return the end of the node's output."""
        return self.log_path.read_text(errors='replace')[-characters:]


def node_logs(nodes: list[NodeProcess]) -> str:
    """Return the end of each node's log under its name, for an error message."""
    return '\n'.join(f'--- {node.name}\n{node.log_tail()}' for node in nodes)


@contextlib.contextmanager
def node_process(name: str, parameters: dict, domain_id: int) -> Iterator[NodeProcess]:
    """Start ``mono_depth_ros.nodes.<name>`` in its own process; SIGINT (then SIGKILL) it after.

    The node gets this process's environment with the large-data Fast DDS profile in it.
    """
    use_large_data_fastdds_profile()
    arguments = [sys.executable, '-m', f'mono_depth_ros.nodes.{name}', '--ros-args']
    for key, value in parameters.items():
        text = str(value).lower() if isinstance(value, bool) else str(value)
        arguments += ['-p', f'{key}:={text}']
    environment = {**os.environ, 'ROS_DOMAIN_ID': str(domain_id),
                   'ROS_AUTOMATIC_DISCOVERY_RANGE': 'LOCALHOST', 'PYTHONUNBUFFERED': '1'}
    with tempfile.TemporaryDirectory(prefix=f'bench_{name}_') as scratch:
        log_path = pathlib.Path(scratch) / f'{name}.log'
        with open(log_path, 'wb') as log:
            process = subprocess.Popen(arguments, env=environment, stdout=log,
                                       stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            yield NodeProcess(name, process, log_path)
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
                try:
                    process.wait(timeout=10.0)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=5.0)


def wait_until_connected(connected: Callable[[], bool], nodes: list[NodeProcess],
                         timeout_s: float, who: str) -> None:
    """Wait until ``connected()`` holds while the nodes stay alive; raise with their logs."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for node in nodes:
            node.check_alive()
        if connected():
            time.sleep(CONNECT_SETTLE_S)
            return
        time.sleep(0.05)
    raise RuntimeError(f'{who} did not connect within {timeout_s:.0f} s\n{node_logs(nodes)}')


class OutputLog:
    """When each stamp's outputs arrived, and each status's /diagnostics, shared by threads.

    The subscription callbacks call :meth:`record` and :meth:`record_diagnostics`; the
    benchmark waits on ``condition`` (held while reading ``arrivals``).
    """

    def __init__(self, topics: tuple[str, ...]) -> None:
        self.condition = threading.Condition()
        self.arrivals: dict[str, dict[int, float]] = {topic: {} for topic in topics}
        self._diagnostics: dict[str, list[tuple[float, dict[str, str]]]] = {}

    def record(self, topic: str, message) -> None:
        """Keep the first arrival time of a message's stamp on ``topic``."""
        now = time.perf_counter()
        stamp_ns = message.header.stamp.sec * 1_000_000_000 + message.header.stamp.nanosec
        with self.condition:
            self.arrivals[topic].setdefault(stamp_ns, now)
            self.condition.notify_all()

    def record_diagnostics(self, message) -> None:
        """Keep the key/value pairs of each status of a DiagnosticArray, with the time."""
        now = time.perf_counter()
        for status in message.status:
            with self.condition:
                self._diagnostics.setdefault(status.name, []).append(
                    (now, {item.key: item.value for item in status.values}))
                self.condition.notify_all()

    def fresh_diagnostics(self, status_name: str, timeout_s: float = 5.0) -> dict[str, str]:
        """Return a status's next values (nodes publish once a second); the last on timeout."""
        history = self._diagnostics.setdefault(status_name, [])
        asked = time.perf_counter()
        with self.condition:
            self.condition.wait_for(lambda: history and history[-1][0] > asked, timeout_s)
            return history[-1][1] if history else {}

    def diagnostics_at(self, status_name: str, at: float) -> dict[str, str]:
        """Return a status's last values received by ``at`` (perf_counter s), {} if none."""
        with self.condition:
            history = self._diagnostics.get(status_name, [])
            values = [values for received, values in history if received <= at]
        return values[-1] if values else {}


def diagnostic_values(values: dict[str, str], keys: tuple[str, ...]) -> dict:
    """Return the ``keys`` present in a status's values, as numbers where they are numbers."""
    return {key: _number(values[key]) for key in keys if key in values}


def _number(text: str):
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


# The model and the frame ---------------------------------------------------------------------

def textured_rgb(seed: int = 0) -> np.ndarray:
    """Return a smooth, textured 640x480 RGB frame."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (FRAME_HEIGHT // 16, FRAME_WIDTH // 16, 3), dtype=np.uint8)
    return cv2.resize(coarse, (FRAME_WIDTH, FRAME_HEIGHT), interpolation=cv2.INTER_CUBIC)


def abs_rel(prediction: np.ndarray, reference: np.ndarray) -> float:
    """Return mean(|prediction - reference| / reference) over pixels where reference > 0.05."""
    valid = reference > 0.05
    return float(np.mean(np.abs(prediction[valid] - reference[valid]) / reference[valid]))


@contextlib.contextmanager
def raw_backend(model_path: str, input_size: int) -> Iterator[tuple]:
    """Yield (ONNX Runtime CPU backend, preprocessed textured frame) to time ``backend.infer``."""
    from mono_depth_ros.core.preprocessing import prepare_input
    from mono_depth_ros.inference.selection import load_backend

    backend, _ = load_backend(model_path, backend='onnxruntime', device='cpu',
                              input_size=input_size)
    try:
        yield backend, prepare_input(textured_rgb(), backend.input_spec.network_size(input_size))
    finally:
        backend.close()


def random_depth_anything_v2_small(seed: int = 0, sizes: dict | None = None):
    """Return (Depth-Anything-V2-Small with random weights, its ModelInfo), eval, on the CPU.

    The last head convolution is rescaled so the output is about 1 +- 0.3 over an image (with
    the default initialisation it is ~1e-4, too close to fp16's floor for a parity check).
    ``sizes`` replaces the V2-Small widths and depths (keys as ``V2_SMALL``).
    """
    import torch
    from transformers import DepthAnythingConfig, DepthAnythingForDepthEstimation, Dinov2Config

    from mono_depth_ros.inference.base import ModelInfo

    sizes = sizes or V2_SMALL

    torch.manual_seed(seed)
    backbone = Dinov2Config(
        hidden_size=sizes['hidden_size'], num_hidden_layers=sizes['num_hidden_layers'],
        num_attention_heads=sizes['num_attention_heads'], mlp_ratio=4, image_size=518,
        patch_size=14, layerscale_value=1.0, out_indices=[3, 6, 9, 12], apply_layernorm=True,
        reshape_hidden_states=False)
    config = DepthAnythingConfig(
        backbone_config=backbone, patch_size=14, reassemble_hidden_size=sizes['hidden_size'],
        reassemble_factors=[4, 2, 1, 0.5], neck_hidden_sizes=sizes['neck_hidden_sizes'],
        fusion_hidden_size=sizes['fusion_hidden_size'],
        head_hidden_size=sizes['head_hidden_size'], depth_estimation_type='relative')
    model = DepthAnythingForDepthEstimation(config).eval()
    captured = {}
    hook = model.head.conv3.register_forward_hook(
        lambda module, inputs, output: captured.update(pre=output.detach()))
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        model(pixel_values=torch.randn((1, 3, 154, 210), generator=generator))
        hook.remove()
        mean, std = captured['pre'].mean(), captured['pre'].std()
        model.head.conv3.weight.mul_(0.3 / std)
        model.head.conv3.bias.sub_(mean).mul_(0.3 / std).add_(1.0)
    info = ModelInfo(depth_type='relative', max_depth=None,
                     source='Depth-Anything-V2-Small (random weights)', encoder='vits',
                     version='v2', model_format='hf')
    return model, info


def bench_model_path(cache_dir: str | os.PathLike | None = None, *, name: str = BENCH_MODEL,
                     sizes: dict | None = None,
                     source: str | None = None) -> pathlib.Path:
    """Return the cached ONNX export of a random-weight V2 model, exporting it on first use.

    The default is V2-Small, in ``~/.cache/mono_depth_ros/bench``; ``sizes`` (keys as
    ``V2_SMALL``) and ``name`` make another size, described as ``source``.
    """
    from mono_depth_ros.inference.onnx_contract import read_onnx_contract
    from mono_depth_ros.inference.selection import default_cache_dir

    directory = pathlib.Path(cache_dir or pathlib.Path(default_cache_dir()) / 'bench')
    path = directory / name
    if path.is_file():
        try:
            read_onnx_contract(str(path))
            return path
        except Exception as error:  # re-export a damaged file
            print(f're-exporting {path}: {error}', file=sys.stderr)
    from mono_depth_ros.inference.onnx_export import export_onnx

    model, info = random_depth_anything_v2_small(seed=0, sizes=sizes)
    if source:
        info = dataclasses.replace(info, encoder=None, source=source)
    export_onnx(model, path, input_size=266, info=info)
    return path
