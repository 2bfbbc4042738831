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

"""depth_node: a camera stream in, Depth Anything depth images, colorized depth and clouds out."""

import threading
import time

from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, Image, PointCloud2

from mono_depth_ros.core.camera_model import CameraModelCache
from mono_depth_ros.core.colorize import colorize_depth, RangeTracker
from mono_depth_ros.core.image_codec import numpy_to_image
from mono_depth_ros.inference.base import BackendUnavailableError, ModelLoadError
from mono_depth_ros.inference.selection import load_backend
from mono_depth_ros.nodes.runner import run_node
from mono_depth_ros.parameter_tables import (DEPTH_PARAMETERS as PARAMETERS,
                                             DEPTH_RELOAD_PARAMETERS as RELOAD_PARAMETERS)
from mono_depth_ros.pipeline.depth_pipeline import DepthPipeline, DepthSettings
from mono_depth_ros.ros.camera_input import CameraFrame, CameraInput
from mono_depth_ros.ros.diagnostics import (
    DiagnosticsPublisher, frame_flow_values, LatencyStats, RateMeter)
from mono_depth_ros.ros.input_health import InputHealth
from mono_depth_ros.ros.latest_frame import LatestFrameWorker
from mono_depth_ros.ros.log_bridge import logger_for_node
from mono_depth_ros.ros.messages import (camera_info_message, image_message,
                                         point_cloud_message)
from mono_depth_ros.ros.parameters import declare_parameters, parameter_validator
from mono_depth_ros.ros.qos import qos_from_name
from mono_depth_ros.ros.scale_from_points import TriangulationScale

THROTTLE_S = 5.0


class DepthNode(Node):
    """Wires the depth pipeline to topics, parameters, a worker thread and diagnostics."""

    NODE_NAME = 'depth_node'

    def __init__(self, **node_options) -> None:
        super().__init__(self.NODE_NAME, **node_options)
        self._values = declare_parameters(self, PARAMETERS)
        problem = self._range_problem(self._values)
        if problem:
            raise ValueError(f'parameter {problem}')
        self._lock = threading.Lock()
        self._retired: list[DepthPipeline] = []
        self._pipeline = self._load_pipeline(self._values)
        self.add_on_set_parameters_callback(parameter_validator(PARAMETERS, self._apply_changes))

        qos = qos_from_name(self._values['qos'])
        self._depth_publisher = self.create_publisher(Image, 'depth/image', qos)
        self._info_publisher = self.create_publisher(CameraInfo, 'depth/camera_info', qos)
        self._relative_publisher = self.create_publisher(Image, 'depth/relative', qos)
        self._colored_publisher = self.create_publisher(Image, 'depth/colored', qos)
        self._points_publisher = self.create_publisher(PointCloud2, 'points', qos)

        self._cameras = CameraModelCache()
        self._relative_range = RangeTracker()
        self._scale = TriangulationScale(self)
        self._rate_in, self._rate_out = RateMeter(), RateMeter()
        self._latency = LatencyStats()
        self._inference = LatencyStats()
        self._health = InputHealth(self.get_logger(), (), THROTTLE_S)
        self._worker = LatestFrameWorker(self._process, name='depth-inference',
                                         on_error=self._health.failed)
        self._worker.start()
        self._camera = CameraInput(self, self._on_frame, transport=self._values['image_transport'],
                                   qos=qos)
        self._diagnostics = DiagnosticsPublisher(
            self, f'{self.get_name()}: depth', self._pipeline.backend.describe(), self._report)
        self.get_logger().info(
            f'depth from {self._pipeline.model_info.describe()} on '
            f'{self._pipeline.backend.describe()}; listening on '
            f'{self._camera.image_subscription.topic_name}')

    # Model and parameters ---------------------------------------------------------------
    def _load_pipeline(self, values: dict) -> DepthPipeline:
        try:
            backend, info = load_backend(
                values['model'], backend=values['backend'], device=values['device'],
                precision=values['precision'], input_size=values['input_size'],
                depth_type=values['depth_type'], max_depth=values['max_depth'],
                allow_download=values['allow_download'],
                engine_cache_dir=values['engine_cache_dir'] or None,
                force_rebuild=values['force_engine_rebuild'], threads=values['threads'],
                logger=logger_for_node(self))
        except BackendUnavailableError as error:
            raise ModelLoadError(values['model'], str(error)) from None
        return DepthPipeline(backend, info, self._settings(values))

    @staticmethod
    def _settings(values: dict) -> DepthSettings:
        return DepthSettings(
            input_size=values['input_size'], min_depth=values['min_depth'],
            max_depth=values['max_depth'], scale_source=values['scale_source'],
            fixed_scale=values['fixed_scale'], fixed_shift=values['fixed_shift'],
            points_stride=values['points_stride'], points_color=values['points_color'])

    @staticmethod
    def _range_problem(values: dict) -> str | None:
        if values['min_depth'] >= values['max_depth']:
            return (f"min_depth = {values['min_depth']} (expected below "
                    f"max_depth = {values['max_depth']})")
        return None

    def _apply_changes(self, changes: dict) -> str | None:
        """Validate and apply a parameter change; return why it was refused, or None."""
        values = {**self._values, **changes}
        problem = self._range_problem(values)
        if problem:
            return problem
        reload = [name for name in RELOAD_PARAMETERS & changes.keys()
                  if changes[name] != self._values[name]]
        if reload:
            try:
                pipeline = self._load_pipeline(values)
            except (ModelLoadError, RuntimeError, ValueError) as error:
                return str(error)
            with self._lock:
                # The frame in flight may still use the old model: the worker closes it later.
                self._retired.append(self._pipeline)
                self._pipeline = pipeline
            self.get_logger().info(f'reloaded: {pipeline.model_info.describe()} on '
                                   f'{pipeline.backend.describe()}')
        else:
            with self._lock:
                self._pipeline.settings = self._settings(values)
        self._values = values
        return None

    # Frames -------------------------------------------------------------------------------
    def _on_frame(self, frame: CameraFrame) -> None:
        self._rate_in.tick()
        self._worker.put(frame)

    def _process(self, frame: CameraFrame) -> None:
        usable = self._health.usable_frame(
            frame, self._cameras, self._values['max_pixels'],
            self._camera.camera_info_subscription.topic_name, 'depth')
        if usable is None:
            return
        rgb, camera = usable
        with self._lock:
            pipeline, retired, self._retired = self._pipeline, self._retired, []
        for old in retired:
            old.backend.close()
        result = pipeline.estimate(rgb)
        if pipeline.settings.scale_source == 'triangulation' and not pipeline.is_metric_model:
            pipeline.apply_scale(result, self._scale.update(frame.stamp_ns, result.prediction,
                                                            camera))
        self._inference.add(result.timings_ms['inference'] / 1e3)
        self._publish(frame, result, pipeline, camera, rgb)
        self._rate_out.tick()
        self._latency.add(time.monotonic() - frame.received_monotonic)

    def _publish(self, frame, result, pipeline, camera, rgb) -> None:
        header = frame.header
        values = self._values
        if result.relative is not None and self._relative_publisher.get_subscription_count():
            self._relative_publisher.publish(
                image_message(numpy_to_image(result.relative, '32FC1'), header))
        if result.depth is not None:
            if self._depth_publisher.get_subscription_count():
                self._depth_publisher.publish(
                    image_message(numpy_to_image(result.depth, '32FC1'), header))
            if self._info_publisher.get_subscription_count():
                self._info_publisher.publish(
                    camera_info_message(camera.to_camera_info_fields(), header))
            if values['publish_points'] and self._points_publisher.get_subscription_count():
                bgr = rgb[:, :, ::-1] if values['points_color'] else None
                self._points_publisher.publish(point_cloud_message(
                    pipeline.point_cloud(result.depth, camera, bgr), header))
        if values['publish_colored'] and self._colored_publisher.get_subscription_count():
            if result.depth is not None:
                colored = colorize_depth(result.depth, values['min_depth'], values['max_depth'],
                                         values['colormap'])
            else:
                low, high = self._relative_range.update(result.prediction) or (0.0, 1.0)
                colored = colorize_depth(result.prediction, low, high, values['colormap'],
                                         inverse=True)
            self._colored_publisher.publish(image_message(numpy_to_image(colored, 'bgr8'), header))

    # Diagnostics --------------------------------------------------------------------------
    def _report(self):
        with self._lock:
            pipeline = self._pipeline
        values = {
            'backend': pipeline.backend.describe(),
            'model': pipeline.model_info.describe(),
            **frame_flow_values(self._rate_in, self._rate_out, self._worker, self._latency,
                                self._health.counts),
            'inference_mean_ms': self._inference.summary_ms()['mean'],
            **self._scale.diagnostics(),
        }
        level, message = self._health.status(self._rate_out.rate() > 0.0, 'publishing depth')
        return level, message, values

    def destroy_node(self) -> None:
        """Stop the worker and release the model (also after a failed start)."""
        worker = getattr(self, '_worker', None)
        if worker is not None:
            worker.stop()
        pipeline = getattr(self, '_pipeline', None)
        for old in [pipeline, *getattr(self, '_retired', [])]:
            if old is not None:
                old.backend.close()
        super().destroy_node()


def main(args: list[str] | None = None) -> int:
    """Run depth_node until Ctrl-C or shutdown."""
    return run_node(DepthNode, args)


if __name__ == '__main__':
    raise SystemExit(main())
