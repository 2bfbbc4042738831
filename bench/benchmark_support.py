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

"""What the node-graph benchmarks share: node processes, the DDS setup, the output log.

Not a benchmark (its name does not start with ``bench_``): the benchmarks import it as
``benchmark_support``; ``mono-depth-ros bench`` puts their folder on ``sys.path``, as running
``python bench/bench_<name>.py`` does. Importing it needs no ROS: the node-graph benchmarks
bring their own publishers and subscriptions and keep what arrives in an :class:`OutputLog`.
Beside it: ``benchmark_latency`` (latency arithmetic), ``benchmark_meters`` (/proc CPU and
memory) and ``benchmark_model`` (the bench model and frame).
"""

import contextlib
import os
import pathlib
import random
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
from typing import Callable, Iterator

from mono_depth_ros.resources import apply_fastdds_profile

# depth_node as the benchmarks run it (``model`` and ``input_size`` are added per run).
DEPTH_NODE_PARAMETERS = {
    'backend': 'onnxruntime', 'device': 'cpu', 'scale_source': 'fixed', 'fixed_scale': 1.0,
    'fixed_shift': 0.0, 'min_depth': 0.1, 'max_depth': 20.0, 'publish_points': True,
    'points_stride': 2, 'points_color': True, 'qos': 'sensor_data'}
CONNECT_SETTLE_S = 0.3


def use_loopback_large_data_dds() -> None:
    """Set this process up as the nodes are: large-data Fast DDS profile, loopback discovery."""
    apply_fastdds_profile()
    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')


def random_domain_id() -> int:
    """Return the ROS domain for one run: ROS_DOMAIN_ID when set, else a random one.

    A random domain keeps runs side by side from seeing each other; a user who shares the
    machine sets ROS_DOMAIN_ID to the domain that is theirs.
    """
    chosen = os.environ.get('ROS_DOMAIN_ID', '').strip()
    if chosen.isdigit():
        return int(chosen)
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
def node_process(name: str, parameters: dict, domain_id: int,
                 script: str | None = None) -> Iterator[NodeProcess]:
    """Start ``mono_depth_ros.nodes.<name>`` in its own process; SIGINT (then SIGKILL) it after.

    ``script``: a Python file to run instead (a benchmark's own node). The node gets this
    process's environment with the large-data Fast DDS profile in it.
    """
    apply_fastdds_profile()
    program = [script] if script else ['-m', f'mono_depth_ros.nodes.{name}']
    arguments = [sys.executable, *program, '--ros-args']
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

    def record_stamp(self, topic: str, stamp_ns: int) -> None:
        """Keep the first arrival time of a stamp on ``topic`` (a raw subscription's message)."""
        now = time.perf_counter()
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


def cdr_stamp_ns(serialized: bytes) -> int:
    """Return the header stamp (ns) of a serialized message that starts with std_msgs/Header.

    The CDR encapsulation header (4 bytes; its second byte's lowest bit: little-endian) comes
    first, then ``stamp.sec`` (int32) and ``stamp.nanosec`` (uint32); XCDR2 appendable
    encodings (a 4-byte DHEADER) put them 4 bytes further.
    """
    order = '<' if serialized[1] & 1 else '>'
    offset = 8 if serialized[1] in (8, 9) else 4
    seconds, nanoseconds = struct.unpack_from(f'{order}iI', serialized, offset)
    return seconds * 1_000_000_000 + nanoseconds


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
