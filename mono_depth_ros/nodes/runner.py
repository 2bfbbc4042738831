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

"""The main() every node shares: --help, the Fast DDS profile, init, spin and a clean exit.

Before ROS starts, ``--help`` prints the node's parameters and topics and exits, the process
gets the package's large-data Fast DDS profile unless the user chose one, and parameters the
node does not have are named; then the node spins until Ctrl-C, SIGTERM or shutdown.
"""

import signal
import sys
import threading

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
import rclpy.logging

from mono_depth_ros.inference.base import BackendUnavailableError, ModelLoadError
from mono_depth_ros.nodes.command_line import (help_text, node_name, ParamsFileError,
                                               unknown_parameter_warnings, wants_help)
from mono_depth_ros.resources import apply_fastdds_profile

# Start-up failures that are the user's to fix: one clear line, no traceback, exit code 1.
STARTUP_ERRORS = (ModelLoadError, BackendUnavailableError, ValueError, FileNotFoundError)
# The exit code of a command line the node cannot use (an unreadable --params-file).
USAGE_ERROR = 2


def node_help(node_class) -> str:
    """Return the --help of a node class (its NODE_NAME, PARAMETERS, TOPICS, module doc)."""
    module_doc = sys.modules[node_class.__module__].__doc__ or ''
    return help_text(node_class.NODE_NAME, module_doc.strip().splitlines()[0],
                     node_class.PARAMETERS, node_class.TOPICS)


def run_node(node_class, args: list[str] | None = None) -> int:
    """Construct ``node_class`` and spin it until Ctrl-C, SIGTERM or an external shutdown.

    ``args`` is the command line (default ``sys.argv``); ``--help`` prints :func:`node_help`
    and returns 0 without starting ROS.
    """
    command_line = list(sys.argv if args is None else args)
    if wants_help(command_line):
        print(node_help(node_class), end='')
        return 0
    name = node_name(command_line, node_class.NODE_NAME)
    logger = rclpy.logging.get_logger(name)
    try:
        warnings = unknown_parameter_warnings(command_line, node_class.PARAMETERS, name)
    except ParamsFileError as error:
        logger.fatal(f'cannot start: {error}')
        return USAGE_ERROR
    profile = apply_fastdds_profile()  # before rclpy.init and the first DDS participant
    rclpy.init(args=args)
    logger.info(profile.describe())
    for warning in warnings:
        logger.warning(warning)
    stop = threading.Event()
    node = None
    try:
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            node = node_class()
        except STARTUP_ERRORS as error:
            logger.fatal(f'cannot start: {error}')
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
