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

"""The lifecycle (managed) transitions both nodes share, on top of their _open and _close.

configure loads the model (or builds the triangulation pipeline) and creates the endpoints;
activate lets frames through; deactivate stops them and waits for the frame in flight, so
nothing is published after it returns; cleanup releases the model and removes the endpoints
(the node is as it was constructed); shutdown does what cleanup does from any state.
A failed configure logs one line, undoes what it did and leaves the node unconfigured.
"""

from rclpy.lifecycle import LifecycleState, TransitionCallbackReturn

from mono_depth_ros.inference.base import BackendUnavailableError, ModelLoadError

# Configure failures that are the user's to fix: one line, back to unconfigured.
CONFIGURE_ERRORS = (ModelLoadError, BackendUnavailableError, ValueError, FileNotFoundError)
# How long deactivate waits for the frame in flight.
DEACTIVATE_WAIT_S = 10.0


class ManagedTransitions:
    """Lifecycle callbacks for a node class with ``_open()``, ``_close()`` and ``_loop``.

    Put it first in the bases, before the node class and ``rclpy.lifecycle.LifecycleNode``.
    """

    MANAGED = True

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Load the model and create the endpoints; frames wait for activate."""
        try:
            self._open()
        except CONFIGURE_ERRORS as error:
            self.get_logger().error(f'cannot configure: {error}')
            self._close()
            return TransitionCallbackReturn.FAILURE
        return super().on_configure(state)

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Let frames through: outputs are published from the next frame on."""
        self._loop.paused = False
        self.get_logger().info('active: publishing')
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Stop taking frames and wait for the one in flight; the model stays loaded."""
        self._loop.paused = True
        self._loop.wait_idle(DEACTIVATE_WAIT_S)
        self.get_logger().info('inactive: not publishing')
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Release the model (and engine) and remove the endpoints."""
        self._close()
        self.get_logger().info('cleaned up: model released')
        return super().on_cleanup(state)

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Release everything, whatever the state."""
        self._close()
        return super().on_shutdown(state)

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Release everything after an error in a transition; back to unconfigured."""
        self._close()
        return TransitionCallbackReturn.SUCCESS
