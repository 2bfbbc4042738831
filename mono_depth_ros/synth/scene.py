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

"""The synthetic world: a textured room with boxes, and the smooth path the robot drives in it.

Everything is expressed in the odometry frame (REP 103: x forward, y left, z up), whose origin
is the robot's pose at time zero. The room is a closed axis-aligned box (floor, ceiling, four
walls) and the boxes stand on its floor, so every camera ray ends on a surface at a finite
depth. Surfaces are tiled with photographs shipped with scikit-image; each object's textures
live in one RGB atlas that the renderer samples with per-face texel scales.

The base drives counter-clockwise round an ellipse (0.5 m/s where it starts, slower in the
bends), with a gentle lateral sway, yaw, pitch and roll oscillations and a small height bob.
Sequences of any length stay inside the room (one lap takes about 44 s); a 100-frame sequence
at 15 fps drives about 3 m, starting along odometry +x and bending about 30 degrees left.
"""

from dataclasses import dataclass
import functools
import math

import cv2
import numpy as np

# The room (odometry frame, metres): the base starts 1 m above the floor, 2 m below the ceiling.
ROOM_MIN = (-8.0, -4.0, -1.0)
ROOM_MAX = (8.0, 7.0, 2.0)

# Texture tiles in the atlas are TILE x TILE texels with a PAD-texel wrapped border.
TILE = 320
PAD = 2
TILE_STRIDE = TILE + 2 * PAD

# Photographs from skimage.data for each kind of surface (grey ones get a colour tint).
FLOOR_TEXTURES = ('gravel', 'brick', 'grass')
CEILING_TEXTURES = ('moon', 'text', 'coins', 'page')
WALL_TEXTURES = ('brick', 'camera', 'astronaut', 'coffee', 'rocket', 'chelsea',
                 'immunohistochemistry', 'coins', 'grass', 'gravel', 'moon', 'text')

# Path of the base: ellipse semi-axes (m), speed at the start (m/s) and the oscillations
# (amplitude, frequency in Hz) added to it.
PATH_SEMI_AXES = (3.5, 1.5)
PATH_START_SPEED = 0.5
SWAY = (0.12, 0.21)
BOB = (0.02, 0.8)
YAW_WOBBLE = (math.radians(4.0), 0.13)
PITCH_WOBBLE = (math.radians(1.2), 0.37)
ROLL_WOBBLE = (math.radians(0.8), 0.29)

# Boxes keep this much room (m) from the ellipse, on top of the sway amplitude.
BOX_CLEARANCE = 1.0
BOX_COUNT = 9
FIELD_OF_VIEW_BOXES = 5


@dataclass(frozen=True)
class SurfaceObject:
    """A closed axis-aligned box in its own frame, textured from one row of the atlas.

    A point p in the odometry frame is ``rotation.T @ (p - center)`` in the object frame, where
    the object spans ``[-half_extent, +half_extent]``. Face ``2 * axis + side`` (side 1: the face
    at +half_extent) is tiled with the atlas tile whose texels start at
    ``atlas_origin + (face * TILE_STRIDE, 0)``. On a face, U is the first of the two other
    object axes and V the second; texel coordinates are ``texels_per_metre * U + phase[0]`` and
    ``-texels_per_metre * V + phase[1]``, wrapped to the tile. The room is seen from inside,
    boxes from outside.
    """

    center: np.ndarray
    rotation: np.ndarray
    half_extent: np.ndarray
    texels_per_metre: float
    atlas_origin: tuple[int, int]
    phase: tuple[float, float]
    inside: bool


@dataclass(frozen=True)
class Scene:
    """The room (first object, seen from inside), the boxes, and their texture atlas."""

    objects: tuple[SurfaceObject, ...]
    atlas: np.ndarray
    tile: int = TILE
    tile_stride: int = TILE_STRIDE

    @property
    def room(self) -> SurfaceObject:
        return self.objects[0]

    @property
    def boxes(self) -> tuple[SurfaceObject, ...]:
        return self.objects[1:]


def base_pose_at(time_s: float) -> np.ndarray:
    """Return the 4x4 pose of the base in the odometry frame at a time (s) after the start."""
    a, b = PATH_SEMI_AXES
    angle = -0.5 * math.pi + PATH_START_SPEED / a * time_s
    tangent = np.array([-a * math.sin(angle), b * math.cos(angle)])
    heading = math.atan2(tangent[1], tangent[0])
    left = np.array([-math.sin(heading), math.cos(heading)])
    sway = SWAY[0] * math.sin(2.0 * math.pi * SWAY[1] * time_s)
    xy = np.array([a * math.cos(angle), b + b * math.sin(angle)]) + sway * left
    z = BOB[0] * math.sin(2.0 * math.pi * BOB[1] * time_s)
    yaw = heading + YAW_WOBBLE[0] * math.sin(2.0 * math.pi * YAW_WOBBLE[1] * time_s)
    pitch = PITCH_WOBBLE[0] * math.sin(2.0 * math.pi * PITCH_WOBBLE[1] * time_s)
    roll = ROLL_WOBBLE[0] * math.sin(2.0 * math.pi * ROLL_WOBBLE[1] * time_s)
    pose = np.eye(4)
    pose[:3, :3] = rotation_z(yaw) @ rotation_y(pitch) @ rotation_x(roll)
    pose[:3, 3] = (xy[0], xy[1], z)
    return pose


def base_twist_at(time_s: float, step_s: float = 1e-4) -> tuple[np.ndarray, np.ndarray]:
    """Return the base's linear and angular velocity in the base frame (REP 103 odometry twist).

    Central differences of the analytic path; the error is of order step_s squared.
    """
    before, after = base_pose_at(time_s - step_s), base_pose_at(time_s + step_s)
    rotation = base_pose_at(time_s)[:3, :3]
    linear = rotation.T @ (after[:3, 3] - before[:3, 3]) / (2.0 * step_s)
    omega = rotation.T @ (after[:3, :3] - before[:3, :3]) / (2.0 * step_s)
    angular = 0.5 * np.array([omega[2, 1] - omega[1, 2], omega[0, 2] - omega[2, 0],
                              omega[1, 0] - omega[0, 1]])
    return linear, angular


def build_scene(seed: int) -> Scene:
    """Return the scene for a seed: box layout, textures, tints and tilings all follow from it."""
    rng = np.random.default_rng(seed)
    room_min, room_max = np.array(ROOM_MIN), np.array(ROOM_MAX)
    rows: list[list[np.ndarray]] = []

    # Room faces: -x, +x, -y, +y walls, floor, ceiling; seen from inside.
    names = [*rng.choice(WALL_TEXTURES, size=4, replace=False),
             rng.choice(FLOOR_TEXTURES), rng.choice(CEILING_TEXTURES)]
    shades = (0.95, 1.0, 0.85, 0.9, 0.8, 0.7)
    rows.append([_texture_tile(str(name), _tint(rng, str(name)), shade, face, inside=True)
                 for face, (name, shade) in enumerate(zip(names, shades))])
    objects = [SurfaceObject(center=0.5 * (room_min + room_max), rotation=np.eye(3),
                             half_extent=0.5 * (room_max - room_min),
                             texels_per_metre=TILE / rng.uniform(2.4, 3.2),
                             atlas_origin=(PAD, PAD), phase=_phase(rng), inside=True)]

    for center, rotation, half_extent in _box_layout(rng, room_min, room_max):
        name = str(rng.choice(WALL_TEXTURES))
        tint = _tint(rng, name)
        shades = rng.uniform(0.6, 0.75), rng.uniform(0.8, 0.9), 1.0
        rows.append([_texture_tile(name, tint, shades[face // 2], face, inside=False)
                     for face in range(6)])
        objects.append(SurfaceObject(center=center, rotation=rotation, half_extent=half_extent,
                                     texels_per_metre=TILE / rng.uniform(1.2, 2.0),
                                     atlas_origin=(PAD, PAD + len(objects) * TILE_STRIDE),
                                     phase=_phase(rng), inside=False))
    atlas = np.concatenate([np.concatenate(row, axis=1) for row in rows], axis=0)
    return Scene(objects=tuple(objects), atlas=atlas)


def rotation_x(angle: float) -> np.ndarray:
    """Return the 3x3 rotation by ``angle`` (rad) about the x axis."""
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def rotation_y(angle: float) -> np.ndarray:
    """Return the 3x3 rotation by ``angle`` (rad) about the y axis."""
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def rotation_z(angle: float) -> np.ndarray:
    """Return the 3x3 rotation by ``angle`` (rad) about the z axis."""
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def _phase(rng: np.random.Generator) -> tuple[float, float]:
    return float(rng.uniform(0, TILE)), float(rng.uniform(0, TILE))


def _box_layout(rng: np.random.Generator, room_min: np.ndarray, room_max: np.ndarray):
    """Yield (center, rotation, half_extent) of boxes that stand on the floor clear of the path."""
    a, b = PATH_SEMI_AXES
    angles = np.linspace(0.0, 2.0 * math.pi, 720, endpoint=False)
    path_xy = np.stack([a * np.cos(angles), b + b * np.sin(angles)], axis=1)
    clearance = BOX_CLEARANCE + SWAY[0]
    placed = 0
    for _ in range(2000):
        if placed == BOX_COUNT:
            return
        half_xy = rng.uniform(0.25, 0.8, size=2)
        height = rng.uniform(0.5, 0.92 * (room_max[2] - room_min[2]))
        yaw = rng.uniform(0.0, 0.5 * math.pi)
        if placed < FIELD_OF_VIEW_BOXES:
            # In the view of the first hundred frames: ahead of the start, up to 45 degrees left.
            bearing, distance = rng.uniform(-0.35, 0.8), rng.uniform(2.5, 7.5)
            xy = np.clip(distance * np.array([math.cos(bearing), math.sin(bearing)]),
                         room_min[:2] + 0.6, room_max[:2] - 0.6)
        else:
            xy = rng.uniform(room_min[:2] + 0.6, room_max[:2] - 0.6)
        rotation = rotation_z(yaw)
        local = (path_xy - xy) @ rotation[:2, :2]
        outside = np.maximum(np.abs(local) - half_xy, 0.0)
        if np.min(np.hypot(outside[:, 0], outside[:, 1])) < clearance:
            continue
        center = np.array([xy[0], xy[1], room_min[2] + 0.5 * height])
        placed += 1
        yield center, rotation, np.array([half_xy[0], half_xy[1], 0.5 * height])


def _tint(rng: np.random.Generator, name: str) -> np.ndarray:
    if _photo(name).ndim == 3:
        return np.full(3, rng.uniform(0.85, 1.0))
    return rng.uniform(0.55, 1.0, size=3)


@functools.lru_cache(maxsize=None)
def _photo(name: str) -> np.ndarray:
    """Return a skimage.data photograph as uint8, square-cropped (grey or RGB)."""
    from skimage import data

    image = np.asarray(getattr(data, name)())
    if image.dtype != np.uint8:
        image = (image > 0).astype(np.uint8) * 255
    if image.ndim == 3:
        image = image[..., :3]
    side = min(image.shape[:2])
    top, left = (image.shape[0] - side) // 2, (image.shape[1] - side) // 2
    return np.ascontiguousarray(image[top:top + side, left:left + side])


def _texture_tile(name: str, tint: np.ndarray, shade: float, face: int,
                  inside: bool) -> np.ndarray:
    """Return a face's RGB tile of a photograph, tinted, shaded, with a wrapped border.

    Walls get their tile mirrored where U runs to the viewer's left, so photographs read the
    right way round from where the face can be seen.
    """
    photo = cv2.resize(_photo(name), (TILE, TILE), interpolation=cv2.INTER_AREA)
    if photo.ndim == 2:
        photo = np.repeat(photo[..., None], 3, axis=2)
    colour = photo.astype(np.float32) * (tint * shade).astype(np.float32)
    tile = np.clip(colour + 0.5, 0, 255).astype(np.uint8)
    u_runs_left = face in (1, 2) if inside else face in (0, 3)
    if u_runs_left:
        tile = np.ascontiguousarray(tile[:, ::-1])
    return cv2.copyMakeBorder(tile, PAD, PAD, PAD, PAD, cv2.BORDER_WRAP)
