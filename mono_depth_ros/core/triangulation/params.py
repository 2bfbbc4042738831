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

"""The triangulation pipeline's settings (the triangulation node's parameters carry the names)."""

from dataclasses import dataclass, fields

import numpy as np

from mono_depth_ros.core.errors import BadMessageError
from mono_depth_ros.core.transforms import pose_from_xyz_quaternion
from mono_depth_ros.core.triangulation import triangulate
from mono_depth_ros.core.triangulation.depth_filter import DepthFilterParams
from mono_depth_ros.core.triangulation.tracking import TrackerParams


@dataclass(frozen=True)
class TriangulationParams:
    """Settings of the triangulation pipeline (the node's parameters carry the same names).

    Attributes:
        max_features: most feature tracks kept at once.
        min_parallax_deg: least angle between a track's rays before it is triangulated.
        max_reprojection_error_px: largest reprojection error (any view) of an accepted point.
        min_depth, max_depth: depth range (m) of triangulated and published points.
        odom_max_gap: longest gap (s) between odometry samples that interpolation may bridge.
        camera_to_base: x y z qx qy qz qw, pose of the camera optical frame in the odometry
            child (base) frame; the default looks along base +x (REP 103 / optical convention).
        odom_extrapolation: how far (s) an image stamp may lie outside the buffered odometry.
        odom_history: how long (s) odometry samples are kept.
        max_observations: views stored per track, the first one included.
        keyframe_parallax_deg: ray rotation since the last stored view that stores a new one.
        pixel_noise_px: image noise (px, 1 sigma) assumed for the measurement variance.
        converged_relative_sigma: relative depth uncertainty at which a track is published.
        min_inlier_updates: least number of consistent measurements of a published track.
        min_feature_distance_px: least distance between feature tracks.
        klt_window_px: KLT window side (odd).
        klt_pyramid_levels: KLT pyramid levels above full resolution.
        forward_backward_px: largest forward-backward KLT round-trip error of a kept track.
        klt_error_ratio: largest KLT patch error of a kept track, as a multiple of the frame's
            median; drops most corners made by occlusion boundaries (0 disables).
        corner_quality: Shi-Tomasi threshold relative to the strongest corner.
        grid_columns, grid_rows: re-detection grid that spreads tracks over the image.
        trail_length: past positions kept per track for the debug view.
        refine_rotation: correct the odometry orientation of each frame from the converged
            points (needs at least 30 of them).
        max_rotation_correction_deg: larger corrections are distrusted and not applied.
        refine_relative_sigma: the rotation refinement uses only converged points at most this
            uncertain (relative depth sigma): points barely within the publishing gate would
            turn their own errors into rotations, stored with the next views.
        camera_time_offset: image stamp minus the instant the image shows (s; positive when
            the camera stamps late); poses are looked up at stamp - offset.
        estimate_time_offset: estimate the offset online from the tracks and the odometry,
            starting from camera_time_offset.
        time_offset_sigma: 1-sigma (s) of camera_time_offset until it is estimated.
        max_time_offset: the estimate is searched within camera_time_offset +- this (s).
        odom_rotation_sigma_deg, odom_position_sigma: 1-sigma orientation (deg) and position
            (m) error of each stored view's odometry pose relative to the others, besides the
            time offset's; part of each point's sigma.
        odom_scale_sigma: 1-sigma relative error of the odometry's distances between views
            (a drifting odometry's scale error, e.g. 0.01 for 1 % of the path); it adds that
            fraction of the depth to each point's sigma. 0 trusts the distances.
        odom_max_jump: a pose further (m) from its neighbours in time than 30 m/s allows
            (and than this) resets the odometry buffer, as a simulation reset does.
    """

    # 600, not 500: on the drive with late stamps and sway, the tracks that have converged by
    # frame 28 are those of the first frames still in view; 500 give 300 a frame only on
    # average, 600 at least 325 from frame 28 on (doc/triangulation.md).
    max_features: int = 600
    min_parallax_deg: float = 1.0
    max_reprojection_error_px: float = 1.5
    min_depth: float = 0.2
    max_depth: float = 30.0
    odom_max_gap: float = 0.2
    camera_to_base: tuple = (0.0, 0.0, 0.0, -0.5, 0.5, -0.5, 0.5)
    odom_extrapolation: float = 0.02
    odom_history: float = 10.0
    # A view every 0.3 deg of parallax: a track reaches the three consistent updates of the
    # publishing gate sooner (0.5 deg held back tracks whose depth was already known); six
    # views are as accurate as eight and a quarter cheaper to solve.
    max_observations: int = 6
    keyframe_parallax_deg: float = 0.3
    # With 11 px KLT windows (half the cost of 15 px, and more accurate: a smaller patch
    # straddles fewer depth edges) 0.4 px keeps the 2-sigma coverage of the synthetic motions
    # at 95-97 %; a 3 % gate publishes what 2 % did 0.5 s later, at AbsRel about 0.01.
    pixel_noise_px: float = 0.4
    converged_relative_sigma: float = 0.03
    min_inlier_updates: int = 3
    min_feature_distance_px: float = 10.0
    klt_window_px: int = 11
    klt_pyramid_levels: int = 2  # the tracker starts KLT at the predicted position
    forward_backward_px: float = 1.0
    klt_error_ratio: float = 3.0
    corner_quality: float = 0.01
    grid_columns: int = 8
    grid_rows: int = 6
    trail_length: int = 10
    refine_rotation: bool = True
    max_rotation_correction_deg: float = 2.0
    refine_relative_sigma: float = 0.02
    camera_time_offset: float = 0.0
    estimate_time_offset: bool = True
    time_offset_sigma: float = 0.005
    max_time_offset: float = 0.1
    odom_rotation_sigma_deg: float = 0.01
    odom_position_sigma: float = 0.001
    odom_scale_sigma: float = 0.0
    odom_max_jump: float = 0.5

    def __post_init__(self) -> None:
        positive = ('max_features', 'max_reprojection_error_px', 'min_depth', 'odom_max_gap',
                    'max_rotation_correction_deg',
                    'odom_history', 'pixel_noise_px', 'converged_relative_sigma',
                    'min_feature_distance_px', 'klt_window_px', 'forward_backward_px',
                    'corner_quality', 'grid_columns', 'grid_rows', 'trail_length',
                    'time_offset_sigma', 'odom_max_jump', 'refine_relative_sigma')
        for name in positive:
            value = getattr(self, name)
            if not (np.isfinite(value) and value > 0):
                raise BadMessageError(name, value, 'a positive number')
        if not self.max_depth > self.min_depth:
            raise BadMessageError('max_depth', self.max_depth,
                                  f'more than min_depth = {self.min_depth}')
        if self.max_observations < 2:
            raise BadMessageError('max_observations', self.max_observations, 'at least 2')
        if not (np.isfinite(self.camera_time_offset) and abs(self.camera_time_offset) < 1.0):
            raise BadMessageError('camera_time_offset', self.camera_time_offset,
                                  'a number of seconds in (-1, 1)')
        for name in ('min_parallax_deg', 'keyframe_parallax_deg', 'odom_extrapolation',
                     'klt_error_ratio', 'max_time_offset', 'odom_rotation_sigma_deg',
                     'odom_position_sigma', 'odom_scale_sigma'):
            if not (np.isfinite(getattr(self, name)) and getattr(self, name) >= 0):
                raise BadMessageError(name, getattr(self, name), 'a number >= 0')
        try:
            pose_from_xyz_quaternion(self.camera_to_base)
        except (BadMessageError, TypeError, ValueError) as error:
            raise BadMessageError('camera_to_base', self.camera_to_base,
                                  f'x y z qx qy qz qw with a unit quaternion ({error})') from None

    @classmethod
    def from_dict(cls, values: dict) -> 'TriangulationParams':
        """Return params from a mapping, ignoring keys that are not parameters."""
        names = {f.name for f in fields(cls)}
        chosen = {k: v for k, v in values.items() if k in names}
        if 'camera_to_base' in chosen:
            chosen['camera_to_base'] = tuple(float(v) for v in chosen['camera_to_base'])
        return cls(**chosen)

    def tracker_params(self) -> TrackerParams:
        """Return the feature tracker's settings."""
        return TrackerParams(
            max_features=self.max_features, grid_columns=self.grid_columns,
            grid_rows=self.grid_rows, min_distance_px=self.min_feature_distance_px,
            quality_level=self.corner_quality, window_px=self.klt_window_px,
            pyramid_levels=self.klt_pyramid_levels,
            forward_backward_px=self.forward_backward_px, error_ratio=self.klt_error_ratio)

    def filter_params(self) -> DepthFilterParams:
        """Return the depth filters' settings."""
        return DepthFilterParams(
            min_depth=self.min_depth, max_depth=self.max_depth,
            converged_relative_sigma=self.converged_relative_sigma,
            min_updates=self.min_inlier_updates)

    def gates(self) -> triangulate.TriangulationGates:
        """Return the triangulation gates."""
        return triangulate.TriangulationGates(
            min_parallax_deg=self.min_parallax_deg,
            max_reprojection_error_px=self.max_reprojection_error_px,
            min_depth=self.min_depth, max_depth=self.max_depth)
