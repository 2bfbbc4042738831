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

"""mono_depth_ros: a depth sensor from one ordinary camera, for ROS 2."""

import os

# numpy and scipy's OpenBLAS would start a thread per core for every small solve (the scale
# map's 200x200 Cholesky): beside the inference threads and the ROS executor those threads
# spin and wait, and a scale fit took 335 ms of CPU instead of 55 ms. One BLAS thread, unless
# the user chose otherwise; it applies where numpy is not yet imported.
os.environ.setdefault('OPENBLAS_NUM_THREADS', '1')

__version__ = '0.1.0'
