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

"""Find the package's data files (config/, launch/, bench/) in a source tree or an install."""

from dataclasses import dataclass
import functools
import importlib.metadata
import importlib.util
import os
import pathlib
import re
import sys

SOURCE_ROOT = pathlib.Path(__file__).resolve().parents[1]


def share_directories() -> list[pathlib.Path]:
    """Return where the package's data may live: the source tree first, then installs."""
    places = [SOURCE_ROOT]
    try:
        from ament_index_python.packages import get_package_share_directory
        places.append(pathlib.Path(get_package_share_directory('mono_depth_ros')))
    except (ImportError, LookupError, ValueError, OSError):
        pass
    places.append(pathlib.Path(sys.prefix) / 'share' / 'mono_depth_ros')
    return places


def package_file(relative: str) -> pathlib.Path:
    """Return the first existing ``relative`` path among the share directories.

    Raises FileNotFoundError naming every place it looked.
    """
    candidates = [place / relative for place in share_directories()]
    for candidate in candidates:
        if candidate.exists():
            return candidate
    raise FileNotFoundError(f'{relative} not found in ' + ', '.join(map(str, candidates)))


LARGE_DATA_PROFILE = 'config/fastdds_large_data.xml'
# Fast DDS 3 (Kilted on) reads the first, Fast DDS 2 (Humble, Jazzy) only the second.
FASTDDS_PROFILE_VARIABLES = ('FASTDDS_DEFAULT_PROFILES_FILE', 'FASTRTPS_DEFAULT_PROFILES_FILE')
# ROS distributions whose Fast DDS is 2.x.
FAST_DDS_2_DISTROS = ('humble', 'iron', 'jazzy')
# A distribution's install prefix (/opt/ros/kilted) and its rclpy wheel (ros-kilted-rclpy).
_DISTRO_PREFIX = re.compile(r'/opt/ros/([a-z]+)(?:/|$)')
_RCLPY_WHEEL = re.compile(r'ros-([a-z]+)-rclpy')
# The profile variables this process set, and to what: anything else set is the user's.
_SET_BY_PACKAGE: dict[str, str] = {}


@functools.lru_cache(maxsize=1)
def installed_ros_distribution() -> str | None:
    """Return the ROS distribution of the rclpy this Python would import, or None.

    A sourced ROS has rclpy under /opt/ros/<distro>; a pip venv has the ros-<distro>-rclpy
    wheel. Neither imports rclpy.
    """
    try:
        spec = importlib.util.find_spec('rclpy')
    except (ImportError, ValueError):
        spec = None
    match = _DISTRO_PREFIX.search(str(spec.origin)) if spec and spec.origin else None
    if match:
        return match.group(1)
    for distribution in importlib.metadata.distributions():
        name = re.sub(r'[-_.]+', '-', str(distribution.metadata['Name'] or '')).lower()
        match = _RCLPY_WHEEL.fullmatch(name)
        if match:
            return match.group(1)
    return None


def ros_distribution(environ=None) -> str | None:
    """Return the ROS distribution: ROS_DISTRO, else AMENT_PREFIX_PATH, else the rclpy installed.

    A pip venv has no ROS_DISTRO; its rclpy wheel still names the distribution.
    """
    environ = os.environ if environ is None else environ
    distro = environ.get('ROS_DISTRO', '').strip().lower()
    if distro:
        return distro
    match = _DISTRO_PREFIX.search(environ.get('AMENT_PREFIX_PATH', ''))
    return match.group(1) if match else installed_ros_distribution()


def _profile_variables(environ) -> tuple[str, ...]:
    """Return the variable names this Fast DDS reads: by the distribution where known, else both.

    Fast DDS 3 warns at every start that the second name is deprecated, so a distribution
    known to have it gets its own name only (:func:`ros_distribution`).
    """
    distro = ros_distribution(environ)
    if not distro:
        return FASTDDS_PROFILE_VARIABLES
    fast_dds_3, fast_dds_2 = FASTDDS_PROFILE_VARIABLES
    return (fast_dds_2,) if distro in FAST_DDS_2_DISTROS else (fast_dds_3,)


def fastdds_profile_environment(environ=None) -> dict[str, str]:
    """Return the variables to set so that the Fast DDS here (2 or 3) reads one profile.

    The profile is the user's where either variable names one, else the package's large-data
    profile. The names are those of :func:`_profile_variables`; empty when they are all set.
    """
    environ = os.environ if environ is None else environ
    missing = [name for name in _profile_variables(environ) if not environ.get(name)]
    if not missing:
        return {}
    chosen = next((environ[name] for name in FASTDDS_PROFILE_VARIABLES if environ.get(name)),
                  None) or str(package_file(LARGE_DATA_PROFILE))
    return {name: chosen for name in missing}


@dataclass(frozen=True)
class FastDdsProfile:
    """The Fast DDS profile a process uses, and whose it is."""

    path: str
    # The variable the user named it in; None for the package's large-data profile.
    user_variable: str | None
    # The variable this distribution's Fast DDS reads (the one to set for another profile).
    read_from: str

    def describe(self) -> str:
        """Return the one start line that says which profile is in use."""
        if self.user_variable:
            return f'Fast DDS profile: {self.path} (yours, from {self.user_variable})'
        return (f"Fast DDS profile: the package's large-data profile {self.path} "
                f'(set {self.read_from} for your own)')


def apply_fastdds_profile() -> FastDdsProfile:
    """Point Fast DDS at the package's large-data profile unless the user chose one; say which.

    Sets the variables of :func:`fastdds_profile_environment` in this process. Must run before
    the first DDS participant of the process is created; calling it again changes nothing.
    """
    changes = fastdds_profile_environment()
    os.environ.update(changes)
    _SET_BY_PACKAGE.update(changes)
    user_variable = next((name for name in FASTDDS_PROFILE_VARIABLES if os.environ.get(name)
                          and _SET_BY_PACKAGE.get(name) != os.environ[name]), None)
    read_from = _profile_variables(os.environ)[0]
    path = os.environ.get(read_from) or next(
        os.environ[name] for name in FASTDDS_PROFILE_VARIABLES if os.environ.get(name))
    return FastDdsProfile(path, user_variable, read_from)
