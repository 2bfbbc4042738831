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

"""What the demo report says: its sections, its figures and their captions, the bag to view."""

import pathlib

import cv2
import numpy as np

from mono_depth_ros.core.image_codec import image_to_numpy
from mono_depth_ros.core.pointcloud import read_cloud
from mono_depth_ros.demo.figures import (bar_chart, ColourScale, depth_figure, grid,
                                         image_figure,
                                         PANEL_WIDTH, plan_view, relative_error, render_points,
                                         titled)
from mono_depth_ros.demo.report import Figure, Report
from mono_depth_ros.demo.stages import DEPTH_RANGE, Findings, WARMUP_FRAMES

# One colour scale for every metric depth picture, the track picture included (the
# triangulation node colours its tracks log-scaled over its min_depth..max_depth).
DEPTH_SCALE = ColourScale(*DEPTH_RANGE, unit='m', log=True)
# Errors: dark is small, bright is large; grey where the network or the truth has no depth.
ERROR_SCALE = ColourScale(0.0, 20.0, unit='%', colormap='inferno', inverse=True,
                          invalid_color=(128, 128, 128))
# The dense fallback's 1-sigma, in metres: dark is sure, bright unsure.
SIGMA_SCALE = ColourScale(0.0, 0.5, unit='m', colormap='inferno', inverse=True)
SPARSE_DILATE_PX = 7
PANELS_PER_ROW = 3


def view_commands(output_bag: pathlib.Path, input_bag: pathlib.Path) -> list[str]:
    """Return the shell lines that show the demo's output bag (and rerun the input bag)."""
    from mono_depth_ros.launch_support import RVIZ_CONFIG
    from mono_depth_ros.resources import LARGE_DATA_PROFILE, package_file

    mcap = next(iter(sorted(output_bag.glob('*.mcap'))), output_bag)
    return [
        '# in each shell: the large-data Fast DDS profile (else large images are lost)',
        f'export FASTDDS_DEFAULT_PROFILES_FILE={package_file(LARGE_DATA_PROFILE)}',
        '# play the recorded outputs and look at them in RViz',
        f'ros2 bag play {output_bag} --loop',
        f'rviz2 -d {package_file(RVIZ_CONFIG)}',
        f'# or open {mcap} in Foxglove (Open local file)',
        '# or run the nodes again on the input bag, with RViz',
        f'ros2 launch mono_depth_ros bag_replay.launch.py bag:={input_bag}',
    ]


def write_report(out: pathlib.Path, sequence, findings: Findings, *,
                 output_bag: pathlib.Path, input_bag: pathlib.Path,
                 bag_counts: dict[str, int]) -> dict[str, pathlib.Path]:
    """Write the figures, report.md, index.html and summary.json; return their paths."""
    figures_dir = out / 'figures'
    figures_dir.mkdir(parents=True, exist_ok=True)
    for stale in figures_dir.glob('*.png'):
        stale.unlink()
    report = Report('mono_depth_ros demo: synthetic camera over DDS', summary=findings.summary)
    report.add('What ran', '\n'.join([
        f'- a {len(sequence.frames)}-frame {sequence.width}x{sequence.height} synthetic sequence '
        f'with exact poses and depth, played from the rosbag2 `{input_bag}` over Fast DDS',
        '- triangulation_node (camera + odometry -> sparse metric depth, and dense depth '
        'from a plane sweep over its keyframes with dense_depth on), with min_depth '
        f'{DEPTH_RANGE[0]:g} m and max_depth {DEPTH_RANGE[1]:g} m',
        f'- depth_node: {findings.model_note}',
    ]))
    report.add('Checks', '\n'.join(f'- {line}' for line in findings.lines))
    report.add('Metrics against ground truth (after warm-up)', findings.tables['metrics'])
    report.add('Pictures', 'Every depth picture and the track picture share one colour scale, '
               f'{DEPTH_SCALE.describe()}; black is no depth. Image axes are pixels of the '
               f'{sequence.width}x{sequence.height} camera image (u right, v down), the '
               f'pictures shrunk to {PANEL_WIDTH} px wide.',
               _frame_figures(figures_dir, sequence, findings) + _tracks_figure(
                   figures_dir, sequence, findings) + _dense_figure(
                   figures_dir, sequence, findings))
    clouds = _cloud_figure(figures_dir, sequence, findings)
    if clouds is not None:
        report.add('Point clouds in the odometry frame', '', [clouds])
    latency = _latency_figure(figures_dir, findings)
    if latency is not None:
        report.add('Per-stage latency', findings.tables['latency'], [latency])
    topics = ', '.join(f'`{topic}` ({count})' for topic, count in sorted(bag_counts.items()))
    report.add('The output bag',
               f'`{output_bag}` holds what the nodes published and the inputs they answered, '
               f'logged at their header stamps: {topics}. To look at it:\n\n```\n'
               + '\n'.join(view_commands(output_bag, input_bag)) + '\n```')
    report.summary['output_bag'] = str(output_bag)
    return report.write(out)


def _frame_figures(figures_dir: pathlib.Path, sequence, findings: Findings) -> list[Figure]:
    """Return one figure per picked frame: image, ground truth and every depth output."""
    figures = []
    picks = np.linspace(WARMUP_FRAMES, len(sequence.frames) - 1, 3).astype(int)
    for index in picks:
        frame = sequence.frames[index]
        panels = [image_figure(frame.rgb[:, :, ::-1], 'camera image (/camera/image_raw)'),
                  depth_figure(frame.depth, DEPTH_SCALE, 'ground-truth depth (m)')]
        parts = ['the camera image', 'the ground-truth depth the renderer wrote with it']
        sparse = findings.outputs.get('triangulation', {}).get(frame.stamp_ns)
        if sparse is not None:
            panels.append(depth_figure(image_to_numpy(sparse), DEPTH_SCALE,
                                       'triangulated depth (m), points enlarged',
                                       dilate=SPARSE_DILATE_PX))
            parts.append("the triangulation node's sparse depth (/camera/triangulation/depth), "
                         f'each point grown to {SPARSE_DILATE_PX}x{SPARSE_DILATE_PX} px so it '
                         'shows')
        relative = findings.outputs.get('relative', {}).get(frame.stamp_ns)
        if relative is not None:
            values = image_to_numpy(relative).astype(np.float32)
            scale = _relative_scale(values)
            panels.append(depth_figure(values, scale, 'network output, relative (unitless)'))
            parts.append("the depth network's relative output (/camera/depth/relative, inverse "
                         'depth without a scale, unitless; colours over its 2nd to 98th '
                         'percentile, near red)')
        dense = findings.outputs.get('depth', {}).get(frame.stamp_ns)
        if dense is not None:
            depth = image_to_numpy(dense)
            panels.append(depth_figure(depth, DEPTH_SCALE, 'network depth, metric (m)'))
            panels.append(depth_figure(relative_error(depth, frame.depth), ERROR_SCALE,
                                       'network |error| / true depth (%)'))
            parts += ["the depth network's metric depth (/camera/depth/image, scaled by the "
                      'triangulated points)',
                      f'its error against the ground truth, |depth - truth| / truth '
                      f'({ERROR_SCALE.describe()}, dark small, bright large; grey: no depth)']
        rows = [panels[start:start + PANELS_PER_ROW]
                for start in range(0, len(panels), PANELS_PER_ROW)]
        name = f'figures/frame_{index:03d}.png'
        cv2.imwrite(str(figures_dir.parent / name), grid(rows), [cv2.IMWRITE_PNG_COMPRESSION, 9])
        seconds = (frame.stamp_ns - sequence.frames[0].stamp_ns) / 1e9
        figures.append(Figure(name, (
            f'Frame {index} of {len(sequence.frames)} ({seconds:.2f} s into the bag). Left to '
            f'right, top to bottom: {"; ".join(parts)}. Depth colours: '
            f'{DEPTH_SCALE.describe()}; black: no depth.')))
    return figures


def _relative_scale(values: np.ndarray) -> ColourScale:
    """Return a unitless scale over the 2nd to 98th percentile of relative inverse depth."""
    finite = values[np.isfinite(values)]
    low, high = (np.percentile(finite, (2, 98)) if finite.size else (0.0, 1.0))
    if not high > low:
        high = low + max(abs(low) * 1e-3, 1e-6)
    return ColourScale(float(low), float(high), unit='', inverse=True)


def _tracks_figure(figures_dir: pathlib.Path, sequence, findings: Findings) -> list[Figure]:
    """Return the track picture the triangulation node published, mid-sequence."""
    tracks = findings.outputs.get('tracks', {})
    if not tracks:
        return []
    warm = {frame.stamp_ns for frame in sequence.frames[WARMUP_FRAMES:]}
    stamps = sorted(stamp for stamp in tracks if stamp in warm) or sorted(tracks)
    stamp = stamps[len(stamps) // 2]
    index = next((i for i, frame in enumerate(sequence.frames) if frame.stamp_ns == stamp), None)
    panel = image_figure(image_to_numpy(tracks[stamp]), 'feature tracks, coloured by depth (m)',
                         DEPTH_SCALE, width=max(PANEL_WIDTH, 560))
    name = 'figures/tracks.png'
    cv2.imwrite(str(figures_dir.parent / name), panel, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    frame_text = f'frame {index}' if index is not None else 'one frame'
    return [Figure(name, (
        f'The track picture the triangulation node published (/camera/triangulation/tracks) '
        f'at {frame_text}: each tracked feature with its trail over the previous frames and a '
        f'dot where it is now, coloured by its triangulated depth on the same scale as the '
        f"depth pictures ({DEPTH_SCALE.describe()}, set by the node's min_depth and "
        'max_depth); grey: not converged yet.'))]


def _dense_figure(figures_dir: pathlib.Path, sequence, findings: Findings) -> list[Figure]:
    """Return the dense fallback's last keyframe: its depth, sigma and error."""
    dense, sigmas = findings.outputs.get('dense', {}), findings.outputs.get('dense_sigma', {})
    frames = {frame.stamp_ns: (index, frame) for index, frame in enumerate(sequence.frames)}
    stamps = [stamp for stamp in sorted(dense) if stamp in sigmas and stamp in frames]
    if not stamps:
        return []
    index, frame = frames[stamps[-1]]
    depth = image_to_numpy(dense[stamps[-1]])
    panels = [image_figure(frame.rgb[:, :, ::-1], 'keyframe image'),
              depth_figure(frame.depth, DEPTH_SCALE, 'ground-truth depth (m)'),
              depth_figure(depth, DEPTH_SCALE, 'dense fallback depth (m)'),
              depth_figure(image_to_numpy(sigmas[stamps[-1]]), SIGMA_SCALE,
                           'its 1-sigma (m)'),
              depth_figure(relative_error(depth, frame.depth), ERROR_SCALE,
                           'its |error| / true depth (%)')]
    name = 'figures/dense.png'
    rows = [panels[start:start + PANELS_PER_ROW]
            for start in range(0, len(panels), PANELS_PER_ROW)]
    cv2.imwrite(str(figures_dir.parent / name), grid(rows), [cv2.IMWRITE_PNG_COMPRESSION, 9])
    return [Figure(name, (
        f'The dense fallback without a network at frame {index}, a keyframe: the plane '
        'sweep of the triangulation node over its recent keyframes with the odometry poses '
        '(/camera/triangulation/dense/depth and /camera/triangulation/dense/sigma). Left to '
        'right, top to bottom: the keyframe image; the ground truth; the dense depth, black '
        f'where it is not well constrained; its 1-sigma ({SIGMA_SCALE.describe()}); its error '
        f'against the truth ({ERROR_SCALE.describe()}; grey: no depth).'))]


def _world_points(message, camera_pose: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    cloud = read_cloud(message)
    xyz = np.stack([cloud['x'], cloud['y'], cloud['z']], axis=-1).reshape(-1, 3)
    colors = cloud['rgb'].reshape(-1, 3)[:, ::-1] if 'rgb' in cloud else None
    keep = np.all(np.isfinite(xyz), axis=1)
    world = xyz[keep] @ camera_pose[:3, :3].T + camera_pose[:3, 3]
    return world, (colors[keep] if colors is not None else None)


def _cloud_figure(figures_dir: pathlib.Path, sequence, findings: Findings) -> Figure | None:
    """Return the triangulated points (and one network cloud) from above and from behind."""
    frames = {frame.stamp_ns: frame for frame in sequence.frames}
    warm = sorted(frames)[WARMUP_FRAMES:]
    clouds = [_world_points(message, frames[stamp].camera_pose)[0]
              for stamp, message in findings.outputs.get('triangulation_points', {}).items()
              if stamp in warm]
    sparse = np.concatenate(clouds) if clouds else np.empty((0, 3))
    if len(sparse) == 0:
        return None
    heights = sparse[:, 2]
    low, high = np.percentile(heights, (1, 99))
    height_scale = ColourScale(float(low), float(max(high, low + 0.1)), unit='m')
    sparse_colors = height_scale.colorize(heights[None].astype(np.float32))[0]
    path = np.array([frame.camera_pose[:3, 3] for frame in sequence.frames])
    layers = [('triangulated points', sparse, sparse_colors, height_scale)]
    dense = findings.outputs.get('points', {})
    dense_warm = [stamp for stamp in sorted(dense) if stamp in warm]
    if dense_warm:
        stamp = dense_warm[len(dense_warm) // 2]
        world, colors = _world_points(dense[stamp], frames[stamp].camera_pose)
        if colors is None:
            colors = np.full((len(world), 3), 90, np.uint8)
        layers.append(('depth network cloud, one frame', world, colors, None))
    centre = np.median(sparse, axis=0)
    heading = path[-1] - path[0]
    heading = heading / max(np.linalg.norm(heading), 1e-6)
    oblique = {'eye': path[0] - 4.0 * heading + (0.0, 0.0, 3.0), 'target': centre}
    rows = []
    for name, points, colors, scale in layers:
        top = plan_view(points, colors, path, f'{name}: from above', scale)
        image = render_points(np.concatenate([points, path]),
                              np.concatenate([colors, np.zeros((len(path), 3), np.uint8)]),
                              size=(PANEL_WIDTH, top.shape[0] - 22), point_px=3, **oblique)
        rows.append([top, titled(image, f'{name}: from behind the start (perspective)')])
    name = 'figures/point_clouds.png'
    cv2.imwrite(str(figures_dir.parent / name), grid(rows), [cv2.IMWRITE_PNG_COMPRESSION, 9])
    network = (" Second row: the depth network's cloud of one frame (/camera/points) in its "
               'image colours.' if len(layers) > 1 else '')
    return Figure(name, (
        "The triangulation node's points (/camera/triangulation/points) of every frame after "
        "the warm-up, placed in the odometry frame with each frame's ground-truth camera pose "
        f'and coloured by height ({height_scale.describe()}); the black line is the camera '
        'path, the circle its start. Left: seen from straight above, axes in metres; right: '
        'a perspective view from behind and above the start (no scale).' + network))


def _latency_figure(figures_dir: pathlib.Path, findings: Findings) -> Figure | None:
    """Return the nodes' per-stage latencies (their last /diagnostics) as bars."""
    stages = findings.summary.get('latency_ms') or {}
    if not stages:
        return None
    name = 'figures/latency.png'
    cv2.imwrite(str(figures_dir.parent / name),
                bar_chart(stages, 'per-stage latency, mean (ms)', 'milliseconds'),
                [cv2.IMWRITE_PNG_COMPRESSION, 9])
    return Figure(name, (
        'Mean time of each stage as the nodes last reported it on /diagnostics (over their '
        "most recent frames), in milliseconds: the triangulation node's work on one frame and "
        "its image-to-output latency; the depth node's network inference and its "
        'image-to-output latency (queueing, pre- and postprocessing, scale fusion and the '
        'cloud included). Both nodes share this process and its CPU, so the figures are '
        'higher than on a robot with the nodes in their own processes.'))
