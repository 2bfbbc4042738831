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

"""Vectorised ray casting of a Scene: an RGB image and exact z-depth for one camera pose.

Every pixel's ray (pinhole K, optical frame: z forward, x right, y down) is intersected with
each object's six slabs; the nearest positive hit wins. With the ray direction scaled to unit
z in the optical frame, the ray parameter of a hit is its z-depth (REP 118). Texture look-ups
are one bilinear ``cv2.remap`` into the scene's atlas.

Anti-aliasing: colour is traced on a grid ``supersample`` times finer whose every
``supersample``-th sample sits on a pixel centre, then reduced with ``cv2.pyrDown`` (a 5-tap
Gaussian centred on those samples). Depth is the pixel-centre sample itself, so it is exact.
Rays are traced in blocks of rows small enough to stay in cache.
"""

import cv2
import numpy as np

from mono_depth_ros.core.errors import BadMessageError
from mono_depth_ros.synth.scene import Scene, SurfaceObject

NEAR = 1e-3  # metres; box corners nearer than this are clipped when bounding a box on screen


class Renderer:
    """Renders a Scene through a pinhole camera of fixed intrinsics and size."""

    def __init__(self, scene: Scene, k: np.ndarray, width: int, height: int,
                 supersample: int = 2, block_size: int = 1 << 16):
        if supersample not in (1, 2):
            raise BadMessageError('supersample', supersample, '1 or 2')
        self.scene = scene
        self.k = np.asarray(k, dtype=np.float64)
        self.width, self.height = int(width), int(height)
        self.supersample = supersample
        self.block_size = block_size
        fx, fy, cx, cy = self.k[0, 0], self.k[1, 1], self.k[0, 2], self.k[1, 2]
        # Sample i of the fine grid is at pixel coordinate i / supersample.
        fine_u = np.arange(self.width * supersample) / supersample
        fine_v = np.arange(self.height * supersample) / supersample
        self._x_norm = ((fine_u - cx) / fx).astype(np.float32)
        self._y_norm = ((fine_v - cy) / fy).astype(np.float32)
        self._fine_k = np.diag([supersample, supersample, 1.0]) @ self.k

    def render(self, camera_pose: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return (rgb uint8 HxWx3, z-depth float32 HxW in metres) seen from a camera pose.

        camera_pose is the 4x4 pose of the optical frame in the scene (odometry) frame.
        """
        camera_pose = np.asarray(camera_pose, dtype=np.float64)
        fine_h, fine_w = self._y_norm.size, self._x_norm.size
        depth = np.empty((fine_h, fine_w), np.float32)
        map_x = np.empty_like(depth)
        map_y = np.empty_like(depth)
        room = self.scene.room
        boxes = [(box, self._screen_bounds(box, camera_pose)) for box in self.scene.boxes]
        boxes = [(box, bounds) for box, bounds in boxes if bounds is not None]
        for obj, (left, right, top, bottom) in [(room, (0, fine_w, 0, fine_h)), *boxes]:
            strip = max(1, self.block_size // (right - left))
            for row in range(top, bottom, strip):
                rows = slice(row, min(row + strip, bottom))
                self._trace(obj, camera_pose, rows, slice(left, right), depth, map_x, map_y)
        colour = cv2.remap(self.scene.atlas, map_x, map_y, cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REPLICATE)
        if self.supersample == 2:
            colour = cv2.pyrDown(colour, dstsize=(self.width, self.height))
        step = self.supersample
        return colour, np.ascontiguousarray(depth[::step, ::step])

    def _trace(self, obj: SurfaceObject, camera_pose: np.ndarray, rows: slice, cols: slice,
               depth: np.ndarray, map_x: np.ndarray, map_y: np.ndarray) -> None:
        """Intersect one object with the rays of a block of the fine grid; keep nearer hits."""
        # Rays in the object frame: origin, and directions affine in the normalised coordinates.
        rotation = obj.rotation.T @ camera_pose[:3, :3]
        origin = obj.rotation.T @ (camera_pose[:3, 3] - obj.center)
        xs, ys = self._x_norm[cols], self._y_norm[rows]
        directions, t_axes, t_exits, sides = [], [], [], []
        with np.errstate(divide='ignore', invalid='ignore', over='ignore'):
            for axis in range(3):
                row_term = np.float32(rotation[axis, 1]) * ys + np.float32(rotation[axis, 2])
                direction = np.float32(rotation[axis, 0]) * xs + row_term[:, None]
                inverse = np.reciprocal(direction)
                to_min = inverse * np.float32(-obj.half_extent[axis] - origin[axis])
                to_max = inverse * np.float32(obj.half_extent[axis] - origin[axis])
                directions.append(direction)
                if obj.inside:
                    # Leaving the room through the wall ahead along this axis.
                    t_axes.append(np.maximum(to_min, to_max))
                    sides.append((direction > 0).view(np.uint8))
                else:
                    # Entering the box through the slab's near face, leaving through its far one.
                    t_axes.append(np.minimum(to_min, to_max))
                    t_exits.append(np.maximum(to_min, to_max))
                    sides.append((direction < 0).view(np.uint8))
            # The hit is the nearest exit from the room, or the latest slab entry into a box.
            t, face = t_axes[0], sides[0]
            for axis in (1, 2):
                if obj.inside:
                    wins = t_axes[axis] < t
                else:
                    wins = t_axes[axis] > t
                np.copyto(t, t_axes[axis], where=wins)
                sides[axis] += np.uint8(2 * axis)
                np.copyto(face, sides[axis], where=wins)
            if obj.inside:
                hit = None
            else:
                exit_t = np.minimum(np.minimum(t_exits[0], t_exits[1]), t_exits[2])
                hit = (t <= exit_t) & (t > 0) & (t < depth[rows, cols])
                if not hit.any():
                    return
            u = origin[0] + t * directions[0]
            v = origin[2] + t * directions[2]
            across = origin[1] + t * directions[1]
        np.copyto(u, across, where=face < 2)
        np.copyto(v, across, where=face >= 4)
        scale = np.float32(obj.texels_per_metre)
        texel_x = self._wrap(u * scale + np.float32(obj.phase[0]))
        texel_y = self._wrap(v * -scale + np.float32(obj.phase[1]))
        texel_x += face.astype(np.float32) * np.float32(self.scene.tile_stride)
        texel_x += np.float32(obj.atlas_origin[0])
        texel_y += np.float32(obj.atlas_origin[1])
        if hit is None:
            depth[rows, cols] = t
            map_x[rows, cols] = texel_x
            map_y[rows, cols] = texel_y
        else:
            np.copyto(depth[rows, cols], t, where=hit)
            np.copyto(map_x[rows, cols], texel_x, where=hit)
            np.copyto(map_y[rows, cols], texel_y, where=hit)

    def _wrap(self, texels: np.ndarray) -> np.ndarray:
        """Return texel coordinates wrapped into [0, tile) (in place; np.mod is far slower)."""
        tile = np.float32(self.scene.tile)
        wrapped = np.floor(texels * np.float32(1.0 / self.scene.tile))
        wrapped *= tile
        np.subtract(texels, wrapped, out=texels)
        return texels

    def _screen_bounds(self, box: SurfaceObject, camera_pose: np.ndarray):
        """Return (left, right, top, bottom) fine-grid bounds of a box on screen, or None."""
        signs = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)])
        corners = box.center + (signs * box.half_extent) @ box.rotation.T
        world_to_camera = np.linalg.inv(camera_pose)
        corners = corners @ world_to_camera[:3, :3].T + world_to_camera[:3, 3]
        edges = np.array([(i, j) for i in range(8) for j in range(i + 1, 8)
                          if np.count_nonzero(signs[i] != signs[j]) == 1])
        start, end = corners[edges[:, 0]], corners[edges[:, 1]]
        crossing = (start[:, 2] > NEAR) != (end[:, 2] > NEAR)
        fraction = (NEAR - start[crossing, 2]) / (end[crossing, 2] - start[crossing, 2])
        clipped = start[crossing] + fraction[:, None] * (end[crossing] - start[crossing])
        points = np.concatenate([corners[corners[:, 2] > NEAR], clipped])
        if points.size == 0:
            return None
        pixels = points[:, :2] / points[:, 2:] @ self._fine_k[:2, :2].T + self._fine_k[:2, 2]
        fine_w, fine_h = self._x_norm.size, self._y_norm.size
        left = int(np.clip(np.floor(pixels[:, 0].min()) - 1, 0, fine_w))
        right = int(np.clip(np.ceil(pixels[:, 0].max()) + 2, 0, fine_w))
        top = int(np.clip(np.floor(pixels[:, 1].min()) - 1, 0, fine_h))
        bottom = int(np.clip(np.ceil(pixels[:, 1].max()) + 2, 0, fine_h))
        if left >= right or top >= bottom:
            return None
        return left, right, top, bottom
