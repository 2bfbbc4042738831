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

"""The demo's stages: find a model, run the nodes on the synthetic bag, score, report."""

from dataclasses import dataclass, field
import os
import pathlib

import cv2
from nav_msgs.msg import Odometry
import numpy as np
from rclpy.parameter import Parameter
from sensor_msgs.msg import CameraInfo, Image, PointCloud2

from mono_depth_ros.core.camera_model import CameraModel
from mono_depth_ros.core.image_codec import image_to_numpy, image_to_rgb8
from mono_depth_ros.core.metrics import aggregate_metrics, align_scale_shift, compute_metrics
from mono_depth_ros.core.pointcloud import read_cloud
from mono_depth_ros.core.transforms import pose_matrix
from mono_depth_ros.demo.report import (depth_panel, error_panel, grid, label_panel,
                                        markdown_table, render_points, Report)
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
}
DEPTH_RANGE = (0.5, 12.0)
DEFAULT_MODEL_ID = depth_parameter('model').default


def find_model(requested: str | None) -> tuple[str | None, str]:
    """Return (model, how it was found) or (None, what was looked for)."""
    if requested:
        return requested, f'{requested}, given on the command line'
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
                     rate: float = 1.0, lockstep: bool = True) -> ReplayResult:
    """Play the bag into the triangulation node (and the depth node with a model).

    ``lockstep`` holds each image until the nodes have answered the previous one, so every
    frame is scored however slow the machine; without it the bag plays on its schedule and
    the nodes drop what they cannot keep up with (latest frame wins).
    """
    from mono_depth_ros.nodes.triangulation_node import TriangulationNode

    def make_nodes(context):
        nodes = [TriangulationNode(context=context, namespace=NAMESPACE, cli_args=NODE_REMAPS)]
        if model:
            from mono_depth_ros.nodes.depth_node import DepthNode
            nodes.append(DepthNode(
                context=context, namespace=NAMESPACE, cli_args=NODE_REMAPS,
                parameter_overrides=[
                    Parameter('model', value=str(model)), Parameter('backend', value=backend),
                    Parameter('scale_source', value='triangulation'),
                    Parameter('min_depth', value=DEPTH_RANGE[0]),
                    Parameter('max_depth', value=DEPTH_RANGE[1])]))
        return nodes

    collect = {BAG_TOPICS['image']: Image, BAG_TOPICS['camera_info']: CameraInfo,
               BAG_TOPICS['odom']: Odometry}
    collect.update({f'{NAMESPACE}/{topic}': kind for topic, kind in OUTPUT_TOPICS.items()})
    answers = [f'{NAMESPACE}/triangulation/depth']
    if model:
        answers.append(f'{NAMESPACE}/depth/colored')
    return replay_bag(bag, collect, make_nodes=make_nodes, rate=rate,
                      lockstep=(BAG_TOPICS['image'], answers) if lockstep else None,
                      lockstep_timeout_s=30.0 if model else 5.0)


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

    if model:
        depth_messages = by_stamp(replay.messages[f'{NAMESPACE}/depth/image'])
        relative_messages = by_stamp(replay.messages[f'{NAMESPACE}/depth/relative'])
        findings.outputs['depth'] = depth_messages
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
            rows.append(['depth network, metric (scale from triangulation)', 'dense',
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
    return findings


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


def write_report(out: pathlib.Path, sequence, findings: Findings) -> dict[str, pathlib.Path]:
    """Write the contact sheet, figures, report.md, index.html and summary.json."""
    figures = out / 'figures'
    figures.mkdir(parents=True, exist_ok=True)
    report = Report('mono_depth_ros demo: synthetic camera over DDS', summary=findings.summary)
    report.add('What ran', '\n'.join([
        f'- a {len(sequence.frames)}-frame {sequence.width}x{sequence.height} synthetic sequence '
        'with exact poses and depth (sequence/), played from a rosbag2 over Fast DDS',
        '- triangulation_node (camera + odometry -> sparse metric depth)',
        f'- depth_node: {findings.model_note}',
    ]))
    report.add('Checks', '\n'.join(f'- {line}' for line in findings.lines))
    report.add('Metrics against ground truth (after warm-up)', findings.tables['metrics'])

    low, high = DEPTH_RANGE
    picks = np.linspace(WARMUP_FRAMES, len(sequence.frames) - 1, 3).astype(int)
    rows = []
    for index in picks:
        frame = sequence.frames[index]
        panels = [label_panel(frame.rgb[:, :, ::-1], f'frame {index}: camera image'),
                  depth_panel(frame.depth, low, high, 'ground-truth depth (m)')]
        sparse = findings.outputs.get('triangulation', {}).get(frame.stamp_ns)
        if sparse is not None:
            depth = image_to_numpy(sparse)
            panels.append(depth_panel(depth, low, high, 'triangulated depth (m, enlarged)',
                                      dilate=7))
        dense = findings.outputs.get('depth', {}).get(frame.stamp_ns)
        if dense is not None:
            depth = image_to_numpy(dense)
            panels.append(depth_panel(depth, low, high, 'network depth, metric (m)'))
            panels.append(error_panel(depth, frame.depth, 'network |error| / depth'))
        rows.append(panels)
    sheet = grid(rows)
    cv2.imwrite(str(figures / 'contact_sheet.png'), sheet)
    images = ['figures/contact_sheet.png']
    tracks = findings.outputs.get('tracks', {})
    if tracks:
        stamp = sorted(tracks)[len(tracks) // 2]
        view = label_panel(image_to_numpy(tracks[stamp]), 'tracks: red near, blue far (log, '
                           'min_depth..max_depth); grey: not converged')
        cv2.imwrite(str(figures / 'tracks.png'), view)
        images.append('figures/tracks.png')
    report.add('Pictures', 'Depth panels share one colour range, '
               f'{low:g} m (red) to {high:g} m (blue); black is unknown.', images)
    views = _cloud_views(sequence, findings)
    if views is not None:
        cv2.imwrite(str(figures / 'point_clouds.png'), views)
        report.add('Point clouds in the odometry frame, from two viewpoints',
                   "Each frame's points placed with its ground-truth camera pose: the "
                   'triangulated points of every frame after warm-up, coloured by height, and '
                   "the depth network's cloud of one frame in its image colours (when a model "
                   'ran). The camera path is black.', ['figures/point_clouds.png'])
    return report.write(out)


def _world_points(message, camera_pose: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    cloud = read_cloud(message)
    xyz = np.stack([cloud['x'], cloud['y'], cloud['z']], axis=-1).reshape(-1, 3)
    colors = cloud['rgb'].reshape(-1, 3)[:, ::-1] if 'rgb' in cloud else None
    keep = np.all(np.isfinite(xyz), axis=1)
    world = xyz[keep] @ camera_pose[:3, :3].T + camera_pose[:3, 3]
    return world, (colors[keep] if colors is not None else None)


def _cloud_views(sequence, findings: Findings) -> np.ndarray | None:
    frames = {frame.stamp_ns: frame for frame in sequence.frames}
    warm = sorted(frames)[WARMUP_FRAMES:]
    clouds = [_world_points(message, frames[stamp].camera_pose)[0]
              for stamp, message in findings.outputs.get('triangulation_points', {}).items()
              if stamp in warm]
    sparse = np.concatenate(clouds) if clouds else np.empty((0, 3))
    if len(sparse) == 0:
        return None
    heights = sparse[:, 2]
    level = np.clip(255 * (heights - heights.min()) / max(np.ptp(heights), 1e-6), 0, 255)
    sparse_colors = cv2.applyColorMap(level.astype(np.uint8)[None], cv2.COLORMAP_TURBO)[0]
    path = np.array([frame.camera_pose[:3, 3] for frame in sequence.frames])
    centre = np.median(sparse, axis=0)
    start, heading = path[0], path[-1] - path[0]
    heading = heading / max(np.linalg.norm(heading), 1e-6)
    views = [('top view', {'eye': centre + (0.0, 0.0, 11.0), 'target': centre,
                           'up': (1.0, 0.0, 0.0)}),
             ('oblique view', {'eye': start - 4.0 * heading + (0.0, 0.0, 3.0),
                               'target': centre})]
    layers = [('triangulated points', sparse, sparse_colors)]
    dense = findings.outputs.get('points', {})
    dense_warm = [stamp for stamp in sorted(dense) if stamp in warm]
    if dense_warm:
        stamp = dense_warm[len(dense_warm) // 2]
        world, colors = _world_points(dense[stamp], frames[stamp].camera_pose)
        if colors is None:
            colors = np.full((len(world), 3), 90, np.uint8)
        layers.append(('depth network cloud (one frame)', world, colors))
    path_colors = np.zeros((len(path), 3), np.uint8)
    rows = []
    for name, points, colors in layers:
        panels = []
        for view_name, view in views:
            image = render_points(np.concatenate([points, path]),
                                  np.concatenate([colors, path_colors]), point_px=3, **view)
            panels.append(label_panel(image, f'{name}: {view_name}'))
        rows.append(panels)
    return grid(rows)
