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

"""Relative or metric, and the metric range, of a model whose weights cannot tell.

The metric head differs from the relative one only by a final sigmoid (times ``max_depth``)
instead of a ReLU, neither of which has weights, so the state dict cannot tell them apart. The
answer comes, in this order, from what the file records (safetensors or ONNX metadata
``depth_type``/``max_depth``, a Hugging Face config), the ``depth_type``/``max_depth`` arguments,
then the file name as released ("metric" in it; "hypersim"/"indoor" -> 20 m, "vkitti"/"outdoor"
-> 80 m), else relative. V1 vs V2 (which encoder layers feed the head) is likewise not in the
weights: V1 for the released ``depth_anything_vit?14`` names, else V2.
"""

from dataclasses import dataclass, field
import logging
import pathlib
import re

from mono_depth_ros.inference.base import DEPTH_TYPES
from mono_depth_ros.inference.errors import ModelLoadError


@dataclass(frozen=True)
class Evidence:
    """What a model says about itself: ``recorded`` (config/metadata) beats ``hinted`` (name)."""

    recorded: dict = field(default_factory=dict)
    hinted: dict = field(default_factory=dict)


def name_hints(path: str) -> dict:
    name = pathlib.Path(path).name.lower()
    hints = {}
    if 'metric' in name:
        hints['depth_type'] = 'metric'
    if 'hypersim' in name or 'indoor' in name:
        hints['max_depth'] = 20.0
    elif 'vkitti' in name or 'outdoor' in name:
        hints['max_depth'] = 80.0
    if re.search(r'depth_anything_vit[sblg]14', name):
        hints['version'] = 'v1'
    elif re.search(r'v2', name):
        hints['version'] = 'v2'
    return hints


def recorded_from_metadata(metadata: dict | None) -> dict:
    metadata = metadata or {}
    recorded = {}
    depth_type = metadata.get('depth_type') or metadata.get('depth_estimation_type')
    if depth_type in DEPTH_TYPES:
        recorded['depth_type'] = depth_type
    if metadata.get('max_depth') not in (None, '', 'None'):
        try:
            recorded['max_depth'] = float(metadata['max_depth'])
        except ValueError:
            pass
    for key in ('version', 'encoder'):
        if metadata.get(key):
            recorded[key] = metadata[key]
    return recorded


def _check_depth_type_argument(depth_type: str) -> None:
    if depth_type not in ('auto', *DEPTH_TYPES):
        from mono_depth_ros.core.errors import BadMessageError
        raise BadMessageError('depth_type', depth_type, 'auto, relative or metric')


def resolve_depth_type(model: str, evidence: Evidence, depth_type: str,
                       max_depth: float | None,
                       logger: logging.Logger) -> tuple[str, float | None]:
    """Return (depth_type, max_depth) from the evidence and the caller's arguments."""
    _check_depth_type_argument(depth_type)
    recorded_type = evidence.recorded.get('depth_type')
    if recorded_type and depth_type not in ('auto', recorded_type):
        raise ModelLoadError(model, f'depth_type is {depth_type!r} but the model records '
                                    f'{recorded_type!r}; use depth_type auto')
    resolved = recorded_type or (depth_type if depth_type != 'auto' else None)
    resolved = resolved or evidence.hinted.get('depth_type')
    if resolved is None:
        logger.info('%s does not record relative or metric; assuming relative (set depth_type '
                    'metric for a metric model)', model)
        resolved = 'relative'
    if resolved == 'relative':
        return resolved, None
    recorded_max = evidence.recorded.get('max_depth')
    if recorded_max is not None:
        if max_depth is not None and float(max_depth) != recorded_max:
            logger.warning('%s records max_depth %g m; ignoring max_depth %g', model,
                           recorded_max, max_depth)
        return resolved, float(recorded_max)
    chosen = max_depth if max_depth is not None else evidence.hinted.get('max_depth')
    if chosen is None or not float(chosen) > 0:
        raise ModelLoadError(model, 'a metric model whose maximum depth is not recorded: pass '
                                    'max_depth (20 for the Hypersim/indoor models, 80 for '
                                    'VKITTI/outdoor)')
    return resolved, float(chosen)
