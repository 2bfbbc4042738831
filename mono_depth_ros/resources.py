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

import os
import pathlib
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


def _profile_variables(environ) -> tuple[str, ...]:
    """Return the variable names this Fast DDS reads: by ROS_DISTRO where set, else both.

    Fast DDS 3 warns at every start that the second name is deprecated, so a distribution
    known to have it gets its own name only.
    """
    distro = environ.get('ROS_DISTRO', '').strip().lower()
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


def use_large_data_fastdds_profile() -> str:
    """Point Fast DDS at the package's large-data profile unless the user chose one; return it.

    Sets the variables of :func:`fastdds_profile_environment`. Must run before the first DDS
    participant of the process is created.
    """
    os.environ.update(fastdds_profile_environment())
    return next(os.environ[name] for name in FASTDDS_PROFILE_VARIABLES if os.environ.get(name))
