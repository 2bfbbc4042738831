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

"""What kind of model a ``model`` value names, without opening it, and when its files change.

A model is an ONNX file, an official Depth-Anything .pth/.pt/.bin/.ckpt, a .safetensors, a
TensorRT engine, or a Hugging Face directory or id.
"""

import os
import pathlib
import re

from mono_depth_ros.inference.errors import ModelLoadError

PTH_SUFFIXES = ('.pth', '.pt', '.bin', '.ckpt')
ENGINE_SUFFIXES = ('.engine', '.plan', '.trt')
_HF_ID = re.compile(r'^[A-Za-z0-9][\w.-]*/[\w.-]+$')


def model_format(model: str) -> str:
    """Return 'onnx', 'pth', 'safetensors', 'engine' or 'hf' for a model (else ModelLoadError)."""
    text = str(model).strip()
    if not text:
        raise ModelLoadError(text, 'no model given')
    path = pathlib.Path(os.path.expanduser(text))
    suffix = path.suffix.lower()
    if path.is_dir():
        if (path / 'config.json').is_file():
            return 'hf'
        raise ModelLoadError(text, 'a directory without config.json (a Hugging Face model '
                                   'directory was expected)')
    kind = ('onnx' if suffix == '.onnx' else 'safetensors' if suffix == '.safetensors'
            else 'pth' if suffix in PTH_SUFFIXES else 'engine' if suffix in ENGINE_SUFFIXES
            else None)
    if path.is_file():
        if kind is None:
            raise ModelLoadError(text, f'unknown model file type {suffix!r} (expected .onnx, '
                                       '.pth, .pt, .safetensors, a TensorRT .engine or a '
                                       'Hugging Face directory)')
        return kind
    if kind is not None or text.startswith(('/', '.', '~')) or not _HF_ID.match(text):
        raise ModelLoadError(text, 'file not found')
    return 'hf'


def source_fingerprint(model: str) -> str:
    """Return a string that changes when the model's files change (for export caches)."""
    path = pathlib.Path(os.path.expanduser(str(model)))
    if path.is_file():
        stat = path.stat()
        return f'{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}'
    if path.is_dir():
        entries = sorted(
            f'{child.name}|{child.stat().st_size}|{child.stat().st_mtime_ns}'
            for child in path.iterdir() if child.is_file())
        return f'{path.resolve()}|' + ';'.join(entries)
    try:
        from huggingface_hub import try_to_load_from_cache
        cached = try_to_load_from_cache(str(model), 'config.json')
        if isinstance(cached, str):
            return f'{model}|{pathlib.Path(cached).parent.name}'
    except ImportError:
        pass
    return str(model)
