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

"""Sparse metric depth from one camera and odometry: tracking, triangulation and depth filters.

``TriangulationPipeline`` is what the triangulation node and the offline bag tool share. Feed it
odometry (``add_odometry``) and grayscale frames (``process_frame``); each frame it

1. tracks corners with KLT (``tracking``),
2. looks up the camera pose at the image stamp from the odometry buffer (``pose_buffer``) and,
   with ``refine_rotation``, corrects its orientation by the small rotation that best aligns
   the converged points with their tracks (the position stays the odometry's; this absorbs
   odometry heading jitter and camera/odometry time offsets, which rotation turns into large
   image errors),
3. triangulates every track over its stored views plus the current one (``triangulate``),
4. fuses the inverse depth in the track's first view into a per-track filter (``depth_filter``),
5. publishes the converged tracks: pixel, depth (z in the current optical frame) and 3-D point.

A track stores its first observation and up to ``max_observations - 1`` later ones, each taken
when its ray has turned by ``keyframe_parallax_deg`` since the last stored one. A standing or
purely rotating camera gives no parallax, hence no measurements and no new points.
"""

from dataclasses import dataclass, field, fields
import time

import cv2
import numpy as np

from mono_depth_ros.core.errors import BadMessageError
from mono_depth_ros.core.transforms import invert_pose, pose_from_xyz_quaternion
from mono_depth_ros.core.triangulation import triangulate
from mono_depth_ros.core.triangulation.depth_filter import DepthFilterBank, DepthFilterParams
from mono_depth_ros.core.triangulation.pose_buffer import PoseBuffer
from mono_depth_ros.core.triangulation.tracking import FeatureTracker, TrackerParams


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
    """

    max_features: int = 500
    min_parallax_deg: float = 1.0
    max_reprojection_error_px: float = 1.5
    min_depth: float = 0.2
    max_depth: float = 30.0
    odom_max_gap: float = 0.2
    camera_to_base: tuple = (0.0, 0.0, 0.0, -0.5, 0.5, -0.5, 0.5)
    odom_extrapolation: float = 0.02
    odom_history: float = 10.0
    max_observations: int = 8
    keyframe_parallax_deg: float = 0.5
    pixel_noise_px: float = 0.5
    converged_relative_sigma: float = 0.02
    min_inlier_updates: int = 3
    min_feature_distance_px: float = 10.0
    klt_window_px: int = 15
    klt_pyramid_levels: int = 3
    forward_backward_px: float = 1.0
    klt_error_ratio: float = 3.0
    corner_quality: float = 0.01
    grid_columns: int = 8
    grid_rows: int = 6
    trail_length: int = 10
    refine_rotation: bool = True
    max_rotation_correction_deg: float = 2.0

    def __post_init__(self) -> None:
        positive = ('max_features', 'max_reprojection_error_px', 'min_depth', 'odom_max_gap',
                    'max_rotation_correction_deg',
                    'odom_history', 'pixel_noise_px', 'converged_relative_sigma',
                    'min_feature_distance_px', 'klt_window_px', 'forward_backward_px',
                    'corner_quality', 'grid_columns', 'grid_rows', 'trail_length')
        for name in positive:
            value = getattr(self, name)
            if not (np.isfinite(value) and value > 0):
                raise BadMessageError(name, value, 'a positive number')
        if not self.max_depth > self.min_depth:
            raise BadMessageError('max_depth', self.max_depth,
                                  f'more than min_depth = {self.min_depth}')
        if self.max_observations < 2:
            raise BadMessageError('max_observations', self.max_observations, 'at least 2')
        for name in ('min_parallax_deg', 'keyframe_parallax_deg', 'odom_extrapolation',
                     'klt_error_ratio'):
            if not getattr(self, name) >= 0:
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
        status: 'ok', or why nothing could be computed ('no pose: ...', 'reset: ...').
        stats: counts (tracks, new_tracks, triangulated, rejected, dropped, converged,
            published), the applied rotation_correction_deg, and timings in ms (tracking_ms,
            triangulation_ms including the rotation refinement, filter_ms, total_ms).
        tracks: every current track, for ``draw_tracks``.
    """

    stamp_ns: int
    pixels: np.ndarray
    depths: np.ndarray
    points_camera: np.ndarray
    track_ids: np.ndarray
    status: str = 'ok'
    stats: dict = field(default_factory=dict)
    tracks: TrackSnapshot | None = None

    @property
    def ok(self) -> bool:
        """Whether the frame had a pose (the result may still hold no points)."""
        return self.status == 'ok'

    def __len__(self) -> int:
        return len(self.depths)


class TriangulationPipeline:
    """Sparse metric depth from a grayscale image stream and odometry."""

    def __init__(self, params: TriangulationParams | None = None):
        self.params = params or TriangulationParams()
        p = self.params
        self.camera_to_base = pose_from_xyz_quaternion(p.camera_to_base)
        self.poses = PoseBuffer(max_gap_s=p.odom_max_gap, history_s=p.odom_history,
                                extrapolation_tolerance_s=p.odom_extrapolation)
        self.tracker = FeatureTracker(p.tracker_params())
        self.filters = DepthFilterBank(p.filter_params())
        self._gates = p.gates()
        self.reset()

    def reset(self) -> None:
        """Forget tracks, filters, odometry and the last image stamp."""
        self.poses.clear()
        self._reset_tracks()

    def add_odometry(self, stamp_ns: int, position, orientation_xyzw) -> None:
        """Buffer the base->odom pose at ``stamp_ns``; BadMessageError for NaN or a bad quaternion.

        Odometry older than the buffer's history means time went backwards: the buffer starts
        over and the next frame resets the tracks (its status says so).
        """
        if self.poses.add(stamp_ns, position, orientation_xyzw):
            self._pending_reset = 'odometry time went backwards'

    def camera_pose(self, stamp_ns: int):
        """Return the 4x4 optical->odom pose at ``stamp_ns`` and '' , or None and the reason."""
        lookup = self.poses.lookup(stamp_ns)
        if lookup.pose is None:
            return None, lookup.reason
        return lookup.pose @ self.camera_to_base, ''

    def process_frame(self, stamp_ns: int, gray: np.ndarray, camera) -> TriangulationResult:
        """Track, triangulate and filter one (H, W) uint8 frame; return its sparse depth.

        ``camera`` is a CameraModel (or anything with fx, fy and undistort_points) of this
        image. Without a pose at the stamp the tracks are still followed, and the result holds
        no points and says why in ``status``.
        """
        started = time.perf_counter()
        stamp_ns = int(stamp_ns)
        size = getattr(camera, 'output_size', None)
        shape = np.shape(gray)
        if size is not None and len(shape) == 2 and tuple(size) != (shape[1], shape[0]):
            raise BadMessageError('image', f'{shape[1]}x{shape[0]}',
                                  f'the camera_info image size {size[0]}x{size[1]}')
        reset_reason = self._pending_reset  # the odometry noticed first
        if not reset_reason and self._last_stamp_ns is not None \
                and stamp_ns < self._last_stamp_ns:
            reset_reason = 'image time went backwards'
        if reset_reason:
            self._reset_tracks()
        self._last_stamp_ns = stamp_ns

        tracked = self.tracker.track(gray)
        self._carry(tracked.previous_index)
        self._push_trails(tracked.points)
        tracking_ms = _elapsed_ms(started)
        stats = {'tracks': len(tracked.ids), 'new_tracks': tracked.new_count,
                 'triangulated': 0, 'rejected': 0, 'dropped': 0, 'converged': 0,
                 'published': 0, 'rotation_correction_deg': 0.0, 'tracking_ms': tracking_ms,
                 'triangulation_ms': 0.0, 'filter_ms': 0.0}

        camera_pose, reason = self.camera_pose(stamp_ns)
        if reset_reason:
            status = f'reset: {reset_reason}'
        else:
            status = 'ok' if camera_pose is not None else f'no pose: {reason}'
        if camera_pose is None:
            stats['total_ms'] = _elapsed_ms(started)
            return self._result(stamp_ns, status, stats, None)

        world_to_camera = invert_pose(camera_pose)[:3]
        normalized = np.asarray(camera.undistort_points(tracked.points), dtype=np.float64)
        focal = (float(camera.fx), float(camera.fy))

        step = time.perf_counter()
        if self.params.refine_rotation:
            world_to_camera, stats['rotation_correction_deg'] = self._refined_rotation(
                normalized, world_to_camera, focal)
        measured = self._triangulate(normalized, world_to_camera, focal)
        stats['triangulation_ms'] = _elapsed_ms(step)

        step = time.perf_counter()
        stats.update(self._filter(measured))
        self._store_views(normalized, world_to_camera)
        stats['dropped'] = self._drop_diverged()
        stats['filter_ms'] = _elapsed_ms(step)
        result = self._result(stamp_ns, status, stats, world_to_camera, camera)
        stats['total_ms'] = _elapsed_ms(started)
        return result

    # ----------------------------------------------------------------------------------------
    # Steps

    def _reset_tracks(self) -> None:
        """Forget tracks, filters and the last image stamp; keep the odometry."""
        p = self.params
        self.tracker.reset()
        self.filters.carry(np.zeros(0, np.int64))
        self._pending_reset = ''
        self._last_stamp_ns = None
        views = p.max_observations
        self._observations = np.zeros((0, views, 2))
        self._view_poses = np.zeros((0, views, 3, 4))
        self._view_count = np.zeros(0, np.int64)
        self._last_ray = np.zeros((0, 3))
        self._anchor_direction = np.zeros((0, 3))
        self._trails = np.zeros((0, p.trail_length, 2), np.float32)
        self._new_rows = np.zeros(0, np.int64)
        self._rejected_rows = np.zeros(0, np.int64)

    def _carry(self, previous_index: np.ndarray) -> None:
        """Reorder every per-track array to the tracker's new track list."""
        old = previous_index >= 0
        source = previous_index[old]

        def moved(values: np.ndarray) -> np.ndarray:
            out = np.zeros((len(previous_index),) + values.shape[1:], values.dtype)
            out[old] = values[source]
            return out

        self._observations = moved(self._observations)
        self._view_poses = moved(self._view_poses)
        self._view_count = moved(self._view_count)
        self._last_ray = moved(self._last_ray)
        self._anchor_direction = moved(self._anchor_direction)
        self._trails = moved(self._trails)
        self._new_rows = np.flatnonzero(~old)
        self._rejected_rows = np.zeros(0, np.int64)
        self.filters.carry(previous_index)

    def _push_trails(self, points: np.ndarray) -> None:
        self._trails[:, :-1] = self._trails[:, 1:]
        self._trails[:, -1] = points
        self._trails[self._new_rows] = points[self._new_rows, None, :]

    def _refined_rotation(self, normalized: np.ndarray, world_to_camera: np.ndarray, focal):
        """Correct the camera orientation so that converged points reproject onto their tracks.

        The camera centre stays where odometry put it; only a small rotation is estimated
        (Gauss-Newton, Huber weights), and only from enough converged tracks.
        """
        rows = np.flatnonzero(self.filters.converged())
        if len(rows) < 30:
            return world_to_camera, 0.0
        anchor = self._view_poses[rows, 0]
        in_anchor = self._anchor_direction[rows] / self.filters.mean[rows, None]
        world = np.einsum('nji,nj->ni', anchor[:, :, :3], in_anchor - anchor[:, :, 3])
        in_camera = world @ world_to_camera[:, :3].T + world_to_camera[:, 3]
        observed = normalized[rows]
        ok = (in_camera[:, 2] > 1e-3) & np.isfinite(observed).all(axis=1)
        in_camera, observed = in_camera[ok], observed[ok]
        if len(in_camera) < 30:
            return world_to_camera, 0.0
        scale = np.asarray(focal)
        correction = np.eye(3)
        for _ in range(3):
            p = in_camera @ correction.T
            inverse_z = 1.0 / p[:, 2]
            projected = p[:, :2] * inverse_z[:, None]
            residual = ((projected - observed) * scale).reshape(-1)
            d_projection = np.zeros((len(p), 2, 3))
            d_projection[:, 0, 0] = inverse_z
            d_projection[:, 1, 1] = inverse_z
            d_projection[:, 0, 2] = -projected[:, 0] * inverse_z
            d_projection[:, 1, 2] = -projected[:, 1] * inverse_z
            skew = np.zeros((len(p), 3, 3))  # d(p + w x p)/dw = -[p]x
            skew[:, 0, 1], skew[:, 0, 2] = p[:, 2], -p[:, 1]
            skew[:, 1, 0], skew[:, 1, 2] = -p[:, 2], p[:, 0]
            skew[:, 2, 0], skew[:, 2, 1] = p[:, 1], -p[:, 0]
            jacobian = ((d_projection * scale[None, :, None]) @ skew).reshape(-1, 3)
            point_error = np.hypot(residual[0::2], residual[1::2])
            weight = np.repeat(np.minimum(1.0, 1.0 / np.maximum(point_error, 1e-9)), 2)
            hessian = (jacobian * weight[:, None]).T @ jacobian
            gradient = (jacobian * weight[:, None]).T @ residual
            if not (triangulate.solvable(hessian[None])[0] and np.isfinite(gradient).all()):
                return world_to_camera, 0.0
            step = -np.linalg.solve(hessian, gradient)
            correction = cv2.Rodrigues(step)[0] @ correction
        angle = float(np.degrees(np.linalg.norm(cv2.Rodrigues(correction)[0])))
        if not np.isfinite(angle) or angle > self.params.max_rotation_correction_deg:
            return world_to_camera, 0.0
        refined = world_to_camera.copy()
        refined[:, :3] = correction @ world_to_camera[:, :3]
        refined[:, 3] = correction @ world_to_camera[:, 3]
        return refined, angle

    def _triangulate(self, normalized: np.ndarray, world_to_camera: np.ndarray, focal):
        """Triangulate the tracks that have stored views; return (rows, TriangulatedPoints)."""
        rows = np.flatnonzero(self._view_count > 0)
        views = self.params.max_observations
        observations = np.concatenate(
            [self._observations[rows], normalized[rows, None, :]], axis=1)
        poses = np.concatenate(
            [self._view_poses[rows],
             np.broadcast_to(world_to_camera, (len(rows), 1, 3, 4))], axis=1)
        mask = np.zeros((len(rows), views + 1), bool)
        mask[:, :views] = np.arange(views) < self._view_count[rows, None]
        mask[:, -1] = True
        return rows, triangulate.triangulate_views(
            observations, poses, mask, focal, self._gates)

    def _filter(self, measured) -> dict:
        """Fuse the triangulated inverse depths into the filters; return counts."""
        rows, result = measured
        good = result.valid
        bad = np.isin(result.status, (triangulate.BEHIND_CAMERA,
                                      triangulate.LARGE_REPROJECTION_ERROR,
                                      triangulate.DEGENERATE))
        self.filters.reject(rows[bad])
        self._rejected_rows = rows[bad]
        good_rows = rows[good]
        if len(good_rows):
            anchor = self._view_poses[good_rows, 0]
            points = result.points[good]
            in_anchor = np.einsum('nij,nj->ni', anchor[:, :, :3], points) + anchor[:, :, 3]
            depth = in_anchor[:, 2]
            usable = depth > 1e-6
            good_rows, in_anchor, depth = good_rows[usable], in_anchor[usable], depth[usable]
            anchor = anchor[usable]
            # Variance of 1/z_anchor from the point covariance: gradient -r3 / z^2.
            gradient = -anchor[:, 2, :3] / (depth * depth)[:, None]
            covariance = result.covariance[good][usable]
            variance = np.einsum('ni,nij,nj->n', gradient, covariance, gradient)
            # Image noise: the assumed one, or the residuals' when the views disagree more.
            noise = np.maximum(result.residual_sigma_px[good][usable],
                               self.params.pixel_noise_px)
            variance = variance * noise ** 2 + (1e-3 / depth) ** 2
            self.filters.update(good_rows, 1.0 / depth, variance)
            self._anchor_direction[good_rows] = in_anchor / depth[:, None]
        converged = self.filters.converged()
        return {'triangulated': int(len(good_rows)), 'rejected': int(bad.sum()),
                'converged': int(converged.sum())}

    def _store_views(self, normalized: np.ndarray, world_to_camera: np.ndarray) -> None:
        """Store the current view in tracks without one, or whose ray turned enough."""
        rotation = world_to_camera[:, :3]
        bearing = np.column_stack([normalized, np.ones(len(normalized))])
        ray = bearing @ rotation  # R^T b for every row
        ray /= np.linalg.norm(ray, axis=1, keepdims=True)
        finite = np.isfinite(ray).all(axis=1)
        first = finite & (self._view_count == 0)
        threshold = np.cos(np.radians(self.params.keyframe_parallax_deg))
        turned = finite & (self._view_count > 0) & (
            np.einsum('ni,ni->n', ray, self._last_ray) <= threshold)
        store = np.flatnonzero(first | turned)
        if len(store) == 0:
            return
        views = self.params.max_observations
        full = store[self._view_count[store] >= views]
        if len(full):  # keep the first view, drop the oldest of the others
            self._observations[full, 1:-1] = self._observations[full, 2:]
            self._view_poses[full, 1:-1] = self._view_poses[full, 2:]
            self._view_count[full] = views - 1
        slot = self._view_count[store]
        self._observations[store, slot] = normalized[store]
        self._view_poses[store, slot] = world_to_camera
        self._view_count[store] += 1
        self._last_ray[store] = ray[store]
        new = store[slot == 0]
        self._anchor_direction[new] = bearing[new]

    def _drop_diverged(self) -> int:
        keep = ~self.filters.diverged()
        dropped = int(len(keep) - keep.sum())
        if dropped:
            self.tracker.drop(keep)
            self.filters.keep(keep)
            for name in ('_observations', '_view_poses', '_view_count', '_last_ray',
                         '_anchor_direction', '_trails'):
                setattr(self, name, getattr(self, name)[keep])
            self._rejected_rows = np.flatnonzero(np.isin(
                np.flatnonzero(keep), self._rejected_rows))
        return dropped

    def _result(self, stamp_ns: int, status: str, stats: dict, world_to_camera,
                camera=None) -> TriangulationResult:
        """Assemble the published tracks (converged, not rejected this frame).

        Each published point lies on its track's current pixel ray at the filtered depth, so
        the points, the pixels and the sparse depth image agree exactly.
        """
        pixels_all = self.tracker.points
        depths_all = np.full(len(pixels_all), np.nan, np.float32)
        publish = np.zeros(len(pixels_all), bool)
        points_camera = np.zeros((len(pixels_all), 3))
        if world_to_camera is not None and len(pixels_all):
            publish = self.filters.converged()
            publish[self._rejected_rows] = False
            rows = np.flatnonzero(publish)
            anchor = self._view_poses[rows, 0]
            in_anchor = self._anchor_direction[rows] / self.filters.mean[rows, None]
            world = np.einsum('nji,nj->ni', anchor[:, :, :3], in_anchor - anchor[:, :, 3])
            in_camera = world @ world_to_camera[:, :3].T + world_to_camera[:, 3]
            depth = in_camera[:, 2]
            in_range = (depth >= self.params.min_depth) & (depth <= self.params.max_depth)
            publish[rows[~in_range]] = False
            if camera is not None and len(rows):
                rays = np.asarray(camera.undistort_points(pixels_all[rows]), dtype=np.float64)
                in_camera = np.column_stack([rays * depth[:, None], depth])
            points_camera[rows] = in_camera
            depths_all[rows[in_range]] = depth[in_range]
        rows = np.flatnonzero(publish)
        stats['published'] = int(len(rows))
        snapshot = TrackSnapshot(
            pixels=pixels_all.copy(), ids=self.tracker.ids.copy(), trails=self._trails.copy(),
            depths=depths_all, depth_range=(self.params.min_depth, self.params.max_depth))
        return TriangulationResult(
            stamp_ns=stamp_ns, pixels=pixels_all[rows].astype(np.float32),
            depths=depths_all[rows].astype(np.float32),
            points_camera=points_camera[rows].astype(np.float32),
            track_ids=self.tracker.ids[rows].copy(), status=status, stats=stats,
            tracks=snapshot)


def sparse_depth_image(result: TriangulationResult, width: int, height: int) -> np.ndarray:
    """Return an (H, W) float32 image with each published depth at its rounded pixel, else NaN.

    Where two tracks round to the same pixel, the nearer depth wins.
    """
    image = np.full((int(height), int(width)), np.nan, np.float32)
    if len(result.depths) == 0:
        return image
    columns = np.rint(result.pixels[:, 0]).astype(np.int64)
    rows = np.rint(result.pixels[:, 1]).astype(np.int64)
    inside = (columns >= 0) & (columns < width) & (rows >= 0) & (rows < height)
    np.fmin.at(image, (rows[inside], columns[inside]), result.depths[inside])  # fmin skips NaN
    return image


def draw_tracks(bgr: np.ndarray, result: TriangulationResult) -> np.ndarray:
    """Return a copy of ``bgr`` with the tracks drawn: trails, and dots coloured by depth.

    Converged tracks are coloured near = red to far = blue (turbo, log depth); the others are
    grey.
    """
    canvas = np.ascontiguousarray(bgr, dtype=np.uint8).copy()
    tracks = result.tracks
    if tracks is None or len(tracks.ids) == 0:
        return canvas
    near, far = tracks.depth_range
    known = np.isfinite(tracks.depths)
    level = np.zeros(len(tracks.ids), np.uint8)
    level[known] = np.clip(
        255.0 * (1.0 - np.log(tracks.depths[known] / near) / np.log(far / near)), 0, 255)
    colours = cv2.applyColorMap(level[None, :], cv2.COLORMAP_TURBO)[0].astype(np.int64)
    colours[~known] = (160, 160, 160)

    trails = np.rint(tracks.trails).astype(np.int32)
    buckets = np.where(known, level // 16, -1)
    for bucket in np.unique(buckets):  # one polyline call per colour, not per track
        members = np.flatnonzero(buckets == bucket)
        colour = tuple(int(c) for c in colours[members[0]])
        cv2.polylines(canvas, list(trails[members]), False, colour, 1, cv2.LINE_AA)

    height, width = canvas.shape[:2]
    centre = np.rint(tracks.pixels).astype(np.int64)
    radius = np.where(known, 2, 1)
    for dy in range(-2, 3):  # paint small squares, one offset at a time
        for dx in range(-2, 3):
            inside_square = (abs(dx) <= radius) & (abs(dy) <= radius)
            x, y = centre[:, 0] + dx, centre[:, 1] + dy
            ok = inside_square & (x >= 0) & (x < width) & (y >= 0) & (y < height)
            canvas[y[ok], x[ok]] = colours[ok]
    return canvas


def _elapsed_ms(start: float) -> float:
    return (time.perf_counter() - start) * 1e3
