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

"""Benchmark of the per-frame core work at 640x480: point clouds and image decoding.

Run ``python bench/bench_core.py`` or ``mono-depth-ros bench --only core``; prints JSON. Times
are medians in milliseconds. The point cloud is compared with a plain copy of as many bytes as
it produces (``bytes(buffer)``), the floor for any code that writes a new cloud; the goal is at
most 3x that copy. ``page_faults`` counts minor page faults per call: memory that the allocator
returned to the kernel and had to fault back (glibc trims its heap above a threshold).
"""

import array
import json
import time
import types

import cv2
import numpy as np

from benchmark_latency import goal_met
from mono_depth_ros.core.camera_model import CameraModel
from mono_depth_ros.core.pointcloud import depth_to_points, pack_organized_cloud

try:
    import resource
except ImportError:  # not on Windows
    resource = None

WIDTH, HEIGHT = 640, 480
RATIO_GOAL = 3.0


def run(repeats: int = 30, rounds: int = 3) -> dict:
    """Run every measurement ``rounds`` times ``repeats`` calls and return the results."""
    return {
        'image': {'width': WIDTH, 'height': HEIGHT},
        'repeats': repeats * rounds,
        'pointcloud': _pointcloud(repeats, rounds),
        'decode': _decode(repeats, rounds),
    }


def _pointcloud(repeats: int, rounds: int) -> dict:
    rng = np.random.default_rng(0)
    camera = CameraModel.from_intrinsics(fx=525.0, fy=525.0, cx=319.5, cy=239.5,
                                         width=WIDTH, height=HEIGHT)
    rays = camera.pixel_rays(1)
    depth = rng.uniform(0.5, 10.0, (HEIGHT, WIDTH)).astype(np.float32)
    depth[rng.random(depth.shape) < 0.05] = np.nan
    colors = rng.integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    results = {}
    for name, color_arg in (('xyz', None), ('xyzrgb', colors)):
        cloud = pack_organized_cloud(depth_to_points(depth, rays), color_arg)
        source = np.ones(len(cloud.data), np.uint8)
        timings = _alternating({
            'build': lambda c=color_arg: pack_organized_cloud(depth_to_points(depth, rays), c),
            'copy': lambda: bytes(source),
            'message_fill': lambda: array.array('B').frombytes(cloud.data),
        }, repeats, rounds)
        ratio = timings['build']['ms'] / timings['copy']['ms']
        results[name] = {
            'bytes': len(cloud.data),
            'build_ms': timings['build']['ms'],
            'copy_ms': timings['copy']['ms'],
            'ratio_to_copy': round(ratio, 2),
            'goal_met': goal_met(ratio, RATIO_GOAL),
            'build_page_faults': timings['build']['page_faults'],
            'message_fill_ms': timings['message_fill']['ms'],
        }
    results['ratio_goal'] = RATIO_GOAL
    results['goal_met'] = all(results[name]['goal_met'] for name in ('xyz', 'xyzrgb'))
    return results


def _decode(repeats: int, rounds: int) -> dict:
    try:
        from mono_depth_ros.core.image_codec import (
            decode_compressed, image_to_numpy, image_to_rgb8)
    except ImportError as error:
        return {'skipped': f'mono_depth_ros.core.image_codec: {error}'}
    bgr = _textured_image()
    images = {
        'bgr8': (bgr, 3),
        'rgb8': (np.ascontiguousarray(bgr[..., ::-1]), 3),
        'mono16': (cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY).astype(np.uint16) * 257, 2),
    }
    calls = {}
    for encoding, (pixels, pixel_bytes) in images.items():
        msg = _image_message(pixels, encoding, pixel_bytes)
        calls[f'{encoding}_to_numpy'] = lambda m=msg: image_to_numpy(m)
        calls[f'{encoding}_to_rgb8'] = lambda m=msg: image_to_rgb8(m)
    ok, jpeg = cv2.imencode('.jpg', bgr, [cv2.IMWRITE_JPEG_QUALITY, 90])
    compressed = types.SimpleNamespace(format='bgr8; jpeg compressed bgr8',
                                       data=array.array('B', jpeg.tobytes()))
    calls['jpeg_to_rgb8'] = lambda: decode_compressed(compressed, 'rgb8')
    results = {name: timing['ms'] for name, timing in _alternating(calls, repeats, rounds).items()}
    results['jpeg_bytes'] = int(jpeg.size)
    return results


def _textured_image() -> np.ndarray:
    """Return a 640x480 BGR image with JPEG-realistic structure (smooth gradients and edges)."""
    rng = np.random.default_rng(1)
    coarse = rng.integers(0, 256, (HEIGHT // 16, WIDTH // 16, 3), dtype=np.uint8)
    image = cv2.resize(coarse, (WIDTH, HEIGHT), interpolation=cv2.INTER_CUBIC)
    for _ in range(40):
        x, y = (int(v) for v in rng.integers(0, (WIDTH, HEIGHT)))
        color = [int(c) for c in rng.integers(0, 256, 3)]
        cv2.circle(image, (x, y), int(rng.integers(5, 60)), color, -1)
    return image


def _image_message(pixels: np.ndarray, encoding: str, pixel_bytes: int):
    """Return an rclpy-like sensor_msgs/Image (data as array.array('B'))."""
    data = array.array('B')
    data.frombytes(pixels.astype(pixels.dtype.newbyteorder('<'), copy=False).tobytes())
    return types.SimpleNamespace(height=HEIGHT, width=WIDTH, encoding=encoding, is_bigendian=0,
                                 step=WIDTH * pixel_bytes, data=data)


def _alternating(calls: dict, repeats: int, rounds: int) -> dict:
    """Time each call ``repeats`` times in a row, cycling through the calls ``rounds`` times.

    Blocks of one call keep its steady-state memory pattern; cycling spreads the noise of a
    busy machine over all of them.
    """
    times = {name: [] for name in calls}
    faults = {name: [] for name in calls}
    for _ in range(rounds):
        for name, call in calls.items():
            call()  # warm-up
            for _ in range(repeats):
                faults_before = _minor_faults()
                start = time.perf_counter()
                call()
                times[name].append(time.perf_counter() - start)
                faults[name].append(_minor_faults() - faults_before)
    return {name: {'ms': round(float(np.median(times[name])) * 1e3, 4),
                   'page_faults': int(np.median(faults[name]))} for name in calls}


def _minor_faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt if resource else 0


if __name__ == '__main__':
    print(json.dumps(run(), indent=2))
