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

"""Output fields, one owner for both pipelines: what is produced for which settings and topics.

That depth_node publishes exactly what process-bag writes is checked in test_depth_node.py.
"""

import time

import cv2
import numpy as np
import pytest

from mono_depth_ros.core.image_codec import ImageFields
from mono_depth_ros.core.pointcloud import CloudFields, read_cloud
from mono_depth_ros.core.triangulation.pipeline import TriangulationResult
from mono_depth_ros.pipeline.depth_pipeline import DepthResult
from mono_depth_ros.pipeline.outputs import (costmap_cloud, DEPTH_TOPICS, DepthOutputs,
                                             DepthOutputSettings, triangulation_fields,
                                             TRIANGULATION_TOPICS)
from synthetic_frames import off_centre_camera, textured_rgb

CAMERA = off_centre_camera()
RGB = textured_rgb()
HEIGHT, WIDTH = RGB.shape[:2]


def _metric_result() -> DepthResult:
    depth = np.linspace(0.5, 8.0, HEIGHT * WIDTH, dtype=np.float32).reshape(HEIGHT, WIDTH)
    return DepthResult(prediction=depth, is_metric_model=True, depth=depth)


def _relative_result(scaled: bool = False) -> DepthResult:
    relative = np.linspace(0.1, 1.0, HEIGHT * WIDTH, dtype=np.float32).reshape(HEIGHT, WIDTH)
    return DepthResult(prediction=relative, is_metric_model=False,
                       depth=1.0 / relative if scaled else None,
                       scale_shift=(1.0, 0.0) if scaled else None)


def test_a_metric_result_gives_depth_camera_info_points_and_colour_but_no_relative():
    fields = DepthOutputs().fields(_metric_result(), CAMERA, RGB, DepthOutputSettings(),
                                   DEPTH_TOPICS)
    assert list(fields) == ['depth/image', 'depth/camera_info', 'points', 'points/filtered',
                            'depth/colored']
    assert isinstance(fields['depth/image'], ImageFields)
    assert fields['depth/image'].encoding == '32FC1'
    assert fields['depth/colored'].encoding == 'bgr8'
    assert isinstance(fields['points'], CloudFields)
    np.testing.assert_allclose(fields['depth/camera_info']['k'], CAMERA.intrinsic_matrix.ravel())


def test_each_output_is_handed_over_once_as_soon_as_it_is_made():
    """Depth images before the clouds are made, clouds before the colorized view."""
    made = []
    seen_colored_before = {}

    def ready(topic, fields):
        made.append((topic, fields))
        seen_colored_before[topic] = 'depth/colored' in [name for name, _ in made[:-1]]
        time.sleep(0.02)  # a slow publisher: not counted in the stage times

    timings = {}
    outputs = DepthOutputs()
    fields = outputs.fields(_metric_result(), CAMERA, RGB, DepthOutputSettings(), DEPTH_TOPICS,
                            timings, ready=ready)
    assert [topic for topic, _ in made] == list(fields)
    assert all(fields[topic] is handed for topic, handed in made)
    assert not seen_colored_before['points']
    assert all(timings[stage] < 20.0 for stage in ('cloud', 'colorize')), timings
    plain = DepthOutputs().fields(_metric_result(), CAMERA, RGB, DepthOutputSettings(),
                                  DEPTH_TOPICS)
    assert {topic: bytes(value.data) for topic, value in plain.items()
            if topic != 'depth/camera_info'} == {
        topic: bytes(value.data) for topic, value in fields.items()
        if topic != 'depth/camera_info'}


def test_a_relative_result_gives_metric_outputs_only_once_it_has_a_scale():
    outputs = DepthOutputs()
    unscaled = outputs.fields(_relative_result(), CAMERA, RGB, DepthOutputSettings(),
                              DEPTH_TOPICS)
    assert list(unscaled) == ['depth/relative', 'depth/colored']
    scaled = outputs.fields(_relative_result(scaled=True), CAMERA, RGB, DepthOutputSettings(),
                            DEPTH_TOPICS)
    assert list(scaled) == ['depth/relative', 'depth/image', 'depth/camera_info', 'points',
                            'points/filtered', 'depth/colored']


def test_only_wanted_and_enabled_topics_are_computed():
    outputs = DepthOutputs()
    only_depth = outputs.fields(_relative_result(scaled=True), CAMERA, RGB,
                                DepthOutputSettings(), {'depth/image'})
    assert list(only_depth) == ['depth/image']
    assert outputs._relative_range.value_range is None, 'depth/colored was not computed'
    switched_off = DepthOutputSettings(publish_points=False, publish_colored=False)
    assert list(outputs.fields(_metric_result(), CAMERA, RGB, switched_off, DEPTH_TOPICS)) == [
        'depth/image', 'depth/camera_info']
    assert outputs.fields(_metric_result(), CAMERA, RGB, DepthOutputSettings(), ()) == {}


def test_points_follow_the_stride_and_the_colour_switch():
    result = _metric_result()
    coloured = DepthOutputs().fields(result, CAMERA, RGB, DepthOutputSettings(points_stride=4),
                                     {'points'})['points']
    plain = DepthOutputs().fields(result, CAMERA, RGB,
                                  DepthOutputSettings(points_stride=4, points_color=False,
                                                      edge_filter=False),
                                  {'points'})['points']
    assert (coloured.height, coloured.width) == (HEIGHT // 4, WIDTH // 4)
    assert 'rgb' in {field.name for field in coloured.fields}
    assert 'rgb' not in {field.name for field in plain.fields}
    np.testing.assert_array_equal(read_cloud(coloured)['rgb'], RGB[::4, ::4])
    np.testing.assert_allclose(read_cloud(plain)['z'], result.depth[::4, ::4])


def _stepped_result() -> DepthResult:
    """A wall at 2 m in front of one at 6 m, the step smeared over ~4 px as a network does."""
    depth = np.full((HEIGHT, WIDTH), 6.0, dtype=np.float32)
    depth[:, : WIDTH // 2] = 2.0
    inverse = cv2.GaussianBlur(1.0 / depth, (0, 0), 1.5)
    smeared = (1.0 / inverse).astype(np.float32)
    return DepthResult(prediction=smeared, is_metric_model=True, depth=smeared)


def test_the_edge_filter_blanks_the_same_flying_pixels_in_depth_image_and_points():
    result = _stepped_result()
    topics = {'depth/image', 'points'}
    filtered = DepthOutputs().fields(result, CAMERA, RGB, DepthOutputSettings(points_stride=1),
                                     topics)
    raw = DepthOutputs().fields(result, CAMERA, RGB,
                                DepthOutputSettings(points_stride=1, edge_filter=False), topics)
    depth = np.frombuffer(filtered['depth/image'].data, np.float32).reshape(HEIGHT, WIDTH)
    blanked = np.isnan(depth)
    between = (result.depth > 2.1) & (result.depth < 5.7)  # off both walls by > 5 %
    assert between.any() and blanked[between].all()
    assert blanked.sum() < 12 * HEIGHT, 'only a band at the step goes'
    np.testing.assert_array_equal(np.isnan(read_cloud(filtered['points'])['z']), blanked)
    np.testing.assert_array_equal(
        np.frombuffer(raw['depth/image'].data, np.float32).reshape(HEIGHT, WIDTH), result.depth)


def test_points_filtered_is_an_unorganized_voxel_cloud_with_the_fields_of_points():
    result = _stepped_result()
    settings = DepthOutputSettings(voxel_size=0.1, max_range=4.0)
    fields = DepthOutputs().fields(result, CAMERA, RGB, settings, {'points', 'points/filtered'})
    cloud, organized = fields['points/filtered'], fields['points']
    assert cloud.height == 1 and cloud.is_dense and cloud.width > 0
    assert cloud.fields == organized.fields and cloud.point_step == organized.point_step
    values = read_cloud(cloud)
    xyz = np.stack([values[axis][0] for axis in 'xyz'], axis=1)
    assert np.linalg.norm(xyz, axis=1).max() <= 4.0, 'the 6 m wall is beyond max_range'
    np.testing.assert_allclose(xyz[:, 2], 2.0, rtol=0.03)  # the near wall only
    cells = np.floor(xyz / 0.1).astype(int)
    assert len(np.unique(cells, axis=0)) == len(cells), 'one point per voxel'
    plain = DepthOutputs().fields(result, CAMERA, RGB,
                                  DepthOutputSettings(points_color=False, publish_points=True),
                                  {'points/filtered'})['points/filtered']
    assert [field.name for field in plain.fields] == ['x', 'y', 'z']
    assert 'points/filtered' not in DepthOutputs().fields(
        result, CAMERA, RGB, DepthOutputSettings(publish_points=False), {'points/filtered'})


def test_points_filtered_leaves_out_points_whose_known_sigma_exceeds_max_sigma():
    depth = np.full((HEIGHT, WIDTH), 2.0, dtype=np.float32)
    sigma = np.full((HEIGHT, WIDTH), np.nan, dtype=np.float32)  # unknown: kept
    sigma[:, WIDTH // 2:] = 0.8  # known and too uncertain: left out
    sigma[: HEIGHT // 2, : WIDTH // 4] = 0.1
    settings = DepthOutputSettings(max_sigma=0.5, voxel_size=0.0, points_stride=1)
    cloud = costmap_cloud(depth, CAMERA, settings, sigma=sigma)
    x = read_cloud(cloud)['x'][0]
    assert cloud.width == HEIGHT * WIDTH // 2
    assert x.max() < (WIDTH // 2 - CAMERA.cx) / CAMERA.fx * 2.0
    assert costmap_cloud(depth, CAMERA, settings).width == HEIGHT * WIDTH, 'no sigma: no gate'


def test_relative_colour_follows_a_steady_range_kept_per_stream():
    outputs = DepthOutputs()
    first = outputs.fields(_relative_result(), CAMERA, RGB, DepthOutputSettings(),
                           {'depth/colored'})['depth/colored']
    assert outputs._relative_range.value_range is not None
    fresh = DepthOutputs().fields(_relative_result(), CAMERA, RGB, DepthOutputSettings(),
                                  {'depth/colored'})['depth/colored']
    assert bytes(first.data) == bytes(fresh.data)


def _triangulation_result(status: str = 'ok') -> TriangulationResult:
    return TriangulationResult(
        stamp_ns=0, pixels=np.float32([[10.2, 20.7], [100.0, 50.0]]),
        depths=np.float32([2.0, 3.0]),
        points_camera=np.float32([[0.1, 0.2, 2.0], [0.3, 0.1, 3.0]]),
        track_ids=np.arange(2), status=status, sigmas=np.float32([0.04, 0.09]))


@pytest.mark.parametrize('status, published', [
    ('ok', True), ('reset: time went backwards', True), ('no pose: odometry too old', False)])
def test_triangulation_outputs_need_a_pose_or_a_restart(status, published):
    fields = triangulation_fields(_triangulation_result(status), RGB, TRIANGULATION_TOPICS)
    assert list(fields) == (list(TRIANGULATION_TOPICS) if published else [])


def test_triangulation_outputs_hold_the_sparse_depth_points_and_tracks():
    fields = triangulation_fields(_triangulation_result(), RGB, TRIANGULATION_TOPICS)
    depth = np.frombuffer(bytes(fields['triangulation/depth'].data), np.float32)
    depth = depth.reshape(HEIGHT, WIDTH)
    assert depth[21, 10] == 2.0 and depth[50, 100] == 3.0 and np.isfinite(depth).sum() == 2
    assert fields['triangulation/points'].width == 2
    assert fields['triangulation/tracks'].encoding == 'bgr8'
    assert list(triangulation_fields(_triangulation_result(), RGB,
                                     {'triangulation/points'})) == ['triangulation/points']


def test_triangulation_sigma_is_the_depth_sigma_where_there_is_a_depth():
    fields = triangulation_fields(_triangulation_result(), RGB, TRIANGULATION_TOPICS)
    sigma_fields = fields['triangulation/sigma']
    assert (sigma_fields.encoding, sigma_fields.width, sigma_fields.height) == (
        '32FC1', WIDTH, HEIGHT)
    sigma = np.frombuffer(bytes(sigma_fields.data), np.float32).reshape(HEIGHT, WIDTH)
    depth = np.frombuffer(bytes(fields['triangulation/depth'].data), np.float32)
    np.testing.assert_array_equal(np.isfinite(sigma), np.isfinite(depth.reshape(HEIGHT, WIDTH)))
    assert sigma[21, 10] == np.float32(0.04) and sigma[50, 100] == np.float32(0.09)


def test_triangulation_points_carry_each_point_sigma_after_xyz():
    cloud = triangulation_fields(_triangulation_result(), RGB,
                                 {'triangulation/points'})['triangulation/points']
    assert [(f.name, f.offset) for f in cloud.fields] == [
        ('x', 0), ('y', 4), ('z', 8), ('sigma', 12)]
    assert cloud.point_step == 16
    values = read_cloud(cloud)
    np.testing.assert_array_equal(values['z'][0], [2.0, 3.0])
    np.testing.assert_array_equal(values['sigma'][0], np.float32([0.04, 0.09]))
