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

"""The start summary: what a node reads and publishes with its parameters, and what it won't."""

import pytest

from mono_depth_ros.nodes.start_summary import (depth_output_plan, summary_lines,
                                                triangulation_output_plan)
from mono_depth_ros.parameter_tables import DEPTH_PARAMETERS, TRIANGULATION_PARAMETERS
from mono_depth_ros.pipeline.outputs import (DENSE_REPROJECTED_TOPIC, DENSE_TOPICS, DEPTH_TOPICS,
                                             TRIANGULATION_TOPICS)
from mono_depth_ros.topic_tables import NODE_TOPICS

DEPTH_DEFAULTS = {spec.name: spec.default for spec in DEPTH_PARAMETERS}
TRIANGULATION_DEFAULTS = {spec.name: spec.default for spec in TRIANGULATION_PARAMETERS}
METRIC = ('depth/image', 'depth/camera_info', 'points', 'points/filtered')


def depth_plan(metric_model: bool = False, **changes):
    return depth_output_plan({**DEPTH_DEFAULTS, **changes}, metric_model)


def missing(plan) -> dict[str, str]:
    return {topic: why for topics, why in plan.missing for topic in topics}


def test_a_metric_model_publishes_metric_depth_and_says_why_there_is_no_relative_depth():
    plan = depth_plan(metric_model=True)
    assert plan.subscriptions == ('image', 'camera_info', 'odom')
    assert plan.published == (*METRIC, 'depth/colored', '/diagnostics')
    assert missing(plan) == {'depth/relative': 'the model is metric; a relative model '
                                               'publishes it',
                             'depth/sigma': 'the model gives no variance'}
    assert depth_plan(metric_model=True, scale_source='fixed').notes == (
        'scale_source fixed is not used: the model is metric',)


def test_a_relative_model_without_a_scale_source_says_how_to_get_metric_depth():
    plan = depth_plan(scale_source='none')
    assert plan.published == ('depth/relative', 'depth/colored', '/diagnostics')
    assert set(missing(plan)) == set(METRIC)
    lines = summary_lines(plan, lambda topic: '/cam/' + topic.lstrip('/'))
    assert lines == [
        'subscribes to /cam/image, /cam/camera_info, /cam/odom',
        'publishes /cam/depth/relative, /cam/depth/colored, /cam/diagnostics',
        'no /cam/depth/image, /cam/depth/camera_info, /cam/points, /cam/points/filtered: the '
        'model is relative and scale_source is none; set scale_source:=triangulation or fixed']


def test_a_relative_model_with_a_fixed_scale_publishes_everything():
    plan = depth_plan(scale_source='fixed')
    assert set(plan.published) == {*DEPTH_TOPICS, '/diagnostics'} - {'depth/sigma'}
    assert set(missing(plan)) == {'depth/sigma'} and not plan.pending


def test_a_relative_model_with_triangulation_waits_for_the_points():
    plan = depth_plan(scale_source='triangulation', image_transport='compressed')
    assert plan.subscriptions == ('image/compressed', 'camera_info', 'triangulation/points',
                                  'odom')
    assert plan.published == ('depth/relative', 'depth/colored', '/diagnostics')
    assert plan.pending == (((*METRIC, 'depth/sigma'), 'once triangulation/points '
                             '(triangulation_node) gives a metric scale'),)
    assert summary_lines(plan)[1] == (
        'publishes depth/relative, depth/colored, /diagnostics; depth/image, depth/camera_info, '
        'points, points/filtered, depth/sigma once triangulation/points (triangulation_node) '
        'gives a metric scale')


@pytest.mark.parametrize('metric_model', [True, False])
def test_outputs_switched_off_by_a_parameter_say_which_one(metric_model):
    plan = depth_plan(metric_model, scale_source='fixed', publish_points=False,
                      publish_colored=False)
    assert 'points' not in plan.published and 'depth/colored' not in plan.published
    assert 'points/filtered' not in plan.published
    assert missing(plan)['points'] == 'publish_points is false; set publish_points:=true'
    assert missing(plan)['points/filtered'] == missing(plan)['points']
    assert missing(plan)['depth/colored'] == ('publish_colored is false; set '
                                              'publish_colored:=true')
    relative = depth_plan(metric_model, publish_points=False)
    if not metric_model:  # points is said once, for its own reason
        assert sum('points' in topics for topics, _ in relative.missing) == 1


def test_triangulation_publishes_for_each_image_with_a_pose():
    plan = triangulation_output_plan(TRIANGULATION_DEFAULTS)
    assert plan.subscriptions == ('image', 'camera_info', 'odom')
    assert plan.pending == ((TRIANGULATION_TOPICS, 'for each image with a pose from odom'),)


def test_dense_depth_adds_the_dense_topics_to_the_plan():
    plan = triangulation_output_plan({**TRIANGULATION_DEFAULTS, 'dense_depth': True})
    pending = {topic for topics, _ in plan.pending for topic in topics}
    assert pending == {*TRIANGULATION_TOPICS, *DENSE_TOPICS, DENSE_REPROJECTED_TOPIC}
    names = {topic.name for topic in NODE_TOPICS['triangulation_node'].publications}
    assert pending <= names


def test_the_topic_tables_name_what_the_nodes_publish_and_nothing_else():
    depth = NODE_TOPICS['depth_node']
    assert [topic.name for topic in depth.publications] == [*DEPTH_TOPICS, '/diagnostics']
    triangulation = NODE_TOPICS['triangulation_node']
    assert [topic.name for topic in triangulation.publications] == [
        *TRIANGULATION_TOPICS, *DENSE_TOPICS, DENSE_REPROJECTED_TOPIC, '/diagnostics']
    for topics in NODE_TOPICS.values():
        for topic in topics.subscriptions + topics.publications:
            assert topic.message_type.count('/msg/') == 1 and topic.description, topic
    # Every topic a plan can name is in the node's table.
    plans = [depth_plan(metric, scale_source=source, image_transport=transport)
             for metric in (True, False) for source in ('none', 'fixed', 'triangulation')
             for transport in ('raw', 'compressed')]
    names = {topic.name for topic in depth.subscriptions + depth.publications}
    for plan in plans:
        named = {*plan.subscriptions, *plan.published, *missing(plan)}
        named |= {topic for topics, _ in plan.pending for topic in topics}
        assert named <= names
