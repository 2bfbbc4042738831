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
from sensor_msgs.msg import Image

from fusion_oracle import AffineInverseDepthModel, fused_and_oracle, sequence_truth
from mono_depth_ros.core.image_codec import image_to_numpy
from mono_depth_ros.inference.base import ModelInfo
import mono_depth_ros.nodes.depth_node as depth_node_module
from mono_depth_ros.nodes.depth_node import DepthNode
from mono_depth_ros.nodes.triangulation_node import TriangulationNode
from mono_depth_ros.ros.messages import stamp_to_ns
from mono_depth_ros.ros.replay import replay_bag
from mono_depth_ros.synth import render_sequence, write_sequence


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
