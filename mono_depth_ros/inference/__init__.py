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

"""Inference backends behind one interface; TensorRT, ONNX Runtime, PyTorch load lazily.

The names below import their module on first use, so the light modules of this package
(:mod:`.errors`, :mod:`.model_files`) import without the backend interface and its selection.
"""

import importlib

# Public name -> the module of this package that defines it.
_HOMES = {
    'BackendUnavailableError': 'errors',
    'DepthBackend': 'base',
    'InputSpec': 'base',
    'ModelInfo': 'base',
    'ModelLoadError': 'errors',
    'load_backend': 'selection',
    'select_backend': 'selection',
}
__all__ = list(_HOMES)


def __getattr__(name: str):
    """Return a public name of the package, importing the module that defines it."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
    return getattr(importlib.import_module(f'{__name__}.{home}'), name)
