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


"""Choosing the image, camera_info and odometry topics of a bag, and the outputs' namespace."""

import dataclasses

from mono_depth_ros.bags.messages import (CAMERA_INFO_TYPE, COMPRESSED_IMAGE_TYPE, IMAGE_TYPE,
                                          ODOMETRY_TYPE)
from mono_depth_ros.offline import InputError

# Preferred image topic names, best first (image_transport / image_pipeline conventions).
_IMAGE_NAMES = ('image_raw', 'image_color', 'image_rect_color', 'image_rect', 'image')
# Path segments of topics that carry depth or this package's outputs, not camera images.
_NOT_CAMERA_SEGMENTS = {'depth', 'depth_registered', 'triangulation', 'disparity', 'colored',
                        'relative', 'tracks'}


@dataclasses.dataclass
class SelectedTopics:
    """The input topics to read, and the namespace of the outputs."""

    image: str
    compressed: bool
    camera_info: str | None
    odom: str | None
    namespace: str

    def output_topic(self, relative: str) -> str:
        """Return the full name of a relative output topic."""
        return f'{self.namespace}/{relative}' if self.namespace != '/' else f'/{relative}'


def topic_listing(topics: dict[str, tuple[str, int]]) -> str:
    """Return one line per topic: name, type and message count."""
    if not topics:
        return '  (no topics)'
    width = max(len(name) for name in topics)
    type_width = max(len(msgtype) for msgtype, _ in topics.values())
    return '\n'.join(f'  {name:<{width}}  {msgtype:<{type_width}}  {count} messages'
                     for name, (msgtype, count) in sorted(topics.items()))


def select_topics(topics: dict[str, tuple[str, int]], *, image_topic: str | None = None,
                  camera_info_topic: str | None = None, odom_topic: str | None = None,
                  compressed: bool = False, need_camera_info: bool = True,
                  need_odometry: bool = True, output_namespace: str | None = None,
                  source: str = 'the bag') -> SelectedTopics:
    """Choose the image, camera_info and odometry topics of a bag (``{name: (type, count)}``).

    Raises InputError, listing the bag's topics, when a needed topic is missing or a named
    one is not there with the right type.
    """
    def fail(problem: str) -> InputError:
        return InputError(f'{problem}. Topics in {source}:\n{topic_listing(topics)}')

    def of_type(*types: str) -> list[str]:
        return [name for name, (msgtype, _) in topics.items() if msgtype in types]

    image, is_compressed = _select_image(topics, image_topic, compressed, of_type, fail)
    base = image[:-len('/compressed')] if image.endswith('/compressed') else image
    namespace = base.rsplit('/', 1)[0] or '/'

    info = _select_named(topics, camera_info_topic, CAMERA_INFO_TYPE, fail, 'camera_info')
    if info is None:
        infos = of_type(CAMERA_INFO_TYPE)
        sibling = f'{namespace.rstrip("/")}/camera_info'
        if sibling in infos:
            info = sibling
        elif infos:
            info = max(sorted(infos), key=lambda name: _common_prefix(name, base))
    if info is None and need_camera_info:
        raise fail(f'no sensor_msgs/msg/CameraInfo topic for {image} (give --camera-info-topic, '
                   'or --camera-yaml with the intrinsics)')

    odom = _select_named(topics, odom_topic, ODOMETRY_TYPE, fail, 'odom')
    if odom is None and need_odometry:
        candidates = of_type(ODOMETRY_TYPE)
        if not candidates:
            raise fail('no nav_msgs/msg/Odometry topic: triangulation needs the base pose '
                       '(give --odom-topic, or --mode depth)')
        odom = '/odom' if '/odom' in candidates else min(
            candidates, key=lambda name: (-topics[name][1], name))
    if output_namespace is not None:
        namespace = '/' + output_namespace.strip('/')
    return SelectedTopics(image=image, compressed=is_compressed, camera_info=info, odom=odom,
                          namespace=namespace.rstrip('/') or '/')


def _select_image(topics, image_topic, compressed, of_type, fail) -> tuple[str, bool]:
    if image_topic:
        for name in (image_topic, f'{image_topic.rstrip("/")}/compressed'):
            msgtype = topics.get(name, ('', 0))[0]
            if msgtype == IMAGE_TYPE and not compressed:
                return name, False
            if msgtype == COMPRESSED_IMAGE_TYPE:
                return name, True
        wanted = 'a sensor_msgs/msg/CompressedImage' if compressed else 'an image'
        raise fail(f'--image-topic {image_topic}: {wanted} topic of that name is not in the bag')

    def camera_like(name: str) -> bool:
        segments = set(name.strip('/').split('/'))
        return not (segments & _NOT_CAMERA_SEGMENTS) and not name.endswith('compressedDepth')

    raw = [name for name in of_type(IMAGE_TYPE) if camera_like(name)]
    packed = [name for name in of_type(COMPRESSED_IMAGE_TYPE) if camera_like(name)]
    pool, is_compressed = (packed, True) if compressed or not raw else (raw, False)
    if not pool:
        kind = 'sensor_msgs/msg/CompressedImage' if compressed else \
            'camera image (sensor_msgs/msg/Image or CompressedImage)'
        raise fail(f'no {kind} topic (give --image-topic)')

    def rank(name: str) -> tuple:
        base = name[:-len('/compressed')] if name.endswith('/compressed') else name
        last = base.rsplit('/', 1)[-1]
        preference = _IMAGE_NAMES.index(last) if last in _IMAGE_NAMES else len(_IMAGE_NAMES)
        return preference, -topics[name][1], name

    return min(pool, key=rank), is_compressed


def _select_named(topics, name, msgtype, fail, what) -> str | None:
    if not name:
        return None
    if topics.get(name, ('', 0))[0] != msgtype:
        raise fail(f'--{what.replace("_", "-")}-topic {name}: no {msgtype} topic of that name')
    return name


def _common_prefix(a: str, b: str) -> int:
    """Return how many leading name segments two topics share."""
    shared = 0
    for x, y in zip(a.split('/'), b.split('/')):
        if x != y:
            break
        shared += 1
    return shared
