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

"""The nodes' work without ROS: recorded frames and odometry in, the nodes' outputs per frame.

``OfflineProcessor`` runs the same core objects as depth_node and triangulation_node
(:class:`DepthPipeline`, :class:`TriangulationPipeline`, :class:`ScaleFusion`) and returns, for
each frame, what the nodes would publish on their relative topics (``depth/image``,
``triangulation/points`` ...) as plain fields. It differs from the nodes only where recorded
data allows better: every frame is processed (no latest-frame-wins drops), triangulated points
reach the scale fit of the same frame, and a frame waits for odometry up to ``odom_max_gap`` of
recording time instead of wall time.
"""

from collections import deque
from dataclasses import dataclass, field

import cv2
import numpy as np

from mono_depth_ros.core.camera_model import CameraModel, CameraModelCache
from mono_depth_ros.core.dense_stereo import DenseStereoParams
from mono_depth_ros.core.errors import BadMessageError
from mono_depth_ros.core.image_codec import decode_compressed, image_to_rgb8, numpy_to_image
from mono_depth_ros.core.triangulation.dense import DenseMapper, pipeline_pose_lookup, reproject
from mono_depth_ros.core.triangulation.pipeline import (TriangulationPipeline,
                                                        TriangulationResult)
from mono_depth_ros.pipeline.depth_pipeline import DepthPipeline
from mono_depth_ros.pipeline.outputs import (dense_fields, DENSE_REPROJECTED_TOPIC, DENSE_TOPICS,
                                             DEPTH_TOPICS, DepthOutputs, DepthOutputSettings,
                                             OutputFields, triangulation_fields,
                                             TRIANGULATION_TOPICS)
from mono_depth_ros.pipeline.scale_fusion import ScaleFusion

MODES = ('depth', 'triangulation', 'both')
# Output topics relative to the camera namespace, and their message types.
OUTPUT_TOPICS = {
    'depth/image': 'sensor_msgs/msg/Image',
    'depth/camera_info': 'sensor_msgs/msg/CameraInfo',
    'depth/relative': 'sensor_msgs/msg/Image',
    'depth/colored': 'sensor_msgs/msg/Image',
    'points': 'sensor_msgs/msg/PointCloud2',
    'points/filtered': 'sensor_msgs/msg/PointCloud2',
    'depth/sigma': 'sensor_msgs/msg/Image',
    'triangulation/depth': 'sensor_msgs/msg/Image',
    'triangulation/sigma': 'sensor_msgs/msg/Image',
    'triangulation/points': 'sensor_msgs/msg/PointCloud2',
    'triangulation/tracks': 'sensor_msgs/msg/Image',
    'triangulation/dense/depth': 'sensor_msgs/msg/Image',
    'triangulation/dense/sigma': 'sensor_msgs/msg/Image',
    'triangulation/dense/points': 'sensor_msgs/msg/PointCloud2',
    'triangulation/dense/reprojected': 'sensor_msgs/msg/Image',
}


def check_mode(mode: str) -> None:
    """Raise BadMessageError unless ``mode`` is one of MODES."""
    if mode not in MODES:
        raise BadMessageError('mode', mode, f'one of {", ".join(MODES)}')


@dataclass
class InputFrame:
    """One recorded image with the camera_info in force when it was recorded.

    ``image`` is a sensor_msgs Image or CompressedImage look-alike (``compressed`` says which),
    or an (H, W, 3) uint8 RGB array; ``camera_info`` a CameraInfo look-alike or a CameraModel.
    ``log_time_ns`` is the recording (receive) time, which orders outputs in the bag.
    """

    stamp_ns: int
    frame_id: str
    image: object
    camera_info: object | None
    log_time_ns: int
    compressed: bool = False

    def rgb(self) -> np.ndarray:
        """Decode the image to (H, W, 3) uint8 RGB; raises BadMessageError when it is malformed."""
        if isinstance(self.image, np.ndarray):
            return self.image
        if self.compressed:
            return decode_compressed(self.image, 'rgb8')
        return image_to_rgb8(self.image)


@dataclass
class FrameOutput:
    """What the nodes would publish for one frame, keyed by relative topic.

    Values are ImageFields (images), CloudFields (clouds) or a camera_info fields dict
    (``CameraModel.to_camera_info_fields``). ``status`` is 'ok' or why nothing was computed.
    """

    frame: InputFrame
    messages: dict[str, OutputFields] = field(default_factory=dict)
    status: str = 'ok'
    scale_shift: tuple[float, float] | None = None
    triangulated_points: int = 0


@dataclass
class OfflineSettings:
    """The output switches the nodes take as parameters, and the odometry wait."""

    mode: str = 'both'
    publish_points: bool = True
    publish_colored: bool = True
    colormap: str = 'turbo'
    odom_max_gap_s: float = 0.2
    dense_depth: bool = False

    def __post_init__(self) -> None:
        check_mode(self.mode)


@dataclass
class OfflineCounts:
    """What happened to the frames."""

    frames_in: int = 0
    frames_out: int = 0
    no_camera_info: int = 0
    bad_input: int = 0
    no_pose: int = 0
    resets: int = 0
    metric_depth: int = 0
    relative_only: int = 0
    last_problem: str = ''


class OfflineProcessor:
    """Runs the depth and/or triangulation pipelines over frames and odometry in recorded order.

    Feed messages in log-time order: ``add_odometry``, ``add_frame`` (returns the frames now
    done), ``advance`` with the log time of every other message, and ``finish`` at the end.
    A frame waits until odometry reaches its stamp, or ``odom_max_gap_s`` of log time passes,
    as the triangulation node waits; frames are always processed in order.
    """

    def __init__(self, settings: OfflineSettings, depth: DepthPipeline | None = None,
                 triangulation: TriangulationPipeline | None = None,
                 fusion: ScaleFusion | None = None) -> None:
        if settings.mode != 'triangulation' and depth is None:
            raise BadMessageError('mode', settings.mode, 'a depth pipeline (a model) for depth')
        if settings.mode != 'depth' and triangulation is None:
            raise BadMessageError('mode', settings.mode, 'a triangulation pipeline')
        self.settings = settings
        self.depth = depth if settings.mode != 'triangulation' else None
        self.triangulation = triangulation if settings.mode != 'depth' else None
        self.fusion = None
        if self.depth is not None and self.triangulation is not None \
                and not self.depth.is_metric_model:
            self.fusion = fusion or ScaleFusion()
        self.dense = None
        if settings.dense_depth and self.triangulation is not None:
            params = self.triangulation.params
            self.dense = DenseMapper(
                stereo_params=DenseStereoParams(odom_scale_sigma=params.odom_scale_sigma),
                depth_range=(params.min_depth, params.max_depth))
        self._dense_latest = None
        self.counts = OfflineCounts()
        self._cameras = CameraModelCache()
        self._depth_outputs = DepthOutputs()
        self._pending: deque[InputFrame] = deque()

    def close(self) -> None:
        """Release the model."""
        if self.depth is not None:
            self.depth.backend.close()

    # Input ----------------------------------------------------------------------------------
    def add_odometry(self, stamp_ns: int, position, orientation_xyzw,
                     log_time_ns: int | None = None) -> list[FrameOutput]:
        """Buffer a base pose (odom frame); return the frames it lets through."""
        if self.triangulation is not None:
            try:
                self.triangulation.add_odometry(int(stamp_ns), position, orientation_xyzw)
            except BadMessageError as error:
                self.counts.last_problem = f'ignoring odometry: {error}'
        return self.advance(stamp_ns if log_time_ns is None else log_time_ns)

    def add_frame(self, frame: InputFrame) -> list[FrameOutput]:
        """Queue a frame; return the frames done (this one at once when no odometry is needed)."""
        self.counts.frames_in += 1
        self._pending.append(frame)
        return self.advance(frame.log_time_ns)

    def advance(self, log_time_ns: int) -> list[FrameOutput]:
        """Process the waiting frames whose odometry has arrived or whose wait is over."""
        done = []
        while self._pending and self._ready(self._pending[0], log_time_ns):
            done.append(self.process(self._pending.popleft()))
        return done

    def finish(self) -> list[FrameOutput]:
        """Process every frame still waiting (the recording has ended)."""
        done = [self.process(frame) for frame in self._pending]
        self._pending.clear()
        return done

    @property
    def waiting_since_ns(self) -> int | None:
        """Return the log time of the oldest waiting frame, or None."""
        return self._pending[0].log_time_ns if self._pending else None

    def _ready(self, frame: InputFrame, log_time_ns: int) -> bool:
        if self.triangulation is None:
            return True
        newest = self.triangulation.poses.newest_stamp_ns
        if newest is not None and newest >= frame.stamp_ns:
            return True
        return log_time_ns - frame.log_time_ns > self.settings.odom_max_gap_s * 1e9

    # Processing -----------------------------------------------------------------------------
    def process(self, frame: InputFrame) -> FrameOutput:
        """Run one frame through the pipelines now and return its outputs."""
        output = FrameOutput(frame)
        if frame.camera_info is None:
            self.counts.no_camera_info += 1
            output.status = 'no camera_info yet'
            return output
        try:
            rgb = frame.rgb()
            height, width = rgb.shape[:2]
            camera = self._cameras.model_for(frame.camera_info, width, height)
        except BadMessageError as error:
            self.counts.bad_input += 1
            self.counts.last_problem = f'frame {frame.stamp_ns}: {error}'
            output.status = f'bad input: {error}'
            return output
        triangulated = None
        if self.triangulation is not None:
            triangulated = self._triangulate(frame, rgb, camera, output)
        if self.depth is not None:
            self._estimate_depth(frame, rgb, camera, triangulated, output)
        if output.messages:
            self.counts.frames_out += 1
        return output

    def _triangulate(self, frame: InputFrame, rgb: np.ndarray, camera: CameraModel,
                     output: FrameOutput) -> TriangulationResult | None:
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        result = self.triangulation.process_frame(frame.stamp_ns, gray, camera)
        if result.status.startswith('reset'):
            self.counts.resets += 1
        elif not result.ok:
            self.counts.no_pose += 1
            self.counts.last_problem = f'no pose for image {frame.stamp_ns}: {result.status}'
            output.status = result.status
            return None
        output.messages.update(triangulation_fields(result, rgb, TRIANGULATION_TOPICS))
        output.triangulated_points = len(result)
        if self.dense is not None:
            self._dense_step(gray, camera, result, output)
        return result

    def _dense_step(self, gray: np.ndarray, camera: CameraModel, result: TriangulationResult,
                    output: FrameOutput) -> None:
        """Run the node's dense step at once: a new keyframe's dense depth is this frame's."""
        decision = self.dense.offer(result, gray, camera,
                                    pipeline_pose_lookup(self.triangulation))
        if decision.taken and len(self.dense.window) >= 2:
            dense = self.dense.compute()
            if dense is not None and dense.ok:
                self._dense_latest = dense
                output.messages.update(dense_fields(dense, DENSE_TOPICS))
        if self._dense_latest is not None and result.world_to_camera is not None:
            depth, _ = reproject(self._dense_latest, result.world_to_camera, camera)
            output.messages[DENSE_REPROJECTED_TOPIC] = numpy_to_image(depth, '32FC1')

    def _estimate_depth(self, frame: InputFrame, rgb: np.ndarray, camera: CameraModel,
                        triangulated: TriangulationResult | None,
                        output: FrameOutput) -> None:
        pipeline = self.depth
        result = pipeline.estimate(rgb, fx=camera.fx)
        if self.fusion is not None:
            if triangulated is not None:
                self.fusion.add_points(frame.stamp_ns, triangulated.points_camera,
                                       triangulated.sigmas)
            pipeline.apply_scale(result, self.fusion.update(frame.stamp_ns, result.prediction,
                                                            camera))
        output.scale_shift = result.scale_shift
        if result.depth is not None:
            self.counts.metric_depth += 1
        else:
            self.counts.relative_only += 1
        output.messages.update(self._depth_outputs.fields(
            result, camera, rgb, self._output_settings(), DEPTH_TOPICS))

    def _output_settings(self) -> DepthOutputSettings:
        depth = self.depth.settings
        return DepthOutputSettings(
            min_depth=depth.min_depth, max_depth=depth.max_depth,
            publish_points=self.settings.publish_points, points_stride=depth.points_stride,
            points_color=depth.points_color, publish_colored=self.settings.publish_colored,
            colormap=self.settings.colormap)
