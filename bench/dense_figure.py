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

"""Picture of one keyframe's dense depth: image, ground truth, dense depth, sigma, error.

    python bench/dense_figure.py --out doc/dense_stereo.jpg [--seed 1] [--realistic]

Renders the synthetic 'drive' (640x480, seed 1 by default, held out from the calibration),
runs the sparse pipeline and the dense step, and draws the last keyframe with a full window:
the camera image, the true depth and the dense depth (turbo, 1-8 m; black: NaN), the dense
sigma relative to the depth (0-10 %), and the relative error (0-10 %, black: NaN). Panels are
320x240.
"""

import argparse
import pathlib

import cv2
import numpy as np

from mono_depth_ros.core.camera_model import CameraModel
from mono_depth_ros.core.transforms import matrix_to_quaternion
from mono_depth_ros.core.triangulation import TriangulationParams, TriangulationPipeline
from mono_depth_ros.core.triangulation.dense import DenseMapper, pipeline_pose_lookup
from mono_depth_ros.synth import render_sequence

REALISTIC = {'camera_latency': 0.03, 'sway_deg': 3.0, 'odom_drift': 0.01, 'odom_drift_deg': 0.5}
PANEL = (320, 240)


def _colour(values: np.ndarray, low: float, high: float) -> np.ndarray:
    known = np.isfinite(values)
    scaled = np.clip((np.nan_to_num(values) - low) / (high - low), 0, 1)
    image = cv2.applyColorMap((scaled * 255).astype(np.uint8), cv2.COLORMAP_TURBO)
    image[~known] = 0
    return cv2.resize(image, PANEL, interpolation=cv2.INTER_NEAREST)


def _label(image: np.ndarray, text: str) -> np.ndarray:
    cv2.putText(image, text, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1,
                cv2.LINE_AA)
    return image


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', type=pathlib.Path, required=True)
    parser.add_argument('--seed', type=int, default=1)
    parser.add_argument('--realistic', action='store_true',
                        help='30 ms late images, 3 deg sway, odometry drifting 1 %% and 0.5 deg')
    args = parser.parse_args()
    conditions = REALISTIC if args.realistic else {}
    sequence = render_sequence(frames=48, width=640, height=480, seed=args.seed, **conditions)
    k = sequence.k
    camera = CameraModel.from_intrinsics(k[0, 0], k[1, 1], k[0, 2], k[1, 2], 640, 480)
    pipeline = TriangulationPipeline(
        TriangulationParams(odom_scale_sigma=0.01 if conditions else 0.0))
    for sample in sequence.odometry:
        pipeline.add_odometry(sample.stamp_ns, sample.base_pose[:3, 3],
                              matrix_to_quaternion(sample.base_pose[:3, :3]))
    mapper = DenseMapper()
    chosen = None
    for frame in sequence.frames:
        grey = cv2.cvtColor(frame.rgb, cv2.COLOR_RGB2GRAY)
        result = pipeline.process_frame(frame.stamp_ns, grey, camera)
        decision = mapper.offer(result, grey, camera, pipeline_pose_lookup(pipeline))
        if decision.taken and len(mapper.window) == mapper.keyframe_params.window_size:
            chosen = (frame, mapper.compute())
    frame, dense = chosen
    depth, sigma = dense.at_image_size()
    truth = frame.depth
    error = np.abs(depth - truth) / truth
    within = np.isfinite(depth) & (error <= 0.10)
    panels = [
        _label(cv2.resize(cv2.cvtColor(frame.rgb, cv2.COLOR_RGB2BGR), PANEL), 'image'),
        _label(_colour(truth, 1.0, 8.0), 'ground truth, 1-8 m'),
        _label(_colour(depth, 1.0, 8.0), f'dense depth ({np.isfinite(depth).mean():.0%} known)'),
        _label(_colour(sigma / depth, 0.0, 0.10), 'sigma / depth, 0-10 %'),
        _label(_colour(np.where(np.isfinite(depth), error, np.nan), 0.0, 0.10),
               f'|error| / depth, 0-10 % ({within.mean():.0%} within 10 %)'),
        _label(np.zeros(PANEL[::-1] + (3,), np.uint8),
               f'frame {frame.index}, {dense.dense.stats["planes"]} planes'),
    ]
    figure = np.vstack([np.hstack(panels[:3]), np.hstack(panels[3:])])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.out), figure, [cv2.IMWRITE_JPEG_QUALITY, 90])
    print(f'{args.out}: frame {frame.index}, {within.mean():.3f} of the pixels within 10 %')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
