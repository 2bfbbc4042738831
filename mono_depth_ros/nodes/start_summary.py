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

"""What a node will do with its parameters: the topics it reads and writes, and what it won't.

ROS-free, so every case is testable without a node; the nodes log :func:`summary_lines` once
at start. The topics are those of ``topic_tables``.
"""

from dataclasses import dataclass
from typing import Callable, Mapping

from mono_depth_ros.topic_tables import (CAMERA_INFO, CLOUD_TOPICS, DIAGNOSTICS, image_topic,
                                         METRIC_DEPTH_TOPICS, ODOMETRY_NAME)

SCALE_TOPIC = 'triangulation/points'
TRIANGULATION_OUTPUTS = ('triangulation/depth', 'triangulation/sigma', 'triangulation/points',
                         'triangulation/tracks')
DENSE_OUTPUTS = ('triangulation/dense/depth', 'triangulation/dense/sigma',
                 'triangulation/dense/points')


@dataclass(frozen=True)
class OutputPlan:
    """A node's topics for its current parameters, and why some outputs will not appear."""

    subscriptions: tuple[str, ...]
    published: tuple[str, ...]
    # (topics, 'once ...'): published when a condition at run time is met.
    pending: tuple[tuple[tuple[str, ...], str], ...] = ()
    # (topics, why not and how to get them).
    missing: tuple[tuple[tuple[str, ...], str], ...] = ()
    # Parameters that have no effect, and why.
    notes: tuple[str, ...] = ()


def depth_output_plan(values: Mapping[str, object], metric_model: bool,
                      extra_inputs: tuple[str, ...] = ()) -> OutputPlan:
    """Return depth_node's plan for its parameter ``values`` and the model loaded.

    ``extra_inputs``: the model card's; ``prompt_depth`` is fed from ``triangulation/points``.
    """
    subscriptions = [image_topic(str(values['image_transport'])).name, CAMERA_INFO.name]
    published: list[str] = []
    pending, missing, notes = [], [], []
    metric_topics = [topic for topic in METRIC_DEPTH_TOPICS
                     if topic not in CLOUD_TOPICS or values['publish_points']]
    scale_source = values['scale_source']
    if metric_model and 'prompt_depth' in extra_inputs:
        subscriptions.append(SCALE_TOPIC)
        pending.append((tuple(metric_topics),
                        f'once {SCALE_TOPIC} (triangulation_node) gives points for the '
                        'prompt_depth input'))
        missing.append((('depth/relative',),
                        'the model is metric; a relative model publishes it'))
    elif metric_model:
        published += metric_topics
        missing.append((('depth/relative',),
                        'the model is metric; a relative model publishes it'))
        missing.append((('depth/sigma',), 'the model gives no variance'))
        if scale_source != 'none':
            notes.append(f'scale_source {scale_source} is not used: the model is metric')
    else:
        published.append('depth/relative')
        if scale_source == 'fixed':
            published += metric_topics
            missing.append((('depth/sigma',), 'a fixed scale has no sigma; '
                            'scale_source:=triangulation gives one'))
        elif scale_source == 'triangulation':
            subscriptions.append(SCALE_TOPIC)
            pending.append(((*metric_topics, 'depth/sigma'),
                            f'once {SCALE_TOPIC} (triangulation_node) gives a metric scale'))
        else:
            missing.append((tuple(metric_topics),
                            # Short enough for one line with the four topics.
                            'the model is relative and scale_source is none; set '
                            'scale_source:=triangulation or fixed'))
    if not values['publish_points']:
        missing.append((CLOUD_TOPICS, 'publish_points is false; set publish_points:=true'))
    if values['publish_colored']:
        published.append('depth/colored')
    else:
        missing.append((('depth/colored',),
                        'publish_colored is false; set publish_colored:=true'))
    published.append(DIAGNOSTICS.name)
    subscriptions.append(ODOMETRY_NAME)  # optional: the flicker figure warps with it
    return OutputPlan(tuple(subscriptions), tuple(published), tuple(pending), tuple(missing),
                      tuple(notes))


def triangulation_output_plan(values: Mapping[str, object]) -> OutputPlan:
    """Return triangulation_node's plan for its parameter ``values``."""
    subscriptions = (image_topic(str(values['image_transport'])).name, CAMERA_INFO.name,
                     ODOMETRY_NAME)
    pending = ((TRIANGULATION_OUTPUTS, 'for each image with a pose from odom'),)
    if values.get('dense_depth'):
        pending += ((DENSE_OUTPUTS, 'for each keyframe (dense_depth)'),
                    (('triangulation/dense/reprojected',), 'for each image after a keyframe'))
    return OutputPlan(subscriptions, (DIAGNOSTICS.name,), pending=pending)


def summary_lines(plan: OutputPlan, resolve: Callable[[str], str] = str) -> list[str]:
    """Return the start summary: one line in, one line out, one line per output that won't appear.

    ``resolve`` turns a relative topic name into the node's resolved one.
    """
    def names(topics) -> str:
        return ', '.join(resolve(topic) for topic in topics)

    outputs = names(plan.published)
    for topics, when in plan.pending:
        outputs += f'; {names(topics)} {when}'
    lines = [f'subscribes to {names(plan.subscriptions)}',
             f'publishes {outputs}']
    lines += [f'no {names(topics)}: {why}' for topics, why in plan.missing]
    return lines + list(plan.notes)


def license_lines(licence: str, non_commercial: bool) -> tuple[str, str | None]:
    """Return (the licence line logged at start, a warning for a non-commercial licence)."""
    if not licence:
        return 'model licence: not recorded in the model card', None
    warning = (f'model licence {licence} forbids commercial use: check it before deploying'
               if non_commercial else None)
    return f'model licence: {licence}', warning
