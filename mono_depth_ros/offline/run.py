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


"""The process-bag run: the processor with the nodes' settings, the main loop, the summary."""

import argparse
import dataclasses
import pathlib
import sys
import time

import numpy as np

from mono_depth_ros.offline import InputError, LOGGER
from mono_depth_ros.offline.output_bag import OutputBag
from mono_depth_ros.offline.processor import (FrameOutput, OfflineProcessor, OfflineSettings,
                                              OUTPUT_TOPICS)


def build_processor(args: argparse.Namespace, mode: str,
                    camera_to_base: np.ndarray) -> OfflineProcessor:
    """Load the model (depth modes) and build the pipelines with the nodes' settings."""
    from mono_depth_ros.core.transforms import matrix_to_quaternion
    from mono_depth_ros.core.triangulation.pipeline import (TriangulationParams,
                                                            TriangulationPipeline)

    depth = triangulation = None
    if mode != 'triangulation':
        depth = _depth_pipeline(args, mode)
    if mode != 'depth':
        values = {'camera_to_base': (*(float(v) for v in camera_to_base[:3, 3]),
                                     *(float(v) for v in matrix_to_quaternion(
                                         camera_to_base[:3, :3])))}
        for name in ('min_depth', 'max_depth', 'max_features', 'odom_max_gap'):
            if getattr(args, name) is not None:
                values[name] = getattr(args, name)
        triangulation = TriangulationPipeline(
            dataclasses.replace(TriangulationParams(), **values))
    settings = OfflineSettings(
        mode=mode, publish_points=not args.no_points, publish_colored=not args.no_colored,
        colormap=args.colormap,
        odom_max_gap_s=triangulation.params.odom_max_gap if triangulation else 0.0,
        dense_depth=bool(getattr(args, 'dense_depth', False)))
    return OfflineProcessor(settings, depth=depth, triangulation=triangulation)


def _depth_pipeline(args: argparse.Namespace, mode: str):
    """Return the depth pipeline; raises InputError, ModelLoadError or BackendUnavailableError."""
    from mono_depth_ros.inference.selection import load_backend
    from mono_depth_ros.pipeline.depth_pipeline import DepthPipeline, DepthSettings

    defaults = DepthSettings()
    settings = DepthSettings(
        input_size=args.input_size,
        min_depth=defaults.min_depth if args.min_depth is None else args.min_depth,
        max_depth=defaults.max_depth if args.max_depth is None else args.max_depth,
        scale_source=('triangulation' if mode == 'both'
                      else 'fixed' if args.fixed_scale is not None else 'none'),
        fixed_scale=1.0 if args.fixed_scale is None else args.fixed_scale,
        fixed_shift=args.fixed_shift, points_stride=args.points_stride,
        points_color=not args.no_points_color)
    if settings.min_depth >= settings.max_depth:
        raise InputError(f'--min-depth {settings.min_depth} must be below --max-depth '
                         f'{settings.max_depth}')
    if not 1 <= settings.points_stride <= 16:
        raise InputError(f'--points-stride {settings.points_stride} (expected 1 to 16)')
    backend, info = load_backend(
        args.model, backend=args.backend, device=args.device, precision=args.precision,
        input_size=args.input_size, depth_type=args.depth_type,
        max_depth=settings.max_depth, allow_download=args.allow_download,
        cache_dir=args.engine_cache_dir or None, logger=LOGGER,
        model_card=getattr(args, 'model_card', ''))
    return DepthPipeline(backend, info, settings)


@dataclasses.dataclass
class RunSummary:
    """Counts and timing of one run."""

    frames: int = 0
    seconds: float = 0.0
    scale_shift: tuple[float, float] | None = None


def process(source, processor: OfflineProcessor, out: OutputBag,
            args: argparse.Namespace) -> RunSummary:
    """Stream the source through the processor into the output bag, with a progress bar."""
    topics = source.topics
    output_topics = {topics.output_topic(name) for name in OUTPUT_TOPICS}
    summary = RunSummary()
    started = time.perf_counter()
    bar = _progress_bar(source.frame_count, args.quiet)
    latest_info = None

    def write(outputs: list[FrameOutput]) -> None:
        for output in outputs:
            out.put_frame(output, topics.output_topic)
            if output.scale_shift is not None:
                summary.scale_shift = output.scale_shift
            summary.frames += 1
            bar.update(1)

    images = 0
    try:
        for event in source.events(None if args.no_copy else out, output_topics):
            if event.copy_key is not None and event.copy_data is not None:
                out.put(event.log_time_ns, event.copy_key, event.copy_data)
            if event.kind == 'camera_info':
                latest_info = event.payload
                done = processor.advance(event.log_time_ns)
            elif event.kind == 'odom':
                stamp, position, orientation = event.payload
                done = processor.add_odometry(stamp, position, orientation, event.log_time_ns)
            elif event.kind == 'image' and not (0 < args.max_frames <= images):
                frame = event.payload
                if frame.camera_info is None:
                    frame.camera_info = latest_info
                done = processor.add_frame(frame)
                images += 1
            else:
                done = processor.advance(event.log_time_ns)
            write(done)
            out.flush(processor.waiting_since_ns)
            if 0 < args.max_frames <= images and processor.waiting_since_ns is None:
                break
        write(processor.finish())
        out.flush()
    finally:
        bar.close()
    summary.seconds = time.perf_counter() - started
    return summary


def summary_text(summary: RunSummary, processor: OfflineProcessor, out: OutputBag,
                 path: pathlib.Path) -> str:
    """Return the end-of-run report: frames, problems and the topics written."""
    counts = processor.counts
    rate = summary.frames / summary.seconds if summary.seconds > 0 else 0.0
    lines = [f'processed {counts.frames_in} frames in {summary.seconds:.1f} s '
             f'({rate:.2f} frames/s); {counts.frames_out} with output']
    problems = {'without camera_info': counts.no_camera_info, 'bad': counts.bad_input,
                'without a pose': counts.no_pose, 'track resets': counts.resets}
    noted = [f'{count} {what}' for what, count in problems.items() if count]
    if noted:
        lines.append('frames: ' + ', '.join(noted))
    if processor.depth is not None:
        lines.append(f'depth: {counts.metric_depth} metric frames, {counts.relative_only} '
                     'relative only' + (f'; last scale {summary.scale_shift[0]:.4g}, shift '
                                        f'{summary.scale_shift[1]:.4g}'
                                        if summary.scale_shift else ''))
    lines.append(f'wrote {path}:')
    width = max((len(topic) for topic in out.counts), default=0)
    lines += [f'  {topic:<{width}}  {count}' for topic, count in sorted(out.counts.items())]
    return '\n'.join(lines)


def _progress_bar(total: int, quiet: bool):
    try:
        from tqdm import tqdm
    except ImportError:  # tqdm comes with the 'bags' extra; run without a bar otherwise
        tqdm = None
    if quiet or tqdm is None:
        return _NoBar()
    return tqdm(total=total or None, unit='frame', desc='process-bag', file=sys.stderr,
                dynamic_ncols=True, smoothing=0.1)


class _NoBar:
    def update(self, count: int) -> None:
        pass

    def close(self) -> None:
        pass
