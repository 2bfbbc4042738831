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


"""The bag package: every message type the package writes survives a write and a read back."""

import numpy as np
import pytest
import yaml

from mono_depth_ros import bags
from mono_depth_ros.bags import messages
from mono_depth_ros.core.camera_model import CameraModel
from mono_depth_ros.core.image_codec import (decode_compressed, encode_compressed,
                                             image_to_numpy, numpy_to_image)
from mono_depth_ros.core.pointcloud import (pack_organized_cloud, pack_unorganized_cloud,
                                            read_cloud)

pytest.importorskip('rosbags')

STAMP = 1_700_000_000_123_456_789
RNG = np.random.default_rng(7)
IMAGES = {
    'rgb8': RNG.integers(0, 256, (5, 7, 3), dtype=np.uint8),
    'bgra8': RNG.integers(0, 256, (5, 7, 4), dtype=np.uint8),
    'mono8': RNG.integers(0, 256, (5, 7), dtype=np.uint8),
    'mono16': RNG.integers(0, 65536, (5, 7), dtype=np.uint16),
    '16UC1': RNG.integers(0, 65536, (5, 7), dtype=np.uint16),
    '32FC1': np.where(RNG.random((5, 7)) < 0.2, np.nan,
                      RNG.random((5, 7)) * 10).astype(np.float32),
}


def camera_fields() -> dict:
    """Return CameraInfo fields as ``CameraModel.to_camera_info_fields()`` gives them."""
    return {'height': 480, 'width': 640, 'distortion_model': 'plumb_bob',
            'd': [0.1, -0.05, 0.001, 0.002, 0.01],
            'k': [500.0, 0.0, 320.5, 0.0, 502.0, 240.25, 0.0, 0.0, 1.0],
            'r': [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
            'p': [500.0, 0.0, 320.5, 0.0, 0.0, 502.0, 240.25, 0.0, 0.0, 0.0, 1.0, 0.0],
            'binning_x': 2, 'binning_y': 2,
            'roi': {'x_offset': 8, 'y_offset': 6, 'height': 468, 'width': 624,
                    'do_rectify': False}}


def odometry_values() -> dict:
    return {'position': (1.5, -2.25, 0.125), 'quaternion': (0.0, 0.0, 0.6, 0.8),
            'linear': (0.5, 0.0, -0.1), 'angular': (0.0, 0.01, 0.3)}


def written_messages() -> list[tuple[str, str, object]]:
    """Return (topic, type, message) of every kind the package writes, one each."""
    header = messages.header(STAMP, 'camera_optical_frame')
    points = RNG.random((4, 6, 3)).astype(np.float32)
    points[0, 0] = np.nan
    colors = RNG.integers(0, 256, (4, 6, 3), dtype=np.uint8)
    format_string, data = encode_compressed(IMAGES['rgb8'][..., ::-1].copy(), 'png', 'bgr8')
    written = [(f'/image/{encoding.lower()}', messages.IMAGE_TYPE,
                messages.image(numpy_to_image(array, encoding), header))
               for encoding, array in IMAGES.items()]
    values = odometry_values()
    written += [
        ('/image/compressed', messages.COMPRESSED_IMAGE_TYPE,
         messages.compressed_image(format_string, data, header)),
        ('/camera_info', messages.CAMERA_INFO_TYPE, messages.camera_info(camera_fields(), header)),
        ('/points/organized', messages.POINT_CLOUD_TYPE,
         messages.cloud(pack_organized_cloud(points, colors), header)),
        ('/points/unorganized', messages.POINT_CLOUD_TYPE,
         messages.cloud(pack_unorganized_cloud(points.reshape(-1, 3)[1:]), header)),
        ('/odom', messages.ODOMETRY_TYPE,
         messages.odometry(messages.header(STAMP, 'odom'), 'base_link', **values)),
    ]
    return written


def write_bag(path, storage: str, written=None, **options):
    written = written_messages() if written is None else written
    with bags.BagWriter(path, storage, **options) as writer:
        topics = {}
        for index, (topic, msgtype, message) in enumerate(written):
            if topic not in topics:
                topics[topic] = writer.add_topic(topic, msgtype)
            writer.write_message(topics[topic], STAMP + index, message)
    return written


def read_back(path) -> dict:
    with bags.open_reader(path) as reader:
        return {record.topic: (record.log_time_ns, reader.deserialize(record))
                for record in reader.messages()}


def assert_same_message(read, written) -> None:
    """Compare every field of two messages, recursively (arrays elementwise, NaN equal)."""
    assert type(read).__name__ == type(written).__name__
    for name in written.__dataclass_fields__:
        a, b = getattr(read, name), getattr(written, name)
        if hasattr(b, '__dataclass_fields__'):
            assert_same_message(a, b)
        elif isinstance(b, list):
            assert len(a) == len(b), name
            for x, y in zip(a, b):
                assert_same_message(x, y)
        elif isinstance(b, np.ndarray):
            np.testing.assert_array_equal(np.asarray(a), b, err_msg=name)
        else:
            assert a == b, name


@pytest.fixture(params=bags.STORAGES)
def storage(request):
    return request.param


def test_every_message_type_reads_back_field_for_field(tmp_path, storage):
    written = write_bag(tmp_path / 'bag', storage)
    read = read_back(tmp_path / 'bag')
    assert set(read) == {topic for topic, _, _ in written}
    for index, (topic, _, message) in enumerate(written):
        log_time, back = read[topic]
        assert log_time == STAMP + index
        assert_same_message(back, message)


def test_what_reads_back_decodes_to_the_values_written(tmp_path, storage):
    write_bag(tmp_path / 'bag', storage)
    read = {topic: message for topic, (_, message) in read_back(tmp_path / 'bag').items()}
    for encoding, array in IMAGES.items():
        message = read[f'/image/{encoding.lower()}']
        assert message.encoding == encoding
        assert messages.stamp_ns(message.header.stamp) == STAMP
        assert message.header.frame_id == 'camera_optical_frame'
        np.testing.assert_array_equal(image_to_numpy(message), array)
    np.testing.assert_array_equal(decode_compressed(read['/image/compressed'], 'rgb8'),
                                  IMAGES['rgb8'])
    info = read['/camera_info']
    assert CameraModel.from_camera_info(info).to_camera_info_fields() == camera_fields()
    organized, unorganized = read['/points/organized'], read['/points/unorganized']
    assert (organized.height, organized.width, organized.is_dense) == (4, 6, False)
    assert (unorganized.height, unorganized.width) == (1, 23)
    assert [f.name for f in organized.fields] == ['x', 'y', 'z', 'rgb']
    assert np.isnan(read_cloud(organized)['x'][0, 0])
    odom = read['/odom']
    values = odometry_values()
    pose, twist = odom.pose.pose, odom.twist.twist
    assert (odom.header.frame_id, odom.child_frame_id) == ('odom', 'base_link')
    assert (pose.position.x, pose.position.y, pose.position.z) == values['position']
    assert (pose.orientation.x, pose.orientation.y, pose.orientation.z,
            pose.orientation.w) == values['quaternion']
    assert (twist.linear.x, twist.linear.y, twist.linear.z) == values['linear']
    assert (twist.angular.x, twist.angular.y, twist.angular.z) == values['angular']


def test_from_fields_picks_the_message_of_each_neutral_type():
    header = messages.header(STAMP, 'camera')
    image = numpy_to_image(IMAGES['mono8'], 'mono8')
    cloud = pack_unorganized_cloud(np.zeros((3, 3), np.float32))
    assert messages.from_fields(image, header).__msgtype__ == messages.IMAGE_TYPE
    assert messages.from_fields(cloud, header).__msgtype__ == messages.POINT_CLOUD_TYPE
    assert messages.from_fields(camera_fields(), header).__msgtype__ == \
        messages.CAMERA_INFO_TYPE
    with pytest.raises(TypeError, match='ImageFields'):
        messages.from_fields(b'bytes', header)


def test_topics_list_type_and_count_and_messages_filter_by_topic(tmp_path, storage):
    header = messages.header(STAMP, 'camera')
    image = messages.image(numpy_to_image(IMAGES['mono8'], 'mono8'), header)
    odom = messages.odometry(header, 'base', (0, 0, 0), (0, 0, 0, 1))
    written = [('/a', messages.IMAGE_TYPE, image)] * 3 + [('/odom', messages.ODOMETRY_TYPE, odom)]
    write_bag(tmp_path / 'bag', storage, written)
    with bags.open_reader(tmp_path / 'bag') as reader:
        assert reader.topics == {'/a': (messages.IMAGE_TYPE, 3),
                                 '/odom': (messages.ODOMETRY_TYPE, 1)}
        times = [record.log_time_ns for record in reader.messages()]
        assert times == sorted(times) == [STAMP + index for index in range(4)]
        assert [record.topic for record in reader.messages(['/odom'])] == ['/odom']
        assert list(reader.messages(['/missing'])) == []


def test_bags_are_written_in_metadata_version_8_with_standard_definitions(tmp_path, storage):
    write_bag(tmp_path / 'bag', storage)
    metadata = yaml.safe_load((tmp_path / 'bag' / 'metadata.yaml').read_text())
    info = metadata['rosbag2_bagfile_information']
    assert bags.BAG_METADATA_VERSION == 8 and info['version'] == 8
    assert info['storage_identifier'] == storage
    # Version 8 keeps each topic's QoS profiles as one YAML string, which Humble can read.
    assert all(isinstance(topic['topic_metadata']['offered_qos_profiles'], str)
               for topic in info['topics_with_message_count'])
    with bags.open_reader(tmp_path / 'bag') as reader:
        assert all(c.msgdef.data and c.digest.startswith('RIHS01') for c in reader.connections)


def test_a_bare_mcap_file_and_a_version_9_bag_read_like_the_directory(tmp_path):
    written = write_bag(tmp_path / 'bag', 'mcap', version=9)
    (mcap,) = (tmp_path / 'bag').glob('*.mcap')
    from_file, from_directory = read_back(mcap), read_back(tmp_path / 'bag')
    assert from_file.keys() == from_directory.keys() == {topic for topic, _, _ in written}
    for topic, (log_time, message) in from_file.items():
        assert log_time == from_directory[topic][0]
        assert_same_message(message, from_directory[topic][1])


def test_a_copied_topic_keeps_its_definition_and_messages(tmp_path, storage):
    write_bag(tmp_path / 'in', 'mcap')
    with bags.open_reader(tmp_path / 'in') as reader, \
            bags.BagWriter(tmp_path / 'out', storage) as writer:
        topics = {c.id: writer.add_copy(c, reader.typestore) for c in reader.connections}
        for record in reader.messages():
            writer.write(topics[record.connection.id], record.log_time_ns, record.data)
    original, copy = read_back(tmp_path / 'in'), read_back(tmp_path / 'out')
    assert copy.keys() == original.keys()
    for topic, (log_time, message) in original.items():
        assert copy[topic][0] == log_time
        assert_same_message(copy[topic][1], message)


def test_an_error_while_writing_leaves_no_finished_bag(tmp_path):
    with pytest.raises(RuntimeError):
        with bags.BagWriter(tmp_path / 'bag', 'mcap') as writer:
            writer.add_topic('/a', messages.IMAGE_TYPE)
            raise RuntimeError('stop')
    assert not (tmp_path / 'bag' / 'metadata.yaml').exists()


def test_unknown_storage_and_unreadable_bags_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match='storage'):
        bags.BagWriter(tmp_path / 'bag', 'rosbag1')
    not_a_bag = tmp_path / 'text.mcap'
    not_a_bag.write_text('not a bag')
    with pytest.raises(bags.BagReadError, match='cannot read .*text.mcap as a rosbag2'):
        bags.open_reader(not_a_bag)
    with pytest.raises(FileNotFoundError):
        bags.open_reader(tmp_path / 'none.mcap')
