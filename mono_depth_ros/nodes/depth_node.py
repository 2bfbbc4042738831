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

import numpy as np
from rclpy.node import Node
from rclpy.parameter import Parameter
from sensor_msgs.msg import CameraInfo, Image, PointCloud2

from mono_depth_ros.core.camera_model import CameraModel
from mono_depth_ros.core.errors import BadMessageError
from mono_depth_ros.core.prompt_depth import rasterise_prompt
from mono_depth_ros.inference.base import BackendUnavailableError, ModelLoadError
from mono_depth_ros.inference.model_files import model_format
from mono_depth_ros.inference.selection import load_backend, select_backend
from mono_depth_ros.nodes.runner import run_node
from mono_depth_ros.nodes.start_summary import depth_output_plan, license_lines, summary_lines
from mono_depth_ros.parameter_tables import (DEPTH_PARAMETERS as PARAMETERS,
                                             DEPTH_RELOAD_PARAMETERS as RELOAD_PARAMETERS)
from mono_depth_ros.pipeline.depth_pipeline import DepthPipeline, DepthSettings
from mono_depth_ros.pipeline.outputs import DepthOutputs, DepthOutputSettings
from mono_depth_ros.ros.camera_input import CameraFrame
from mono_depth_ros.ros.diagnostics import LatencyStats, OK, WARN
from mono_depth_ros.ros.frame_loop import FrameLoop, OutputPublishers, OutputStage
from mono_depth_ros.ros.latest_frame import LatestFrameWorker
from mono_depth_ros.ros.log_bridge import logger_for_node
from mono_depth_ros.ros.odometry_flicker import OdometryFlicker
from mono_depth_ros.ros.parameters import declare_parameters, watch_parameters
from mono_depth_ros.ros.qos import qos_from_name
from mono_depth_ros.ros.scale_from_points import TriangulationScale
from mono_depth_ros.topic_tables import DEPTH_NODE_TOPICS

# The published topics (relative to the node's namespace) and their message types.
OUTPUT_TYPES = {'depth/image': Image, 'depth/camera_info': CameraInfo, 'depth/relative': Image,
                'depth/colored': Image, 'points': PointCloud2, 'points/filtered': PointCloud2,
                'depth/sigma': Image}


def cpu_fallback(values: dict) -> str | None:
    """Return why ``device: auto`` can only run on the CPU (no GPU backend here), or None.

    The node then loads on the CPU in fp32 (what ``auto`` would pick), so the expected
    fallback is one short line rather than warnings about TensorRT and precision.
    """
    if values['device'] != 'auto' or values['backend'] == 'tensorrt':
        return None
    kind = model_format(values['model'])
    if kind == 'engine':
        return None
    try:
        select_backend(values['backend'], 'cuda', model_is_onnx=kind == 'onnx')
    except BackendUnavailableError as error:
        return str(error)
    return None


class DepthNode(Node):
    """Wires the depth pipeline to topics, parameters, a worker thread and diagnostics.

    A parameter change that needs a new model is checked at once (ranges, and that the model
    resolves) and loaded on a loader thread; the next frame waits for it, and a failed load
    leaves the running model in place.
    """

    NODE_NAME = 'depth_node'
    PARAMETERS = PARAMETERS
    TOPICS = DEPTH_NODE_TOPICS
    MANAGED = False  # a managed (lifecycle) node opens on configure instead of at construction

    def __init__(self, **node_options) -> None:
        super().__init__(self.NODE_NAME, **node_options)
        self._values = declare_parameters(self, PARAMETERS)
        problem = self._range_problem(self._values)
        if problem:
            raise ValueError(f'parameter {problem}')
        self._lock = threading.Lock()
        self._retired: list[DepthPipeline] = []
        self._closing = False
        self._pipeline: DepthPipeline | None = None
        self._loader: LatestFrameWorker | None = None
        self._loop: FrameLoop | None = None
        self._output_publishers: OutputPublishers | None = None
        self._scale: TriangulationScale | None = None
        self._odometry_flicker: OdometryFlicker | None = None
        self._not_applied = ''
        self._reload_failures = 0
        watch_parameters(self, PARAMETERS, self._check_changes, self._apply_changes)
        if not self.MANAGED:
            self._open()

    # Set-up and tear-down (construction and destruction, or a managed node's transitions) --
    def _open(self) -> None:
        """Load the model and create the loader, the endpoints and the frame loop."""
        self._closing = False
        self._pipeline = self._load_pipeline(self._values, announce=True)
        self._prompt_frames_skipped = 0
        self._announced_no_prompt = False
        # The parameter values the running model was loaded with, and why newer ones are not.
        self._loaded = self._values
        self._not_applied = ''
        # Model loads run one at a time on a thread of their own; the newest request wins.
        self._loader = LatestFrameWorker(self._reload, name='depth-model-loader')
        self._loader.start()

        qos = qos_from_name(self._values['qos'])
        self._output_publishers = OutputPublishers(self, OUTPUT_TYPES, qos)
        self._outputs = DepthOutputs(payloads=self._output_publishers.payload,
                                     device_stage=self._output_stage(self._values))
        self._scale = TriangulationScale(self)
        # Optional: with odometry, the flicker figure warps consecutive metric frames.
        self._odometry_flicker = OdometryFlicker(self, qos, self._values['camera_to_base'])
        self._inference = LatencyStats()
        self._loop = FrameLoop(self, self._estimate, purpose='depth',
                               worker_name='depth-inference',
                               transport=self._values['image_transport'], qos=qos,
                               max_pixels=lambda: self._values['max_pixels'])
        self._loop.paused = self.MANAGED  # until activated
        self._loop.publish_diagnostics(self, f'{self.get_name()}: depth',
                                       self._pipeline.backend.describe(), self._report)
        self.get_logger().info(f'depth from {self._pipeline.model_info.describe()} on '
                               f'{self._pipeline.backend.describe()}')
        self._announce_license(self._pipeline)
        plan = depth_output_plan(self._values, self._pipeline.is_metric_model,
                                 self._pipeline.extra_inputs)
        names = {**self._loop.resolved_names(), **self._output_publishers.resolved_names(),
                 'triangulation/points': self._scale.topic_name,
                 'odom': self._odometry_flicker.topic_name}
        for line in summary_lines(plan, lambda topic: names.get(topic, topic)):
            self.get_logger().info(line)

    def _output_stage(self, values: dict):
        """Return the device stage of ``output_device`` (None: the CPU; also when unusable)."""
        if values['output_device'] == 'cpu':
            return None
        try:
            from mono_depth_ros.inference.device_outputs import DeviceOutputStage
            stage = DeviceOutputStage(values['output_device'])
        except (ImportError, RuntimeError) as error:
            self.get_logger().error(f"output_device {values['output_device']}: {error}; the "
                                    'outputs are made on the CPU')
            return None
        self.get_logger().info(f'edge filter, points and depth/colored on {stage.device}')
        return stage

    def _close(self, keep_endpoints: bool = False) -> None:
        """Stop the loader and the worker, release the models, remove the endpoints.

        Safe after a failed or partial :meth:`_open`; ``keep_endpoints`` when the node goes
        anyway (its destruction removes them).
        """
        with self._lock:
            self._closing = True
        for thread in (self._loader, self._loop):
            if thread is not None:
                thread.stop()
        with self._lock:
            pipelines, self._retired = [self._pipeline, *self._retired], []
            self._pipeline = None
        for old in pipelines:
            if old is not None:
                old.backend.close()
        if not keep_endpoints:
            for endpoints in (self._loop, self._output_publishers):
                if endpoints is not None:
                    endpoints.destroy(self)
            for link in (self._scale, self._odometry_flicker):
                if link is not None:
                    link.destroy()
        self._loader = self._loop = self._output_publishers = self._scale = None
        self._odometry_flicker = None

    # Model and parameters ---------------------------------------------------------------
    def _load_pipeline(self, values: dict, announce: bool = False) -> DepthPipeline:
        device, precision = values['device'], values['precision']
        no_gpu = cpu_fallback(values)
        if no_gpu:
            device, precision = 'cpu', 'fp32'
            if announce:
                self.get_logger().info('no GPU backend here: running on the CPU in fp32')
                self.get_logger().debug(f'why not a GPU: {no_gpu}')
        try:
            backend, info = load_backend(
                values['model'], backend=values['backend'], device=device,
                precision=precision, input_size=values['input_size'],
                depth_type=values['depth_type'], max_depth=values['max_depth'],
                allow_download=values['allow_download'],
                engine_cache_dir=values['engine_cache_dir'] or None,
                force_rebuild=values['force_engine_rebuild'], threads=values['threads'],
                logger=logger_for_node(self), background_build=True,
                validate_engine=values['validate_engine'], model_card=values['model_card'])
        except BackendUnavailableError as error:
            raise ModelLoadError(values['model'], str(error)) from None
        return DepthPipeline(backend, info, self._settings(values))

    def _announce_license(self, pipeline: DepthPipeline) -> None:
        """Log the model's licence once; warn once when it forbids commercial use."""
        card = pipeline.card
        line, warning = license_lines(pipeline.model_info.license,
                                      bool(card is not None and card.non_commercial))
        self.get_logger().info(line)
        if warning:
            self.get_logger().warning(warning)

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

    def _reload_names(self, changes: dict) -> list[str]:
        return [name for name in RELOAD_PARAMETERS & changes.keys()
                if changes[name] != self._values[name]]

    def _in_force(self, values: dict) -> dict:
        """Return ``values`` with the model parameters of the running model."""
        return {**values, **{name: self._loaded[name] for name in RELOAD_PARAMETERS}}

    def _check_changes(self, changes: dict) -> str | None:
        """Say why a parameter change is refused, or None; cheap, nothing is loaded here."""
        values = {**self._values, **changes}
        problem = self._range_problem(values)
        if problem:
            return problem
        if self._reload_names(changes):
            try:
                model_format(values['model'])  # the file exists and has a known type
            except ModelLoadError as error:
                return str(error)
        return None

    def _apply_changes(self, parameters: list[Parameter]) -> None:
        """Apply an accepted change: settings from the next frame, a new model on the loader."""
        changes = {p.name: p.value for p in parameters if p.name in self._values}
        reload = self._reload_names(changes)
        values = {**self._values, **changes}
        self._values = values
        if 'camera_to_base' in changes and self._odometry_flicker is not None:
            try:
                self._odometry_flicker.camera_to_base = values['camera_to_base']
            except BadMessageError as error:
                self.get_logger().warning(f'camera_to_base not applied to the flicker figure: '
                                          f'{error}')
        if self._loader is None:  # not configured: the values apply when the model loads
            return
        if reload:
            self._loader.put(values)
            return
        with self._lock:
            self._pipeline.settings = self._settings(self._in_force(values))

    def _reload(self, values: dict) -> None:
        """Load the model for ``values`` (loader thread); on failure keep the running one."""
        try:
            pipeline = self._load_pipeline(values)
        except Exception as error:  # any failure keeps the running model
            with self._lock:
                running = (self._pipeline.model_info.describe() if self._pipeline
                           else 'no model')
                self._reload_failures += 1
                self._not_applied = (f"model = {values['model']!r} did not load, still running "
                                     f'{running}: {error}')
            self.get_logger().error(f'reload failed: {self._not_applied}')
            return
        with self._lock:
            if self._closing:
                pipeline.backend.close()
                return
            # The frame in flight may still use the old model: the worker closes it later.
            self._retired.append(self._pipeline)
            self._pipeline = pipeline
            self._loaded = values
            self._not_applied = ''
            pipeline.settings = self._settings(self._in_force(self._values))
        self.get_logger().info(f'reloaded: {pipeline.model_info.describe()} on '
                               f'{pipeline.backend.describe()}')
        self._announce_license(pipeline)

    # Frames -------------------------------------------------------------------------------
    def _estimate(self, frame: CameraFrame, rgb: np.ndarray,
                  camera: CameraModel) -> 'bool | OutputStage':
        """Estimate one frame's depth (worker thread), after any model reload.

        Return the frame's output stage (its outputs made and published on the loop's output
        thread, while this thread takes on the next frame), or False for a skipped frame.
        """
        self._loader.wait_idle()
        with self._lock:
            if self._closing:
                return False
            pipeline, retired, self._retired = self._pipeline, self._retired, []
        for old in retired:
            old.backend.close()
        extras = self._extra_inputs(pipeline, rgb, camera)
        if extras is None:
            return False
        result = pipeline.estimate(rgb, fx=camera.fx, extras=extras)
        if pipeline.settings.scale_source == 'triangulation' and not pipeline.is_metric_model:
            pipeline.apply_scale(result, self._scale.update(frame.stamp_ns, result.prediction,
                                                            camera))
        self._inference.add(result.timings_ms['inference'] / 1e3)
        settings = DepthOutputSettings.from_values(self._in_force(self._values))
        publishers, outputs, stages = self._output_publishers, self._outputs, self._loop.stages
        flicker = self._odometry_flicker

        def output_stage() -> bool:
            timings = {**result.timings_ms, 'message_build': 0.0, 'publish': 0.0}

            def publish(topic: str, fields) -> None:
                # Each output goes out as soon as it is made, while the next one is computed.
                publishers.publish_one(topic, fields, frame.header, timings)

            outputs.fields(result, camera, rgb, settings, publishers.wanted(), timings,
                           ready=publish)
            if result.depth is not None and flicker.active:
                started = time.perf_counter()
                flicker.add(frame.stamp_ns, result.depth, camera)
                timings['flicker'] = 1e3 * (time.perf_counter() - started)
            stages.add(timings)
            return True
        return output_stage

    def _extra_inputs(self, pipeline: DepthPipeline, rgb: np.ndarray,
                      camera: CameraModel) -> dict | None:
        """Return the card's extra inputs for this frame ({} if none), None to skip it.

        ``prompt_depth`` is rasterised from the newest triangulation/points; until there are
        enough points the frame is skipped (nothing is fed, nothing published), said once.
        """
        if 'prompt_depth' not in pipeline.extra_inputs:
            return {}
        points = self._scale.latest_points()
        prompt = None if points is None else rasterise_prompt(points, camera, *rgb.shape[:2])
        if prompt is None:
            self._prompt_frames_skipped += 1
            if not self._announced_no_prompt:
                self.get_logger().info(
                    f'prompt_depth: not enough points on {self._scale.topic_name} yet; '
                    'frames are skipped (no prompt is fed) until triangulation_node gives some')
                self._announced_no_prompt = True
            return None
        if self._announced_no_prompt:
            self.get_logger().info(f'prompt_depth: fed from {self._scale.topic_name}')
            self._announced_no_prompt = False
        return {'prompt_depth': prompt}

    # Diagnostics --------------------------------------------------------------------------
    def _report(self):
        with self._lock:
            pipeline, not_applied = self._pipeline, self._not_applied
        if pipeline is None or self._loop is None:  # cleaned up under a last timer call
            return OK, 'not configured', {}
        # With odometry, 'flicker' is the pixels' (consecutive frames warped into each other).
        odometry_flicker = self._odometry_flicker.diagnostics()
        values = {
            'backend': pipeline.backend.describe(),
            'model': pipeline.model_info.describe(),
            **self._loop.flow_values(),
            'inference_mean_ms': self._inference.summary_ms()['mean'],
            **self._scale.diagnostics(),
            **odometry_flicker,
            'model_loading': self._loader.busy,
            'model_reload_failures': self._reload_failures,
            # TensorRT: engine build state and time, the switch from ONNX Runtime.
            **getattr(pipeline.backend, 'diagnostic_values', dict)(),
            'model_license': pipeline.model_info.license or 'unknown',
        }
        if 'flicker' in values:
            values['flicker_source'] = 'odometry' if odometry_flicker else 'scale'
        if pipeline.card is not None and pipeline.card.non_commercial:
            values['model_license_warning'] = 'non-commercial use only'
        if pipeline.extra_inputs:
            values['prompt_frames_skipped'] = self._prompt_frames_skipped
        if pipeline.frames_without_fx:
            values['frames_without_fx'] = pipeline.frames_without_fx
        level, message = self._loop.status('publishing depth')
        if not_applied:
            values['model_not_applied'] = not_applied
            if level == OK:
                level, message = WARN, not_applied
        return level, message, values

    def destroy_node(self) -> None:
        """Stop the loader and the worker and release the models (also after a failed start)."""
        if hasattr(self, '_lock'):
            self._close(keep_endpoints=True)
        super().destroy_node()


def main(args: list[str] | None = None) -> int:
    """Run depth_node until Ctrl-C or shutdown."""
    return run_node(DepthNode, args)


if __name__ == '__main__':
    raise SystemExit(main())
