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

"""A small depth network the package trains itself (``mono-depth-ros train``), ROS-free.

``network`` is the encoder-decoder, ``losses`` the supervised (scale-invariant, gradient
matching) and self-supervised (photometric reprojection, sparse metric points) terms,
``datasets`` reads synthetic, TUM-style and rosbag2 sequences, ``trainer`` runs the optimisation
with safetensors checkpoints, ``export`` writes the ONNX model in the node's contract and
``assessment`` scores a model on held-out sequences. torch is imported only in these modules.
"""
