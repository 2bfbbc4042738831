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

"""A synthetic bag round-trips over real DDS through the codec and the camera model."""

import threading

from nav_msgs.msg import Odometry
import numpy as np
import pytest
from sensor_msgs.msg import CameraInfo, Image

from mono_depth_ros.core.camera_model import CameraModel
from mono_depth_ros.core.image_codec import image_to_rgb8
from mono_depth_ros.core.transforms import pose_matrix
from mono_depth_ros.ros.messages import stamp_to_ns
from mono_depth_ros.ros.replay import Lockstep, replay_bag
from mono_depth_ros.synth import BAG_TOPICS, FRAME_IDS, render_sequence, write_sequence


@pytest.fixture(scope='module')
def written_sequence(tmp_path_factory):
    sequence = render_sequence(frames=12, width=640, height=480, seed=3)
    paths = write_sequence(sequence, tmp_path_factory.mktemp('sequence'))
    return sequence, paths


def test_every_frame_arrives_bit_exact_with_its_calibration_and_pose(written_sequence):
    sequence, paths = written_sequence
    collect = {BAG_TOPICS['image']: Image, BAG_TOPICS['camera_info']: CameraInfo,
               BAG_TOPICS['odom']: Odometry}
    result = replay_bag(paths['bag'], collect, rate=2.0)

    images = {stamp_to_ns(m.header.stamp): m for m in result.messages[BAG_TOPICS['image']]}
    assert sorted(images) == [frame.stamp_ns for frame in sequence.frames]
    for frame in sequence.frames:
        message = images[frame.stamp_ns]
        assert message.header.frame_id == FRAME_IDS['camera']
        np.testing.assert_array_equal(image_to_rgb8(message), frame.rgb)

    infos = result.messages[BAG_TOPICS['camera_info']]
    assert len(infos) == len(sequence.frames)
    camera = CameraModel.from_camera_info(infos[0])
    np.testing.assert_allclose(camera.intrinsic_matrix, sequence.k)
    assert (camera.cx, camera.cy) != (sequence.width / 2, sequence.height / 2)

    poses = {frame.stamp_ns: frame.base_pose for frame in sequence.frames}
    matched = 0
    for message in result.messages[BAG_TOPICS['odom']]:
        assert (message.header.frame_id, message.child_frame_id) == (
            FRAME_IDS['odom'], FRAME_IDS['base'])
        stamp = stamp_to_ns(message.header.stamp)
        if stamp in poses:
            p, q = message.pose.pose.position, message.pose.pose.orientation
            np.testing.assert_allclose(pose_matrix((p.x, p.y, p.z), (q.x, q.y, q.z, q.w)),
                                       poses[stamp], atol=1e-9)
            matched += 1
    assert matched == len(sequence.frames)


def test_the_bag_directory_and_the_single_mcap_file_hold_the_same_messages(written_sequence):
    from mono_depth_ros.bags import open_reader

    _, paths = written_sequence
    counts = []
    for path in (paths['bag'], paths['bag_dir']):
        with open_reader(path) as reader:
            counts.append({topic: count for topic, (_, count) in reader.topics.items()})
    assert counts[0] == counts[1]
    assert set(counts[0]) == set(BAG_TOPICS.values())


class _Answers:
    """A collector stand-in whose answer count the test controls."""

    def __init__(self):
        self._answers = 0
        self._changed = threading.Condition()

    def answer(self) -> None:
        with self._changed:
            self._answers += 1
            self._changed.notify_all()

    def count(self, topic: str) -> int:
        return self._answers

    def wait_for(self, topic: str, count: int = 1, timeout: float = 10.0) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: self._answers >= count, timeout)


def test_lockstep_holds_a_frame_until_the_previous_one_is_answered():
    answers = _Answers()
    gate = Lockstep(answers, '/image', ['/out'], timeout_s=0.3, give_up_after=2)
    assert gate('/image') < 0.05       # the first frame goes at once
    assert gate('/odom') == 0.0         # other topics are never held
    timer = threading.Timer(0.1, answers.answer)
    timer.start()
    waited = gate('/image')             # held until the answer to frame 1 came
    assert 0.05 <= waited < 0.3 and gate.timeouts == 0
    assert gate('/image') >= 0.3 and gate.timeouts == 1     # no answer: one timeout
    assert gate('/image') >= 0.3 and gate.timeouts_in_a_row == 2
    assert gate('/image') < 0.05       # given up: frames go on schedule
