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

"""Security habits: no unpickling of code, no downloads unless asked, a private engine cache."""

import os
import pickle
import stat

import pytest

from mono_depth_ros.inference.base import ModelLoadError
from mono_depth_ros.inference.engine_cache import ensure_cache_dir
from mono_depth_ros.inference.model_loading import load_torch_model


class _RunsCodeWhenUnpickled:
    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, 'w'))


def test_a_checkpoint_that_runs_code_on_unpickling_is_refused_without_running_it(tmp_path):
    pytest.importorskip('torch')
    marker = tmp_path / 'code_ran'
    checkpoint = tmp_path / 'depth_anything_v2_vits.pth'
    with open(checkpoint, 'wb') as stream:
        pickle.dump({'state': _RunsCodeWhenUnpickled(str(marker))}, stream)
    with pytest.raises(ModelLoadError) as error:
        load_torch_model(str(checkpoint), 'auto', None, False, None)
    assert str(checkpoint) in str(error.value)
    assert not marker.exists()


def test_a_hub_id_is_not_downloaded_unless_allowed(tmp_path, monkeypatch):
    pytest.importorskip('transformers')
    monkeypatch.setenv('HF_HUB_CACHE', str(tmp_path / 'empty_hub_cache'))
    monkeypatch.setenv('HF_HOME', str(tmp_path / 'hf_home'))
    with pytest.raises(ModelLoadError) as error:
        load_torch_model('depth-anything/Depth-Anything-V2-Small-hf', 'auto', None, False, None)
    assert 'allow_download' in str(error.value)


def test_the_engine_cache_is_created_private(tmp_path):
    path = ensure_cache_dir(tmp_path / 'engines')
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o700
