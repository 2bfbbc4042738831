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

"""Dense depth from the triangulation pipeline's keyframes (multi-view stereo, no network).

``DenseMapper.offer`` takes each triangulated frame (its pose as the pipeline used it, its
sparse points) and keeps the keyframe window (``keyframes``). ``DenseMapper.compute`` runs the
plane sweep (``core.dense_stereo``) for the newest keyframe against the others of the window,
over the depth range of the sparse points: it is the slow step, meant for a thread of its
own. ``DenseKeyframeDepth.at_image_size`` gives the image-size depth and sigma, and
``reproject`` carries the latest dense depth into any later pose, so every frame can have one.
"""

from dataclasses import dataclass
import time

import cv2
import numpy as np

from mono_depth_ros.core.dense_stereo import (DenseDepth, DenseStereoParams, plane_sweep,
                                              relative_pose, StereoView)
from mono_depth_ros.core.transforms import invert_pose
from mono_depth_ros.core.triangulation.keyframe_alignment import align_relative_pose
from mono_depth_ros.core.triangulation.keyframes import (Keyframe, KeyframeDecision,
                                                         KeyframeParams, KeyframeWindow)

MIN_SPARSE_POINTS = 10  # fewer sparse points give no depth range for the sweep
# Why a keyframe gets no dense depth while the window fills.
WAITING_FOR_KEYFRAMES = 'waiting for more keyframes'
OFFSET_REFRESH_S = 0.0005  # a time offset change that looks the keyframes' poses up again


def pipeline_pose_lookup(pipeline):
    """Return stamp_ns -> 3x4 world -> optical pose of a TriangulationPipeline, or None.

    The pose is the odometry's at the image stamp minus the pipeline's current time offset.
    """
    def lookup(stamp_ns: int):
        pose, _ = pipeline.camera_pose(int(stamp_ns) - pipeline.time_offset.offset_ns)
        return None if pose is None else invert_pose(pose)[:3]
    return lookup


@dataclass
class DenseKeyframeDepth:
    """The dense depth of a keyframe at the stereo resolution, with what made it."""

    stamp_ns: int
    dense: DenseDepth
    image_size: tuple[int, int]
    status: str = 'ok'

    @property
    def ok(self) -> bool:
        """Whether a dense depth was computed."""
        return self.status == 'ok'

    @property
    def world_to_camera(self) -> np.ndarray:
        """Return the keyframe's 3x4 odometry -> optical pose."""
        return self.dense.world_to_camera

    def at_image_size(self) -> tuple[np.ndarray, np.ndarray]:
        """Return the (H, W) depth and sigma at the delivered image size (nearest, NaN kept)."""
        size = tuple(self.image_size)
        return (cv2.resize(self.dense.depth, size, interpolation=cv2.INTER_NEAREST),
                cv2.resize(self.dense.sigma, size, interpolation=cv2.INTER_NEAREST))

    def points(self) -> np.ndarray:
        """Return the (N, 3) float32 finite points in the keyframe's optical frame."""
        depth = self.dense.depth
        rows, cols = np.nonzero(np.isfinite(depth))
        z = depth[rows, cols].astype(np.float64)
        k = self.dense.k
        x = (cols - k[0, 2]) / k[0, 0] * z
        y = (rows - k[1, 2]) / k[1, 1] * z
        return np.column_stack([x, y, z]).astype(np.float32)


class DenseMapper:
    """Keyframe window plus plane-sweep stereo for the newest keyframe."""

    def __init__(self, keyframe_params: KeyframeParams | None = None,
                 stereo_params: DenseStereoParams | None = None,
                 depth_range: tuple[float, float] = (0.2, 30.0)) -> None:
        self.keyframe_params = keyframe_params or KeyframeParams()
        self.stereo_params = stereo_params or DenseStereoParams()
        self.depth_range = (float(depth_range[0]), float(depth_range[1]))
        self.window = KeyframeWindow(self.keyframe_params, self.depth_range)
        self._time_offset_s: float | None = None  # the offset the keyframes' poses used

    def reset(self) -> None:
        """Forget the keyframes (the tracks restarted)."""
        self.window.clear()
        self._time_offset_s = None

    def offer(self, result, gray: np.ndarray, camera, pose_lookup=None) -> KeyframeDecision:
        """Offer a triangulated frame (a TriangulationResult) to the keyframe window.

        When the pipeline's time offset estimate moved by more than ``OFFSET_REFRESH_S``
        since the keyframes were stored, ``pose_lookup(stamp_ns)`` (the odometry pose, 3x4
        world -> optical, at an image stamp with the new offset, or None) gives them their
        poses again.
        """
        if result.status.startswith('reset'):
            self.reset()
        offset = result.stats.get('time_offset_s')
        if offset is not None:
            if pose_lookup is not None and self._time_offset_s is not None \
                    and abs(offset - self._time_offset_s) > OFFSET_REFRESH_S:
                self.window.refresh(pose_lookup)
            self._time_offset_s = float(offset)
        tracks = None if result.tracks is None else (result.tracks.ids, result.tracks.pixels)
        return self.window.offer(result.stamp_ns, gray, result.world_to_camera, camera,
                                 result.depths, tracks, (result.track_ids, result.points_camera))

    def sweep_range(self, keyframes: list[Keyframe]) -> tuple[float, float] | None:
        """Return the depth range (m) of the sweep from the sparse points, or None."""
        depths = keyframes[-1].sparse_depths
        if len(depths) < MIN_SPARSE_POINTS:
            depths = np.concatenate([keyframe.sparse_depths for keyframe in keyframes])
        if len(depths) < MIN_SPARSE_POINTS:
            return None
        low, high = np.percentile(depths, (1.0, 99.0))
        low = max(float(low), self.depth_range[0])
        high = min(float(high), self.depth_range[1])
        return (low, high) if high >= low else None

    def compute(self, keyframes: list[Keyframe] | None = None) -> DenseKeyframeDepth | None:
        """Return the dense depth of the newest keyframe from the others (None: no keyframe).

        ``keyframes`` defaults to the window's (a thread passes the snapshot it took).
        """
        keyframes = self.window.keyframes if keyframes is None else list(keyframes)
        if not keyframes:
            return None
        reference = keyframes[-1]
        started = time.perf_counter()
        empty = np.full(reference.image.shape, np.nan, np.float32)
        if len(keyframes) < self.keyframe_params.keyframes_needed:
            return self._failed(reference, empty, WAITING_FOR_KEYFRAMES)
        depth_range = self.sweep_range(keyframes)
        if depth_range is None:
            return self._failed(reference, empty, 'too few sparse points for the depth range')
        poses, alignment_stats = self.aligned_poses(keyframes)
        views = [StereoView(keyframe.image, keyframe.k, pose)
                 for keyframe, pose in zip(keyframes, poses)]
        dense = plane_sweep(views[-1], views[:-1], depth_range, self.stereo_params)
        dense.stats.update(alignment_stats)
        dense.stats['cpu_total_ms'] = (time.perf_counter() - started) * 1e3
        status = dense.stats.get('status', 'ok')
        return DenseKeyframeDepth(reference.stamp_ns, dense, reference.image_size, status)

    def aligned_poses(self, keyframes: list[Keyframe]) -> tuple[list[np.ndarray], dict]:
        """Return each keyframe's 3x4 pose for the sweep, aligned to the newest's tracks.

        With ``align_keyframes``, the relative pose of every other keyframe against the
        newest is moved so that the newest's sparse points reproject onto their tracks in
        that keyframe (``align_relative_pose``: rotation and translation direction, the
        odometry's baseline length kept); a keyframe without enough common tracks, or whose
        alignment fails its checks, keeps its odometry pose. Stats: keyframes aligned, the
        largest rotation correction (deg), the residuals (px), the time (ms).
        """
        started = time.perf_counter()
        poses = [keyframe.world_to_camera for keyframe in keyframes]
        stats = {'aligned_views': 0, 'alignment_rotation_deg': 0.0,
                 'alignment_residual_px': [], 'alignment_points': [], 'alignment_ms': 0.0}
        if not self.keyframe_params.align_keyframes:
            return poses, stats
        reference = keyframes[-1]
        order = np.argsort(reference.track_ids)
        ids = reference.track_ids[order]
        points = np.column_stack([reference.track_rays[order], np.ones(len(order))])
        for index, keyframe in enumerate(keyframes[:-1]):
            position = np.searchsorted(ids, keyframe.track_ids)
            position = np.clip(position, 0, max(len(ids) - 1, 0))
            common = (ids[position] == keyframe.track_ids) if len(ids) else \
                np.zeros(len(keyframe.track_ids), bool)
            rotation, translation = relative_pose(reference.world_to_camera,
                                                  keyframe.world_to_camera)
            alignment = align_relative_pose(points[position[common]],
                                            keyframe.track_rays[common], rotation, translation,
                                            keyframe.focal_px)
            stats['alignment_points'].append(alignment.points)
            stats['alignment_residual_px'].append(round(alignment.residual_px, 3))
            if not alignment.applied:
                continue
            pose = np.empty((3, 4))
            pose[:, :3] = alignment.rotation @ reference.world_to_camera[:, :3]
            pose[:, 3] = alignment.rotation @ reference.world_to_camera[:, 3] \
                + alignment.translation
            poses[index] = pose
            stats['aligned_views'] += 1
            stats['alignment_rotation_deg'] = max(stats['alignment_rotation_deg'],
                                                  alignment.rotation_deg)
        stats['alignment_ms'] = (time.perf_counter() - started) * 1e3
        return poses, stats

    @staticmethod
    def _failed(reference: Keyframe, empty: np.ndarray, status: str) -> DenseKeyframeDepth:
        dense = DenseDepth(empty, empty.copy(), reference.k, reference.world_to_camera,
                           {'status': status})
        return DenseKeyframeDepth(reference.stamp_ns, dense, reference.image_size, status)


def reproject(dense: DenseKeyframeDepth, world_to_camera: np.ndarray, camera,
              ) -> tuple[np.ndarray, np.ndarray]:
    """Return the keyframe's dense depth and sigma seen from another pose, at image size.

    The keyframe's points are moved into the new optical frame and splatted with a z-buffer
    onto a grid of the stereo resolution (the nearest point wins a cell), then resized to the
    image (nearest). ``camera`` is the new frame's CameraModel (distortion ignored: the
    pinhole part of its intrinsics).
    """
    width, height = camera.output_size
    small_h, small_w = dense.dense.depth.shape
    out_depth = np.full((small_h, small_w), np.nan, np.float32)
    out_sigma = np.full((small_h, small_w), np.nan, np.float32)
    points = dense.points().astype(np.float64)
    if len(points):
        sigma = dense.dense.sigma[np.isfinite(dense.dense.depth)].astype(np.float64)
        source = dense.world_to_camera
        target = np.asarray(world_to_camera, dtype=np.float64)
        rotation = target[:, :3] @ source[:, :3].T
        translation = target[:, 3] - rotation @ source[:, 3]
        moved = points @ rotation.T + translation
        k = camera.scaled(small_w, small_h).intrinsic_matrix
        z = moved[:, 2]
        in_front = z > 1e-6
        relative_sigma = sigma[in_front] / points[in_front, 2]
        moved, z = moved[in_front], z[in_front]
        u = np.rint(k[0, 0] * moved[:, 0] / z + k[0, 2]).astype(np.int64)
        v = np.rint(k[1, 1] * moved[:, 1] / z + k[1, 2]).astype(np.int64)
        inside = (u >= 0) & (u < small_w) & (v >= 0) & (v < small_h)
        u, v, z, relative_sigma = u[inside], v[inside], z[inside], relative_sigma[inside]
        order = np.argsort(z)  # nearest first: np.unique keeps each cell's first, the nearest
        cells, first = np.unique(v[order] * small_w + u[order], return_index=True)
        nearest = order[first]
        out_depth.reshape(-1)[cells] = z[nearest]
        out_sigma.reshape(-1)[cells] = relative_sigma[nearest] * z[nearest]
    return (cv2.resize(out_depth, (width, height), interpolation=cv2.INTER_NEAREST),
            cv2.resize(out_sigma, (width, height), interpolation=cv2.INTER_NEAREST))
