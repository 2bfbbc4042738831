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

"""Model cards: parsing, the ONNX contract, output kinds, per-family resizes and licences."""

from dataclasses import replace

import numpy as np
import pytest

from model_fixtures import make_constant_output_onnx
from mono_depth_ros.core.camera_model import CameraModel
from mono_depth_ros.core.preprocessing import (DEFAULT_PREPROCESSING, output_to_input_size,
                                               prepare_input, Preprocessing)
from mono_depth_ros.core.prompt_depth import rasterise_prompt
from mono_depth_ros.inference.base import ModelLoadError
from mono_depth_ros.inference.model_card import (card_from_json, DEPTH_ANYTHING_CARD,
                                                 FAMILY_CARDS, known_license, load_card_file,
                                                 METADATA_KEY, ModelCard, ModelCardError,
                                                 parse_card)
from mono_depth_ros.inference.onnx_contract import read_onnx_contract
from mono_depth_ros.inference.selection import load_backend
from mono_depth_ros.nodes.start_summary import license_lines
from mono_depth_ros.pipeline.depth_pipeline import DepthPipeline, DepthSettings
from synthetic_frames import textured_rgb

HEIGHT, WIDTH = 32, 48
FX = 40.0


def ground_truth_depth() -> np.ndarray:
    rows, cols = np.mgrid[0:HEIGHT, 0:WIDTH]
    return (1.0 + 0.05 * rows + 0.02 * cols).astype(np.float32)


def card_dict(**fields) -> dict:
    return {'family': 'test', 'output': 'inverse_depth', 'metric': 'none', **fields}


def pipeline_for(path, **settings) -> DepthPipeline:
    backend, info = load_backend(str(path), backend='onnxruntime', device='cpu')
    return DepthPipeline(backend, info, DepthSettings(min_depth=0.01, max_depth=100.0,
                                                      **settings))


# Parsing -----------------------------------------------------------------------------------
def test_the_default_card_is_the_depth_anything_contract():
    assert DEPTH_ANYTHING_CARD.preprocessing == DEFAULT_PREPROCESSING
    rgb = textured_rgb(100, 80)
    np.testing.assert_array_equal(prepare_input(rgb, 140),
                                  prepare_input(rgb, 140, preprocessing=Preprocessing()))


def test_a_card_round_trips_through_json_and_yaml(tmp_path):
    card = replace(FAMILY_CARDS['depth_pro'], license='apple-amlr')
    assert card_from_json(card.to_json()) == card
    path = tmp_path / 'card.yaml'
    path.write_text('family: monodepth2\noutput: disparity\nmetric: baseline\nbaseline: 0.54\n'
                    'mean: [0, 0, 0]\nstd: [1, 1, 1]\nsize_multiple: 32\nresize: fixed\n'
                    'input_size: [192, 640]\ninterpolation: area\nlicense: non-commercial\n',
                    encoding='utf-8')
    loaded = load_card_file(path)
    assert (loaded.output, loaded.metric, loaded.baseline) == ('disparity', 'baseline', 0.54)
    assert loaded.input_size == (192, 640) and loaded.non_commercial


@pytest.mark.parametrize('field', ['family', 'output', 'metric'])
def test_a_missing_required_field_is_named(field):
    values = card_dict()
    del values[field]
    with pytest.raises(ModelCardError, match=f"'{field}'"):
        parse_card(values)


@pytest.mark.parametrize('field,value', [
    ('resize', 'sideways'), ('mean', [0.5, 0.5]), ('std', [0.0, 1.0, 1.0]),
    ('interpolation', 'nearest'), ('size_multiple', 0), ('extra_inputs', ['lidar']),
    ('output', 'height'), ('input_scale', -1.0), ('colour', 'red')])
def test_a_wrong_field_is_named_with_what_it_expects(field, value):
    with pytest.raises(ModelCardError) as raised:
        parse_card(card_dict(**{field: value}))
    assert f"'{field}'" in str(raised.value) and 'expected' in str(raised.value)


@pytest.mark.parametrize('metric,field', [('baseline', 'baseline'), ('focal', 'focal_reference'),
                                          ('max_depth', 'max_depth')])
def test_a_metric_source_needs_its_value(metric, field):
    output = {'baseline': 'disparity', 'focal': 'depth', 'max_depth': 'depth'}[metric]
    with pytest.raises(ModelCardError, match=f"'{field}'"):
        card_from_json(ModelCard(family='x', output=output, metric=metric).to_json())


def test_a_fixed_resize_needs_a_height_and_width():
    with pytest.raises(ModelCardError, match="'input_size'"):
        parse_card(card_dict(resize='fixed', input_size=384))


# The ONNX contract -------------------------------------------------------------------------
def test_a_file_with_a_broken_card_fails_at_start_with_one_line_naming_the_field(tmp_path):
    path = make_constant_output_onnx(tmp_path / 'broken.onnx', ground_truth_depth())
    import onnx
    model = onnx.load(str(path))
    model.metadata_props.add(key=METADATA_KEY, value='{"family": "x", "metric": "none"}')
    onnx.save(model, str(path))
    with pytest.raises(ModelLoadError) as raised:
        load_backend(str(path), backend='onnxruntime', device='cpu')
    text = str(raised.value)
    assert "'output'" in text and str(path) in text and '\n' not in text


def test_a_card_whose_extra_input_the_file_lacks_is_refused(tmp_path):
    card = replace(FAMILY_CARDS['prompt_depth_anything'], max_depth=10.0, resize='fixed',
                   input_size=(28, 42))
    path = make_constant_output_onnx(tmp_path / 'one_input.onnx', np.ones((28, 42)), card)
    with pytest.raises(ModelLoadError, match="'extra_inputs'"):
        read_onnx_contract(str(path))


def test_a_yaml_card_gives_a_file_without_one_its_contract(tmp_path):
    path = make_constant_output_onnx(tmp_path / 'bare.onnx', ground_truth_depth())
    with pytest.raises(ModelLoadError, match='multiple of 14'):
        read_onnx_contract(str(path))  # without a card: the Depth Anything contract
    yaml_card = tmp_path / 'card.yaml'
    yaml_card.write_text('family: flat\noutput: depth\nmetric: max_depth\nmax_depth: 50\n'
                         'resize: fixed\ninput_size: [32, 48]\nsize_multiple: 16\n'
                         'license: CC-BY-NC-4.0\n', encoding='utf-8')
    backend, info = load_backend(str(path), backend='onnxruntime', device='cpu',
                                 model_card=str(yaml_card))
    assert info.is_metric and info.max_depth == 50 and info.license == 'CC-BY-NC-4.0'
    assert backend.card.family == 'flat'
    bad = tmp_path / 'bad.yaml'
    bad.write_text('family: flat\noutput: depth\nmetric: max_depth\n', encoding='utf-8')
    with pytest.raises(ModelLoadError, match="'max_depth'"):
        load_backend(str(path), backend='onnxruntime', device='cpu', model_card=str(bad))


# Output kinds -------------------------------------------------------------------------------
def fixed_card(**fields) -> ModelCard:
    return ModelCard(family='synthetic', resize='fixed', input_size=(HEIGHT, WIDTH),
                     size_multiple=16, **fields)


@pytest.mark.parametrize('card,output', [
    (fixed_card(output='disparity', metric='baseline', baseline=0.12),
     lambda depth: FX * 0.12 / depth),
    (fixed_card(output='depth', metric='focal', focal_reference=300.0),
     lambda depth: depth * 300.0 / FX),
    (fixed_card(output='inverse_depth', metric='model_fov'),
     lambda depth: FX / (WIDTH * depth)),
    (fixed_card(output='depth', metric='max_depth', max_depth=80.0), lambda depth: depth),
])
def test_each_output_kind_and_metric_source_gives_metres(tmp_path, card, output):
    truth = ground_truth_depth()
    path = make_constant_output_onnx(tmp_path / f'{card.metric}.onnx', output(truth), card)
    pipeline = pipeline_for(path)
    result = pipeline.estimate(textured_rgb(WIDTH, HEIGHT), fx=FX)
    assert result.is_metric_model
    np.testing.assert_allclose(result.depth, truth, rtol=1e-5)


def test_a_focal_scaled_model_uses_the_focal_length_of_the_network_input(tmp_path):
    card = fixed_card(output='depth', metric='focal', focal_reference=300.0)
    path = make_constant_output_onnx(tmp_path / 'f.onnx', np.full((HEIGHT, WIDTH), 3.0), card)
    # A camera image twice the network size: Depth Anything 3's focal is the network's.
    result = pipeline_for(path).estimate(textured_rgb(2 * WIDTH, 2 * HEIGHT), fx=2 * FX)
    np.testing.assert_allclose(result.depth, 3.0 * FX / 300.0, rtol=1e-5)


def test_a_camera_metric_without_fx_publishes_no_depth_and_counts_it(tmp_path):
    card = fixed_card(output='disparity', metric='baseline', baseline=0.12)
    pipeline = pipeline_for(make_constant_output_onnx(tmp_path / 'd.onnx',
                                                      np.ones((HEIGHT, WIDTH)), card))
    assert pipeline.estimate(textured_rgb(WIDTH, HEIGHT)).depth is None
    assert pipeline.frames_without_fx == 1


def test_a_relative_depth_output_becomes_inverse_depth_for_the_scale(tmp_path):
    truth = ground_truth_depth()
    card = fixed_card(output='depth', metric='none')
    pipeline = pipeline_for(make_constant_output_onnx(tmp_path / 'r.onnx', truth, card),
                            scale_source='fixed', fixed_scale=1.0)
    result = pipeline.estimate(textured_rgb(WIDTH, HEIGHT))
    np.testing.assert_allclose(result.relative, 1.0 / truth, rtol=1e-6)
    np.testing.assert_allclose(result.depth, truth, rtol=1e-5)


# Output resize as each reference does it ---------------------------------------------------
def random_prediction(height=37, width=53):
    return np.random.default_rng(3).uniform(0.5, 5.0, (height, width)).astype(np.float32)


def test_depth_anything_v2_resizes_like_its_reference_with_aligned_corners():
    import torch

    prediction = random_prediction()
    reference = torch.nn.functional.interpolate(
        torch.from_numpy(prediction)[None, None], (240, 320), mode='bilinear',
        align_corners=True)[0, 0].numpy()
    ours = output_to_input_size(prediction, 320, 240,
                                FAMILY_CARDS['depth_anything_v2'].output_resize)
    # torch computes the source positions in float32: differences of ~1e-5 are its rounding.
    np.testing.assert_allclose(ours, reference, rtol=1e-5, atol=1e-4)
    pixel_centres = output_to_input_size(prediction, 320, 240)
    assert np.abs(pixel_centres - reference).max() > 1e-2, 'the old resize differs'


@pytest.mark.parametrize('family,processor', [
    ('dpt', 'DPTImageProcessor'), ('glpn', 'GLPNImageProcessor'),
    ('prompt_depth_anything', 'PromptDepthAnythingImageProcessor')])
def test_each_family_resizes_like_its_transformers_post_processing(family, processor):
    import torch
    import transformers
    from transformers.modeling_outputs import DepthEstimatorOutput

    prediction = random_prediction()
    outputs = DepthEstimatorOutput(predicted_depth=torch.from_numpy(prediction)[None])
    reference = getattr(transformers, processor)().post_process_depth_estimation(
        outputs, target_sizes=[(240, 320)])[0]['predicted_depth'].numpy()
    ours = output_to_input_size(prediction, 320, 240, FAMILY_CARDS[family].output_resize)
    np.testing.assert_allclose(ours, reference, rtol=1e-4, atol=1e-4)


# ZoeDepth's and Depth Pro's processors need torchvision (not installed here): their
# post_process_depth_estimation lines are spelt out with the torch calls they make.
def test_zoedepth_resizes_like_its_post_processing_without_padding():
    import torch

    prediction = random_prediction()
    # tvF.resize(depth, size, BICUBIC, antialias=False) on a tensor is this interpolate.
    reference = torch.nn.functional.interpolate(
        torch.from_numpy(prediction)[None, None], size=(240, 320), mode='bicubic',
        align_corners=False)[0, 0].numpy()
    ours = output_to_input_size(prediction, 320, 240, FAMILY_CARDS['zoedepth'].output_resize)
    np.testing.assert_allclose(ours, reference, rtol=1e-4, atol=1e-4)


def test_depth_pro_with_the_cameras_fov_matches_its_post_processing():
    import torch

    from mono_depth_ros.core.relative_depth import fov_inverse_to_depth

    inverse = random_prediction()
    fov = torch.tensor(60.0)
    width = 320
    focal = 0.5 * width / torch.tan(0.5 * torch.deg2rad(fov))
    scaled = torch.from_numpy(inverse) * width / focal
    resized = torch.nn.functional.interpolate(scaled[None, None], size=(240, width),
                                              mode='bilinear')[0, 0]
    reference = (1.0 / torch.clamp(resized, min=1e-4, max=1e4)).numpy()
    ours = output_to_input_size(inverse, width, 240, FAMILY_CARDS['depth_pro'].output_resize)
    np.testing.assert_allclose(fov_inverse_to_depth(ours, float(focal), width), reference,
                               rtol=1e-4)


# Preprocessing by the card ------------------------------------------------------------------
@pytest.mark.parametrize('family,processor', [('dpt', 'DPTImageProcessor'),
                                              ('glpn', 'GLPNImageProcessor'),
                                              ('zoedepth', 'ZoeDepthImageProcessor')])
def test_the_cards_normalisation_matches_the_transformers_processor(family, processor):
    import transformers

    rgb = textured_rgb(96, 64)
    reference = getattr(transformers, processor)()(
        rgb, do_resize=False, do_pad=False, return_tensors='np')['pixel_values']
    card = FAMILY_CARDS[family]
    ours = prepare_input(rgb, (64, 96), preprocessing=replace(card.preprocessing,
                                                              size_multiple=32))
    np.testing.assert_allclose(ours, reference, atol=1e-5)


def test_the_upper_bound_rule_keeps_both_sides_within_the_size():
    rule = Preprocessing(size_multiple=32, resize='upper_bound')
    assert rule.network_size(480, 640, 384) == (288, 384)
    assert rule.network_size(1000, 300, 384) == (384, 96)


def test_the_device_path_applies_the_cards_normalisation_and_interpolation():
    from mono_depth_ros.inference.device_preprocessing import DevicePreprocessor

    rule = FAMILY_CARDS['glpn'].preprocessing
    rgb = textured_rgb(160, 120)
    ours = DevicePreprocessor('cpu', rule).prepare(rgb, (64, 96)).numpy()
    np.testing.assert_allclose(ours, prepare_input(rgb, (64, 96), preprocessing=rule),
                               atol=2e-3)


# Licence and prompt -------------------------------------------------------------------------
def test_known_licences_and_the_non_commercial_warning():
    assert known_license('depth-anything/Depth-Anything-V2-Small-hf') == 'Apache-2.0'
    assert known_license('depth-anything/Depth-Anything-V2-Large-hf') == 'CC-BY-NC-4.0'
    assert known_license('depth-anything/DA3METRIC-LARGE') == 'Apache-2.0'
    assert known_license('depth-anything/DA3-GIANT') == 'CC-BY-NC-4.0'
    assert known_license('model.pth', encoder='vitb', version='v2') == 'CC-BY-NC-4.0'
    card = ModelCard(license='CC-BY-NC-4.0')
    assert card.non_commercial and not ModelCard(license='Apache-2.0').non_commercial
    line, warning = license_lines('CC-BY-NC-4.0', card.non_commercial)
    assert 'CC-BY-NC-4.0' in line and 'commercial' in warning
    assert license_lines('Apache-2.0', False)[1] is None


def test_the_prompt_is_a_dense_low_resolution_map_of_the_points():
    camera = CameraModel.from_intrinsics(100.0, 100.0, 80.0, 60.0, 160, 120)
    pixels = np.array([[10.0, 10.0], [150.0, 10.0], [10.0, 110.0], [150.0, 110.0]])
    depths = np.array([1.0, 2.0, 3.0, 4.0])
    prompt = rasterise_prompt(camera.unproject(pixels, depths), camera, 120, 160)
    assert prompt.shape == (1, 1, 15, 20) and np.isfinite(prompt).all()
    assert (prompt[0, 0, 0, 0], prompt[0, 0, 0, -1], prompt[0, 0, -1, 0],
            prompt[0, 0, -1, -1]) == (1.0, 2.0, 3.0, 4.0)
    assert rasterise_prompt(camera.unproject(pixels[:2], depths[:2]), camera, 120, 160) is None


# Families from their transformers configs ----------------------------------------------------
@pytest.mark.parametrize('family', ['glpn', 'prompt_depth_anything'])
def test_a_family_checkpoint_runs_on_the_torch_backend_with_its_card(tmp_path, family):
    import model_fixtures

    model_fixtures.tiny_family_model(family).save_pretrained(tmp_path / family)
    backend, info = load_backend(str(tmp_path / family), backend='torch', device='cpu')
    assert info.card.family == family and info.is_metric
    settings = DepthSettings(input_size=140, min_depth=0.01, max_depth=100.0)
    pipeline = DepthPipeline(backend, info, settings)
    extras = {}
    if family == 'prompt_depth_anything':
        extras = {'prompt_depth': np.linspace(1, 4, 80, dtype=np.float32).reshape(1, 1, 8, 10)}
    result = pipeline.estimate(textured_rgb(WIDTH * 2, HEIGHT * 2), fx=FX, extras=extras)
    assert result.depth.shape == (2 * HEIGHT, 2 * WIDTH)
    assert np.isfinite(result.depth).mean() > 0.5


def test_an_engine_sidecar_carries_the_card_it_was_built_with(tmp_path, monkeypatch):
    import json

    from mono_depth_ros.inference.engine_builder import ensure_engine
    from mono_depth_ros.inference.engine_cache import sidecar_path
    from tensorrt_stand_in import use_stand_in_tensorrt

    use_stand_in_tensorrt(monkeypatch, '10.3.0')
    card = fixed_card(output='disparity', metric='baseline', baseline=0.2, license='MIT')
    path = make_constant_output_onnx(tmp_path / 'disparity.onnx', np.ones((HEIGHT, WIDTH)), card)
    cached = ensure_engine(str(path), 'fp16', 308, tmp_path / 'engines')
    recorded = json.loads(sidecar_path(cached.path).read_text())['model_card']
    assert card_from_json(recorded) == card
