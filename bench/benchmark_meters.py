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

"""CPU and memory meters the benchmarks share, read from /proc.

Not a benchmark (its name does not start with ``bench_``); the benchmarks import it as
``benchmark_meters``. Without /proc (not Linux) the meters report nothing.
"""

import os
import threading
import time


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
