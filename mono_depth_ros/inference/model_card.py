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

"""The model card: how a depth network wants its input and what its output means.

A card is a JSON object in the ONNX ``metadata_props`` key :data:`METADATA_KEY` (the same
object in an engine's sidecar, or a YAML file given by ``model_card:=`` / ``--model-card``).
Its fields are those of doc/interface.md; :func:`parse_card` checks them and raises one
:class:`ModelCardError` naming the field. A file without a card gets :data:`DEPTH_ANYTHING_CARD`,
today's Depth Anything contract. ROS-free and light: no torch, no onnx at import.
"""

from dataclasses import asdict, dataclass, fields, replace
import json
import math
import os

from mono_depth_ros.core.preprocessing import (DEFAULT_INPUT_SIZE, IMAGENET_MEAN, IMAGENET_STD,
                                               PATCH_MULTIPLE, Preprocessing)

METADATA_KEY = 'mono_depth_ros.model_card'
RESIZE_RULES = ('lower_bound', 'upper_bound', 'fixed')
INTERPOLATIONS = ('cubic', 'linear', 'area')
OUTPUT_KINDS = ('inverse_depth', 'depth', 'disparity')
METRIC_SOURCES = ('none', 'max_depth', 'focal', 'baseline', 'model_fov')
EXTRA_INPUTS = ('prompt_depth',)
# Licences that forbid commercial use: the node warns once when it loads such a model.
NON_COMMERCIAL_LICENSES = ('cc-by-nc-4.0', 'cc-by-nc-sa-4.0', 'cc-by-nc-nd-4.0',
                           'apple-amlr', 'non-commercial')

# How each family's reference resizes its output to the image (core.preprocessing modes):
# Depth Anything V2's infer_image and transformers' post_process_depth_estimation.
OUTPUT_RESIZE = {
    'depth_anything_v2': 'linear_align_corners',
    'dpt': 'cubic',
    'glpn': 'cubic',
    'zoedepth': 'cubic',
    'depth_pro': 'linear',
    'prompt_depth_anything': 'cubic',
    'depth_anything_3': 'linear',
    'depth_anything_3_metric': 'linear',
}


class ModelCardError(ValueError):
    """A card field that is missing or wrong; the text names the field and what it expects."""

    def __init__(self, field: str, value, expected: str):
        self.field = field
        super().__init__(f'model card field {field!r} = {value!r}: expected {expected}')


@dataclass(frozen=True)
class ModelCard:
    """A depth network's pre- and postprocessing contract (doc/interface.md, "Model card")."""

    family: str = 'depth_anything'
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    input_scale: float = 1.0 / 255.0
    size_multiple: int = PATCH_MULTIPLE
    resize: str = 'lower_bound'
    input_size: int | tuple[int, int] = DEFAULT_INPUT_SIZE
    interpolation: str = 'cubic'
    output: str = 'inverse_depth'
    metric: str = 'none'
    max_depth: float | None = None
    focal_reference: float | None = None
    baseline: float | None = None
    extra_inputs: tuple[str, ...] = ()
    license: str = ''  # noqa: A003 (the field name of doc/interface.md)

    @property
    def is_metric(self) -> bool:
        """Return True when the card's output (with the camera) gives metres."""
        return self.metric != 'none'

    @property
    def preprocessing(self) -> Preprocessing:
        """Return the input preprocessing this card asks for."""
        return Preprocessing(mean=tuple(self.mean), std=tuple(self.std),
                             input_scale=self.input_scale, size_multiple=self.size_multiple,
                             resize=self.resize, interpolation=self.interpolation)

    @property
    def output_resize(self) -> str:
        """Return how the output is resized to the image, as the family's reference does."""
        return OUTPUT_RESIZE.get(self.family, 'linear')

    @property
    def non_commercial(self) -> bool:
        """Return True when the licence forbids commercial use."""
        text = self.license.strip().lower()
        return any(name in text for name in NON_COMMERCIAL_LICENSES) or '-nc-' in text

    def network_input_size(self, requested: int) -> int | tuple[int, int]:
        """Return the input size to run at: ``requested`` when the card allows it, else its own.

        A fixed-size card always gives its (height, width); otherwise ``requested`` (the node's
        ``input_size``) is used when it is a multiple of ``size_multiple``.
        """
        if self.resize == 'fixed':
            return tuple(self.input_size)
        if requested and int(requested) % self.size_multiple == 0:
            return int(requested)
        return int(self.input_size)

    def to_json(self) -> str:
        """Return the card as the JSON object stored in ONNX metadata and sidecars."""
        values = asdict(self)
        values['mean'], values['std'] = list(self.mean), list(self.std)
        values['extra_inputs'] = list(self.extra_inputs)
        if isinstance(self.input_size, tuple):
            values['input_size'] = list(self.input_size)
        return json.dumps(values, sort_keys=True)

    def describe(self) -> str:
        """Return a short line: family, output kind, metric source, licence."""
        metric = 'relative' if self.metric == 'none' else f'metric via {self.metric}'
        licence = f', licence {self.license}' if self.license else ''
        return f'{self.family}: {self.output}, {metric}{licence}'


DEPTH_ANYTHING_CARD = ModelCard()
_FIELD_NAMES = tuple(field.name for field in fields(ModelCard))
REQUIRED_FIELDS = ('family', 'output', 'metric')


def _number(name: str, value, positive: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ModelCardError(name, value, 'a finite number')
    if positive and value <= 0:
        raise ModelCardError(name, value, 'a positive number')
    return float(value)


def _triple(name: str, value, positive: bool) -> tuple[float, float, float]:
    if not isinstance(value, (list, tuple)) or len(value) != 3:
        raise ModelCardError(name, value, '3 numbers (R, G, B)')
    return tuple(_number(name, item, positive) for item in value)


def _choice(name: str, value, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ModelCardError(name, value, f'one of {", ".join(choices)}')
    return value


def _integer(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ModelCardError(name, value, 'a positive integer')
    return value


def parse_card(values: dict) -> ModelCard:
    """Return the checked ModelCard of a dict (from JSON or YAML); raise ModelCardError.

    ``family``, ``output`` and ``metric`` are required; the other fields default to the Depth
    Anything contract. Unknown fields are refused (a typo would otherwise pass silently).
    """
    if not isinstance(values, dict):
        raise ModelCardError('(card)', type(values).__name__, 'a mapping of field: value')
    unknown = sorted(set(values) - set(_FIELD_NAMES))
    if unknown:
        raise ModelCardError(unknown[0], values[unknown[0]],
                             f'a known field ({", ".join(_FIELD_NAMES)})')
    for name in REQUIRED_FIELDS:
        if values.get(name) in (None, ''):
            raise ModelCardError(name, values.get(name), 'a value (the field is required)')
    if not isinstance(values['family'], str):
        raise ModelCardError('family', values['family'], 'a name')
    card = replace(DEPTH_ANYTHING_CARD, family=values['family'])
    checked = {
        'mean': lambda v: _triple('mean', v, positive=False),
        'std': lambda v: _triple('std', v, positive=True),
        'input_scale': lambda v: _number('input_scale', v),
        'size_multiple': lambda v: _integer('size_multiple', v),
        'resize': lambda v: _choice('resize', v, RESIZE_RULES),
        'interpolation': lambda v: _choice('interpolation', v, INTERPOLATIONS),
        'output': lambda v: _choice('output', v, OUTPUT_KINDS),
        'metric': lambda v: _choice('metric', v, METRIC_SOURCES),
        'max_depth': lambda v: None if v is None else _number('max_depth', v),
        'focal_reference': lambda v: None if v is None else _number('focal_reference', v),
        'baseline': lambda v: None if v is None else _number('baseline', v),
        'license': lambda v: str(v),
    }
    updates = {name: check(values[name]) for name, check in checked.items() if name in values}
    extra = values.get('extra_inputs', [])
    if not isinstance(extra, (list, tuple)) or any(item not in EXTRA_INPUTS for item in extra):
        raise ModelCardError('extra_inputs', extra, f'a list of {", ".join(EXTRA_INPUTS)}')
    updates['extra_inputs'] = tuple(extra)
    card = replace(card, **updates)
    return replace(card, input_size=_input_size(card, values.get('input_size', card.input_size)))


def _input_size(card: ModelCard, value) -> int | tuple[int, int]:
    """Check ``input_size`` against the resize rule and the size multiple."""
    multiple = card.size_multiple
    if card.resize == 'fixed':
        if (not isinstance(value, (list, tuple)) or len(value) != 2
                or any(isinstance(v, bool) or not isinstance(v, int) or v <= 0 or v % multiple
                       for v in value)):
            raise ModelCardError('input_size', value,
                                 f'[height, width], positive multiples of {multiple}, '
                                 'with resize fixed')
        return int(value[0]), int(value[1])
    if isinstance(value, bool) or not isinstance(value, int) or value < multiple:
        raise ModelCardError('input_size', value, f'an integer >= size_multiple ({multiple})')
    return int(value)


def check_consistent(card: ModelCard) -> ModelCard:
    """Return ``card`` if its output kind, metric source and their values fit; else raise."""
    needs = {'max_depth': 'max_depth', 'focal': 'focal_reference', 'baseline': 'baseline'}
    if card.metric in needs and getattr(card, needs[card.metric]) is None:
        name = needs[card.metric]
        raise ModelCardError(name, None, f'a positive number (metric is {card.metric})')
    allowed = {'max_depth': ('depth',), 'focal': ('depth',), 'baseline': ('disparity',),
               'model_fov': ('inverse_depth',)}
    if card.metric in allowed and card.output not in allowed[card.metric]:
        raise ModelCardError('output', card.output,
                             f'{" or ".join(allowed[card.metric])} with metric {card.metric}')
    return card


def card_from_json(text: str) -> ModelCard:
    """Return the checked card stored as JSON text; raise ModelCardError."""
    try:
        values = json.loads(text)
    except ValueError as error:
        raise ModelCardError('(card)', text[:40], f'a JSON object ({error})') from None
    return check_consistent(parse_card(values))


def load_card_file(path: str) -> ModelCard:
    """Return the checked card of a YAML (or JSON) file; raise ModelCardError or OSError."""
    import yaml

    path = os.path.expanduser(str(path))
    with open(path, encoding='utf-8') as handle:
        try:
            values = yaml.safe_load(handle)
        except yaml.YAMLError as error:
            raise ModelCardError('(card)', path, f'a YAML mapping ({error})') from None
    return check_consistent(parse_card(values))


def card_from_metadata(metadata: dict) -> ModelCard | None:
    """Return the card in ONNX metadata (or a sidecar dict), None when there is none."""
    text = metadata.get(METADATA_KEY)
    if text in (None, ''):
        return None
    if isinstance(text, dict):
        return check_consistent(parse_card(text))
    return card_from_json(str(text))


def depth_anything_card(depth_type: str = 'relative', max_depth: float | None = None,
                        version: str | None = 'v2', licence: str = '') -> ModelCard:
    """Return the card of a Depth Anything export (relative inverse depth or metric depth)."""
    family = 'depth_anything_v2' if version in ('v2', None) else 'depth_anything'
    if depth_type == 'metric':
        return ModelCard(family=family, output='depth', metric='max_depth',
                         max_depth=float(max_depth) if max_depth else None, license=licence)
    return ModelCard(family=family, license=licence)


# Each family's reference preprocessing and output meaning (its transformers image processor,
# or the official code for Depth Anything). ``max_depth`` of a metric family comes from its
# config; :func:`family_card` fills it in.
_HALF = (0.5, 0.5, 0.5)
FAMILY_CARDS = {
    'depth_anything_v2': ModelCard(family='depth_anything_v2'),
    # DPT / MiDaS v3 (DPTImageProcessor for Intel/dpt-*): 384 x 384, mean/std 0.5; the ViT DPT
    # of transformers reads square patch grids only.
    'dpt': ModelCard(family='dpt', mean=_HALF, std=_HALF, size_multiple=32, resize='fixed',
                     input_size=(384, 384), interpolation='cubic'),
    # ZoeDepth: keep aspect at 384 x 512, multiples of 32, bilinear, metric (bins to max_depth).
    'zoedepth': ModelCard(family='zoedepth', mean=_HALF, std=_HALF, size_multiple=32,
                          input_size=384, interpolation='linear', output='depth',
                          metric='max_depth'),
    # GLPN: no mean/std (x / 255 only), multiples of 32, metric (sigmoid * max_depth).
    'glpn': ModelCard(family='glpn', mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0),
                      size_multiple=32, input_size=480, interpolation='linear', output='depth',
                      metric='max_depth'),
    # Depth Pro: 1536 x 1536, mean/std 0.5; canonical inverse depth scaled by the field of view,
    # here the camera's (fx) instead of the FoV head's.
    'depth_pro': ModelCard(family='depth_pro', mean=_HALF, std=_HALF, size_multiple=384,
                           resize='fixed', input_size=(1536, 1536), interpolation='linear',
                           output='inverse_depth', metric='model_fov', license='apple-amlr'),
    # Prompt Depth Anything: Depth Anything's input plus a low-resolution metric depth prompt.
    'prompt_depth_anything': ModelCard(family='prompt_depth_anything', output='depth',
                                       metric='max_depth', extra_inputs=('prompt_depth',)),
}

# Depth Anything 3 (its PyPI package depth-anything-3, not transformers): ImageNet mean/std,
# "upper_bound_resize" to 504 in multiples of 14, OpenCV area when shrinking; the mono model
# predicts relative depth, the metric one depth = output * focal / 300 with the focal length in
# pixels of the network input (the node scales the camera's fx by network / image width).
FAMILY_CARDS['depth_anything_3'] = ModelCard(
    family='depth_anything_3', resize='upper_bound', input_size=504, interpolation='area',
    output='depth', metric='none', license='Apache-2.0')
FAMILY_CARDS['depth_anything_3_metric'] = replace(
    FAMILY_CARDS['depth_anything_3'], family='depth_anything_3_metric', metric='focal',
    focal_reference=300.0)

# Licences of released checkpoints, by a lower-case fragment of their name (issue 23).
KNOWN_LICENSES = (
    ('depth-anything-v2-small', 'Apache-2.0'), ('depth_anything_v2_vits', 'Apache-2.0'),
    ('depth-anything-v2-base', 'CC-BY-NC-4.0'), ('depth_anything_v2_vitb', 'CC-BY-NC-4.0'),
    ('depth-anything-v2-large', 'CC-BY-NC-4.0'), ('depth_anything_v2_vitl', 'CC-BY-NC-4.0'),
    ('da3-small', 'Apache-2.0'), ('da3-base', 'Apache-2.0'), ('da3metric-large', 'Apache-2.0'),
    ('da3-large', 'CC-BY-NC-4.0'), ('da3-giant', 'CC-BY-NC-4.0'),
    ('depthpro', 'apple-amlr'), ('depth-pro', 'apple-amlr'),
)
# Depth Anything V2 by encoder: Small is Apache-2.0, Base/Large/Giant CC-BY-NC-4.0.
V2_ENCODER_LICENSES = {'vits': 'Apache-2.0', 'vitb': 'CC-BY-NC-4.0', 'vitl': 'CC-BY-NC-4.0',
                       'vitg': 'CC-BY-NC-4.0'}


def known_license(source: str, encoder: str | None = None, version: str | None = None) -> str:
    """Return the licence of a released checkpoint named ``source`` (or of its encoder), or ''."""
    name = str(source).lower()
    for fragment, licence in KNOWN_LICENSES:
        if fragment in name:
            return licence
    if version in ('v2', None) and encoder in V2_ENCODER_LICENSES:
        return V2_ENCODER_LICENSES[encoder]
    return ''


def family_card(family: str, **fields_of_model) -> ModelCard:
    """Return the reference card of ``family`` with the model's own values (max_depth, ...)."""
    if family not in FAMILY_CARDS:
        raise ModelCardError('family', family, f'one of {", ".join(FAMILY_CARDS)}')
    return check_consistent(replace(FAMILY_CARDS[family], **fields_of_model))
