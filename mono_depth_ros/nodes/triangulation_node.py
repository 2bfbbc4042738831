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

"""triangulation_node: camera + odometry in, sparse metric depth, points and a track view out."""

import collections
import dataclasses
import threading
import time

import cv2
from nav_msgs.msg import Odometry
import numpy as np
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image, PointCloud2

from mono_depth_ros.core.camera_model import CameraModel
from mono_depth_ros.core.dense_stereo import DenseStereoParams
from mono_depth_ros.core.errors import BadMessageError
from mono_depth_ros.core.image_codec import numpy_to_image
from mono_depth_ros.core.transforms import xyz_quaternion_from_pose
from mono_depth_ros.core.triangulation.dense import (DenseMapper, pipeline_pose_lookup,
                                                     reproject, WAITING_FOR_KEYFRAMES)
from mono_depth_ros.core.triangulation.keyframes import ROTATING, STANDING
from mono_depth_ros.core.triangulation.pipeline import TriangulationParams, TriangulationPipeline
from mono_depth_ros.nodes.runner import run_node
from mono_depth_ros.nodes.start_summary import summary_lines, triangulation_output_plan
from mono_depth_ros.parameter_tables import (
    TRIANGULATION_PARAMETERS as PARAMETERS,
    TRIANGULATION_PIPELINE_PARAMETERS as PIPELINE_PARAMETERS)
from mono_depth_ros.pipeline.dense_worker import DenseWorker
from mono_depth_ros.pipeline.outputs import (dense_fields, DENSE_REPROJECTED_TOPIC,
                                             triangulation_fields)
from mono_depth_ros.ros.camera_input import CameraFrame
from mono_depth_ros.ros.camera_tf import CameraTransformLookup, tf2_available
from mono_depth_ros.ros.diagnostics import OK
from mono_depth_ros.ros.frame_loop import FrameLoop, OutputPublishers
from mono_depth_ros.ros.messages import stamp_to_ns
from mono_depth_ros.ros.parameters import declare_parameters, parameter_validator
from mono_depth_ros.ros.qos import qos_from_name
from mono_depth_ros.topic_tables import TRIANGULATION_NODE_TOPICS

# The published topics (relative to the node's namespace) and their message types.
OUTPUT_TYPES = {'triangulation/depth': Image, 'triangulation/sigma': Image,
                'triangulation/points': PointCloud2, 'triangulation/tracks': Image}
# With dense_depth (the plane sweep over the keyframes, in a thread of its own).
DENSE_OUTPUT_TYPES = {'triangulation/dense/depth': Image, 'triangulation/dense/sigma': Image,
                      'triangulation/dense/points': PointCloud2, DENSE_REPROJECTED_TOPIC: Image}
# Odometry usually comes reliable; a best-effort subscription matches either kind of publisher.
ODOMETRY_QOS = QoSProfile(depth=200, reliability=ReliabilityPolicy.BEST_EFFORT)


def pipeline_params(values: dict, camera_to_base: tuple | None = None) -> TriangulationParams:
    """Return the core settings for the node's parameter values.

    ``camera_to_base`` (x y z qx qy qz qw, from TF) replaces the parameter of that name.
    """
    names = {spec.name for spec in PIPELINE_PARAMETERS}
    settings = {name: value for name, value in values.items() if name in names}
    settings['camera_to_base'] = tuple(
        float(v) for v in (camera_to_base or settings['camera_to_base']))
    return dataclasses.replace(TriangulationParams(), **settings)


class TriangulationNode(Node):
    """Wires the triangulation pipeline to the camera, odometry, outputs and diagnostics."""

    NODE_NAME = 'triangulation_node'
    PARAMETERS = PARAMETERS
    TOPICS = TRIANGULATION_NODE_TOPICS
    MANAGED = False  # a managed (lifecycle) node opens on configure instead of at construction

    def __init__(self, **node_options) -> None:
        super().__init__(self.NODE_NAME, **node_options)
        self._values = declare_parameters(self, PARAMETERS)
        self._lock = threading.Lock()
        self._camera_to_base_from_tf: tuple | None = None
        self._pipeline = TriangulationPipeline(pipeline_params(self._values))
        self._odometry_resets_seen = 0
        self._odometry_resets = 0
        self._odometry = None
        self._output_publishers: OutputPublishers | None = None
        self._loop: FrameLoop | None = None
        self._transforms: CameraTransformLookup | None = None
        self._dense: DenseMapper | None = None
        self._dense_worker: DenseWorker | None = None
        self.add_on_set_parameters_callback(parameter_validator(PARAMETERS, self._apply_changes))
        if not self.MANAGED:
            self._open()

    # Set-up and tear-down (construction and destruction, or a managed node's transitions) --
    def _open(self) -> None:
        """Create the endpoints and the frame loop."""
        qos = qos_from_name(self._values['qos'])
        dense = bool(self._values['dense_depth'])
        self._output_publishers = OutputPublishers(
            self, {**OUTPUT_TYPES, **(DENSE_OUTPUT_TYPES if dense else {})}, qos)
        if dense:
            self._open_dense()
        # Odometry waits in an inbox (bounded) for the worker; its callback never blocks.
        self._odometry_inbox: collections.deque = collections.deque(maxlen=10_000)
        self._newest_odometry_ns: int | None = None
        self._odometry_child_frame = ''
        self._odometry = self.create_subscription(
            Odometry, 'odom', self._on_odometry, ODOMETRY_QOS,
            callback_group=MutuallyExclusiveCallbackGroup())
        self._last_stats: dict = {}
        self._loop = FrameLoop(self, self._triangulate, purpose='triangulation',
                               worker_name='triangulation',
                               transport=self._values['image_transport'], qos=qos,
                               max_pixels=lambda: self._values['max_pixels'],
                               problem_kinds=('bad_odometry', 'no_pose', 'resets'))
        self._loop.paused = self.MANAGED  # until activated
        self._loop.publish_diagnostics(self, f'{self.get_name()}: triangulation',
                                       'monocular triangulation', self._report)
        self.get_logger().info(
            f'triangulating {self._loop.camera.image_subscription.topic_name} with poses from '
            f'{self._odometry.topic_name}; camera_to_base {list(self._values["camera_to_base"])}')
        self._transforms = CameraTransformLookup(self) if tf2_available() else None
        self.get_logger().info(
            'camera pose: camera_to_base from parameters' + (
                '; TF replaces it once it has the image frame in the odometry child frame'
                if self._transforms else ' (tf2_ros is not available)'))
        names = {**self._loop.resolved_names(), **self._output_publishers.resolved_names(),
                 'odom': self._odometry.topic_name}
        for line in summary_lines(triangulation_output_plan(self._values),
                                  lambda topic: names.get(topic, topic)):
            self.get_logger().info(line)

    def _open_dense(self) -> None:
        """Create the keyframe window and the dense step's thread."""
        params = self._pipeline.params
        self._dense = DenseMapper(
            stereo_params=DenseStereoParams(odom_scale_sigma=params.odom_scale_sigma),
            depth_range=(params.min_depth, params.max_depth))
        self._dense_latest = None  # the newest keyframe's DenseKeyframeDepth with a depth
        self._dense_status = 'waiting for keyframes'
        self._dense_figures: dict = {}
        self._dense_worker = DenseWorker(
            self._dense_compute, self._dense_publish, name='dense_depth',
            on_error=lambda error: self.get_logger().error(f'dense depth failed: {error}'))
        self.get_logger().info(
            'dense depth: plane sweep over keyframes at '
            f'{self._dense.keyframe_params.stereo_width} px wide, on triangulation/dense/*')

    def _close(self, keep_endpoints: bool = False) -> None:
        """Stop the worker, remove the endpoints and drop the tracks.

        ``keep_endpoints`` when the node goes anyway (its destruction removes them).
        """
        if self._loop is not None:
            self._loop.stop()
        if self._dense_worker is not None:
            self._dense_worker.stop()
            self._dense_worker = self._dense = None
        if not keep_endpoints:
            for endpoints in (self._loop, self._output_publishers):
                if endpoints is not None:
                    endpoints.destroy(self)
            if self._odometry is not None:
                self.destroy_subscription(self._odometry)
            if self._transforms is not None:
                self._transforms.close()
            with self._lock:  # the tracks and poses go; TF is asked again after configure
                self._camera_to_base_from_tf = None
                self._replace_pipeline(TriangulationPipeline(pipeline_params(self._values)))
        self._loop = self._output_publishers = self._odometry = self._transforms = None

    def _apply_changes(self, changes: dict) -> str | None:
        values = {**self._values, **changes}
        if values['min_depth'] >= values['max_depth']:
            return (f"min_depth = {values['min_depth']} must be below "
                    f"max_depth = {values['max_depth']}")
        try:
            params = pipeline_params(values, self._camera_to_base_from_tf)
            rebuilt = TriangulationPipeline(params)
        except (BadMessageError, ValueError) as error:
            return str(error)
        if any(values[spec.name] != self._values[spec.name] for spec in PIPELINE_PARAMETERS):
            with self._lock:
                self._replace_pipeline(rebuilt)
            self.get_logger().info('triangulation settings changed: tracks start over')
        self._values = values
        return None

    def _on_odometry(self, message: Odometry) -> None:
        """Queue the pose; the worker adds it, so this callback never waits for a frame."""
        pose = message.pose.pose
        stamp_ns = stamp_to_ns(message.header.stamp)
        self._odometry_inbox.append((
            stamp_ns, (pose.position.x, pose.position.y, pose.position.z),
            (pose.orientation.x, pose.orientation.y, pose.orientation.z, pose.orientation.w)))
        self._newest_odometry_ns = stamp_ns
        self._odometry_child_frame = message.child_frame_id

    def _add_queued_odometry(self) -> None:
        while self._odometry_inbox:
            stamp_ns, position, orientation = self._odometry_inbox.popleft()
            try:
                self._pipeline.add_odometry(stamp_ns, position, orientation)
            except BadMessageError as error:
                self._loop.health.warn('bad_odometry', f'ignoring odometry: {error}',
                                       f'odometry {error.field}')

    def _note_odometry_resets(self) -> bool:
        """Warn (throttled) when the odometry buffer started over; return whether it did."""
        resets = self._pipeline.poses.resets
        if resets <= self._odometry_resets_seen:
            return False
        self._odometry_resets += resets - self._odometry_resets_seen
        self._odometry_resets_seen = resets
        self._loop.health.warn(
            'resets', f'odometry reset ({self._pipeline.poses.last_reset_reason}): '
            'tracks start over', 'odometry reset')
        return True

    def _replace_pipeline(self, pipeline: TriangulationPipeline) -> None:
        """Use a new pipeline (the caller holds the lock)."""
        self._pipeline = pipeline
        self._odometry_resets_seen = 0
        if self._dense is not None:
            self._dense.reset()
            self._dense_latest = None

    def _camera_pose_from_tf(self, camera_frame: str) -> None:
        """Once TF knows the camera frame in the odometry child frame, triangulate with it."""
        if self._transforms is None or self._camera_to_base_from_tf is not None:
            return
        base_frame = self._odometry_child_frame
        pose = self._transforms.camera_to_base(base_frame, camera_frame)
        if pose is None:
            return
        values = xyz_quaternion_from_pose(pose)
        pipeline = TriangulationPipeline(pipeline_params(self._values, values))
        with self._lock:
            self._camera_to_base_from_tf = values
            self._replace_pipeline(pipeline)
        self.get_logger().info(
            f'camera pose: TF {camera_frame} in {base_frame} '
            f'{[round(v, 6) for v in values]} replaces camera_to_base; tracks start over')

    def _wait_for_odometry(self, stamp_ns: int) -> None:
        """Give odometry up to odom_max_gap to catch up with the image stamp."""
        deadline = time.monotonic() + self._values['odom_max_gap']
        while time.monotonic() < deadline:
            newest = self._newest_odometry_ns
            if newest is None or newest >= stamp_ns:
                return
            time.sleep(0.002)

    def _triangulate(self, frame: CameraFrame, rgb: np.ndarray, camera: CameraModel) -> bool:
        """Triangulate and publish one frame (worker thread); False when it had no pose."""
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        self._wait_for_odometry(frame.stamp_ns)
        self._camera_pose_from_tf(frame.header.frame_id)
        with self._lock:
            self._add_queued_odometry()
            odometry_reset = self._note_odometry_resets()
            result = self._pipeline.process_frame(frame.stamp_ns, gray, camera)
        self._last_stats = result.stats
        if result.status.startswith('reset'):
            if not odometry_reset:  # else said above, with the odometry's reason
                self._loop.health.warn('resets', f'{result.status}: tracks start over',
                                       'image reset')
        elif not result.ok:
            self._loop.health.warn('no_pose',
                                   f'no pose for image {frame.stamp_ns}: {result.status}')
            return False
        wanted = self._output_publishers.wanted()
        self._output_publishers.publish(triangulation_fields(result, rgb, wanted), frame.header)
        if self._dense is not None:
            self._dense_step(frame, gray, camera, result, wanted)
        return True

    # The dense step ---------------------------------------------------------------------
    def _dense_step(self, frame: CameraFrame, gray: np.ndarray, camera: CameraModel, result,
                    wanted: set[str]) -> None:
        """Offer the frame to the keyframes; hand a new keyframe to the dense thread.

        Each frame with a pose also gets the latest dense depth seen from its pose.
        """
        with self._lock:
            decision = self._dense.offer(result, gray, camera,
                                         pipeline_pose_lookup(self._pipeline))
            window = self._dense.window.keyframes
        if decision.taken:
            if len(window) >= self._dense.keyframe_params.keyframes_needed:
                self._dense_worker.submit((window, frame.header))
            else:
                self._dense_status = WAITING_FOR_KEYFRAMES
        elif decision.reason in (STANDING, ROTATING):
            self._dense_status = f'no new dense depth: {decision.reason}'
        latest = self._dense_latest
        if latest is not None and result.world_to_camera is not None \
                and DENSE_REPROJECTED_TOPIC in wanted:
            depth, _ = reproject(latest, result.world_to_camera, camera)
            self._output_publishers.publish(
                {DENSE_REPROJECTED_TOPIC: numpy_to_image(depth, '32FC1')}, frame.header)

    def _dense_compute(self, job):
        """Run the plane sweep for the newest keyframe of a window snapshot (dense thread)."""
        keyframes, _ = job
        started = time.thread_time()
        dense = self._dense.compute(keyframes) if self._dense is not None else None
        if dense is not None:
            dense.dense.stats['thread_cpu_ms'] = (time.thread_time() - started) * 1e3
        return dense

    def _dense_publish(self, job, dense) -> None:
        """Publish a keyframe's dense depth with the keyframe image's header (dense thread)."""
        _, header = job
        if dense is None or self._output_publishers is None:
            return
        stats = dense.dense.stats
        if not dense.ok:
            self._dense_status = f'no dense depth: {dense.status}'
            return
        self._dense_latest = dense
        self._dense_status = 'ok'
        self._dense_figures = {
            'dense_ms': stats.get('cpu_total_ms', 0.0),
            'dense_cpu_ms': stats.get('thread_cpu_ms', 0.0),
            'dense_valid_fraction': dense.dense.valid_fraction,
            'dense_planes': stats.get('planes', 0), 'dense_views': stats.get('views', 0)}
        wanted = self._output_publishers.wanted()
        self._output_publishers.publish(dense_fields(dense, wanted), header)

    def _report(self):
        if self._loop is None:  # cleaned up under a last timer call
            return OK, 'not configured', {}
        stats = self._last_stats
        pipeline = self._pipeline
        offset = pipeline.time_offset
        values = {
            **self._loop.flow_values(),
            'tracks': stats.get('tracks', 0), 'points': stats.get('published', 0),
            'frame_ms': stats.get('total_ms', 0.0),
            'time_offset_ms': 1000.0 * offset.offset_s,
            'time_offset_sigma_ms': 1000.0 * offset.sigma_s,
            'time_offset_estimated': bool(offset.estimated),
            'degenerate_tracks': pipeline.degenerate_total,
            'odometry_resets': self._odometry_resets,
        }
        if self._dense is not None:
            worker = self._dense_worker
            values.update({'dense_status': self._dense_status,
                           'dense_keyframes': worker.done if worker else 0,
                           'dense_skipped': worker.skipped if worker else 0,
                           **self._dense_figures})
        level, message = self._loop.status('triangulating')
        return level, message, values

    def destroy_node(self) -> None:
        """Stop the worker before the node goes (also after a failed start)."""
        if hasattr(self, '_lock'):
            self._close(keep_endpoints=True)
        super().destroy_node()


def main(args: list[str] | None = None) -> int:
    """Run triangulation_node until Ctrl-C or shutdown."""
    return run_node(TriangulationNode, args)


if __name__ == '__main__':
    raise SystemExit(main())
