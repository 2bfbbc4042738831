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

"""Play a rosbag2 over DDS where ``ros2 bag play`` is missing: ``python -m ...play_bag BAG``.

    python -m mono_depth_ros.tools.play_bag BAG [--clock] [--rate R] [--delay S]
        [--wait-for-subscribers S]

The same player is ``mono-depth-ros play-bag`` and the ``play_bag`` console script; all three
report errors as ``mono-depth-ros play-bag: ...`` (exit code 2 for a bad option or bag).

Publishes every message at its recorded pace (``--rate`` scales it), with ``/clock`` for nodes
on use_sim_time when ``--clock`` is given. bag_replay.launch.py player:=python runs this.
"""

import argparse
import signal
import sys
import threading

from mono_depth_ros.resources import apply_fastdds_profile
from mono_depth_ros.tools.errors import (PROG as TOOLS_PROG, run_tool, ToolArgumentParser,
                                         UsageError)

# One name for the player however it is started (mono-depth-ros play-bag, play_bag, python -m).
PROG = f'{TOOLS_PROG} play-bag'
IMAGE_TYPES = ('sensor_msgs/msg/Image', 'sensor_msgs/msg/CompressedImage')


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the player's arguments to ``parser``."""
    parser.add_argument('bag', help='rosbag2 directory, or an .mcap or .db3 file')
    parser.add_argument('--clock', action='store_true',
                        help='publish /clock with the bag time (for use_sim_time nodes)')
    parser.add_argument('--rate', type=float, default=1.0,
                        help='playback speed; 1.0 as recorded, 0 as fast as possible')
    parser.add_argument('--delay', type=float, default=0.0,
                        help='seconds to wait before playing')
    parser.add_argument('--wait-for-subscribers', type=float, default=0.0, metavar='SECONDS',
                        help='first wait up to this long until the image topics have a '
                             'subscriber')


def _image_topics(bag: str) -> list[str]:
    from mono_depth_ros.bags import open_reader

    with open_reader(bag) as reader:
        return sorted({c.topic for c in reader.connections if c.msgtype in IMAGE_TYPES})


def run(args: argparse.Namespace) -> int:
    """Play the bag; return 0 when it was played to the end or stopped with Ctrl-C/SIGTERM."""
    if args.rate < 0:
        raise UsageError(f'--rate {args.rate}', '0 or more')
    from mono_depth_ros.bags import open_reader

    with open_reader(args.bag):  # a missing or unreadable bag is refused before DDS starts
        pass
    print(f'{PROG}: {apply_fastdds_profile().describe()}', file=sys.stderr, flush=True)
    from rclpy.node import Node

    from mono_depth_ros.ros.bag_player import BagPlayer
    from mono_depth_ros.ros.graph import ros_context

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        with ros_context() as context:
            node = Node('play_bag', context=context)
            player = BagPlayer(node, args.bag, rate=args.rate, publish_clock=args.clock)
            try:
                if args.wait_for_subscribers > 0:
                    player.wait_for_subscribers(_image_topics(args.bag),
                                                timeout=args.wait_for_subscribers)
                if not stop.wait(args.delay):
                    count = player.play(stop=stop)
                    print(f'{PROG}: published {count} messages from {args.bag}', flush=True)
            finally:
                player.close()
                node.destroy_node()
    except KeyboardInterrupt:
        pass
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and play the bag; errors read as ``mono-depth-ros play-bag``'s."""
    parser = ToolArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run_tool(PROG, run, parser.parse_args(argv))


if __name__ == '__main__':
    sys.exit(main())
