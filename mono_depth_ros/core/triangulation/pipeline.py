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
2. looks up the camera pose at the image stamp minus the camera time offset (``pose_buffer``;
   the offset is ``camera_time_offset``, estimated online from the tracks and the odometry with
   ``estimate_time_offset``, ``time_offset``) and, with ``refine_rotation``, corrects its
   orientation by the small rotation that best aligns the converged points with their tracks,
3. stores the current view in tracks whose ray turned by ``keyframe_parallax_deg`` *and* whose
   camera moved far enough for that at the track's depth since their last stored view (a
   rotation, or a rotation error, stores nothing),
4. triangulates each track that gained a view over all its stored views (``triangulate``), each
   view weighted by its noise: image noise plus what the time offset's uncertainty (times the
   angular and linear speed at the view) and the odometry's own error move the projection,
5. replaces the track's estimate (inverse depth in its first view, ``depth_filter.replace``)
   by that solve combined with a broad prior: one solve over the views, not a fusion of
   re-solves of the same views, so standing still adds nothing,
6. publishes the converged tracks: pixel, depth (z in the current optical frame), its sigma and
   the 3-D point.

A degenerate track (a start behind a camera, singular normal equations, non-finite values) is
dropped and counted (``stats['degenerate']``, ``degenerate_total``); nothing raises.
"""

import time

import cv2
import numpy as np

from mono_depth_ros.core.errors import BadMessageError
from mono_depth_ros.core.transforms import invert_pose, pose_from_xyz_quaternion
from mono_depth_ros.core.triangulation import triangulate
from mono_depth_ros.core.triangulation.depth_filter import DepthFilterBank
from mono_depth_ros.core.triangulation.drawing import (draw_tracks, sparse_depth_image,
                                                       sparse_sigma_image)
from mono_depth_ros.core.triangulation.params import TriangulationParams
from mono_depth_ros.core.triangulation.pose_buffer import PoseBuffer
from mono_depth_ros.core.triangulation.result import TrackSnapshot, TriangulationResult
from mono_depth_ros.core.triangulation.rotation_refinement import rotation_correction
from mono_depth_ros.core.triangulation.time_offset import TimeOffsetEstimator
from mono_depth_ros.core.triangulation.tracking import FeatureTracker

__all__ = ['TriangulationParams', 'TriangulationPipeline', 'TriangulationResult',
           'TrackSnapshot', 'draw_tracks', 'sparse_depth_image', 'sparse_sigma_image']

_SPEED_SPAN_NS = 500_000_000  # speeds from the previous frame when it is at most this old
_DROPPED = (triangulate.DEGENERATE, triangulate.BEHIND_CAMERA)


class TriangulationPipeline:
    """Sparse metric depth from a grayscale image stream and odometry."""

    def __init__(self, params: TriangulationParams | None = None):
        self.params = params or TriangulationParams()
        p = self.params
        self.camera_to_base = pose_from_xyz_quaternion(p.camera_to_base)
        self.poses = PoseBuffer(max_gap_s=p.odom_max_gap, history_s=p.odom_history,
                                extrapolation_tolerance_s=p.odom_extrapolation,
                                max_jump_m=p.odom_max_jump)
        self.tracker = FeatureTracker(p.tracker_params())
        self.filters = DepthFilterBank(p.filter_params())
        self.time_offset = TimeOffsetEstimator(
            initial_s=p.camera_time_offset, estimate=p.estimate_time_offset,
            sigma_s=p.time_offset_sigma, search_s=p.max_time_offset,
            pixel_noise_px=p.pixel_noise_px, depth_range=(p.min_depth, p.max_depth))
        self._gates = p.gates()
        self._depth_guess = float(np.sqrt(p.min_depth * p.max_depth))
        self.degenerate_total = 0
        self.reset()

    def reset(self) -> None:
        """Forget tracks, filters, odometry, the time-offset estimate and the last image stamp."""
        self.poses.clear()
        self._reset_tracks()

    @property
    def odometry_resets(self) -> int:
        """How often the odometry buffer started over (time went backwards, a pose jump)."""
        return self.poses.resets

    def add_odometry(self, stamp_ns: int, position, orientation_xyzw) -> None:
        """Buffer the base->odom pose at ``stamp_ns``; BadMessageError for NaN or a bad quaternion.

        Odometry older than the buffer's history, or a pose jump without a clock jump, starts
        the buffer over, and the next frame resets the tracks (its status says why).
        """
        if self.poses.add(stamp_ns, position, orientation_xyzw):
            self._pending_reset = self.poses.last_reset_reason

    def camera_pose(self, stamp_ns: int):
        """Return the 4x4 optical->odom pose at odometry instant ``stamp_ns`` and '', or None, why.

        The instant is on the odometry's clock: for an image, its stamp minus the time offset.
        """
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
        if not reset_reason and self._last_shape is not None and shape != self._last_shape:
            reset_reason = (f'image size changed from {self._last_shape[1]}x'
                            f'{self._last_shape[0]} to {shape[1]}x{shape[0]}')
        if reset_reason:
            self._reset_tracks()
        self._last_stamp_ns = stamp_ns
        self._last_shape = shape

        tracked = self.tracker.track(gray)
        self._carry(tracked.previous_index)
        self._push_trails(tracked.points)
        stats = {'tracks': len(tracked.ids), 'new_tracks': tracked.new_count, 'new_views': 0,
                 'triangulated': 0, 'rejected': 0, 'degenerate': 0, 'dropped': 0,
                 'converged': 0, 'published': 0, 'rotation_correction_deg': 0.0,
                 'tracking_ms': _elapsed_ms(started), 'triangulation_ms': 0.0,
                 'filter_ms': 0.0}
        normalized = np.asarray(camera.undistort_points(tracked.points), dtype=np.float64)
        focal = (float(camera.fx), float(camera.fy))

        step = time.perf_counter()
        self.time_offset.add_frame(stamp_ns, tracked.ids, normalized)
        if self.time_offset.update(self._odometry_world_to_cameras, focal):
            self._refresh_view_poses()
        self._add_offset_stats(stats)
        camera_pose, reason = self.camera_pose(stamp_ns - self.time_offset.offset_ns)
        if reset_reason:
            status = f'reset: {reset_reason}'
        else:
            status = 'ok' if camera_pose is not None else f'no pose: {reason}'
        if camera_pose is None:
            stats['total_ms'] = _elapsed_ms(started)
            return self._result(stamp_ns, status, stats, None)

        world_to_camera = invert_pose(camera_pose)[:3]
        sigmas = self._pose_sigmas(stamp_ns, world_to_camera, self._previous_frame)
        self._previous_frame = (stamp_ns, world_to_camera)
        if self.params.refine_rotation:
            world_to_camera, stats['rotation_correction_deg'] = self._refined_rotation(
                normalized, world_to_camera, focal, deadband_rad=2.0 * sigmas[0])
        self._frames[stamp_ns] = (world_to_camera, *sigmas)
        self._table = None
        rows = self._store_views(normalized, world_to_camera, stamp_ns)
        stats['new_views'] = int(len(rows))
        measured = self._triangulate(rows, focal)
        stats['triangulation_ms'] = _elapsed_ms(step)

        step = time.perf_counter()
        stats.update(self._filter(rows, measured))
        stats['dropped'] = self._drop(~self.filters.diverged() & ~self._degenerate)
        self._forget_unused_frames()
        stats['filter_ms'] = _elapsed_ms(step)
        result = self._result(stamp_ns, status, stats, world_to_camera, camera)
        stats['total_ms'] = _elapsed_ms(started)
        return result

    def _reset_tracks(self) -> None:
        """Forget tracks, filters, the time-offset estimate and the last image stamp."""
        p = self.params
        self.tracker.reset()
        self.filters.carry(np.zeros(0, np.int64))
        self.time_offset.reset()
        self._pending_reset = ''
        self._last_stamp_ns = None
        self._last_shape: tuple[int, ...] | None = None  # of the last image
        self._frames: dict[int, tuple] = {}  # stamp -> (world_to_camera, rot sigma, pos sigma)
        self._table = None  # _frames as arrays, built when needed
        self._previous_frame = None  # (stamp, odometry world_to_camera) of the last frame
        views = p.max_observations
        self._observations = np.zeros((0, views, 2))
        self._view_stamps = np.zeros((0, views), np.int64)
        self._view_count = np.zeros(0, np.int64)
        self._last_ray = np.zeros((0, 3))
        self._last_centre = np.zeros((0, 3))
        self._anchor_direction = np.zeros((0, 3))
        self._trails = np.zeros((0, p.trail_length, 2), np.float32)
        self._new_rows = np.zeros(0, np.int64)
        self._rejected_rows = np.zeros(0, np.int64)
        self._degenerate = np.zeros(0, bool)

    _PER_TRACK = ('_observations', '_view_stamps', '_view_count', '_last_ray', '_last_centre',
                  '_anchor_direction', '_trails', '_degenerate')

    def _carry(self, previous_index: np.ndarray) -> None:
        """Reorder every per-track array to the tracker's new track list."""
        old = previous_index >= 0
        source = previous_index[old]
        for name in self._PER_TRACK:
            values = getattr(self, name)
            moved = np.zeros((len(previous_index),) + values.shape[1:], values.dtype)
            moved[old] = values[source]
            setattr(self, name, moved)
        self._new_rows = np.flatnonzero(~old)
        self._rejected_rows = np.zeros(0, np.int64)
        self.filters.carry(previous_index)

    def _push_trails(self, points: np.ndarray) -> None:
        self._trails[:, :-1] = self._trails[:, 1:]
        self._trails[:, -1] = points
        self._trails[self._new_rows] = points[self._new_rows, None, :]

    def _odometry_world_to_camera(self, instant_ns: int) -> np.ndarray | None:
        """Return the odometry [R | t] (odom -> optical) at an odometry instant, or None."""
        pose, _ = self.camera_pose(instant_ns)
        return None if pose is None else invert_pose(pose)[:3]

    def _odometry_world_to_cameras(self, instants_ns: np.ndarray):
        """Return the (n, 3, 4) odometry [R | t] at (n,) odometry instants and which exist."""
        poses, found = self.poses.lookup_many(instants_ns)
        camera = poses @ self.camera_to_base
        rotation_t = np.swapaxes(camera[:, :3, :3], 1, 2)
        world_to_camera = np.concatenate(
            [rotation_t, -rotation_t @ camera[:, :3, 3:]], axis=2)
        return world_to_camera, found

    def _pose_sigmas(self, stamp_ns: int, world_to_camera: np.ndarray,
                     previous=None) -> tuple[float, float]:
        """Return the rotation (rad) and position (m) sigma of the view at an image stamp.

        The time offset's part is its sigma times the angular and linear speed since the
        previous frame ``(stamp_ns, world_to_camera)`` (none: standing).
        """
        angular = linear = 0.0
        if previous is not None and 0 < stamp_ns - previous[0] <= _SPEED_SPAN_NS:
            dt = (stamp_ns - previous[0]) * 1e-9
            before = previous[1]
            turn = world_to_camera[:, :3] @ before[:, :3].T
            angular = float(np.arccos(np.clip(0.5 * (np.trace(turn) - 1.0), -1.0, 1.0))) / dt
            centres = [-pose[:, :3].T @ pose[:, 3] for pose in (before, world_to_camera)]
            linear = float(np.linalg.norm(centres[1] - centres[0])) / dt
        sigma_t = self.time_offset.sigma_s
        return (angular * sigma_t + np.radians(self.params.odom_rotation_sigma_deg),
                linear * sigma_t + self.params.odom_position_sigma)

    def _refresh_view_poses(self) -> None:
        """Look the stored views' poses up again at their stamps minus the new time offset."""
        previous = None
        for stamp in sorted(self._frames):
            pose = self._odometry_world_to_camera(stamp - self.time_offset.offset_ns)
            if pose is not None:
                self._frames[stamp] = (pose, *self._pose_sigmas(stamp, pose, previous))
                self._table = None
            previous = (stamp, self._frames[stamp][0])
        if self._previous_frame is not None and self._previous_frame[0] in self._frames:
            stamp = self._previous_frame[0]
            self._previous_frame = (stamp, self._frames[stamp][0])

    def _add_offset_stats(self, stats: dict) -> None:
        stats['time_offset_s'] = self.time_offset.offset_s
        stats['time_offset_sigma_s'] = self.time_offset.sigma_s
        stats['time_offset_estimated'] = self.time_offset.estimated
        stats['odometry_resets'] = self.poses.resets
        stats['degenerate_total'] = self.degenerate_total

    def _frame_table(self):
        """Return the stored frames' sorted stamps, (F, 3, 4) poses and (F, 2) sigmas (cached)."""
        if self._table is None:
            stamps = np.array(sorted(self._frames), dtype=np.int64)
            entries = [self._frames[int(stamp)] for stamp in stamps]
            poses = np.stack([entry[0] for entry in entries]) if entries \
                else np.zeros((0, 3, 4))
            sigmas = np.array([entry[1:] for entry in entries]).reshape(-1, 2)
            self._table = (stamps, poses, sigmas)
        return self._table

    def _view_table(self, rows: np.ndarray, views: slice = slice(None)):
        """Return the stored views' (n, V, 3, 4) poses and (n, V) rotation and position sigmas.

        ``views`` picks columns (the first view alone for the anchors).
        """
        stamps = self._view_stamps[rows][:, views]
        columns = np.arange(self._view_stamps.shape[1])[views]
        table_stamps, table_poses, table_sigmas = self._frame_table()
        poses = np.broadcast_to(np.eye(3, 4), stamps.shape + (3, 4)).copy()
        rotation_sigma = np.zeros(stamps.shape)
        position_sigma = np.zeros(stamps.shape)
        if len(table_stamps) == 0:
            return poses, rotation_sigma, position_sigma
        index = np.clip(np.searchsorted(table_stamps, stamps), 0, len(table_stamps) - 1)
        known = (table_stamps[index] == stamps) & (columns < self._view_count[rows, None])
        poses[known] = table_poses[index[known]]
        rotation_sigma[known] = table_sigmas[index[known], 0]
        position_sigma[known] = table_sigmas[index[known], 1]
        return poses, rotation_sigma, position_sigma

    def _anchor_poses(self, rows: np.ndarray) -> np.ndarray:
        """Return the (n, 3, 4) pose of each track's first view."""
        return self._view_table(rows, slice(0, 1))[0][:, 0]

    def _refined_rotation(self, normalized: np.ndarray, world_to_camera: np.ndarray, focal,
                          deadband_rad: float = 0.0):
        """Correct the camera orientation so that converged points reproject onto their tracks.

        The camera centre stays where odometry put it; only a small rotation is estimated
        (Gauss-Newton, Huber weights), and only from enough converged tracks. A correction
        within ``deadband_rad`` (twice the view's own rotation sigma, which the points' sigmas
        already allow for) is not applied: the points' small errors would otherwise turn into
        rotations stored with the next views, and those into larger point errors.
        """
        rows = np.flatnonzero(self.filters.converged(self.params.refine_relative_sigma))
        if len(rows) < 30:
            return world_to_camera, 0.0
        anchor = self._anchor_poses(rows)
        in_anchor = self._anchor_direction[rows] / self.filters.mean[rows, None]
        world = np.einsum('nji,nj->ni', anchor[:, :, :3], in_anchor - anchor[:, :, 3])
        in_camera = world @ world_to_camera[:, :3].T + world_to_camera[:, 3]
        observed = normalized[rows]
        ok = (in_camera[:, 2] > 1e-3) & np.isfinite(observed).all(axis=1)
        in_camera, observed = in_camera[ok], observed[ok]
        if len(in_camera) < 30:
            return world_to_camera, 0.0
        correction = rotation_correction(in_camera, observed, focal)
        if correction is None:
            return world_to_camera, 0.0
        angle = float(np.degrees(np.linalg.norm(cv2.Rodrigues(correction)[0])))
        if not np.isfinite(angle) or angle > self.params.max_rotation_correction_deg \
                or np.radians(angle) <= deadband_rad:
            return world_to_camera, 0.0
        refined = world_to_camera.copy()
        refined[:, :3] = correction @ world_to_camera[:, :3]
        refined[:, 3] = correction @ world_to_camera[:, 3]
        return refined, angle

    def _store_views(self, normalized: np.ndarray, world_to_camera: np.ndarray,
                     stamp_ns: int) -> np.ndarray:
        """Store the current view where it adds parallax; return the rows that gained a view.

        A track without views stores its first one. Later views need the ray to have turned by
        keyframe_parallax_deg and the camera to have moved by at least half the baseline that
        gives that angle at the track's depth (its estimate, or the middle of the depth range).
        """
        rotation, translation = world_to_camera[:, :3], world_to_camera[:, 3]
        centre = -rotation.T @ translation
        bearing = np.column_stack([normalized, np.ones(len(normalized))])
        ray = bearing @ rotation  # R^T b for every row
        ray /= np.linalg.norm(ray, axis=1, keepdims=True)
        finite = np.isfinite(ray).all(axis=1)
        first = finite & (self._view_count == 0)
        threshold = np.cos(np.radians(self.params.keyframe_parallax_deg))
        with np.errstate(divide='ignore'):
            depth = np.where(self.filters.initialized & (self.filters.mean > 0),
                             1.0 / self.filters.mean, self._depth_guess)
        baseline = np.linalg.norm(centre - self._last_centre, axis=1)
        needed = 0.5 * depth * np.tan(np.radians(self.params.keyframe_parallax_deg))
        turned = finite & (self._view_count > 0) & (baseline >= needed) & (
            np.einsum('ni,ni->n', ray, self._last_ray) <= threshold)
        store = np.flatnonzero(first | turned)
        if len(store) == 0:
            return store
        views = self.params.max_observations
        full = store[self._view_count[store] >= views]
        if len(full):  # keep the first view, drop the oldest of the others
            self._observations[full, 1:-1] = self._observations[full, 2:]
            self._view_stamps[full, 1:-1] = self._view_stamps[full, 2:]
            self._view_count[full] = views - 1
        slot = self._view_count[store]
        self._observations[store, slot] = normalized[store]
        self._view_stamps[store, slot] = stamp_ns
        self._view_count[store] += 1
        self._last_ray[store] = ray[store]
        self._last_centre[store] = centre
        new = store[slot == 0]
        self._anchor_direction[new] = bearing[new]
        return store[slot > 0]

    def _triangulate(self, rows: np.ndarray, focal):
        """Triangulate the given tracks over their stored views, the newest as the reference."""
        p = self.params
        views = p.max_observations
        count = self._view_count[rows]
        column = np.arange(views)
        # Column V-1 holds the newest view (the reference); columns below count-1 the others.
        slot = np.where(column[None, :] == views - 1, count[:, None] - 1,
                        np.minimum(column[None, :], count[:, None] - 1))
        mask = (column[None, :] < count[:, None] - 1) | (column[None, :] == views - 1)
        pick = np.arange(len(rows))[:, None]
        observations = self._observations[rows][pick, slot]
        poses, rotation_sigma, position_sigma = self._view_table(rows)
        poses, rotation_sigma = poses[pick, slot], rotation_sigma[pick, slot]
        position_sigma = position_sigma[pick, slot]
        with np.errstate(divide='ignore'):
            depth = np.where(self.filters.initialized[rows] & (self.filters.mean[rows] > 0),
                             1.0 / self.filters.mean[rows], self._depth_guess)
        scale = 0.5 * (focal[0] + focal[1])
        view_sigma = np.sqrt(p.pixel_noise_px ** 2 + (scale * rotation_sigma) ** 2
                             + (scale * position_sigma / depth[:, None]) ** 2)
        result = triangulate.triangulate_views(
            observations, poses, mask, focal, self._gates, view_sigma_px=view_sigma,
            gate_scale=view_sigma / p.pixel_noise_px)
        return result, poses[:, 0], view_sigma, mask

    def _filter(self, rows: np.ndarray, measured) -> dict:
        """Replace the triangulated tracks' estimates; reject and drop the failed; count."""
        result, anchor, view_sigma, mask = measured
        dropped = np.isin(result.status, _DROPPED)
        bad = dropped | (result.status == triangulate.LARGE_REPROJECTION_ERROR)
        self.filters.reject(rows[bad])
        self._rejected_rows = rows[bad]
        self._degenerate[rows[dropped]] = True
        self.degenerate_total += int(dropped.sum())
        good = result.valid
        good_rows, anchor = rows[good], anchor[good]
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
        # Where the views disagree more than the noise model says, trust the residuals.
        expected = np.sqrt((view_sigma[good][usable] ** 2 * mask[good][usable]).sum(axis=1)
                           / mask[good][usable].sum(axis=1))
        inflation = np.maximum(result.residual_sigma_px[good][usable] / expected, 1.0)
        # A baseline off by a fraction puts the depth off by that fraction, in every view alike.
        variance = variance * inflation ** 2 + (self.params.odom_scale_sigma / depth) ** 2
        finite = np.isfinite(variance) & (variance > 0)
        good_rows, in_anchor, depth = good_rows[finite], in_anchor[finite], depth[finite]
        self.filters.replace(good_rows, 1.0 / depth, variance[finite])
        self._anchor_direction[good_rows] = in_anchor / depth[:, None]
        return {'triangulated': int(len(good_rows)), 'rejected': int(bad.sum()),
                'degenerate': int(dropped.sum()),
                'converged': int(self.filters.converged().sum())}

    def _drop(self, keep: np.ndarray) -> int:
        """Drop the tracks where ``keep`` is false; return how many."""
        dropped = int(len(keep) - keep.sum())
        if dropped:
            self.tracker.drop(keep)
            self.filters.keep(keep)
            for name in self._PER_TRACK:
                setattr(self, name, getattr(self, name)[keep])
            self._rejected_rows = np.flatnonzero(np.isin(
                np.flatnonzero(keep), self._rejected_rows))
        return dropped

    def _forget_unused_frames(self) -> None:
        used = set(np.unique(self._view_stamps[self._view_count > 0]).tolist())
        used.add(self._last_stamp_ns)
        for stamp in [stamp for stamp in self._frames if stamp not in used]:
            del self._frames[stamp]
            self._table = None

    def _result(self, stamp_ns: int, status: str, stats: dict, world_to_camera,
                camera=None) -> TriangulationResult:
        """Assemble the published tracks (converged, not rejected this frame).

        Each published point lies on its track's current pixel ray at the filtered depth, so
        the points, the pixels and the sparse depth image agree exactly. Its sigma is the
        estimate's, carried to the current depth, with the current view's position error.
        """
        pixels_all = self.tracker.points
        depths_all = np.full(len(pixels_all), np.nan, np.float32)
        sigmas_all = np.full(len(pixels_all), np.nan, np.float32)
        publish = np.zeros(len(pixels_all), bool)
        points_camera = np.zeros((len(pixels_all), 3))
        if world_to_camera is not None and len(pixels_all):
            publish = self.filters.converged()
            publish[self._rejected_rows] = False
            rows = np.flatnonzero(publish)
            anchor = self._anchor_poses(rows)
            inverse_depth = self.filters.mean[rows]
            direction = np.einsum('nji,nj->ni', anchor[:, :, :3], self._anchor_direction[rows])
            world = np.einsum('nji,nj->ni', anchor[:, :, :3],
                              self._anchor_direction[rows] / inverse_depth[:, None]
                              - anchor[:, :, 3])
            in_camera = world @ world_to_camera[:, :3].T + world_to_camera[:, 3]
            depth = in_camera[:, 2]
            along = np.abs(direction @ world_to_camera[2, :3])
            position_sigma = self._frames[stamp_ns][2] if stamp_ns in self._frames else 0.0
            sigma = np.sqrt((along * np.sqrt(self.filters.variance[rows])
                             / inverse_depth ** 2) ** 2 + position_sigma ** 2)
            in_range = (depth >= self.params.min_depth) & (depth <= self.params.max_depth)
            publish[rows[~in_range]] = False
            if camera is not None and len(rows):
                rays = np.asarray(camera.undistort_points(pixels_all[rows]), dtype=np.float64)
                in_camera = np.column_stack([rays * depth[:, None], depth])
            points_camera[rows] = in_camera
            depths_all[rows[in_range]] = depth[in_range]
            sigmas_all[rows[in_range]] = sigma[in_range]
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
            tracks=snapshot, sigmas=sigmas_all[rows].astype(np.float32),
            world_to_camera=None if world_to_camera is None else world_to_camera.copy())


def _elapsed_ms(start: float) -> float:
    return (time.perf_counter() - start) * 1e3
