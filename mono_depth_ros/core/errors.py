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

"""The one exception type for malformed messages and inputs."""


class BadMessageError(ValueError):
    """A message or input that cannot be used; the text names the field and the problem.

    Raise it as ``BadMessageError('Image.step', 1000, 'at least width*3 = 1920')``
    or with a single free-form message.
    """

    def __init__(self, field: str, value: object = None, expected: str | None = None):
        self.field = field
        self.value = value
        self.expected = expected
        if expected is None and value is None:
            text = field
        else:
            text = f'{field} = {value!r}'
            if expected:
                text += f' (expected {expected})'
        super().__init__(text)
