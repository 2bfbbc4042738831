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

"""One training run from start to finish: data, starting point, training, export, report.

``mono-depth-ros train`` is a parser around :func:`run_training`. The starting point is a fresh
network, a checkpoint of an earlier run (``init``), or a Depth Anything checkpoint (``init``
naming a Hugging Face directory, .pth or .safetensors the package loads), fine-tuned through
the same losses and exported with the package's Depth Anything export.
"""

from dataclasses import asdict, dataclass, field
import logging
import pathlib
import shlex
import sys
import time

import numpy as np

from mono_depth_ros.core.errors import BadMessageError
from mono_depth_ros.training.datasets import open_data, synthetic_sequences
from mono_depth_ros.training.trainer import CHECKPOINT_NAME, read_checkpoint, train, TrainSettings

MODEL_NAME = 'model.onnx'
_LOGGER = logging.getLogger('mono_depth_ros.training')


@dataclass
class TrainingRequest:
    """What ``mono-depth-ros train`` was asked for."""

    out: pathlib.Path
    settings: TrainSettings
    data: list[str] = field(default_factory=list)        # directories and bags
    synth_seeds: list[int] = field(default_factory=list)  # rendered in memory
    synth_frames: int = 40
    synth_motions: tuple[str, ...] = ('drive', 'forward', 'turning', 'sideways')
    size: tuple[int, int] = (140, 182)
    depth_scale: float = 5000.0   # 16-bit depth PNG units per metre of --data directories
    held_out_seeds: list[int] = field(default_factory=lambda: [100])
    held_out_frames: int = 20
    init: str | None = None
    resume: bool = False
    progress: bool = True
    command: str = ''


class DepthAnythingAdapter:
    """A Depth Anything model seen as the trainer sees networks: pixels -> log inverse depth."""

    @staticmethod
    def wrap(depth_anything):
        """Return a torch module around a ``DepthAnythingForDepthEstimation``."""
        import torch

        class Adapter(torch.nn.Module):
            def __init__(self, model):
                super().__init__()
                self.depth_anything = model

            def forward(self, pixels):
                output = self.depth_anything(pixel_values=pixels).predicted_depth[:, None]
                return torch.log(output.clamp(min=1e-4))
        return Adapter(depth_anything)


def is_training_checkpoint(path: str) -> bool:
    """Return True for a safetensors file written by this trainer."""
    if not str(path).endswith('.safetensors') or not pathlib.Path(path).is_file():
        return False
    from safetensors import safe_open
    try:
        with safe_open(str(path), framework='pt') as handle:
            return 'mono_depth_ros training checkpoint' in (handle.metadata() or {}).get(
                'format', '')
    except Exception:
        return False


def build_model(init: str | None, logger: logging.Logger):
    """Return (model, kind, info): a DepthNet (fresh or from a checkpoint) or Depth Anything."""
    from mono_depth_ros.training.network import DepthNet, NetworkConfig

    if init is None:
        return DepthNet(), 'depthnet', None
    if is_training_checkpoint(init):
        tensors, metadata = read_checkpoint(init)
        config = NetworkConfig.from_json(metadata['network']) if 'network' in metadata else None
        model = DepthNet(config)
        model.load_state_dict({name[len('model.'):]: value for name, value in tensors.items()
                               if name.startswith('model.')})
        logger.info('starting from %s (step %s)', init, metadata['step'])
        return model, 'depthnet', None
    from mono_depth_ros.inference.model_loading import load_torch_model

    depth_anything, info = load_torch_model(init, logger=logger)
    logger.info('fine-tuning Depth Anything %s', info.describe())
    return DepthAnythingAdapter.wrap(depth_anything.float().train()), 'depth_anything', info


def calibrate_metric_offset(model, sequences, logger: logging.Logger) -> float:
    """Shift a relative DepthNet's output to metres from the sparse points; return the shift.

    A relative network's log inverse depth is right up to a constant; self-supervision needs
    metres from the start, and the median of log(point depth) + prediction over the points is
    that constant. Without points it stays 0 (the photometric loss finds the scale slowly).
    """
    import torch

    from mono_depth_ros.training.trainer import normalise

    residuals = []
    for sequence in sequences:
        for frame in sequence.frames[::3]:
            if frame.sparse is None or not np.any(frame.sparse > 0):
                continue
            with torch.no_grad():
                log_inverse = model(normalise(frame.rgb[None]))[0, 0].numpy()
            points = frame.sparse > 0
            residuals.append(np.log(frame.sparse[points]) + log_inverse[points])
    if not residuals or not hasattr(model, 'head'):
        logger.info('no sparse points to put the starting network in metres')
        return 0.0
    offset = -float(np.median(np.concatenate(residuals)))
    with torch.no_grad():
        model.head.bias += offset
    logger.info('starting network shifted by %.3f in log inverse depth (median over %d '
                'sparse points)', offset, sum(r.size for r in residuals))
    return offset


def load_sequences(request: TrainingRequest, logger: logging.Logger) -> list:
    """Return the training sequences: the data paths, then the rendered synthetic seeds."""
    sequences = [open_data(path, request.size, request.depth_scale) for path in request.data]
    if request.synth_seeds:
        logger.info('rendering %d synthetic sequences (%d frames, %dx%d)',
                    len(request.synth_seeds) * len(request.synth_motions), request.synth_frames,
                    request.size[1], request.size[0])
        sequences += synthetic_sequences(request.synth_seeds, request.synth_frames,
                                         request.size, request.synth_motions)
    if not sequences:
        raise BadMessageError('data', 'nothing', '--data DIR|BAG or --synth-seeds')
    overlap = set(request.synth_seeds) & set(request.held_out_seeds)
    if overlap:
        raise BadMessageError('--held-out-seeds', sorted(overlap),
                              'seeds not trained on (they would not be held out)')
    return sequences


def run_training(request: TrainingRequest, logger: logging.Logger | None = None) -> dict:
    """Train, export ``out/model.onnx``, write the report; return the report's summary."""
    import torch

    from mono_depth_ros.training.assessment import assess, onnx_predictor, torch_predictor
    from mono_depth_ros.training.export import export_network
    from mono_depth_ros.training.report import write_training_report

    logger = logger or _LOGGER
    torch.manual_seed(request.settings.seed)
    started = time.monotonic()
    sequences = load_sequences(request, logger)
    model, kind, _ = build_model(request.init, logger)
    if kind == 'depth_anything' and request.settings.mode != 'supervised':
        raise BadMessageError('--mode', request.settings.mode, 'supervised with a Depth '
                              'Anything --init (its metric export is not written yet)')
    held_out = synthetic_sequences(request.held_out_seeds, request.held_out_frames,
                                   request.size) if request.held_out_seeds else []
    depth_type = 'relative' if request.settings.mode == 'supervised' else 'metric'
    extra: dict = {}
    if request.settings.mode == 'self-supervised' and kind == 'depthnet' and not request.resume:
        model.eval()
        extra['metric_offset'] = calibrate_metric_offset(model, sequences, logger)
        if held_out:
            extra['held_out_metric_at_start'] = assess(torch_predictor(model, 'metric'),
                                                       held_out, 'metric')
            logger.info('held-out metric AbsRel at the start: %.4f',
                        extra['held_out_metric_at_start'].get('abs_rel', np.nan))
    scores: list = []

    def on_checkpoint(state):
        if held_out and kind == 'depthnet':
            metrics = assess(torch_predictor(model, 'relative'), held_out, 'relative', every=4)
            scores.append((state.step, metrics))
            logger.info('step %d: held-out AbsRel %.4f (scale+shift per frame)', state.step,
                        metrics.get('abs_rel', np.nan))

    network_config = getattr(getattr(model, 'config', None), 'to_json', None)
    metadata = {'network': network_config()} if kind == 'depthnet' else {}
    state = train(model, sequences, request.settings, request.out, resume=request.resume,
                  progress=request.progress, on_checkpoint=on_checkpoint,
                  checkpoint_metadata=metadata, logger=logger)
    model_path = request.out / MODEL_NAME
    if kind == 'depthnet':
        export_network(model, model_path, depth_type=depth_type,
                       source=f'mono_depth_ros train ({request.settings.mode})',
                       traced_size=request.size, logger=logger)
    else:
        _export_depth_anything(model, model_path, request, logger)
    final = {}
    if held_out:
        predict = onnx_predictor(model_path, input_size=min(request.size))
        if depth_type == 'metric':
            final['metric, as predicted'] = assess(predict, held_out, 'metric')
            final['relative, scale+shift per frame'] = assess(
                lambda rgb: 1.0 / predict(rgb), held_out, 'relative')
        else:
            final['relative, scale+shift per frame'] = assess(predict, held_out, 'relative')
        if 'held_out_metric_at_start' in extra:
            final['metric, starting point'] = extra['held_out_metric_at_start']
    for name, values in final.items():
        logger.info('held-out %s: AbsRel %.4f, RMSE %.3f m, delta1 %.3f', name,
                    values.get('abs_rel', np.nan), values.get('rmse', np.nan),
                    values.get('delta1', np.nan))
    settings = asdict(request.settings)
    settings.update({'size': f'{request.size[0]}x{request.size[1]}',
                     'synth_seeds': request.synth_seeds, 'synth_frames': request.synth_frames,
                     'synth_motions': list(request.synth_motions), 'init': request.init,
                     'held_out_seeds': request.held_out_seeds})
    described = list(request.data)
    if request.synth_seeds:
        described.append(f'synthetic seeds {request.synth_seeds} '
                         f'({", ".join(request.synth_motions)})')
    data = ', '.join(described)
    paths = write_training_report(
        request.out, command=request.command or shlex.join(sys.argv), settings=settings,
        history=state.history, held_out=scores, final=final, data=data,
        model_file=str(model_path), extra={**extra, 'train_seconds': state.seconds,
                                           'total_seconds': time.monotonic() - started})
    return {'model': model_path, 'checkpoint': request.out / CHECKPOINT_NAME, 'final': final,
            'report': paths['markdown'], 'state': state}


def _export_depth_anything(adapter, model_path, request: TrainingRequest, logger) -> None:
    from mono_depth_ros.inference.base import ModelInfo
    from mono_depth_ros.inference.onnx_export import export_onnx

    model = adapter.depth_anything.eval()
    info = ModelInfo(depth_type='relative', max_depth=None, source=str(request.init),
                     model_format='onnx')
    export_onnx(model, model_path, input_size=min(request.size), info=info, logger=logger)
