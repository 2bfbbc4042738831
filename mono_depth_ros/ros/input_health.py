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

"""What was wrong with a node's input: counted for /diagnostics, logged throttled per problem."""

import numpy as np

from mono_depth_ros.core.camera_model import CameraModel, CameraModelCache
from mono_depth_ros.core.errors import BadMessageError
from mono_depth_ros.ros.camera_input import CameraFrame
from mono_depth_ros.ros.diagnostics import ERROR, OK, WARN
from mono_depth_ros.ros.throttle import KeyedThrottle


class InputHealth:
    """Counts problems by kind, remembers the last one, and logs each kind at most every period."""

    def __init__(self, logger, kinds: tuple[str, ...], throttle_s: float = 5.0) -> None:
        self._logger = logger
        self._throttle = KeyedThrottle(throttle_s)
        self.counts = dict.fromkeys(('no_camera_info', 'bad_input', 'failed', *kinds), 0)
        self.last_problem = ''

    def warn(self, kind: str, text: str, key: str = '') -> None:
        """Count a problem and log it, throttled per ``key`` (default: the kind)."""
        self.counts[kind] += 1
        self.last_problem = text
        if self._throttle.allow(key or kind):
            self._logger.warning(text)

    def status(self, publishing: bool, active: str) -> tuple[bytes, str]:
        """Return the node's diagnostic (level, message).

        ERROR once a frame has failed, WARN while the last problem keeps every output away,
        else OK with ``active`` while publishing or 'waiting for images'.
        """
        if self.counts['failed']:
            return ERROR, self.last_problem
        if self.last_problem and not publishing:
            return WARN, self.last_problem
        return OK, active if publishing else 'waiting for images'

    def failed(self, error: BaseException) -> None:
        """Count and log an unexpected failure of a frame (the node keeps going)."""
        self.counts['failed'] += 1
        self.last_problem = f'{type(error).__name__}: {error}'
        if self._throttle.allow(f'failed {type(error).__name__}'):
            self._logger.error(f'frame failed: {self.last_problem}')

    def usable_frame(self, frame: CameraFrame, cameras: CameraModelCache, max_pixels: int,
                     camera_info_topic: str,
                     purpose: str) -> tuple[np.ndarray, CameraModel] | None:
        """Return the frame's RGB image and camera model, or None after saying what is wrong."""
        if frame.camera_info is None:
            self.warn('no_camera_info', f'no CameraInfo on {camera_info_topic} yet: {purpose} '
                      'needs the intrinsics, waiting')
            return None
        try:
            rgb = frame.rgb()
            height, width = rgb.shape[:2]
            if width * height > max_pixels:
                raise BadMessageError('Image.width x height', f'{width}x{height}',
                                      f'at most max_pixels = {max_pixels}')
            return rgb, cameras.model_for(frame.camera_info, width, height)
        except BadMessageError as error:
            self.warn('bad_input', f'dropping frame {frame.stamp_ns}: {error}',
                      f'{error.field} {error.expected}')
            return None
