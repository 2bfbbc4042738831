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

"""The two nodes' parameter tables, ROS-free: defaults, ranges and meanings in one place.

The nodes declare these with descriptors (``ros/parameters.py``); launch support, the command
line and the documentation read them without importing rclpy or the inference stack.
"""

from dataclasses import dataclass
import math
from typing import Any

from mono_depth_ros.core.transforms import default_camera_to_base_values

QOS_CHOICES = ('sensor_data', 'reliable')
SCALE_SOURCES = ('none', 'fixed', 'triangulation')


@dataclass(frozen=True)
class ParameterSpec:
    """One parameter: its default, what it means, and the values it accepts."""

    name: str
    default: Any
    description: str
    choices: tuple[str, ...] | None = None
    integer_range: tuple[int, int] | None = None
    integer_step: int = 1
    float_range: tuple[float, float] | None = None
    array_length: int | None = None
    read_only: bool = False

    def accepted_values(self) -> str:
        """Return the values this parameter accepts, in words ('' when any of its type)."""
        if self.choices:
            return ', '.join(self.choices)
        if self.integer_range:
            low, high = self.integer_range
            step = f', step {self.integer_step}' if self.integer_step > 1 else ''
            return f'{low} to {high}{step}'
        if self.float_range:
            low, high = self.float_range
            return f'{low:g} to {high:g}'
        if self.array_length:
            return f'{self.array_length} numbers'
        return ''

    def problem(self, value: Any) -> str | None:
        """Return what is wrong with ``value`` for this parameter, or None when it is fine."""
        if self.choices and value not in self.choices:
            return f'{self.name} = {value!r} (expected one of {", ".join(self.choices)})'
        if self.integer_range:
            low, high = self.integer_range
            if not (low <= value <= high and (value - low) % self.integer_step == 0):
                step = f' in steps of {self.integer_step}' if self.integer_step > 1 else ''
                return f'{self.name} = {value!r} (expected an integer in [{low}, {high}]{step})'
        if self.float_range:
            low, high = self.float_range
            if not (math.isfinite(value) and low <= value <= high):
                return f'{self.name} = {value!r} (expected a number in [{low}, {high}])'
        if self.array_length is not None:
            values = list(value)
            if len(values) != self.array_length or not all(math.isfinite(v) for v in values):
                return (f'{self.name} = {values!r} '
                        f'(expected {self.array_length} finite numbers)')
        return None


# Both nodes': triangulation_node triangulates with it, depth_node warps its frames with it.
CAMERA_TO_BASE = ParameterSpec(
    'camera_to_base', default_camera_to_base_values(),
    'Camera optical frame in the odometry child (base) frame: x y z qx qy qz qw',
    array_length=7)

DEPTH_PARAMETERS = (
    ParameterSpec('model', 'depth-anything/Depth-Anything-V2-Small-hf',
                  'Model: a Hugging Face id or directory, or a .pth, .safetensors, .onnx or '
                  '.engine file'),
    ParameterSpec('backend', 'auto', 'Inference backend',
                  choices=('auto', 'tensorrt', 'onnxruntime', 'torch')),
    ParameterSpec('device', 'auto', 'Device for the backend', choices=('auto', 'cuda', 'cpu')),
    ParameterSpec('precision', 'fp16', 'Precision on a GPU (the CPU runs fp32)',
                  choices=('fp32', 'fp16', 'int8')),
    ParameterSpec('input_size', 518, 'Network input: shorter side in pixels, a multiple of 14',
                  integer_range=(140, 1554), integer_step=14),
    ParameterSpec('depth_type', 'auto', 'relative or metric; auto reads the model config',
                  choices=('auto', 'relative', 'metric')),
    ParameterSpec('max_depth', 20.0, "Metric models' range, and the largest depth published (m)",
                  float_range=(0.1, 1000.0)),
    ParameterSpec('min_depth', 0.1, 'Smallest depth published (m)', float_range=(0.0, 100.0)),
    ParameterSpec('image_transport', 'raw', 'Subscribe to image (raw) or image/compressed',
                  choices=('raw', 'compressed'), read_only=True),
    ParameterSpec('qos', 'sensor_data', 'QoS of the subscriptions and publishers',
                  choices=QOS_CHOICES, read_only=True),
    ParameterSpec('publish_points', True, 'Publish the point cloud on points'),
    ParameterSpec('points_stride', 2, 'Take every Nth pixel in each direction for points',
                  integer_range=(1, 16)),
    ParameterSpec('points_color', True, 'Add the image colour (rgb field) to points'),
    ParameterSpec('publish_colored', True, 'Publish the colorized depth on depth/colored'),
    ParameterSpec('colormap', 'turbo', 'OpenCV colormap for depth/colored',
                  choices=('turbo', 'jet', 'viridis', 'inferno', 'magma', 'plasma', 'gray')),
    ParameterSpec('scale_source', 'none',
                  'Metric scale for a relative model: none, fixed (fixed_scale, fixed_shift) '
                  'or triangulation (triangulation/points)', choices=SCALE_SOURCES),
    ParameterSpec('fixed_scale', 1.0, '1/depth = fixed_scale * relative + fixed_shift',
                  float_range=(-1e6, 1e6)),
    ParameterSpec('fixed_shift', 0.0, '1/depth = fixed_scale * relative + fixed_shift',
                  float_range=(-1e6, 1e6)),
    ParameterSpec('engine_cache_dir', '',
                  'TensorRT engine cache (default ~/.cache/mono_depth_ros/engines)'),
    ParameterSpec('force_engine_rebuild', False, 'Rebuild the TensorRT engine even if cached'),
    ParameterSpec('allow_download', False, 'Let a Hugging Face id be downloaded if not cached'),
    ParameterSpec('max_pixels', 3840 * 2160, 'Refuse images with more pixels than this',
                  integer_range=(1, 100_000_000)),
    ParameterSpec('threads', 0, 'CPU threads for inference (0: the backend chooses)',
                  integer_range=(0, 256)),
    ParameterSpec('edge_filter', True, 'NaN at flying pixels (depth smeared across edges)'),
    ParameterSpec('output_device', 'cpu',
                  'Device of edge filter, points, depth/colored',
                  choices=('cpu', 'cuda'), read_only=True),
    ParameterSpec('voxel_size', 0.05, 'Voxel of points/filtered (m; 0: none)',
                  float_range=(0.0, 10.0)),
    ParameterSpec('max_range', 5.0, 'Farthest point of points/filtered (m)',
                  float_range=(0.1, 1000.0)),
    ParameterSpec('max_sigma', 0.5, 'Largest known depth sigma in points/filtered (m)',
                  float_range=(0.0, 1000.0)),
    ParameterSpec('validate_engine', True,
                  'Check new TensorRT engines against ONNX Runtime before use'),
    ParameterSpec('model_card', '', 'Model card YAML for a model file without one'),
    CAMERA_TO_BASE,
)
# Changing one of these loads the model again; the others apply from the next frame.
DEPTH_RELOAD_PARAMETERS = frozenset({
    'model', 'backend', 'device', 'precision', 'depth_type', 'max_depth', 'engine_cache_dir',
    'force_engine_rebuild', 'allow_download', 'input_size', 'threads', 'validate_engine',
    'model_card'})

TRIANGULATION_PIPELINE_PARAMETERS = (
    CAMERA_TO_BASE,
    ParameterSpec('max_features', 600, 'Most feature tracks kept at once',
                  integer_range=(10, 5000)),
    ParameterSpec('min_parallax_deg', 1.0, 'Least ray angle before a track is triangulated',
                  float_range=(0.05, 45.0)),
    ParameterSpec('max_reprojection_error_px', 1.5, 'Largest reprojection error of a point',
                  float_range=(0.1, 50.0)),
    ParameterSpec('min_depth', 0.2, 'Smallest published depth (m)', float_range=(0.01, 100.0)),
    ParameterSpec('max_depth', 30.0, 'Largest published depth (m)', float_range=(0.1, 1000.0)),
    ParameterSpec('odom_max_gap', 0.2, 'Longest odometry gap pose interpolation bridges (s)',
                  float_range=(0.001, 10.0)),
    ParameterSpec('camera_time_offset', 0.0,
                  'Image stamp minus the instant the image shows (s; positive when the camera '
                  'stamps late)', float_range=(-0.5, 0.5)),
    ParameterSpec('estimate_time_offset', True,
                  'Estimate the time offset online, starting from camera_time_offset'),
)
TRIANGULATION_PARAMETERS = TRIANGULATION_PIPELINE_PARAMETERS + (
    ParameterSpec('image_transport', 'raw', 'Subscribe to image (raw) or image/compressed',
                  choices=('raw', 'compressed'), read_only=True),
    ParameterSpec('qos', 'sensor_data', 'QoS of the image subscriptions and the publishers',
                  choices=QOS_CHOICES, read_only=True),
    ParameterSpec('max_pixels', 3840 * 2160, 'Refuse images with more pixels than this',
                  integer_range=(1, 100_000_000)),
    ParameterSpec('dense_depth', False,
                  'Dense depth of keyframes on triangulation/dense/*',
                  read_only=True),
)


def depth_parameter(name: str) -> ParameterSpec:
    """Return depth_node's parameter ``name``, for tools whose options repeat it."""
    return next(spec for spec in DEPTH_PARAMETERS if spec.name == name)


def triangulation_parameter(name: str) -> ParameterSpec:
    """Return triangulation_node's parameter ``name``, for tools whose options repeat it."""
    return next(spec for spec in TRIANGULATION_PARAMETERS if spec.name == name)
