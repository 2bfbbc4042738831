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

"""The main() every node shares: init, spin, and a clean exit on Ctrl-C, SIGTERM or shutdown."""

import signal
import threading

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
import rclpy.logging

from mono_depth_ros.inference.base import BackendUnavailableError, ModelLoadError

# Start-up failures that are the user's to fix: one clear line, no traceback, exit code 1.
STARTUP_ERRORS = (ModelLoadError, BackendUnavailableError, ValueError, FileNotFoundError)


def run_node(node_class, args: list[str] | None = None) -> int:
    """Construct ``node_class`` and spin it until Ctrl-C, SIGTERM or an external shutdown."""
    rclpy.init(args=args)
    stop = threading.Event()
    node = None
    try:
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            node = node_class()
        except STARTUP_ERRORS as error:
            name = getattr(node_class, 'NODE_NAME', node_class.__name__)
            rclpy.logging.get_logger(name).fatal(f'cannot start: {error}')
            return 1
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        while rclpy.ok() and not stop.is_set():
            executor.spin_once(timeout_sec=0.1)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0
