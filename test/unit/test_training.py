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

"""mono-depth-ros train: its losses on known inputs, a short run, resume, the ONNX it writes."""

import pathlib

import numpy as np
import pytest

torch = pytest.importorskip('torch')

from mono_depth_ros.core.preprocessing import prepare_input  # noqa: E402
from mono_depth_ros.training import losses  # noqa: E402
from mono_depth_ros.training.datasets import synthetic_sequences  # noqa: E402
from mono_depth_ros.training.network import DepthNet, NetworkConfig  # noqa: E402
from mono_depth_ros.training.trainer import (read_checkpoint, train,  # noqa: E402
                                             TrainSettings)

SIZE = (56, 84)  # (height, width): multiples of 14, small enough for a quick run
SMALL = NetworkConfig(encoder=(8, 12, 16, 24, 32), decoder=(24, 16, 12, 8))


@pytest.fixture(autouse=True, scope='module')
def one_thread():
    # One intra-op thread: a loaded machine makes torch's thread barriers crawl.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _depth_and_prediction(seed: int = 0):
    rng = np.random.default_rng(seed)
    depth = torch.from_numpy(rng.uniform(0.5, 10.0, (2, 1, 24, 32)).astype(np.float32))
    prediction = -torch.log(depth) + 0.3 * torch.from_numpy(
        rng.standard_normal((2, 1, 24, 32)).astype(np.float32))
    return depth, prediction


def test_the_scale_invariant_loss_ignores_a_global_scale_of_prediction_and_truth():
    depth, prediction = _depth_and_prediction()
    loss = losses.scale_invariant_loss(prediction, depth)
    assert float(loss) > 0.01
    for factor in (0.01, 3.0, 250.0):
        scaled_prediction = losses.scale_invariant_loss(prediction + np.log(factor), depth)
        scaled_truth = losses.scale_invariant_loss(prediction, depth * factor)
        assert float(scaled_prediction) == pytest.approx(float(loss), rel=1e-4)
        assert float(scaled_truth) == pytest.approx(float(loss), rel=1e-4)
    exact = -torch.log(depth) + 1.7   # the right shape at another scale
    assert float(losses.scale_invariant_loss(exact, depth)) < 1e-9
    assert float(losses.gradient_matching_loss(exact, depth)) < 1e-5
    assert float(losses.gradient_matching_loss(prediction, depth)) > 0.05


def test_unknown_depth_is_left_out_of_the_supervised_loss():
    depth, prediction = _depth_and_prediction()
    holes = depth.clone()
    holes[..., :8, :] = 0.0
    wrong = prediction.clone()
    wrong[..., :8, :] = 50.0   # nonsense where there is no depth
    assert float(losses.supervised_loss(wrong, holes)) == pytest.approx(
        float(losses.supervised_loss(prediction, holes)), rel=1e-5)


def _textured(height: int, width: int, seed: int = 0) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    import cv2
    coarse = rng.uniform(0, 1, (height // 4, width // 4, 3)).astype(np.float32)
    image = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))[None]


def test_the_photometric_loss_is_zero_for_an_exact_warp_and_not_for_a_wrong_depth():
    # A fronto-parallel plane at 4 m, the camera moved sideways by exactly 3 pixels' worth:
    # the neighbour is the target shifted by 3 columns.
    height, width, shift, plane = 40, 64, 3, 4.0
    k = torch.tensor([[[50.0, 0.0, 31.5], [0.0, 50.0, 19.5], [0.0, 0.0, 1.0]]])
    target = _textured(height, width + shift)[..., :width]
    source = _textured(height, width + shift)[..., shift:]
    moved = torch.eye(4)[None].clone()
    moved[0, 0, 3] = -shift * plane / 50.0   # u_source = u_target - 3
    depth = torch.full((1, 1, height, width), plane)
    exact = losses.reprojection_loss(target, [source], depth, k, [moved], auto_mask=False)
    assert float(exact) < 1e-5
    wrong = losses.reprojection_loss(target, [source], depth * 2.0, k, [moved],
                                     auto_mask=False)
    assert float(wrong) > 0.02
    warped, inside = losses.warp(source, depth, k, moved)
    assert float(inside[..., :, :shift].sum()) == 0   # seen by the target only
    assert torch.allclose(warped[..., shift:] * inside[..., shift:], target[..., shift:],
                          atol=1e-5)


def test_auto_masking_drops_pixels_the_unwarped_neighbour_explains_better():
    image = _textured(32, 48)
    k = torch.tensor([[[40.0, 0.0, 23.5], [0.0, 40.0, 15.5], [0.0, 0.0, 1.0]]])
    moved = torch.eye(4)[None].clone()
    moved[0, 0, 3] = 0.2
    depth = torch.full((1, 1, 32, 48), 2.0)
    # A static neighbour (the camera did not really move): every pixel is explained unwarped.
    assert float(losses.reprojection_loss(image, [image], depth, k, [moved])) == 0.0
    assert float(losses.reprojection_loss(image, [image], depth, k, [moved],
                                          auto_mask=False)) > 0.01


def test_the_sparse_loss_is_the_log_error_at_the_points_only():
    log_inverse = torch.full((1, 1, 4, 4), -np.log(2.0))   # 2 m everywhere
    sparse = torch.zeros((1, 1, 4, 4))
    sparse[0, 0, 1, 1] = 4.0
    sparse[0, 0, 2, 3] = 2.0
    assert float(losses.sparse_depth_loss(log_inverse, sparse)) == pytest.approx(
        np.log(2.0) / 2, rel=1e-5)
    assert float(losses.sparse_depth_loss(log_inverse, torch.zeros_like(sparse))) == 0.0


def test_the_network_takes_any_multiple_of_14_and_gives_its_size_back():
    model = DepthNet(SMALL).eval()
    with torch.no_grad():
        for height, width in ((56, 84), (70, 98), (518, 686)):
            assert model(torch.zeros(1, 3, height, width)).shape == (1, 1, height, width)


@pytest.fixture(scope='module')
def synthetic():
    return synthetic_sequences([3], frames=6, size=SIZE, motions=('drive',))


def _settings(**changes) -> TrainSettings:
    values = {'steps': 40, 'batch': 4, 'learning_rate': 3e-3, 'seed': 1,
              'checkpoint_every': 20, 'history_every': 10}
    values.update(changes)
    return TrainSettings(**values)


def test_a_short_run_lowers_the_loss_and_writes_an_onnx_in_the_node_contract(
        tmp_path, synthetic):
    from mono_depth_ros.inference.onnx_contract import onnx_model_info, read_onnx_contract
    from mono_depth_ros.inference.onnxruntime_backend import OnnxRuntimeBackend
    from mono_depth_ros.training.export import export_network

    model = DepthNet(SMALL)
    state = train(model, synthetic, _settings(), tmp_path, progress=False)
    losses_seen = [loss for _, loss in state.history]
    assert len(losses_seen) == 4 and losses_seen[-1] < 0.8 * losses_seen[0], losses_seen
    path = export_network(model, tmp_path / 'model.onnx', traced_size=SIZE)
    contract = read_onnx_contract(str(path))
    assert not any(isinstance(size, int) for size in contract.input_shape[2:])  # dynamic
    info = onnx_model_info(contract)
    assert info.depth_type == 'relative' and info.encoder == 'mono_depth_ros-fastdepth'
    backend = OnnxRuntimeBackend(str(path), threads=1)
    tensor = prepare_input(synthetic[0].frames[0].rgb, 70)   # another size than trained at
    output = backend.infer(tensor)
    assert output.shape[-2:] == tensor.shape[-2:]
    assert np.all(np.isfinite(output)) and np.all(output > 0)


def test_a_resumed_run_ends_where_an_uninterrupted_one_does(tmp_path, synthetic):
    start = DepthNet(SMALL).state_dict()
    settings = _settings(steps=20, checkpoint_every=10)
    whole = DepthNet(SMALL)
    whole.load_state_dict(start)
    train(whole, synthetic, settings, tmp_path / 'whole', progress=False)

    class Stopped(Exception):
        pass

    def stop(state):
        raise Stopped(state.step)   # as a Ctrl-C right after the first checkpoint

    stopped = DepthNet(SMALL)
    stopped.load_state_dict(start)
    with pytest.raises(Stopped):
        train(stopped, synthetic, settings, tmp_path / 'stopped', progress=False,
              on_checkpoint=stop)
    _, metadata = read_checkpoint(tmp_path / 'stopped' / 'checkpoint.safetensors')
    assert metadata['step'] == '10'
    resumed = DepthNet(SMALL)   # fresh weights: everything comes from the checkpoint
    state = train(resumed, synthetic, settings, tmp_path / 'stopped', resume=True,
                  progress=False)
    assert state.step == 20
    for name, value in whole.state_dict().items():
        assert torch.allclose(value.float(), resumed.state_dict()[name].float(), atol=1e-5), name


def test_a_checkpoint_that_is_not_safetensors_fails_in_one_line_naming_the_file(tmp_path):
    from mono_depth_ros.inference.errors import ModelLoadError

    bad = tmp_path / 'checkpoint.safetensors'
    bad.write_bytes(b'\x80\x04not a safetensors file')   # a pickle header: never unpickled
    with pytest.raises(ModelLoadError) as raised:
        read_checkpoint(bad)
    assert str(bad) in str(raised.value) and '\n' not in str(raised.value)


def test_self_supervised_training_on_a_bag_of_images_and_odometry_gives_a_metric_onnx(
        tmp_path):
    from mono_depth_ros.inference.onnx_contract import onnx_model_info, read_onnx_contract
    from mono_depth_ros.synth import render_sequence, write_sequence
    from mono_depth_ros.training.datasets import bag_sequence
    from mono_depth_ros.training.export import export_network

    paths = write_sequence(render_sequence(frames=8, width=112, height=84, seed=5,
                                           supersample=1), tmp_path / 'recording')
    sequence = bag_sequence(paths['bag'], SIZE)
    assert len(sequence.frames) == 8 and sequence.posed and not sequence.supervised
    assert sequence.k[0, 0] == pytest.approx(0.8 * 112 * SIZE[1] / 112)
    model = DepthNet(SMALL)
    state = train(model, [sequence], _settings(mode='self-supervised', steps=6, batch=2,
                                               neighbour_offset=1, flip=False,
                                               checkpoint_every=6, history_every=3),
                  tmp_path / 'run', progress=False)
    assert all(np.isfinite(loss) for _, loss in state.history)
    path = export_network(model, tmp_path / 'metric.onnx', depth_type='metric',
                          traced_size=SIZE)
    info = onnx_model_info(read_onnx_contract(str(path)))
    assert info.depth_type == 'metric' and info.max_depth > 0


def test_train_fine_tunes_a_depth_anything_checkpoint_and_exports_it(tmp_path):
    pytest.importorskip('transformers')
    import model_fixtures

    from mono_depth_ros.inference.onnx_contract import onnx_model_info, read_onnx_contract
    from mono_depth_ros.training.session import run_training, TrainingRequest

    checkpoint = model_fixtures.make_safetensors()
    request = TrainingRequest(
        out=tmp_path / 'run', settings=_settings(steps=2, batch=1, checkpoint_every=2),
        synth_seeds=[4], synth_frames=2, synth_motions=('drive',), size=(56, 70),
        held_out_seeds=[], init=str(checkpoint), progress=False)
    result = run_training(request)
    info = onnx_model_info(read_onnx_contract(str(result['model'])))
    assert info.depth_type == 'relative'
    assert (tmp_path / 'run' / 'checkpoint.safetensors').is_file()
    assert (tmp_path / 'run' / 'loss_curve.png').is_file()


def test_train_refuses_a_bad_size_in_one_line(tmp_path, capsys):
    from mono_depth_ros.tools import cli

    with pytest.raises(SystemExit) as exited:
        cli.main(['train', '--out', str(tmp_path / 'out'), '--size', '100x200'])
    assert exited.value.code == 2
    assert 'multiples of 14' in capsys.readouterr().err
    assert not pathlib.Path(tmp_path / 'out').exists()


def test_the_train_command_writes_model_checkpoint_and_a_report_naming_its_command(tmp_path):
    import json

    from mono_depth_ros.tools import cli

    out = tmp_path / 'run'
    code = cli.main(['train', '--out', str(out), '--synth-seeds', '2', '--synth-frames', '3',
                     '--synth-motions', 'drive', '--size', '56x84', '--steps', '4', '--batch',
                     '2', '--held-out-seeds', '9', '--held-out-frames', '2', '--quiet',
                     '--threads', '1'])
    assert code == 0
    for name in ('model.onnx', 'checkpoint.safetensors', 'report.md', 'loss_curve.png'):
        assert (out / name).is_file(), name
    report = json.loads((out / 'report.json').read_text())
    assert report['command'].startswith('mono-depth-ros train --out ')
    assert report['settings']['mode'] == 'supervised'
    assert report['final']['relative, scale+shift per frame']['frames'] == 2


def test_a_synth_directory_reads_as_frames_with_depth_and_poses_at_the_training_size(tmp_path):
    from mono_depth_ros.synth import render_sequence, write_sequence
    from mono_depth_ros.training.datasets import open_data

    rendered = render_sequence(frames=3, width=112, height=84, seed=6, supersample=1)
    write_sequence(rendered, tmp_path / 'synth')
    sequence = open_data(tmp_path / 'synth', SIZE)
    assert len(sequence.frames) == 3 and sequence.supervised and sequence.posed
    frame = sequence.frames[1]
    assert frame.rgb.shape == (*SIZE, 3) and frame.depth.shape == SIZE
    truth = rendered.frames[1].depth
    assert np.median(frame.depth) == pytest.approx(np.median(truth), rel=0.05)  # metres
    assert np.allclose(frame.camera_pose, rendered.frames[1].camera_pose, atol=1e-4)


def test_a_kitti_style_directory_reads_its_sparse_depth_at_its_own_scale(tmp_path):
    """KITTI depth maps (16-bit, 256 per metre, 0 unknown) in a TUM-style directory."""
    import cv2

    from mono_depth_ros.synth import render_sequence, write_sequence
    from mono_depth_ros.training.datasets import open_data

    rendered = render_sequence(frames=2, width=112, height=84, seed=6, supersample=1)
    paths = write_sequence(rendered, tmp_path / 'kitti')
    holes = np.random.default_rng(0).random((84, 112)) < 0.8   # LiDAR: most pixels unknown
    for frame, png in zip(rendered.frames, sorted(paths['depth'].glob('*.png'))):
        sparse = np.where(holes, 0, np.rint(frame.depth * 256)).astype(np.uint16)
        assert cv2.imwrite(str(png), sparse)
    sequence = open_data(paths['depth'].parent, SIZE, depth_scale=256.0)
    depth = sequence.frames[0].depth
    known = depth > 0
    assert 0.1 < known.mean() < 0.35   # the holes stay holes: the losses skip depth <= 0
    truth = cv2.resize(rendered.frames[0].depth, (SIZE[1], SIZE[0]),
                       interpolation=cv2.INTER_NEAREST)
    assert np.median(depth[known] / truth[known]) == pytest.approx(1.0, abs=0.02)
