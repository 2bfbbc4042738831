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

"""Kinds of robot motion through the synthetic room, with an optional yaw sway.

``drive`` is the ellipse of ``scene.base_pose_at`` (forward along the path, bending left).
The others start at the same pose, keep its height bob and pitch/roll/yaw wobbles, and stay
clear of the boxes for a few seconds:

* ``forward``: straight along base +x at 0.5 m/s (the camera looks along its motion);
* ``sideways``: along base +y (to the left) at 0.25 m/s, looking along +x;
* ``turning``: a left arc of 2.5 m radius at 0.4 m/s (about 9 degrees per second);
* ``stop``: ``drive`` for ``stop_after_s`` seconds, then standing still.

``sway_deg`` adds a yaw oscillation of that amplitude at ``sway_hz`` about the base's z axis (a
robot rocking on its suspension): it moves the images and the odometry alike.
"""

from dataclasses import dataclass
import math

import numpy as np

from mono_depth_ros.core.errors import BadMessageError
from mono_depth_ros.synth import scene

MOTIONS = ('drive', 'forward', 'sideways', 'turning', 'stop')
FORWARD_SPEED = 0.5
SIDEWAYS_SPEED = 0.25
TURN_RADIUS = 2.5
TURN_SPEED = 0.4


@dataclass(frozen=True)
class Motion:
    """The base path of a sequence: a kind from MOTIONS and a yaw sway (degrees, Hz)."""

    kind: str = 'drive'
    sway_deg: float = 0.0
    sway_hz: float = 1.0
    stop_after_s: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in MOTIONS:
            raise BadMessageError('motion', self.kind, f'one of {", ".join(MOTIONS)}')
        for name in ('sway_deg', 'sway_hz', 'stop_after_s'):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise BadMessageError(name, value, 'a finite number >= 0')

    def base_pose_at(self, time_s: float) -> np.ndarray:
        """Return the 4x4 pose of the base in the odometry frame at a time (s) after the start."""
        if self.kind == 'drive':
            pose = scene.base_pose_at(time_s)
        elif self.kind == 'stop':
            pose = scene.base_pose_at(min(time_s, self.stop_after_s))
        else:
            pose = _straight_or_arc_pose(self.kind, time_s)
        if self.sway_deg:
            sway = math.radians(self.sway_deg) * math.sin(2.0 * math.pi * self.sway_hz * time_s)
            pose[:3, :3] = pose[:3, :3] @ scene.rotation_z(sway)
        return pose

    def base_twist_at(self, time_s: float,
                      step_s: float = 1e-4) -> tuple[np.ndarray, np.ndarray]:
        """Return the base's linear and angular velocity in the base frame (odometry twist)."""
        if self.kind == 'drive' and not self.sway_deg:
            return scene.base_twist_at(time_s, step_s)
        before, after = self.base_pose_at(time_s - step_s), self.base_pose_at(time_s + step_s)
        rotation = self.base_pose_at(time_s)[:3, :3]
        linear = rotation.T @ (after[:3, 3] - before[:3, 3]) / (2.0 * step_s)
        omega = rotation.T @ (after[:3, :3] - before[:3, :3]) / (2.0 * step_s)
        angular = 0.5 * np.array([omega[2, 1] - omega[1, 2], omega[0, 2] - omega[2, 0],
                                  omega[1, 0] - omega[0, 1]])
        return linear, angular


def _straight_or_arc_pose(kind: str, time_s: float) -> np.ndarray:
    """Return the pose of the forward, sideways or turning path, with the drive's wobbles."""
    if kind == 'forward':
        x, y, heading = FORWARD_SPEED * time_s, 0.0, 0.0
    elif kind == 'sideways':
        x, y, heading = 0.0, SIDEWAYS_SPEED * time_s, 0.0
    else:
        heading = TURN_SPEED * time_s / TURN_RADIUS
        x, y = TURN_RADIUS * math.sin(heading), TURN_RADIUS * (1.0 - math.cos(heading))
    z = scene.BOB[0] * math.sin(2.0 * math.pi * scene.BOB[1] * time_s)
    yaw = heading + scene.YAW_WOBBLE[0] * math.sin(2.0 * math.pi * scene.YAW_WOBBLE[1] * time_s)
    pitch = scene.PITCH_WOBBLE[0] * math.sin(2.0 * math.pi * scene.PITCH_WOBBLE[1] * time_s)
    roll = scene.ROLL_WOBBLE[0] * math.sin(2.0 * math.pi * scene.ROLL_WOBBLE[1] * time_s)
    pose = np.eye(4)
    pose[:3, :3] = (scene.rotation_z(yaw) @ scene.rotation_y(pitch)
                    @ scene.rotation_x(roll))
    pose[:3, 3] = (x, y, z)
    return pose
