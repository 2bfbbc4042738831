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

"""process-bag's output bag: an unfinished output never blocks a rerun with --overwrite."""

import pytest

from mono_depth_ros.bags import messages
from mono_depth_ros.offline.output_bag import OutputBag


def test_an_aborted_output_leaves_nothing(tmp_path):
    path = tmp_path / 'out'
    out = OutputBag.create(path, 'mcap', overwrite=False)
    key = out.add_output('/depth', messages.IMAGE_TYPE)
    out.put(1, key, b'')
    out.flush()
    out.abort()
    assert not path.exists()
    OutputBag.create(path, 'mcap', overwrite=False).close()
    assert (path / 'metadata.yaml').exists()


@pytest.mark.parametrize('storage_file', ['out_0.mcap', 'out_0.db3'])
def test_overwrite_replaces_a_bag_left_unfinished_by_a_killed_run(tmp_path, storage_file):
    path = tmp_path / 'out'
    path.mkdir()
    (path / storage_file).write_bytes(b'half a bag')
    with pytest.raises(FileExistsError, match='--overwrite to replace it'):
        OutputBag.create(path, 'mcap', overwrite=False)
    OutputBag.create(path, 'mcap', overwrite=True).close()
    assert (path / 'metadata.yaml').exists() and not (path / storage_file).exists()


def test_overwrite_never_deletes_a_directory_that_is_not_a_bag(tmp_path):
    path = tmp_path / 'out'
    path.mkdir()
    (path / 'out_0.mcap').write_bytes(b'')
    (path / 'notes.txt').write_text('mine')
    with pytest.raises(FileExistsError, match='not a rosbag2'):
        OutputBag.create(path, 'mcap', overwrite=True)
    assert (path / 'notes.txt').read_text() == 'mine'
