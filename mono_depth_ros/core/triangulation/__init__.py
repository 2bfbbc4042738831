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

"""Sparse metric depth by triangulating feature tracks with odometry poses (ROS-free)."""

from mono_depth_ros.core.triangulation.pipeline import (
    draw_tracks, sparse_depth_image, sparse_sigma_image, TrackSnapshot, TriangulationParams,
    TriangulationPipeline, TriangulationResult)

__all__ = ['TriangulationParams', 'TriangulationPipeline', 'TriangulationResult',
           'TrackSnapshot', 'draw_tracks', 'sparse_depth_image', 'sparse_sigma_image']
