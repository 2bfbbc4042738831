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

"""What the triangulation pipeline returns for a frame: the published points and the tracks."""

from dataclasses import dataclass, field

import numpy as np


@dataclass
class TrackSnapshot:
    """Every current track, for the debug view.

    Attributes:
        pixels: (M, 2) float32 current positions.
        ids: (M,) int64 track ids.
        trails: (M, K, 2) float32 past positions, oldest first; short tracks repeat their
            first position.
        depths: (M,) float32 depth (m) in the current frame of converged tracks, NaN elsewhere.
        depth_range: (min_depth, max_depth) for colouring.
    """

    pixels: np.ndarray
    ids: np.ndarray
    trails: np.ndarray
    depths: np.ndarray
    depth_range: tuple[float, float]


@dataclass
class TriangulationResult:
    """The sparse depth of one frame.

    Attributes:
        stamp_ns: the image stamp.
        pixels: (N, 2) float32 pixel positions (x, y) of the published tracks.
        depths: (N,) float32 z (m) in the current optical frame.
        points_camera: (N, 3) float32 points in the current optical frame.
        track_ids: (N,) int64.
        sigmas: (N,) float32 1-sigma (m) of each depth, from the measurement model (image
            noise, the odometry and time-offset error budget, inflated where the views
            disagree more than that).
        status: 'ok', or why nothing could be computed ('no pose: ...', 'reset: ...').
        stats: counts (tracks, new_tracks, new_views, triangulated, rejected, degenerate,
            dropped, converged, published), the time offset (time_offset_s, its
            time_offset_sigma_s, time_offset_estimated), the odometry buffer's resets
            (odometry_resets) and the applied rotation_correction_deg, and timings in ms
            (tracking_ms, triangulation_ms including the rotation refinement and the
            time-offset estimate, filter_ms, total_ms).
        tracks: every current track, for ``draw_tracks``.
        world_to_camera: the frame's 3x4 odometry -> optical pose as the pipeline used it
            (time offset applied, rotation refined), None without a pose; for the keyframes.
    """

    stamp_ns: int
    pixels: np.ndarray
    depths: np.ndarray
    points_camera: np.ndarray
    track_ids: np.ndarray
    status: str = 'ok'
    stats: dict = field(default_factory=dict)
    tracks: TrackSnapshot | None = None
    sigmas: np.ndarray | None = None
    world_to_camera: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.sigmas is None:
            self.sigmas = np.full(len(self.depths), np.nan, np.float32)

    @property
    def ok(self) -> bool:
        """Whether the frame had a pose (the result may still hold no points)."""
        return self.status == 'ok'

    def __len__(self) -> int:
        return len(self.depths)
