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

"""Every depth family through one depth_node over DDS: tiny real-architecture ONNX files.

Each family's tiny model (test/support/model_fixtures.py) is exported from its transformers
class with the package's exporter, which writes its model card; a real depth_node on ONNX
Runtime then publishes depth/image (metric families) or depth/relative (DPT) for a frame.
"""

import time

import numpy as np
import pytest
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image, PointCloud2

from mono_depth_ros.core.image_codec import image_to_numpy
from mono_depth_ros.core.pointcloud import pack_unorganized_cloud
from mono_depth_ros.inference.base import ModelLoadError
from mono_depth_ros.nodes.depth_node import DepthNode
from mono_depth_ros.ros.graph import ros_context
from mono_depth_ros.ros.messages import point_cloud_message
from ros_harness import header, node_under_test, ros_parameter_args
from synthetic_frames import off_centre_camera, textured_rgb

OUTPUTS = {'depth/image': Image, 'depth/relative': Image, 'depth/camera_info': CameraInfo}
STAMP_NS = 1_700_000_000_000_000_000
WIDTH, HEIGHT = 160, 120


def node_args(model, **overrides) -> list[str]:
    """Return --ros-args for a small depth node on ONNX Runtime on the CPU."""
    values = {'model': str(model), 'backend': 'onnxruntime', 'device': 'cpu',
              'input_size': 140, 'publish_points': False, 'publish_colored': False,
              'min_depth': 0.01, 'max_depth': 100.0,
              # Random tiny models are rough everywhere; the edge filter would NaN most pixels.
              'edge_filter': False, **overrides}
    return ros_parameter_args(values)


def make_depth_node(context):
    return DepthNode(context=context)


def family_model(family: str, **options):
    pytest.importorskip('onnxruntime')
    import model_fixtures
    return model_fixtures.make_family_onnx(family, **options)


class PointsPublisher(Node):
    """Publishes triangulation/points like triangulation_node (metric, optical frame)."""

    def __init__(self, context) -> None:
        super().__init__('test_triangulation', context=context)
        qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        self.publisher = self.create_publisher(PointCloud2, 'triangulation/points', qos)

    def publish_points(self, camera, stamp_ns: int, count: int = 60) -> None:
        rng = np.random.default_rng(1)
        pixels = rng.uniform((0, 0), (WIDTH - 1, HEIGHT - 1), (count, 2))
        points = camera.unproject(pixels, rng.uniform(1.0, 4.0, count)).astype(np.float32)
        self.publisher.publish(point_cloud_message(pack_unorganized_cloud(points),
                                                   header(stamp_ns)))


def run_frames(family: str, topic: str, frames: int = 2, points: bool = False, **options):
    """Start a depth node on the family's tiny ONNX, publish frames; return node values."""
    model = family_model(family, **options)
    camera = off_centre_camera(WIDTH, HEIGHT)
    rgb = textured_rgb(WIDTH, HEIGHT)
    with node_under_test(make_depth_node, OUTPUTS, args=node_args(model)) as (
            node, publisher, collector):
        if points:
            triangulation = PointsPublisher(node.context)  # publishing needs no spinning
            for _ in range(50):
                if triangulation.publisher.get_subscription_count():
                    break
                time.sleep(0.05)
            triangulation.publish_points(camera, STAMP_NS)
            time.sleep(0.3)
        for index in range(frames):
            publisher.publish_frame(rgb, camera, STAMP_NS + index * 50_000_000)
            time.sleep(0.1)
        assert collector.wait_for(topic, 1, timeout=30.0), f'{family}: nothing on {topic}'
        message = collector.messages(topic)[0]
        _, _, values = node._report()
        other = 'depth/relative' if topic == 'depth/image' else 'depth/image'
        assert collector.count(other) == 0, f'{family}: {other} should not be published'
    assert (message.encoding, message.width, message.height) == ('32FC1', WIDTH, HEIGHT)
    image = image_to_numpy(message)
    finite = image[np.isfinite(image)]
    assert finite.size > 0.5 * image.size, f'{family}: mostly NaN'
    assert float(finite.std()) > 0.0, f'{family}: a constant map'
    if topic == 'depth/image':
        assert finite.min() > 0.0, f'{family}: depth must be positive'
    return image, values


@pytest.mark.parametrize('family', ['zoedepth', 'glpn', 'depth_pro'])
def test_metric_families_publish_metric_depth(family):
    depth, _ = run_frames(family, 'depth/image')
    finite = depth[np.isfinite(depth)]
    assert finite.min() >= 0.01 and finite.max() <= 100.0


def test_dpt_publishes_relative_inverse_depth_and_names_a_non_commercial_licence():
    _, values = run_frames('dpt', 'depth/relative', licence='CC-BY-NC-4.0')
    assert values['model_license'] == 'CC-BY-NC-4.0'
    assert values['model_license_warning'] == 'non-commercial use only'


def test_prompt_depth_anything_runs_with_a_prompt_from_triangulation_points():
    depth, values = run_frames('prompt_depth_anything', 'depth/image', frames=3, points=True)
    assert 'prompt_frames_skipped' in values
    # The model maps its output back to the prompt's range (1-4 m): metric, positive.
    assert np.nanmin(depth) > 0.0


def test_a_model_card_with_a_missing_field_fails_at_start_naming_it(tmp_path):
    card = tmp_path / 'card.yaml'
    card.write_text('family: midas\nmetric: none\n', encoding='utf-8')
    with ros_context(node_args(family_model('glpn'), model_card=str(card))) as context:
        with pytest.raises(ModelLoadError) as raised:
            DepthNode(context=context)
    text = str(raised.value)
    assert "'output'" in text and '\n' not in text


@pytest.mark.parametrize('metric', [False, True], ids=['mono', 'metric'])
def test_depth_anything_3_mono_and_metric_through_the_node(metric):
    pytest.importorskip('depth_anything_3', reason='the depth-anything-3 package (installed '
                        'with --no-deps, plus einops, addict, omegaconf) is not here')
    import model_fixtures

    model = model_fixtures.make_depth_anything_3_onnx(metric)
    topic = 'depth/image' if metric else 'depth/relative'
    camera = off_centre_camera(WIDTH, HEIGHT)
    with node_under_test(make_depth_node, OUTPUTS, args=node_args(model)) as (
            node, publisher, collector):
        publisher.publish_frame(textured_rgb(WIDTH, HEIGHT), camera, STAMP_NS)
        assert collector.wait_for(topic, 1, timeout=30.0), f'nothing on {topic}'
        image = image_to_numpy(collector.messages(topic)[0])
    assert image.shape == (HEIGHT, WIDTH) and np.isfinite(image).mean() > 0.5
    assert np.nanmin(image) > 0.0
