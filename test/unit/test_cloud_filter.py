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

"""Costmap clouds: range and sigma gates, then one point (the centroid) per occupied voxel."""

import numpy as np
import pytest

from mono_depth_ros.core.cloud_filter import filter_points
from mono_depth_ros.core.errors import BadMessageError


def _random_cloud(count: int = 4000, spread: float = 3.0, seed: int = 0):
    rng = np.random.default_rng(seed)
    points = rng.uniform(-spread, spread, (count, 3)).astype(np.float32)
    points[::11] = np.nan
    points[5::97] = [np.inf, 0.0, 1.0]
    colors = rng.integers(0, 256, (count, 3), dtype=np.uint8)
    sigma = rng.uniform(0.0, 1.0, count).astype(np.float32)
    sigma[::7] = np.nan
    return points, colors, sigma


def _brute_force(points, voxel_size, keep):
    """Every voxel's member indices, by a dictionary: the reference for the centroids."""
    voxels: dict[tuple, list[int]] = {}
    for index in np.flatnonzero(keep):
        cell = tuple(np.floor(points[index].astype(np.float64) / voxel_size).astype(int))
        voxels.setdefault(cell, []).append(int(index))
    return voxels


def _by_cell(points, voxel_size):
    return {tuple(np.floor(p.astype(np.float64) / voxel_size).astype(int)): i
            for i, p in enumerate(points)}


@pytest.mark.parametrize('voxel_size', [0.25, 0.5, 1e-5])
def test_each_voxel_gives_the_centroid_of_its_gated_points(voxel_size):
    points, colors, sigma = _random_cloud()
    result = filter_points(points, colors, sigma, voxel_size=voxel_size, max_range=4.0,
                           max_sigma=0.8)
    with np.errstate(invalid='ignore'):
        keep = (np.isfinite(points).all(axis=1)
                & (np.linalg.norm(points.astype(np.float64), axis=1) <= 4.0) & ~(sigma > 0.8))
    voxels = _brute_force(points, voxel_size, keep)
    assert len(result) == len(voxels) and result.gated_points == keep.sum()
    assert result.input_points == len(points)
    assert result.points.dtype == np.float32 and result.colors_bgr.dtype == np.uint8
    found = _by_cell(result.points, voxel_size)
    for cell, members in voxels.items():
        index = found[cell]
        np.testing.assert_allclose(result.points[index], points[members].mean(axis=0),
                                   rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(result.colors_bgr[index], colors[min(members)])
        known = sigma[members][np.isfinite(sigma[members])]
        if known.size:
            np.testing.assert_allclose(result.sigma[index], known.mean(), rtol=1e-5)
        else:
            assert np.isnan(result.sigma[index])


def test_range_is_euclidean_from_the_sensor_origin():
    points = np.float32([[3.0, 4.0, 0.0], [3.0, 4.0, 0.1], [0.0, 0.0, 4.9], [0.0, 0.0, 5.1]])
    kept = filter_points(points, voxel_size=0.0, max_range=5.0).points
    np.testing.assert_array_equal(kept, points[[0, 2]])


def test_sigma_gates_only_where_it_is_known_and_no_sigma_gates_nothing():
    points = np.float32([[0, 0, 1], [0, 0, 2], [0, 0, 3], [0, 0, 4]])
    sigma = np.float32([0.1, 0.6, np.nan, 0.5])
    kept = filter_points(points, sigma=sigma, voxel_size=0.0, max_sigma=0.5)
    np.testing.assert_array_equal(kept.points[:, 2], [1, 3, 4])
    np.testing.assert_array_equal(kept.sigma, np.float32([0.1, np.nan, 0.5]))
    assert len(filter_points(points, voxel_size=0.0, max_sigma=0.0)) == 4


def test_an_organized_cloud_with_colours_and_a_sigma_image_is_accepted():
    rng = np.random.default_rng(2)
    depth = rng.uniform(1.0, 2.0, (12, 16)).astype(np.float32)
    grid = np.dstack([np.zeros_like(depth), np.zeros_like(depth), depth])
    grid[0, 0] = np.nan
    colors = rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)
    result = filter_points(grid, colors, np.full((12, 16), 0.1), voxel_size=0.0)
    assert len(result) == 12 * 16 - 1
    np.testing.assert_array_equal(result.colors_bgr, colors.reshape(-1, 3)[1:])
    one = filter_points(grid, colors, voxel_size=10.0)
    assert len(one) == 1 and one.points[0, 2] == pytest.approx(np.nanmean(depth[1:]), rel=0.05)


def test_empty_and_all_invalid_clouds_give_empty_arrays():
    for points in (np.empty((0, 3), np.float32), np.full((5, 3), np.nan, np.float32)):
        result = filter_points(points, np.zeros((len(points), 3), np.uint8), voxel_size=0.05)
        assert result.points.shape == (0, 3) and result.colors_bgr.shape == (0, 3)


def test_far_and_huge_points_never_overflow_the_voxel_keys():
    points = np.float32([[1e30, 0, 0], [-6e4, 6e4, 1e4], [6e4, -6e4, 5e4], [0, 0, 1],
                         [0, 0, 1.0004]])
    result = filter_points(points, voxel_size=1e-3)  # 1.2e8 voxels a side: no int64 key
    # 1e30 m is beyond any camera (FARTHEST_POINT); 1 and 1.0004 share a 1 mm voxel.
    assert len(result) == 3
    np.testing.assert_allclose(np.sort(result.points[:, 2]), [1.0002, 1e4, 5e4], rtol=1e-6)


def test_bad_arguments_name_the_field():
    points = np.zeros((4, 3), np.float32)
    with pytest.raises(BadMessageError, match='points.shape'):
        filter_points(np.zeros((4, 2)))
    with pytest.raises(BadMessageError, match='colors_bgr.shape'):
        filter_points(points, np.zeros((3, 3), np.uint8))
    with pytest.raises(BadMessageError, match='colors_bgr.dtype'):
        filter_points(points, np.zeros((4, 3), np.float32))
    with pytest.raises(BadMessageError, match='sigma.shape'):
        filter_points(points, sigma=np.zeros(5))
    with pytest.raises(BadMessageError, match='voxel_size'):
        filter_points(points, voxel_size=-1.0)
    with pytest.raises(BadMessageError, match='max_range'):
        filter_points(points, max_range=0.0)
