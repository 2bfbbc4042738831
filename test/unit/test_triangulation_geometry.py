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

"""Multi-view triangulation and the per-track depth filters on known geometry."""

import numpy as np
import pytest

from mono_depth_ros.core.triangulation import triangulate
from mono_depth_ros.core.triangulation.depth_filter import DepthFilterBank, DepthFilterParams
from mono_depth_ros.core.triangulation.triangulate import triangulate_views, TriangulationGates

FOCAL = (500.0, 500.0)


def world_to_camera(centre, yaw_deg: float = 0.0) -> np.ndarray:
    """Return [R | t] of an optical camera at ``centre`` turned by ``yaw`` about its y axis."""
    yaw = np.radians(yaw_deg)
    rotation = np.array([[np.cos(yaw), 0.0, -np.sin(yaw)],
                         [0.0, 1.0, 0.0],
                         [np.sin(yaw), 0.0, np.cos(yaw)]])
    return np.hstack([rotation, (-rotation @ np.asarray(centre, float))[:, None]])


def observe(points: np.ndarray, poses: list[np.ndarray]) -> np.ndarray:
    """Return (n, V, 2) normalized coordinates of world points in each camera."""
    views = []
    for pose in poses:
        in_camera = points @ pose[:, :3].T + pose[:, 3]
        views.append(in_camera[:, :2] / in_camera[:, 2:])
    return np.stack(views, axis=1)


def random_points(count: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.column_stack([rng.uniform(-2, 2, count), rng.uniform(-1, 1, count),
                            rng.uniform(2, 10, count)])


def test_two_views_recover_exact_points_and_depths():
    points = random_points(50)
    poses = [world_to_camera([0, 0, 0]), world_to_camera([0.8, 0.1, 0.0], yaw_deg=3.0)]
    result = triangulate_views(observe(points, poses), np.stack(poses), focal_px=FOCAL)
    assert result.valid.all()
    np.testing.assert_allclose(result.points, points, rtol=1e-6)
    last = points @ poses[-1][:, :3].T + poses[-1][:, 3]
    np.testing.assert_allclose(result.depth, last[:, 2], rtol=1e-6)
    assert result.reprojection_error_px.max() < 1e-6


def test_multi_view_refinement_averages_image_noise():
    points = random_points(200, seed=1)
    poses = [world_to_camera([x, 0.05 * x, 0.2 * x], yaw_deg=2 * x) for x in np.linspace(0, 1, 6)]
    rng = np.random.default_rng(2)
    noisy = observe(points, poses) + rng.normal(0, 0.3 / FOCAL[0], (200, 6, 2))
    many = triangulate_views(noisy, np.stack(poses), focal_px=FOCAL)
    two = triangulate_views(noisy[:, [0, -1]], np.stack(poses)[[0, -1]], focal_px=FOCAL)
    truth = (points @ poses[-1][:, :3].T + poses[-1][:, 3])[:, 2]
    assert many.valid.all()
    assert np.median(np.abs(many.depth - truth) / truth) < np.median(
        np.abs(two.depth - truth) / truth)
    assert np.median(np.abs(many.depth - truth) / truth) < 0.01
    # The a-posteriori noise estimates the 0.3 px that was added.
    assert 0.15 < np.median(many.residual_sigma_px) < 0.45


def test_gauss_newton_improves_on_the_midpoint_start():
    points = random_points(100, seed=3)
    poses = np.stack([world_to_camera([0, 0, 0]), world_to_camera([1.0, 0, 0])])
    rng = np.random.default_rng(4)
    noisy = observe(points, list(poses)) + rng.normal(0, 0.5 / FOCAL[0], (100, 2, 2))
    directions, centres = triangulate.camera_rays(noisy, poses[None])
    start, _ = triangulate.midpoint(directions, centres, np.ones((100, 2), bool))
    refined, _ = triangulate.refine(start, noisy, np.broadcast_to(poses, (100, 2, 3, 4)),
                                    np.ones((100, 2), bool), FOCAL)

    def error(p):
        residuals, _, _ = triangulate.reprojection_residuals(
            p, noisy, np.broadcast_to(poses, (100, 2, 3, 4)), FOCAL)
        return (residuals ** 2).sum()

    assert error(refined) < error(start)


def test_pure_rotation_has_no_parallax_and_gives_no_points():
    points = random_points(30)
    poses = [world_to_camera([0.5, 0, 0], yaw_deg=yaw) for yaw in (0.0, 5.0, 10.0)]
    result = triangulate_views(observe(points, poses), np.stack(poses), focal_px=FOCAL)
    assert (result.status == triangulate.LOW_PARALLAX).all()
    assert np.isnan(result.points).all()
    assert result.parallax_deg.max() < 1e-3


def test_standing_camera_gives_no_points():
    points = random_points(10)
    pose = world_to_camera([0.0, 0.0, 0.0])
    result = triangulate_views(observe(points, [pose, pose]), np.stack([pose, pose]),
                               focal_px=FOCAL)
    assert (result.status == triangulate.LOW_PARALLAX).all()


def test_point_behind_the_cameras_is_rejected():
    behind = np.array([[0.3, 0.2, -4.0]])
    poses = [world_to_camera([0, 0, 0]), world_to_camera([1.0, 0, 0])]
    result = triangulate_views(observe(behind, poses), np.stack(poses), focal_px=FOCAL)
    assert result.status[0] == triangulate.BEHIND_CAMERA
    assert not result.valid[0]


def test_far_point_with_tiny_parallax_is_rejected_near_point_accepted():
    points = np.array([[0.0, 0.0, 300.0], [0.0, 0.0, 5.0]])
    poses = [world_to_camera([0, 0, 0]), world_to_camera([0.5, 0, 0])]
    result = triangulate_views(observe(points, poses), np.stack(poses), focal_px=FOCAL)
    assert result.status.tolist() == [triangulate.LOW_PARALLAX, triangulate.OK]
    assert result.parallax_deg[0] < 0.1


def test_inconsistent_observation_fails_the_reprojection_gate():
    points = random_points(20, seed=5)
    poses = [world_to_camera([x, 0, 0]) for x in (0.0, 0.4, 0.8)]
    observations = observe(points, poses)
    observations[:10, 1, 1] += 5.0 / FOCAL[1]  # 5 px off the epipolar line in the middle view
    result = triangulate_views(observations, np.stack(poses), focal_px=FOCAL)
    assert (result.status[:10] == triangulate.LARGE_REPROJECTION_ERROR).all()
    assert result.valid[10:].all()


def test_depth_range_gate_uses_the_last_view():
    points = np.array([[0.0, 0.0, 40.0], [0.0, 0.0, 0.5], [0.5, 0.0, 4.0]])
    poses = [world_to_camera([-8.0, 0, 0]), world_to_camera([0.0, 0, 0.1])]
    gates = TriangulationGates(min_parallax_deg=1.0, min_depth=1.0, max_depth=30.0)
    result = triangulate_views(observe(points, poses), np.stack(poses), focal_px=FOCAL,
                               gates=gates)
    assert result.status.tolist() == [triangulate.OUT_OF_DEPTH_RANGE] * 2 + [triangulate.OK]


def test_masked_views_are_ignored_even_when_they_hold_garbage():
    points = random_points(20, seed=6)
    poses = [world_to_camera([x, 0, 0]) for x in (0.0, 0.5, 1.0)]
    observations = observe(points, poses)
    observations[:, 1] = np.nan
    world = np.stack(poses)
    world[1] = 0.0
    mask = np.array([True, False, True])[None].repeat(20, axis=0)
    result = triangulate_views(observations, world, mask, focal_px=FOCAL)
    assert result.valid.all()
    np.testing.assert_allclose(result.points, points, rtol=1e-6)


def test_covariance_shrinks_with_baseline():
    point = np.array([[0.0, 0.0, 5.0]])
    short = [world_to_camera([0, 0, 0]), world_to_camera([0.3, 0, 0])]
    long = [world_to_camera([0, 0, 0]), world_to_camera([1.2, 0, 0])]
    short_result = triangulate_views(observe(point, short), np.stack(short), focal_px=FOCAL)
    long_result = triangulate_views(observe(point, long), np.stack(long), focal_px=FOCAL)
    assert long_result.covariance[0, 2, 2] < short_result.covariance[0, 2, 2] / 4


# ---------------------------------------------------------------------------------------------
# Depth filters


def make_filters(count: int) -> DepthFilterBank:
    bank = DepthFilterBank(DepthFilterParams(min_depth=0.2, max_depth=30.0))
    bank.carry(np.full(count, -1))
    return bank


def test_filter_converges_on_consistent_measurements():
    bank = make_filters(1)
    rng = np.random.default_rng(0)
    true_inverse = 1 / 4.0
    for _ in range(15):
        bank.update([0], [true_inverse + rng.normal(0, 0.005)], [0.005 ** 2])
    assert bank.converged()[0]
    assert bank.mean[0] == pytest.approx(true_inverse, rel=0.02)
    assert bank.inlier_ratio[0] > 0.7


def test_filter_is_not_converged_after_one_measurement():
    bank = make_filters(1)
    bank.update([0], [0.25], [1e-8])
    assert not bank.converged()[0]


def test_filter_ignores_an_outlier_measurement():
    bank = make_filters(1)
    for _ in range(10):
        bank.update([0], [0.25], [0.002 ** 2])
    before = bank.inlier_ratio[0]
    bank.update([0], [2.0], [0.002 ** 2])  # 0.5 m instead of 4 m
    assert bank.mean[0] == pytest.approx(0.25, rel=1e-3)
    assert bank.inlier_ratio[0] < before
    assert bank.converged()[0]


def test_filter_fed_outliers_diverges():
    bank = make_filters(2)
    rng = np.random.default_rng(1)
    for _ in range(20):
        bank.update([0, 1], [0.25, rng.uniform(0.04, 5.0)], [0.002 ** 2, 0.002 ** 2])
    assert bank.converged().tolist() == [True, False]
    assert bank.diverged().tolist() == [False, True]


def test_rejected_measurements_lead_to_divergence():
    bank = make_filters(1)
    for _ in range(10):
        bank.reject([0])
    assert bank.diverged()[0]


def test_filter_rows_follow_the_track_order():
    bank = make_filters(3)
    bank.update([0, 1, 2], [0.1, 0.2, 0.3], [1e-4] * 3)
    bank.carry(np.array([2, 0, -1]))
    assert bank.mean[:2].tolist() == [0.3, 0.1]
    assert not bank.initialized[2]
    bank.keep(np.array([False, True, True]))
    assert bank.mean[0] == 0.1 and len(bank) == 2


# A track of a sequence stamped 50 ms late with +-3 deg of sway (seed 0, frames 0-35): its
# start lies behind a camera and the old Gauss-Newton step raised LinAlgError.
BEHIND_START_OBSERVED = np.array([
    [-0.4751953125, -0.1521484375],
    [-0.39205324053764345, -0.1542807936668396],
    [-0.3819394946098328, -0.15899391174316407],
    [-0.4507893115282059, -0.17648510336875917],
])
BEHIND_START_POSES = np.array([
    [[0.0219978110918281, -0.999757160718727, -0.0013099232030144728, 0.007406840468407053],
     [-0.0024339968466208293, 0.0012566808570896708, -0.999996248199249, 0.005007125744451835],
     [0.9997550559844741, 0.02200091690936938, -0.002405761548479, -0.025129719837294357]],
    [[0.08137558533926101, -0.9966607955035952, -0.0067285077716702155, 0.029690303384662203],
     [-0.011665869101374094, 0.005797980519016381, -0.9999151418595533, 0.02017290075951669],
     [0.9966152324788149, 0.08144717384932323, -0.011155100320295727, -0.12698608199882444]],
    [[0.07959719116480003, -0.9967815218424602, -0.009533355762966721, 0.04520732986196334],
     [-0.016664686830212102, 0.008231740273552304, -0.9998272484109041, 0.021349455934278012],
     [0.9966878023591567, 0.07974231101176958, -0.0159558284954739, -0.19408808222417498]],
    [[0.03135670163825989, -0.9994314866696302, -0.012387926206666233, 0.09379236505595917],
     [-0.02186995487847605, 0.011704999260900743, -0.999692301693834, -0.002358950784432225],
     [0.9992689639611463, 0.03161797662145653, -0.021490491348092933, -0.35667933753559544]],
])


def test_a_start_behind_a_camera_is_dropped_not_raised():
    result = triangulate_views(BEHIND_START_OBSERVED[None], BEHIND_START_POSES[None], None,
                               (512.0, 512.0))
    assert result.status[0] == triangulate.BEHIND_CAMERA and not result.valid.any()


def test_singular_or_non_finite_geometry_is_degenerate_not_raised():
    points = random_points(4)
    poses = [world_to_camera([0, 0, 0]), world_to_camera([0.5, 0, 0])]
    observed = observe(points, poses)
    stacked = np.broadcast_to(np.stack(poses), (4, 2, 3, 4)).copy()
    stacked[1, 1, 0, 3] = np.nan  # a pose with a NaN
    stacked[2, 1] = np.inf
    observed[3, 1] = [1e300, -1e300]  # an absurd observation
    result = triangulate_views(observed, stacked, None, FOCAL)
    assert result.status[0] == triangulate.OK
    assert not result.valid[1:].any()
    assert triangulate.solvable(np.stack([np.eye(3), np.zeros((3, 3)),
                                          np.diag([1.0, 1.0, 1e-14]),
                                          np.full((3, 3), np.nan)])).tolist() == [
        True, False, False, False]
    _, covariance = triangulate.refine(np.zeros((1, 3)), np.zeros((1, 2, 2)),
                                       np.zeros((1, 2, 3, 4)), np.ones((1, 2), bool), FOCAL)
    assert np.isnan(covariance).all()  # zero Jacobian: singular, reported as NaN
