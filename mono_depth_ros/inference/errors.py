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

"""The errors of model loading and backend selection, importable without the inference stack."""


class ModelLoadError(RuntimeError):
    """A model that cannot be loaded; the text names the model and the reason."""

    def __init__(self, model: str, reason: str):
        self.model = str(model)
        self.reason = reason
        super().__init__(f"cannot load model '{self.model}': {reason}")


class DownloadDisabledError(ModelLoadError):
    """A Hugging Face id that is not cached, with downloads off (each caller names its switch)."""

    def __init__(self, model: str):
        super().__init__(model, 'not a local path and not in the Hugging Face cache, and '
                                'downloads are off (allow_download false): download it once '
                                'or pass a local path')


class BackendUnavailableError(RuntimeError):
    """The requested backend or device cannot run on this machine; the text says why."""


def error_summary(error: BaseException) -> str:
    """Return 'ErrorType: first sentence' of an exception, for one-line error messages."""
    lines = str(error).strip().splitlines()
    text = lines[0] if lines else ''
    if len(text) > 160 and '. ' in text:
        text = text[:text.index('. ') + 1]
    return f'{type(error).__name__}: {text}'.rstrip(': ')
