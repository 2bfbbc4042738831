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

"""The triangulation pipeline under what a robot sees: late image stamps, sway, drifting odometry.

The sequences are the package's synthetic room (640x480, 15 fps) rendered with the imperfections
of ``mono_depth_ros.synth``; the ground truth stays exact. Figures are over the frames after
the warm-up. Coverage counts a point as covered when its depth is within twice its sigma of
the truth; the truth is the depth in its 3x3 pixel neighbourhood nearest to the estimate,
because a tracked corner often sits on a depth edge and its pixel is known to a fraction of a
pixel (``evaluation.SequenceEvaluation.coverage``).
"""

import functools

import cv2
import numpy as np
import pytest

from mono_depth_ros.core.camera_model import CameraModel
from mono_depth_ros.core.transforms import matrix_to_quaternion
from mono_depth_ros.core.triangulation import TriangulationParams, TriangulationPipeline
from mono_depth_ros.core.triangulation.evaluation import evaluate_sequence

synth = pytest.importorskip('mono_depth_ros.synth')

FRAMES, WARMUP = 48, 28
SWAY_DEG = 3.0
DEFAULT_EXTRINSICS = (0.0, 0.0, 0.0, -0.5, 0.5, -0.5, 0.5)


@functools.lru_cache(maxsize=None)
def rendered(motion: str = 'drive', camera_latency: float = 0.0, sway_deg: float = 0.0,
             odom_drift: float = 0.0, odom_drift_deg: float = 0.0, frames: int = FRAMES,
             width: int = 640, height: int = 480):
    return synth.render_sequence(frames=frames, width=width, height=height, seed=0,
                                 motion=motion, camera_latency=camera_latency,
                                 sway_deg=sway_deg, odom_drift=odom_drift,
                                 odom_drift_deg=odom_drift_deg)


@functools.lru_cache(maxsize=None)
def evaluated(**conditions):
    return evaluate_sequence(rendered(**conditions), warmup_frames=WARMUP)


def test_the_time_offset_is_estimated_from_tracks_and_odometry():
    # 320x240 and 30 frames are enough for the offset (the swaying yaw shows it).
    sequence = rendered('drive', camera_latency=0.03, sway_deg=SWAY_DEG, frames=30,
                        width=320, height=240)
    evaluation = evaluate_sequence(sequence, warmup_frames=20)
    assert all(status == 'ok' for status in evaluation.statuses)
    assert evaluation.time_offsets[-1] == pytest.approx(0.03, abs=0.002)
    fixed = evaluate_sequence(sequence, TriangulationParams(
        camera_time_offset=0.03, estimate_time_offset=False), warmup_frames=20)
    assert set(fixed.time_offsets) == {0.03}


@pytest.mark.slow
@pytest.mark.parametrize('camera_latency', [0.0, 0.02, 0.05])
def test_late_images_with_sway_keep_their_accuracy(camera_latency):
    evaluation = evaluated(camera_latency=camera_latency, sway_deg=SWAY_DEG)
    assert evaluation.time_offsets[-1] == pytest.approx(camera_latency, abs=0.002)
    assert evaluation.absrel <= 0.03
    # The 300 a frame from frame 28 on (about 330 at frame 28, 380 on average over
    # frames 28-47, with the default 600 tracks: doc/triangulation.md says why 600).
    assert min(evaluation.points_per_frame) >= 300
    assert np.mean(evaluation.points_per_frame) >= 340


@pytest.mark.slow
def test_drifting_odometry_keeps_absrel_within_five_percent():
    evaluation = evaluated(odom_drift=0.01, odom_drift_deg=0.5)
    assert evaluation.absrel <= 0.05
    assert min(evaluation.points_per_frame) >= 100


@pytest.mark.slow
def test_forward_motion_yields_points_away_from_the_focus_of_expansion():
    sequence = rendered('forward', camera_latency=0.02, sway_deg=SWAY_DEG)
    evaluation = evaluated(motion='forward', camera_latency=0.02, sway_deg=SWAY_DEG)
    assert evaluation.absrel <= 0.03 and min(evaluation.points_per_frame) >= 100
    k = sequence.k
    camera = CameraModel.from_intrinsics(k[0, 0], k[1, 1], k[0, 2], k[1, 2], 640, 480)
    pipeline = TriangulationPipeline(TriangulationParams(camera_to_base=DEFAULT_EXTRINSICS))
    for sample in sequence.odometry:
        pipeline.add_odometry(sample.stamp_ns, sample.base_pose[:3, 3],
                              matrix_to_quaternion(sample.base_pose[:3, :3]))
    for frame in sequence.frames:
        result = pipeline.process_frame(frame.stamp_ns, cv2.cvtColor(frame.rgb,
                                                                     cv2.COLOR_RGB2GRAY), camera)
    # The focus of expansion is where the direction of travel (optical z) projects; no
    # parallax grows there, so the points lie around it, over the whole image.
    focus = camera.project(np.array([[0.0, 0.0, 1.0]]))[0]
    distance = np.linalg.norm(result.pixels - focus, axis=1)
    assert len(result) >= 100 and np.median(distance) > 150
    assert np.mean(distance < 40) < 0.02
    sides = np.sign(result.pixels - focus)
    assert len({tuple(side) for side in sides.astype(int).tolist()}) == 4  # every quadrant


@pytest.mark.slow
def test_sigmas_are_honest_over_every_motion_and_standing_still_adds_nothing():
    covered, counted = 0.0, 0
    for motion in ('sideways', 'forward', 'turning', 'stop'):
        for latency, sway in ((0.0, 0.0), (0.02, SWAY_DEG)):
            evaluation = evaluated(motion=motion, camera_latency=latency, sway_deg=sway)
            points = sum(evaluation.points_per_frame)
            assert points > 0 and evaluation.coverage >= 0.9, (motion, latency)
            covered += evaluation.coverage * points
            counted += points
            if motion == 'stop':  # standing from 1 s (frame 15) on: nothing new converges
                assert sum(evaluation.new_converged) == 0
                counts = evaluation.points_per_frame
                assert all(later <= earlier for earlier, later in zip(counts, counts[1:]))
    assert covered / counted == pytest.approx(0.95, abs=0.03)
