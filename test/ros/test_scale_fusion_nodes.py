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

"""Scale fusion live: the depth and triangulation nodes over DDS give fused metric depth."""

import numpy as np
import pytest
from sensor_msgs.msg import Image, PointCloud2
from std_msgs.msg import Header

from fusion_oracle import AffineInverseDepthModel, fused_and_oracle, sequence_truth
from mono_depth_ros.core.camera_model import CameraModel
from mono_depth_ros.core.image_codec import image_to_numpy
from mono_depth_ros.core.pointcloud import pack_unorganized_cloud
from mono_depth_ros.inference.base import ModelInfo
import mono_depth_ros.nodes.depth_node as depth_node_module
from mono_depth_ros.nodes.depth_node import DepthNode
from mono_depth_ros.nodes.triangulation_node import TriangulationNode
from mono_depth_ros.ros.messages import ns_to_stamp, point_cloud_message, stamp_to_ns
from mono_depth_ros.ros.replay import replay_bag
from mono_depth_ros.ros.scale_from_points import TriangulationScale
from mono_depth_ros.synth import render_sequence, write_sequence


def test_diagnostics_report_the_scale_flicker_under_both_names():
    """``flicker`` (the interface's key) and ``scale_flicker``: the applied scale's change."""
    class Logger:
        def info(self, message):
            pass

        warning = info

    class FakeNode:
        def create_subscription(self, *args, **kwargs):
            return None

        def get_logger(self):
            return Logger()

    camera = CameraModel.from_intrinsics(250.0, 250.0, 160.0, 120.0, 320, 240)
    rng = np.random.default_rng(0)
    depth = 2.0 + 6.0 * np.linspace(0.0, 1.0, 240, dtype=np.float32)[:, None] \
        + 2.0 * rng.random((1, 320), dtype=np.float32)
    pixels = np.stack([rng.uniform(0, 319, 300), rng.uniform(0, 239, 300)], axis=-1)
    points = camera.unproject(pixels, depth[np.rint(pixels[:, 1]).astype(int),
                                            np.rint(pixels[:, 0]).astype(int)])
    scale = TriangulationScale(FakeNode())
    applied = []
    for index, factor in enumerate([1.0, 1.1, 1.0, 1.1, 1.0]):
        stamp = (index + 1) * 100_000_000
        scale._on_points(_cloud(points, stamp))
        estimate = scale.update(stamp, (factor / depth).astype(np.float32), camera)
        applied.append(estimate.scale)
    values = scale.diagnostics()
    expected = np.mean(np.abs(np.diff(np.log(applied))))
    assert values['flicker'] == values['scale_flicker'] == pytest.approx(expected)
    assert values['scale_flicker'] > 0.0


def _cloud(points: np.ndarray, stamp_ns: int) -> PointCloud2:
    return point_cloud_message(pack_unorganized_cloud(points.astype(np.float32)),
                               Header(stamp=ns_to_stamp(stamp_ns)))


@pytest.fixture(scope='module')
def oracle_sequence():
    return render_sequence(frames=45, width=640, height=480, seed=0)


@pytest.mark.slow
def test_the_nodes_over_dds_publish_fused_metric_depth(oracle_sequence, tmp_path, monkeypatch):
    """The same method live: two nodes over DDS, fed frame by frame from a rosbag2.

    Over DDS a frame's points reach the depth node after its own depth, so each fit serves
    from the next frame on; the bound allows for that one-frame lag.
    """
    input_size = 140
    sequence = oracle_sequence
    paths = write_sequence(sequence, tmp_path / 'sequence')
    model = AffineInverseDepthModel(sequence, input_size)
    info = ModelInfo('relative', None, 'affine inverse-depth oracle')
    monkeypatch.setattr(depth_node_module, 'load_backend', lambda *a, **k: (model, info))
    remaps = ['--ros-args', '-r', 'image:=/camera/image_raw', '-r', 'odom:=/odom',
              '-p', f'input_size:={input_size}', '-p', 'scale_source:=triangulation',
              '-p', 'min_depth:=0.2', '-p', 'max_depth:=30.0']

    def make_nodes(context):
        return [TriangulationNode(context=context, namespace='/camera', cli_args=remaps[:5]),
                DepthNode(context=context, namespace='/camera', cli_args=remaps)]

    answers = ['/camera/depth/relative', '/camera/triangulation/depth']
    result = replay_bag(paths['bag'], {'/camera/depth/image': Image,
                                       '/camera/depth/sigma': Image,
                                       '/camera/depth/relative': Image,
                                       '/camera/triangulation/depth': Image},
                        make_nodes=make_nodes, rate=0.5, lockstep=('/camera/image_raw', answers))
    fused = {stamp_to_ns(m.header.stamp): image_to_numpy(m)
             for m in result.messages['/camera/depth/image']}
    relative = {stamp_to_ns(m.header.stamp): image_to_numpy(m)
                for m in result.messages['/camera/depth/relative']}
    truth, warm = sequence_truth(sequence)
    fused_absrel, oracle_absrel, frames = fused_and_oracle(fused, relative, truth, warm)
    assert frames >= 0.8 * len(warm), f'{frames} fused, {len(relative)} relative frames'
    assert fused_absrel <= 1.25 * oracle_absrel, (fused_absrel, oracle_absrel)
    # depth/sigma beside each fused depth: same pixels known, and honest against the truth.
    sigmas = {stamp_to_ns(m.header.stamp): image_to_numpy(m)
              for m in result.messages['/camera/depth/sigma']}
    assert set(sigmas) == set(fused)
    within, counted = 0, 0
    for stamp, depth in fused.items():
        sigma = sigmas[stamp]
        assert sigma.shape == depth.shape
        np.testing.assert_array_equal(np.isnan(sigma), np.isnan(depth))
        assert np.all(sigma[np.isfinite(sigma)] > 0)
        if stamp in warm:
            known = np.isfinite(depth)
            within += int(np.sum(np.abs(depth - truth[stamp])[known] <= 2 * sigma[known]))
            counted += int(known.sum())
    assert 0.9 <= within / counted <= 1.0, within / counted
