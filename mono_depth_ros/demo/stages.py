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

"""The demo's stages: find a model, run the nodes on the synthetic bag, record, score."""

from dataclasses import dataclass, field
import os
import pathlib
import shutil

from diagnostic_msgs.msg import DiagnosticArray
from nav_msgs.msg import Odometry
import numpy as np
from rclpy.parameter import Parameter
from sensor_msgs.msg import CameraInfo, Image, PointCloud2

from mono_depth_ros.core.camera_model import CameraModel
from mono_depth_ros.core.image_codec import image_to_numpy, image_to_rgb8
from mono_depth_ros.core.metrics import aggregate_metrics, align_scale_shift, compute_metrics
from mono_depth_ros.core.transforms import pose_matrix
from mono_depth_ros.demo.report import markdown_table
from mono_depth_ros.parameter_tables import depth_parameter
from mono_depth_ros.ros.messages import stamp_to_ns
from mono_depth_ros.ros.replay import replay_bag, ReplayResult
from mono_depth_ros.synth import BAG_TOPICS

NAMESPACE = '/camera'
WARMUP_FRAMES = 15  # frames the triangulation needs before its depth is scored
# The nodes run in /camera: image and camera_info map onto the bag's camera topics.
NODE_REMAPS = ['--ros-args', '-r', 'image:=/camera/image_raw', '-r', 'odom:=/odom']
OUTPUT_TOPICS = {
    'triangulation/depth': Image, 'triangulation/points': PointCloud2,
    'triangulation/tracks': Image, 'depth/image': Image, 'depth/relative': Image,
    'depth/colored': Image, 'points': PointCloud2,
    # The fallback's dense depth (plane sweep over the keyframes), stamped with each keyframe.
    'triangulation/dense/depth': Image, 'triangulation/dense/sigma': Image,
    'triangulation/dense/points': PointCloud2,
}
DEPTH_RANGE = (0.5, 12.0)
DEFAULT_MODEL_ID = depth_parameter('model').default
# The network mono-depth-ros train made on synthetic scenes (doc/training.md), in the repository.
DEMO_MODEL = 'models/demo/model.onnx'
NO_MODEL = 'none'  # --model none: the triangulation node alone
DIAGNOSTICS_TOPIC = '/diagnostics'


def demo_model() -> pathlib.Path | None:
    """Return the committed demo model's path, or None where it is not installed."""
    from mono_depth_ros.resources import package_file

    try:
        return package_file(DEMO_MODEL)
    except FileNotFoundError:
        return None


def model_input_size(model: str | None) -> int:
    """Return the input size a model was trained at where it records one, else the default.

    A network of ``mono-depth-ros train`` records its training resolution (the shorter side)
    as ONNX metadata ``input_size``; it sees the scene at that scale best. A size outside the
    parameter's range gives the default.
    """
    spec = depth_parameter('input_size')
    default = spec.default
    if not model or not str(model).endswith('.onnx') or not os.path.isfile(model):
        return default
    from mono_depth_ros.inference.onnx_contract import read_onnx_contract
    from mono_depth_ros.training.network import ARCHITECTURE

    metadata = read_onnx_contract(model).metadata
    if metadata.get('encoder') != ARCHITECTURE:
        return default
    try:
        size = int(metadata.get('input_size', default))
    except ValueError:
        return default
    low, high = spec.integer_range
    return size if low <= size <= high and size % spec.integer_step == 0 else default


def find_model(requested: str | None) -> tuple[str | None, str]:
    """Return (model, how it was found) or (None, what was looked for).

    Default: the committed demo model; ``none`` runs the triangulation node alone.
    """
    if requested == NO_MODEL:
        return None, 'not run (--model none)'
    if requested:
        return requested, f'{requested}, given on the command line'
    committed = demo_model()
    if committed is not None:
        return str(committed), (f'the demo model {DEMO_MODEL}, a small network trained by '
                                'mono-depth-ros train on synthetic scenes (not for real robots)')
    try:
        from huggingface_hub import constants
        cache = pathlib.Path(constants.HF_HUB_CACHE)
    except ImportError:
        cache = pathlib.Path(os.path.expanduser('~/.cache/huggingface/hub'))
    folder = cache / ('models--' + DEFAULT_MODEL_ID.replace('/', '--'))
    if (folder / 'snapshots').is_dir() and any((folder / 'snapshots').iterdir()):
        return DEFAULT_MODEL_ID, f'{DEFAULT_MODEL_ID}, found in the local Hugging Face cache'
    return None, (f'no depth model: looked for {DEFAULT_MODEL_ID} in {cache}; pass one with '
                  'make demo MODEL=path/to/model.onnx or mono-depth-ros demo --model '
                  'path/to/model.onnx (or a .pth, .safetensors, HF directory)')


def run_nodes_on_bag(bag: pathlib.Path, *, model: str | None, backend: str = 'auto',
                     rate: float = 1.0, lockstep: bool = True,
                     input_size: int | None = None) -> ReplayResult:
    """Play the bag into the triangulation node (and the depth node with a model).

    ``lockstep`` holds each image until the nodes have answered the previous one, so every
    frame is scored however slow the machine; without it the bag plays on its schedule and
    the nodes drop what they cannot keep up with (latest frame wins).
    """
    from mono_depth_ros.nodes.triangulation_node import TriangulationNode

    def make_nodes(context):
        # The depth range sets the colours of the track picture too: the report's depth scale.
        nodes = [TriangulationNode(
            context=context, namespace=NAMESPACE, cli_args=NODE_REMAPS,
            parameter_overrides=[Parameter('min_depth', value=DEPTH_RANGE[0]),
                                 Parameter('max_depth', value=DEPTH_RANGE[1]),
                                 Parameter('dense_depth', value=True)])]
        if model:
            from mono_depth_ros.nodes.depth_node import DepthNode
            nodes.append(DepthNode(
                context=context, namespace=NAMESPACE, cli_args=NODE_REMAPS,
                parameter_overrides=[
                    Parameter('model', value=str(model)), Parameter('backend', value=backend),
                    Parameter('scale_source', value='triangulation'),
                    Parameter('input_size', value=input_size or model_input_size(model)),
                    Parameter('min_depth', value=DEPTH_RANGE[0]),
                    Parameter('max_depth', value=DEPTH_RANGE[1])]))
        return nodes

    collect = {BAG_TOPICS['image']: Image, BAG_TOPICS['camera_info']: CameraInfo,
               BAG_TOPICS['odom']: Odometry}
    collect.update({f'{NAMESPACE}/{topic}': kind for topic, kind in OUTPUT_TOPICS.items()})
    collect[DIAGNOSTICS_TOPIC] = DiagnosticArray
    answers = [f'{NAMESPACE}/triangulation/depth']
    if model:
        answers.append(f'{NAMESPACE}/depth/colored')
    return replay_bag(bag, collect, make_nodes=make_nodes, rate=rate,
                      lockstep=(BAG_TOPICS['image'], answers) if lockstep else None,
                      lockstep_timeout_s=30.0 if model else 5.0)


def write_output_bag(replay: ReplayResult, path: pathlib.Path) -> dict[str, int]:
    """Write the nodes' outputs and the inputs they answered as a rosbag2; return the counts.

    Every message is logged at its header stamp, so ``ros2 bag play`` replays the run on the
    recorded clock. A bag from an earlier demo at ``path`` is replaced.
    """
    from rclpy.serialization import serialize_message

    from mono_depth_ros.bags import BagWriter

    path = pathlib.Path(path)
    if path.exists():
        if not (path / 'metadata.yaml').exists():
            raise FileExistsError(f'{path} exists and is not a rosbag2: not replacing it')
        shutil.rmtree(path)
    stamped = sorted(((stamp_to_ns(message.header.stamp), topic, message)
                      for topic, messages in replay.messages.items() for message in messages
                      if topic != DIAGNOSTICS_TOPIC),
                     key=lambda entry: (entry[0], entry[1]))
    counts: dict[str, int] = {}
    with BagWriter(path) as writer:
        handles = {}
        for stamp, topic, message in stamped:
            if topic not in handles:
                handles[topic] = writer.add_topic(topic, _type_name(message))
            writer.write(handles[topic], stamp, serialize_message(message))
            counts[topic] = counts.get(topic, 0) + 1
    return counts


def _type_name(message) -> str:
    """Return a ROS message's type as rosbag2 names it, e.g. sensor_msgs/msg/Image."""
    return f'{type(message).__module__.split(".")[0]}/msg/{type(message).__name__}'


@dataclass
class Findings:
    """What the demo measured, for the console and the report."""

    lines: list[str] = field(default_factory=list)
    tables: dict[str, str] = field(default_factory=dict)
    summary: dict = field(default_factory=dict)
    outputs: dict[str, dict[int, object]] = field(default_factory=dict)
    ok: bool = True
    model_note: str = ''


def by_stamp(messages: list) -> dict[int, object]:
    """Return messages keyed by their header stamp (ns)."""
    return {stamp_to_ns(message.header.stamp): message for message in messages}


def evaluate(sequence, replay: ReplayResult, *, model: str | None, model_note: str) -> Findings:
    """Check the DDS round trip and score the nodes' depth against the ground truth."""
    findings = Findings(model_note=model_note)
    _check_round_trip(sequence, replay, findings)
    frames = {frame.stamp_ns: frame for frame in sequence.frames}
    ordered = sorted(frames)
    warm = set(ordered[WARMUP_FRAMES:])

    sparse = by_stamp(replay.messages[f'{NAMESPACE}/triangulation/depth'])
    findings.outputs['triangulation'] = sparse
    findings.outputs['tracks'] = by_stamp(replay.messages[f'{NAMESPACE}/triangulation/tracks'])
    findings.outputs['triangulation_points'] = by_stamp(
        replay.messages[f'{NAMESPACE}/triangulation/points'])
    findings.outputs['points'] = by_stamp(replay.messages[f'{NAMESPACE}/points'])
    per_frame, points = [], []
    for stamp, message in sparse.items():
        if stamp in warm:
            depth = image_to_numpy(message)
            points.append(int(np.count_nonzero(np.isfinite(depth))))
            if points[-1]:
                per_frame.append(compute_metrics(depth, frames[stamp].depth))
    tri = aggregate_metrics(per_frame) if per_frame else {}
    findings.summary['triangulation'] = {**tri, 'frames': len(sparse),
                                         'mean_points': float(np.mean(points)) if points else 0}
    findings.lines.append(
        f'triangulation: {len(sparse)} sparse depth frames, '
        f'{findings.summary["triangulation"]["mean_points"]:.0f} points per frame after '
        f'warm-up, AbsRel {tri.get("abs_rel", float("nan")):.4f}')
    rows = [['triangulation (sparse, metric)', tri.get('count', 0) and
             findings.summary['triangulation']['mean_points'], *_metric_cells(tri)]]
    rows += _dense(replay, frames, warm, findings)

    if model:
        depth_messages = by_stamp(replay.messages[f'{NAMESPACE}/depth/image'])
        relative_messages = by_stamp(replay.messages[f'{NAMESPACE}/depth/relative'])
        findings.outputs['depth'] = depth_messages
        findings.outputs['relative'] = relative_messages
        fused = [compute_metrics(image_to_numpy(m), frames[s].depth)
                 for s, m in depth_messages.items() if s in warm]
        oracle = []
        for stamp, message in relative_messages.items():
            if stamp in warm:
                aligned, _, _ = align_scale_shift(image_to_numpy(message), frames[stamp].depth,
                                                  space='inverse')
                oracle.append(compute_metrics(aligned, frames[stamp].depth))
        if fused:
            fused_metrics = aggregate_metrics(fused)
            findings.summary['depth'] = fused_metrics
            # A relative model's depth is in metres by the triangulated points; a metric
            # model's (no depth/relative output) by itself.
            source = 'scale from triangulation' if relative_messages else "the model's own"
            rows.append([f'depth network, metric ({source})', 'dense',
                         *_metric_cells(fused_metrics)])
        if oracle:
            oracle_metrics = aggregate_metrics(oracle)
            findings.summary['depth_oracle_aligned'] = oracle_metrics
            rows.append(['depth network, scale+shift fitted to ground truth (reference)',
                         'dense', *_metric_cells(oracle_metrics)])
        findings.lines.append(f'depth node: {len(depth_messages)} metric depth frames, '
                              f'{len(relative_messages)} relative frames')
        if not depth_messages and not relative_messages:
            findings.ok = False
            findings.lines.append('depth node published nothing: see the log above')
    findings.tables['metrics'] = markdown_table(
        ['output', 'points', 'AbsRel', 'RMSE (m)', 'δ<1.25', 'δ<1.25²'], rows)
    _latency(replay, findings)
    return findings


def _dense(replay: ReplayResult, frames: dict, warm: set, findings: Findings) -> list[list]:
    """Score the dense fallback's keyframe depths; return its rows of the metrics table."""
    from mono_depth_ros.core.triangulation.dense_evaluation import BOUNDS, score_dense

    dense = by_stamp(replay.messages[f'{NAMESPACE}/triangulation/dense/depth'])
    sigmas = by_stamp(replay.messages[f'{NAMESPACE}/triangulation/dense/sigma'])
    findings.outputs['dense'] = dense
    findings.outputs['dense_sigma'] = sigmas
    scored = [(image_to_numpy(message), image_to_numpy(sigmas[stamp]), frames[stamp].depth)
              for stamp, message in sorted(dense.items()) if stamp in warm and stamp in sigmas]
    scores = [score_dense(depth, sigma, truth) for depth, sigma, truth in scored]
    if not scores:
        findings.lines.append(f'dense fallback: {len(dense)} keyframe depths, none to score')
        return []
    pixels = sum(score.pixels for score in scores)
    relative = np.concatenate([score.relative for score in scores])
    covered = np.concatenate([score.covered for score in scores])
    summary = {'keyframes': len(scores), 'valid_fraction': len(relative) / pixels,
               'abs_rel': float(relative.mean()) if len(relative) else float('nan'),
               'coverage_2sigma': float(covered.mean()) if len(covered) else float('nan')}
    for bound in BOUNDS:
        summary[f'within_{bound:.2f}'] = int((relative <= bound).sum()) / pixels
    findings.summary['dense'] = summary
    findings.lines.append(
        f"dense fallback: {len(scores)} keyframe depths, {summary['within_0.05']:.0%} of the "
        f"pixels within 5 % of the truth, {summary['within_0.10']:.0%} within 10 %, "
        f"AbsRel {summary['abs_rel']:.4f}, {summary['coverage_2sigma']:.0%} within 2 sigma")
    metrics = aggregate_metrics([compute_metrics(depth, truth) for depth, _, truth in scored])
    return [['triangulation, dense (keyframe plane sweep)',
             f"{summary['valid_fraction']:.0%} of pixels", *_metric_cells(metrics)]]


# Per-stage latencies the nodes report on /diagnostics: (node status word, key, stage name).
LATENCY_KEYS = (
    ('triangulation', 'frame_ms', 'triangulation: tracking + triangulation of one frame'),
    ('triangulation', 'latency_mean_ms', 'triangulation: image received -> depth published'),
    ('depth', 'inference_mean_ms', 'depth: network inference'),
    ('depth', 'latency_mean_ms', 'depth: image received -> depth published'),
)


def _latency(replay: ReplayResult, findings: Findings) -> None:
    """Record each node's last reported per-stage latencies (ms) from /diagnostics."""
    last: dict[str, dict[str, str]] = {}
    for array in replay.messages.get(DIAGNOSTICS_TOPIC, []):
        for status in array.status:
            last[status.name] = {value.key: value.value for value in status.values}
    stages = {}
    for word, key, stage in LATENCY_KEYS:
        for name, values in last.items():
            if name.endswith(f': {word}') and key in values:
                try:
                    stages[stage] = float(values[key])
                except ValueError:
                    continue
    findings.summary['latency_ms'] = stages
    if stages:
        findings.tables['latency'] = markdown_table(
            ['stage', 'mean (ms)'], [[stage, value] for stage, value in stages.items()])


def _metric_cells(metrics: dict) -> list:
    return [metrics.get(name, float('nan')) for name in ('abs_rel', 'rmse', 'delta1', 'delta2')]


def _check_round_trip(sequence, replay: ReplayResult, findings: Findings) -> None:
    images = by_stamp(replay.messages[BAG_TOPICS['image']])
    infos = replay.messages[BAG_TOPICS['camera_info']]
    odometry = replay.messages[BAG_TOPICS['odom']]
    exact = sum(1 for frame in sequence.frames if frame.stamp_ns in images
                and np.array_equal(image_to_rgb8(images[frame.stamp_ns]), frame.rgb))
    k_ok = bool(infos) and np.allclose(
        CameraModel.from_camera_info(infos[-1]).intrinsic_matrix, sequence.k)
    pose_error = 0.0
    ground_truth = {frame.stamp_ns: frame.base_pose for frame in sequence.frames}
    for message in odometry:
        stamp = stamp_to_ns(message.header.stamp)
        if stamp in ground_truth:
            p, q = message.pose.pose.position, message.pose.pose.orientation
            pose = pose_matrix((p.x, p.y, p.z), (q.x, q.y, q.z, q.w))
            pose_error = max(pose_error, float(np.abs(pose - ground_truth[stamp]).max()))
    frames = len(sequence.frames)
    findings.summary['round_trip'] = {
        'frames': frames, 'images_received': len(images), 'images_exact': exact,
        'camera_info_received': len(infos), 'camera_info_matches': k_ok,
        'odometry_received': len(odometry), 'odometry_max_error': pose_error}
    findings.lines.append(
        f'DDS round trip: {len(images)}/{frames} images ({exact} bit-exact after decoding), '
        f'{len(infos)} camera_info (K {"matches" if k_ok else "DIFFERS"}), '
        f'{len(odometry)} odometry (max pose error {pose_error:.1e})')
    if exact < frames or not k_ok:
        findings.ok = False
