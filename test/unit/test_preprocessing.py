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

"""The Depth Anything input contract, checked against the transformers image processor."""

import numpy as np
import pytest

from mono_depth_ros.core.errors import BadMessageError
from mono_depth_ros.core.preprocessing import (DEFAULT_PREPROCESSING, IMAGENET_MEAN,
                                               IMAGENET_STD, network_input_size,
                                               normalisation_constants, output_to_input_size,
                                               prepare_input, Preprocessing)

# The bound documented in mono_depth_ros/core/preprocessing.py for smooth images (OpenCV vs PIL
# bicubic, measured max 0.037): one grey level is 1 / (255 * 0.225) = 0.017 after normalising.
SMOOTH_MAX_DIFFERENCE = 0.05
SMOOTH_MEAN_DIFFERENCE = 0.01


@pytest.fixture(scope='module')
def transformers_processor():
    """Return the transformers DPT processor with the Depth Anything settings (no download)."""
    pytest.importorskip('PIL')
    module = pytest.importorskip('transformers.models.dpt.image_processing_pil_dpt')
    return module.DPTImageProcessorPil(
        do_resize=True, size={'height': 518, 'width': 518}, keep_aspect_ratio=True,
        ensure_multiple_of=14, resample=3, do_rescale=True, rescale_factor=1 / 255,
        do_normalize=True, image_mean=list(IMAGENET_MEAN), image_std=list(IMAGENET_STD))


def _reference(processor, image: np.ndarray) -> np.ndarray:
    return processor(images=image, return_tensors='np')['pixel_values']


def _smooth_image(height: int, width: int) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    channels = [128 + 100 * np.sin(x / 17 + y / 23), 128 + 100 * np.cos(x / 31 - y / 13),
                128 + 60 * np.sin((x + y) / 40)]
    return np.clip(np.stack(channels, axis=-1), 0, 255).astype(np.uint8)


def _noise_image(height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


@pytest.mark.parametrize('shape', [(518, 686), (686, 518), (518, 518), (518, 924)])
def test_tensor_equals_transformers_processor_when_no_resize_is_needed(
        transformers_processor, shape):
    image = _noise_image(*shape)
    ours = prepare_input(image)
    reference = _reference(transformers_processor, image)
    assert ours.shape == reference.shape == (1, 3, *shape)
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours, reference, atol=1e-5, rtol=0)


@pytest.mark.parametrize('shape', [(480, 640), (720, 1280), (1080, 1920), (1200, 900)])
def test_network_size_matches_transformers_when_both_sides_reach_input_size(
        transformers_processor, shape):
    assert prepare_input(_smooth_image(*shape)).shape == _reference(
        transformers_processor, _smooth_image(*shape)).shape


@pytest.mark.parametrize('shape', [(480, 640), (720, 1280), (1080, 1920)])
def test_resized_smooth_image_stays_within_documented_bound_of_transformers(
        transformers_processor, shape):
    image = _smooth_image(*shape)
    difference = np.abs(prepare_input(image) - _reference(transformers_processor, image))
    assert difference.max() < SMOOTH_MAX_DIFFERENCE
    assert difference.mean() < SMOOTH_MEAN_DIFFERENCE


@pytest.mark.parametrize('shape, ours, theirs', [
    ((200, 300), (518, 784), (350, 518)),
    ((300, 1000), (518, 1722), (154, 518)),
])
def test_small_and_wide_images_follow_the_official_lower_bound_rule(
        transformers_processor, shape, ours, theirs):
    # Documented deviation: transformers scales "as little as possible"; Depth-Anything-V2's
    # image2tensor makes both sides at least the input size.
    image = _smooth_image(*shape)
    assert prepare_input(image).shape[2:] == ours
    assert _reference(transformers_processor, image).shape[2:] == theirs


@pytest.mark.parametrize('height, width', [(480, 640), (640, 480), (100, 100), (1080, 1920),
                                           (37, 1000), (518, 519)])
def test_network_size_keeps_aspect_with_both_sides_multiples_of_14_and_at_least_input(
        height, width):
    net_height, net_width = network_input_size(height, width, 518)
    assert net_height % 14 == 0 and net_width % 14 == 0
    assert min(net_height, net_width) >= 518
    assert abs(net_width / net_height - width / height) <= 14 / 518 * (width / height) + 1e-9


def test_fixed_and_square_sizes_give_exactly_that_network_size():
    image = _smooth_image(120, 160)
    assert prepare_input(image, (140, 182)).shape == (1, 3, 140, 182)
    assert prepare_input(image, 140, keep_aspect=False).shape == (1, 3, 140, 140)
    with pytest.raises(BadMessageError, match='input_size'):
        prepare_input(image, (140, 180))


def test_uniform_image_normalises_each_channel_with_imagenet_mean_and_std():
    colour = np.array([10, 128, 250], dtype=np.uint8)
    tensor = prepare_input(np.broadcast_to(colour, (300, 400, 3)).copy())
    expected = (colour / 255.0 - np.array(IMAGENET_MEAN)) / np.array(IMAGENET_STD)
    np.testing.assert_allclose(tensor[0].reshape(3, -1).mean(axis=1), expected, atol=1e-5)
    np.testing.assert_allclose(tensor[0].reshape(3, -1).std(axis=1), 0, atol=1e-5)


@pytest.mark.parametrize('image, field', [
    (np.zeros((10, 10), np.uint8), 'rgb.shape'),
    (np.zeros((10, 10, 4), np.uint8), 'rgb.shape'),
    (np.zeros((10, 10, 3), np.float32), 'rgb.dtype'),
    (np.zeros((0, 10, 3), np.uint8), 'rgb.shape'),
])
def test_bad_images_raise_an_error_naming_the_field(image, field):
    with pytest.raises(BadMessageError, match=field):
        prepare_input(image)


@pytest.mark.parametrize('shape', [(28, 42), (1, 28, 42), (1, 1, 28, 42)])
def test_output_to_input_size_accepts_each_prediction_rank(shape):
    prediction = np.full(shape, 3.5, np.float32)
    resized = output_to_input_size(prediction, width=64, height=48)
    assert resized.shape == (48, 64) and resized.dtype == np.float32
    np.testing.assert_allclose(resized, 3.5)


def test_output_to_input_size_is_bilinear_with_pixel_centre_alignment():
    # A ramp sampled at pixel centres stays a ramp: value = x for the 28-wide grid.
    ramp = np.tile(np.arange(28, dtype=np.float32), (14, 1))
    resized = output_to_input_size(ramp, width=56, height=28)
    centres = (np.arange(56) + 0.5) / 2 - 0.5
    interior = slice(2, -2)
    np.testing.assert_allclose(resized[5, interior], centres[interior], atol=1e-5)


def test_output_to_input_size_rejects_a_batch_of_predictions():
    with pytest.raises(BadMessageError, match='prediction.shape'):
        output_to_input_size(np.zeros((2, 14, 14), np.float32), 28, 28)


def test_preprocessing_defaults_are_depth_anythings_and_bad_ones_are_named():
    assert DEFAULT_PREPROCESSING == Preprocessing(IMAGENET_MEAN, IMAGENET_STD, 1 / 255, 14,
                                                  'lower_bound', 'cubic')
    scale, offset = normalisation_constants(Preprocessing(mean=(0.5,) * 3, std=(0.25,) * 3))
    np.testing.assert_allclose(scale, 1 / (255 * 0.25), rtol=1e-6)
    np.testing.assert_allclose(offset, -2.0, rtol=1e-6)
    with pytest.raises(BadMessageError, match='interpolation'):
        Preprocessing(interpolation='lanczos9')
    with pytest.raises(BadMessageError, match='mean/std'):
        Preprocessing(std=(0.2, 0.0, 0.2))
