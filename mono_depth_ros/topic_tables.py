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

"""The two nodes' topic tables, ROS-free: what each subscribes to and publishes, and when.

Beside ``parameter_tables``: the nodes' ``--help``, their start summary and the documentation
read these. Names are relative to the node's namespace (remappable) unless they start with '/'.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class TopicSpec:
    """One topic of a node: its name, message type, meaning, and when it is used."""

    name: str
    message_type: str
    description: str
    # When the node reads or publishes it ('with ...', 'when ...'); empty: always.
    condition: str = ''


@dataclass(frozen=True)
class NodeTopics:
    """A node's subscriptions and publications."""

    subscriptions: tuple[TopicSpec, ...]
    publications: tuple[TopicSpec, ...]

    def publication(self, name: str) -> TopicSpec:
        """Return the publication ``name``."""
        return next(topic for topic in self.publications if topic.name == name)


IMAGE = TopicSpec('image', 'sensor_msgs/msg/Image',
                  'Camera image, any common encoding', 'with image_transport: raw')
COMPRESSED_IMAGE = TopicSpec('image/compressed', 'sensor_msgs/msg/CompressedImage',
                             'Camera image, jpeg or png', 'with image_transport: compressed')
CAMERA_INFO = TopicSpec('camera_info', 'sensor_msgs/msg/CameraInfo',
                        'Intrinsics of the image (K, or P for rectified input)')
ODOMETRY_NAME, ODOMETRY_TYPE = 'odom', 'nav_msgs/msg/Odometry'
DIAGNOSTICS = TopicSpec('/diagnostics', 'diagnostic_msgs/msg/DiagnosticArray',
                        'Rates, dropped frames, latency and input problems, once a second')

# The depth topics that need metric depth: a metric model, or a relative one with a scale.
METRIC_DEPTH_TOPICS = ('depth/image', 'depth/camera_info', 'points', 'points/filtered')
# The clouds, published with publish_points.
CLOUD_TOPICS = ('points', 'points/filtered')

DEPTH_NODE_TOPICS = NodeTopics(
    subscriptions=(
        IMAGE, COMPRESSED_IMAGE, CAMERA_INFO,
        TopicSpec('triangulation/points', 'sensor_msgs/msg/PointCloud2',
                  "triangulation_node's points, the metric scale of a relative model",
                  'with scale_source: triangulation (relative model)'),
        TopicSpec(ODOMETRY_NAME, ODOMETRY_TYPE,
                  'Base pose, for the flicker on /diagnostics (frames warped into each other)',
                  'optional'),
    ),
    publications=(
        TopicSpec('depth/image', 'sensor_msgs/msg/Image',
                  '32FC1 depth in metres, input size, NaN where unknown',
                  'when depth is metric (a metric model, or a scale)'),
        TopicSpec('depth/camera_info', 'sensor_msgs/msg/CameraInfo',
                  'The CameraInfo that matches depth/image', 'with depth/image'),
        TopicSpec('depth/relative', 'sensor_msgs/msg/Image',
                  "32FC1 relative model's output at input size (inverse-depth-like, unitless)",
                  'with a relative model'),
        TopicSpec('depth/colored', 'sensor_msgs/msg/Image',
                  'bgr8 colorized depth for people', 'with publish_colored: true'),
        TopicSpec('points', 'sensor_msgs/msg/PointCloud2',
                  'Organized cloud x, y, z (rgb with points_color), optical frame',
                  'with depth/image and publish_points'),
        TopicSpec('points/filtered', 'sensor_msgs/msg/PointCloud2',
                  'Cloud for costmaps, one point per voxel',
                  'with depth/image and publish_points'),
        TopicSpec('depth/sigma', 'sensor_msgs/msg/Image',
                  '32FC1 1-sigma of depth/image in metres, NaN where it is NaN',
                  'with a scale from triangulation'),
        TopicSpec(DIAGNOSTICS.name, DIAGNOSTICS.message_type,
                  DIAGNOSTICS.description + '; the backend, the metric scale with its '
                  'sigma, the flicker'),
    ),
)

TRIANGULATION_NODE_TOPICS = NodeTopics(
    subscriptions=(
        IMAGE, COMPRESSED_IMAGE, CAMERA_INFO,
        TopicSpec(ODOMETRY_NAME, ODOMETRY_TYPE,
                  'Pose of the base in the odometry frame, for every image'),
    ),
    publications=(
        TopicSpec('triangulation/depth', 'sensor_msgs/msg/Image',
                  '32FC1 sparse depth in metres at triangulated pixels, NaN elsewhere',
                  'with a pose'),
        TopicSpec('triangulation/sigma', 'sensor_msgs/msg/Image',
                  '32FC1 1-sigma of triangulation/depth in metres, NaN elsewhere',
                  'with a pose'),
        TopicSpec('triangulation/points', 'sensor_msgs/msg/PointCloud2',
                  'Points x, y, z, sigma (1-sigma of the depth, m), optical frame',
                  'with a pose'),
        TopicSpec('triangulation/tracks', 'sensor_msgs/msg/Image',
                  'bgr8 image with the feature tracks drawn', 'with a pose'),
        TopicSpec('triangulation/dense/depth', 'sensor_msgs/msg/Image',
                  "32FC1 keyframe's dense depth, m, NaN unknown", 'dense_depth, keyframes'),
        TopicSpec('triangulation/dense/sigma', 'sensor_msgs/msg/Image',
                  '32FC1 1-sigma of dense/depth, m', 'dense_depth, keyframes'),
        TopicSpec('triangulation/dense/points', 'sensor_msgs/msg/PointCloud2',
                  'Dense points x, y, z, sigma', 'dense_depth, keyframes'),
        TopicSpec('triangulation/dense/reprojected', 'sensor_msgs/msg/Image',
                  'Latest dense depth seen from each frame', 'dense_depth, each frame'),
        DIAGNOSTICS,
    ),
)

NODE_TOPICS = {'depth_node': DEPTH_NODE_TOPICS, 'triangulation_node': TRIANGULATION_NODE_TOPICS}


def image_topic(image_transport: str) -> TopicSpec:
    """Return the image subscription for the ``image_transport`` parameter."""
    return COMPRESSED_IMAGE if image_transport == 'compressed' else IMAGE
