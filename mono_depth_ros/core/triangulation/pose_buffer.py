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

"""Camera poses at image stamps, interpolated from a bounded buffer of odometry samples.

Odometry may arrive in any order inside the buffer's history window. A pose is interpolated
between the two samples around the stamp (linear translation, slerp rotation) when they are at
most ``max_gap_s`` apart; a stamp outside the buffered span is served only within
``extrapolation_tolerance_s``. Otherwise the lookup returns no pose and the reason. A sample
older than the history window means time went backwards (a bag restarted, a simulator reset);
a sample whose pose jumps away from its neighbours in time (further than ``max_jump_m`` or
``max_jump_deg`` and faster than ``max_speed`` / ``max_turn_rate_deg``) means the same without a
clock jump (a simulation reset shorter than the history, a relocalised odometry). Either way
the buffer starts over from that sample, ``add`` returns True, ``resets`` counts it and
``last_reset_reason`` says why, so that callers reset their own state and warn once.
"""

from bisect import bisect_left
from dataclasses import dataclass

import numpy as np

from mono_depth_ros.core.errors import BadMessageError
from mono_depth_ros.core.transforms import interpolate_pose, pose_matrix, quaternion_to_matrix

NANOSECONDS = 1_000_000_000


@dataclass
class PoseLookup:
    """The pose at a stamp, or None and why not.

    Attributes:
        pose: 4x4 base->odom pose, or None.
        reason: '' when ``pose`` is set, else a sentence saying why there is none.
    """

    pose: np.ndarray | None
    reason: str = ''

    def __bool__(self) -> bool:
        return self.pose is not None


class PoseBuffer:
    """Odometry samples (stamp, position, orientation) kept for ``history_s`` seconds."""

    def __init__(self, max_gap_s: float = 0.2, history_s: float = 10.0,
                 extrapolation_tolerance_s: float = 0.02, max_samples: int = 4096,
                 max_jump_m: float = 0.1, max_speed: float = 30.0, max_jump_deg: float = 10.0,
                 max_turn_rate_deg: float = 720.0):
        if not max_gap_s > 0:
            raise BadMessageError('odom_max_gap', max_gap_s, 'a positive number of seconds')
        if not history_s > 0:
            raise BadMessageError('history_s', history_s, 'a positive number of seconds')
        self.max_gap_ns = int(max_gap_s * NANOSECONDS)
        self.history_ns = int(history_s * NANOSECONDS)
        self.tolerance_ns = int(max(extrapolation_tolerance_s, 0.0) * NANOSECONDS)
        self.max_samples = int(max_samples)
        self.max_jump_m, self.max_speed = float(max_jump_m), float(max_speed)
        self.max_jump_rad = np.radians(max_jump_deg)
        self.max_turn_rate = np.radians(max_turn_rate_deg)
        self.resets = 0
        self.last_reset_reason = ''
        self.clear()

    def __len__(self) -> int:
        return len(self._stamps)

    @property
    def newest_stamp_ns(self) -> int | None:
        """Stamp of the newest sample, or None when empty."""
        return self._stamps[-1] if self._stamps else None

    def clear(self) -> None:
        """Forget every sample."""
        self._stamps: list[int] = []
        self._positions: list[np.ndarray] = []
        self._orientations: list[np.ndarray] = []
        self._arrays = None  # the samples stacked for lookup_many, built when needed

    def add(self, stamp_ns: int, position, orientation_xyzw) -> bool:
        """Insert one sample; return True when time went backwards and the buffer was reset.

        Raises BadMessageError for a non-finite position or a non-unit quaternion.
        """
        stamp_ns = int(stamp_ns)
        position, orientation = _checked_sample(position, orientation_xyzw)
        reason = ''
        if self._stamps and stamp_ns < self._stamps[-1] - self.history_ns:
            reason = 'odometry time went backwards'
        elif self._stamps and self._jumps(stamp_ns, position, orientation):
            reason = 'odometry pose jumped'
        went_back = bool(reason)
        self._arrays = None
        if went_back:
            self.clear()
            self.resets += 1
            self.last_reset_reason = reason
        index = bisect_left(self._stamps, stamp_ns)
        if index < len(self._stamps) and self._stamps[index] == stamp_ns:
            self._positions[index] = position
            self._orientations[index] = orientation
            return went_back
        self._stamps.insert(index, stamp_ns)
        self._positions.insert(index, position)
        self._orientations.insert(index, orientation)
        oldest_kept = bisect_left(self._stamps, self._stamps[-1] - self.history_ns)
        oldest_kept = max(oldest_kept, len(self._stamps) - self.max_samples)
        if oldest_kept > 0:
            del self._stamps[:oldest_kept]
            del self._positions[:oldest_kept]
            del self._orientations[:oldest_kept]
        return went_back

    def _jumps(self, stamp_ns: int, position: np.ndarray, orientation: np.ndarray) -> bool:
        """Whether a sample is further from its nearest neighbour in time than motion allows."""
        index = bisect_left(self._stamps, stamp_ns)
        neighbours = [i for i in (index - 1, index) if 0 <= i < len(self._stamps)]
        nearest = min(neighbours, key=lambda i: abs(self._stamps[i] - stamp_ns))
        dt = abs(self._stamps[nearest] - stamp_ns) / NANOSECONDS
        moved = float(np.linalg.norm(position - self._positions[nearest]))
        dot = abs(float(np.dot(orientation, self._orientations[nearest])))
        dot /= float(np.linalg.norm(orientation) * np.linalg.norm(self._orientations[nearest]))
        turned = 2.0 * float(np.arccos(min(dot, 1.0)))
        return (moved > max(self.max_jump_m, self.max_speed * dt)
                or turned > max(self.max_jump_rad, self.max_turn_rate * dt))

    def lookup(self, stamp_ns: int) -> PoseLookup:
        """Return the 4x4 base->odom pose at ``stamp_ns``, or None and the reason."""
        stamp_ns = int(stamp_ns)
        stamps = self._stamps
        if not stamps:
            return PoseLookup(None, 'no odometry received yet')
        index = bisect_left(stamps, stamp_ns)
        if index < len(stamps) and stamps[index] == stamp_ns:
            return PoseLookup(pose_matrix(self._positions[index], self._orientations[index]))
        if index == 0 or index == len(stamps):
            outside_ns = stamps[0] - stamp_ns if index == 0 else stamp_ns - stamps[-1]
            if outside_ns > self.tolerance_ns:
                side = 'before the oldest' if index == 0 else 'after the newest'
                return PoseLookup(None, (
                    f'image stamp is {outside_ns / NANOSECONDS:.3f} s {side} odometry sample '
                    f'(extrapolation tolerance {self.tolerance_ns / NANOSECONDS:.3f} s)'))
            if len(stamps) == 1:
                return PoseLookup(pose_matrix(self._positions[0], self._orientations[0]))
            index = 1 if index == 0 else len(stamps) - 1
        before, after = index - 1, index
        gap_ns = stamps[after] - stamps[before]
        if gap_ns > self.max_gap_ns:
            return PoseLookup(None, (
                f'odometry gap of {gap_ns / NANOSECONDS:.3f} s around the image stamp exceeds '
                f'odom_max_gap {self.max_gap_ns / NANOSECONDS:.3f} s'))
        fraction = (stamp_ns - stamps[before]) / gap_ns
        position, orientation = interpolate_pose(
            self._positions[before], self._orientations[before], self._positions[after],
            self._orientations[after], fraction)
        return PoseLookup(pose_matrix(position, orientation))

    def lookup_many(self, stamps_ns) -> tuple[np.ndarray, np.ndarray]:
        """Return the (n, 4, 4) base->odom poses at many stamps and which of them exist.

        The same rules as ``lookup`` (exact samples, extrapolation tolerance, gaps), for a
        batch: the time-offset search looks up hundreds of instants a frame. Rows without a
        pose hold the identity.
        """
        stamps_ns = np.asarray(stamps_ns, dtype=np.int64).reshape(-1)
        poses = np.broadcast_to(np.eye(4), (len(stamps_ns), 4, 4)).copy()
        if not self._stamps or len(stamps_ns) == 0:
            return poses, np.zeros(len(stamps_ns), bool)
        if self._arrays is None:
            self._arrays = (np.asarray(self._stamps, dtype=np.int64), np.stack(self._positions),
                            np.stack(self._orientations))
        stamps, positions, orientations = self._arrays
        count = len(stamps)
        index = np.searchsorted(stamps, stamps_ns)
        outside = np.where(index == 0, stamps[0] - stamps_ns,
                           np.where(index == count, stamps_ns - stamps[-1], 0))
        ok = outside <= self.tolerance_ns
        if count == 1:
            before = after = np.zeros(len(stamps_ns), np.int64)
            fraction = np.zeros(len(stamps_ns))
        else:
            after = np.clip(index, 1, count - 1)
            before = after - 1
            gap = stamps[after] - stamps[before]
            ok &= gap <= self.max_gap_ns
            fraction = (stamps_ns - stamps[before]) / gap
            exact = (index < count) & (stamps[np.minimum(index, count - 1)] == stamps_ns)
            ok |= exact  # an exact sample needs no neighbour
            before = np.where(exact, index, before)
            after = np.where(exact, index, after)
            fraction = np.where(exact, 0.0, fraction)
        position = positions[before] + fraction[:, None] * (positions[after] - positions[before])
        quaternion = _slerp_many(orientations[before], orientations[after], fraction)
        poses[:, :3, :3] = _rotation_matrices(quaternion)
        poses[:, :3, 3] = position
        poses[~ok] = np.eye(4)
        return poses, ok


def _slerp_many(first: np.ndarray, second: np.ndarray, fraction: np.ndarray) -> np.ndarray:
    """Return the (n, 4) slerp of unit quaternions (x, y, z, w), as ``transforms.slerp``."""
    a = first / np.linalg.norm(first, axis=1, keepdims=True)
    b = second / np.linalg.norm(second, axis=1, keepdims=True)
    dot = (a * b).sum(axis=1)
    b = np.where(dot[:, None] < 0.0, -b, b)
    dot = np.abs(dot)
    theta = np.arccos(np.clip(dot, -1.0, 1.0))
    sin_theta = np.sin(theta)
    near = dot > 0.9995
    with np.errstate(invalid='ignore', divide='ignore'):
        weight_a = np.where(near, 1.0 - fraction, np.sin((1.0 - fraction) * theta) / sin_theta)
        weight_b = np.where(near, fraction, np.sin(fraction * theta) / sin_theta)
    q = weight_a[:, None] * a + weight_b[:, None] * b
    return q / np.linalg.norm(q, axis=1, keepdims=True)


def _rotation_matrices(q: np.ndarray) -> np.ndarray:
    """Return the (n, 3, 3) rotations of (n, 4) unit quaternions (x, y, z, w)."""
    x, y, z, w = q.T
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)], axis=-1),
        np.stack([2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)], axis=-1),
        np.stack([2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], axis=-1),
    ], axis=1)


def _checked_sample(position, orientation_xyzw) -> tuple[np.ndarray, np.ndarray]:
    """Return the position and orientation as float arrays, or raise BadMessageError."""
    try:
        position = np.asarray(position, dtype=np.float64).reshape(3)
    except (TypeError, ValueError):
        raise BadMessageError('Odometry.pose.pose.position', position, '3 numbers') from None
    try:
        orientation = np.asarray(orientation_xyzw, dtype=np.float64).reshape(4)
    except (TypeError, ValueError):
        raise BadMessageError('Odometry.pose.pose.orientation', orientation_xyzw,
                              '4 numbers x y z w') from None
    if not np.isfinite(position).all():
        raise BadMessageError('Odometry.pose.pose.position', position.tolist(), 'finite values')
    try:
        quaternion_to_matrix(orientation)
    except BadMessageError as error:
        raise BadMessageError('Odometry.pose.pose.orientation', orientation.tolist(),
                              error.expected) from None
    return position, orientation
