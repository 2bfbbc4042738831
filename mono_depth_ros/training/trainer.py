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

"""The training loop: batches from sequences, the losses, Adam, checkpoints, resume.

Supervised where the frames have ground-truth depth (relative inverse depth, scale-invariant),
self-supervised where they have camera poses instead (photometric reprojection between
neighbouring frames plus the sparse points: metric). Checkpoints are safetensors files (weights,
Adam moments, the step, the configs and the loss history in the metadata), never pickle, so a
run resumes exactly where it stopped. Everything is seeded: one seed gives one model.
"""

from dataclasses import asdict, dataclass, field
import json
import logging
import pathlib
import random
import time

import numpy as np

from mono_depth_ros.core.errors import BadMessageError
from mono_depth_ros.core.preprocessing import normalisation_constants
from mono_depth_ros.training.datasets import TrainingSequence

MODES = ('supervised', 'self-supervised')
CHECKPOINT_NAME = 'checkpoint.safetensors'
_LOGGER = logging.getLogger('mono_depth_ros.training.trainer')


@dataclass
class TrainSettings:
    """What a run does; recorded in its checkpoints and its report."""

    mode: str = 'supervised'
    steps: int = 1500
    batch: int = 8
    learning_rate: float = 2e-3
    seed: int = 0
    gradient_weight: float = 0.5       # supervised: gradient matching beside the SI loss
    sparse_weight: float = 0.1         # self-supervised: |log depth error| at points
    smoothness_weight: float = 1e-3    # self-supervised: edge-aware smoothness of disparity
    neighbour_offset: int = 2          # self-supervised: frames t-o and t+o warp into t
    flip: bool = True                  # supervised: random horizontal flips
    checkpoint_every: int = 250
    history_every: int = 10            # loss history: one mean per this many steps

    def check(self) -> None:
        """Raise BadMessageError for a setting out of range."""
        if self.mode not in MODES:
            raise BadMessageError('mode', self.mode, f'one of {MODES}')
        for name in ('steps', 'batch', 'checkpoint_every', 'history_every', 'neighbour_offset'):
            if int(getattr(self, name)) < 1:
                raise BadMessageError(name, getattr(self, name), 'a positive integer')
        if not self.learning_rate > 0:
            raise BadMessageError('learning_rate', self.learning_rate, 'a positive number')


@dataclass
class TrainState:
    """Where a run stands: the step reached and the loss history (step, mean loss)."""

    step: int = 0
    history: list[tuple[int, float]] = field(default_factory=list)
    seconds: float = 0.0


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and torch."""
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def normalise(rgb_batch: np.ndarray):
    """Return the network tensor (N, 3, H, W) of uint8 (N, H, W, 3) RGB: ImageNet normalised."""
    import torch

    scale, offset = normalisation_constants()
    values = rgb_batch.astype(np.float32) * scale + offset
    return torch.from_numpy(np.ascontiguousarray(values.transpose(0, 3, 1, 2)))


class BatchSampler:
    """Random batches from the sequences, seeded: supervised or self-supervised ones."""

    def __init__(self, sequences: list[TrainingSequence], settings: TrainSettings):
        self.settings = settings
        self.rng = np.random.default_rng(settings.seed)
        offset = settings.neighbour_offset
        if settings.mode == 'supervised':
            self.items = [(s, i) for s, sequence in enumerate(sequences)
                          for i, frame in enumerate(sequence.frames) if frame.depth is not None]
            need = 'frames with ground-truth depth (a synthetic or TUM RGB-D directory)'
        else:
            self.items = [(s, i) for s, sequence in enumerate(sequences)
                          for i in range(offset, len(sequence.frames) - offset)
                          if all(sequence.frames[j].camera_pose is not None
                                 for j in (i - offset, i, i + offset))]
            need = 'frames with camera poses and neighbours (images + odometry)'
        if not self.items:
            raise BadMessageError('data', f'{len(sequences)} sequences', need)
        self.sequences = sequences

    def _jitter(self, count: int) -> np.ndarray:
        """Return per-image colour gains (count, 1, 1, 3): brightness times channel balance."""
        brightness = self.rng.uniform(0.8, 1.2, (count, 1, 1, 1))
        balance = self.rng.uniform(0.92, 1.08, (count, 1, 1, 3))
        return brightness * balance

    def supervised(self) -> tuple:
        """Return (pixels tensor, depth tensor (N, 1, H, W))."""
        import torch

        picks = self.rng.integers(0, len(self.items), self.settings.batch)
        rgbs, depths = [], []
        for pick in picks:
            s, i = self.items[pick]
            frame = self.sequences[s].frames[i]
            rgb, depth = frame.rgb, frame.depth
            if self.settings.flip and self.rng.random() < 0.5:
                rgb, depth = rgb[:, ::-1], depth[:, ::-1]
            rgbs.append(rgb)
            depths.append(np.nan_to_num(depth, nan=0.0, posinf=0.0, neginf=0.0))
        gains = self._jitter(len(picks))
        rgb = np.clip(np.stack(rgbs).astype(np.float32) * gains, 0, 255)
        return normalise(rgb), torch.from_numpy(np.stack(depths)[:, None].astype(np.float32))

    def self_supervised(self) -> dict:
        """Return target pixels, images in [0, 1], intrinsics, relative poses, sparse depth."""
        import torch

        offset = self.settings.neighbour_offset
        picks = self.rng.integers(0, len(self.items), self.settings.batch)
        gains = self._jitter(len(picks))
        targets, sources, poses, ks, sparse = [], [[], []], [[], []], [], []
        for number, pick in enumerate(picks):
            s, i = self.items[pick]
            sequence = self.sequences[s]
            frame = sequence.frames[i]
            targets.append(np.clip(frame.rgb * gains[number], 0, 255))
            world_to_target = frame.camera_pose
            for side, j in enumerate((i - offset, i + offset)):
                neighbour = sequence.frames[j]
                sources[side].append(np.clip(neighbour.rgb * gains[number], 0, 255))
                poses[side].append(np.linalg.inv(neighbour.camera_pose) @ world_to_target)
            ks.append(sequence.k)
            sparse.append(frame.sparse if frame.sparse is not None
                          else np.zeros(frame.rgb.shape[:2], np.float32))
        target = np.stack(targets).astype(np.float32)

        def unit(images) -> 'torch.Tensor':
            array = np.stack(images).astype(np.float32) / 255.0
            return torch.from_numpy(np.ascontiguousarray(array.transpose(0, 3, 1, 2)))

        return {'pixels': normalise(target), 'target': unit(targets),
                'sources': [unit(images) for images in sources],
                'poses': [torch.from_numpy(np.stack(side).astype(np.float32)) for side in poses],
                'k': torch.from_numpy(np.stack(ks).astype(np.float32)),
                'sparse': torch.from_numpy(np.stack(sparse)[:, None].astype(np.float32))}


def smoothness_loss(log_inverse, image):
    """Return Monodepth2's edge-aware smoothness of mean-normalised disparity."""
    import torch

    disparity = torch.exp(log_inverse)
    disparity = disparity / disparity.mean(dim=(2, 3), keepdim=True).clamp(min=1e-6)
    grad_x = (disparity[..., :, 1:] - disparity[..., :, :-1]).abs()
    grad_y = (disparity[..., 1:, :] - disparity[..., :-1, :]).abs()
    image_x = (image[..., :, 1:] - image[..., :, :-1]).abs().mean(1, keepdim=True)
    image_y = (image[..., 1:, :] - image[..., :-1, :]).abs().mean(1, keepdim=True)
    return ((grad_x * torch.exp(-image_x)).mean() + (grad_y * torch.exp(-image_y)).mean())


def step_loss(model, sampler: BatchSampler, settings: TrainSettings):
    """Return the loss of one fresh batch (a torch scalar with its graph)."""
    import torch

    from mono_depth_ros.training import losses

    if settings.mode == 'supervised':
        pixels, depth = sampler.supervised()
        return losses.supervised_loss(model(pixels), depth, settings.gradient_weight)
    batch = sampler.self_supervised()
    log_inverse = model(batch['pixels'])
    depth = torch.exp(-log_inverse)
    loss = losses.reprojection_loss(batch['target'], batch['sources'], depth, batch['k'],
                                    batch['poses'])
    loss = loss + settings.sparse_weight * losses.sparse_depth_loss(log_inverse,
                                                                    batch['sparse'])
    return loss + settings.smoothness_weight * smoothness_loss(log_inverse, batch['target'])


def save_checkpoint(path, model, optimizer, state: TrainState, settings: TrainSettings,
                    extra_metadata: dict | None = None) -> pathlib.Path:
    """Write weights, Adam moments and the run's state to a safetensors file (atomically)."""
    import os

    from safetensors.torch import save_file

    tensors = {f'model.{name}': value.detach().contiguous()
               for name, value in model.state_dict().items()}
    for index, slot in optimizer.state_dict()['state'].items():
        for name, value in slot.items():
            tensors[f'optimizer.{index}.{name}'] = value.detach().reshape(value.shape).contiguous()
    metadata = {'step': str(state.step), 'seconds': f'{state.seconds:.1f}',
                'history': json.dumps(state.history), 'settings': json.dumps(asdict(settings)),
                'format': 'mono_depth_ros training checkpoint 1'}
    metadata.update(extra_metadata or {})
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f'.{path.name}.partial')
    save_file(tensors, str(temporary), metadata=metadata)
    os.replace(temporary, path)
    return path


def read_checkpoint(path) -> tuple[dict, dict]:
    """Return (tensors, metadata) of a checkpoint; one clear error if it is not one."""
    from safetensors import safe_open

    from mono_depth_ros.inference.errors import ModelLoadError

    try:
        with safe_open(str(path), framework='pt') as handle:
            metadata = handle.metadata() or {}
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}
    except Exception as error:
        raise ModelLoadError(str(path), f'not a readable safetensors checkpoint: {error}') \
            from error
    if 'step' not in metadata:
        raise ModelLoadError(str(path), 'a safetensors file without training metadata (step)')
    return tensors, metadata


def restore(path, model, optimizer=None) -> TrainState:
    """Load a checkpoint into ``model`` (and ``optimizer``); return the run's state."""
    tensors, metadata = read_checkpoint(path)
    weights = {name[len('model.'):]: value for name, value in tensors.items()
               if name.startswith('model.')}
    model.load_state_dict(weights)
    if optimizer is not None:
        saved = optimizer.state_dict()
        slots: dict[int, dict] = {}
        for name, value in tensors.items():
            if name.startswith('optimizer.'):
                _, index, key = name.split('.', 2)
                slots.setdefault(int(index), {})[key] = value
        saved['state'] = slots
        optimizer.load_state_dict(saved)
    return TrainState(step=int(metadata['step']),
                      history=[tuple(item) for item in json.loads(metadata.get('history', '[]'))],
                      seconds=float(metadata.get('seconds', 0.0)))


def learning_rate_at(step: int, settings: TrainSettings) -> float:
    """Return the learning rate: a short warm-up, then cosine decay to 5 % at the last step."""
    warmup = min(50, settings.steps // 10 + 1)
    if step < warmup:
        return settings.learning_rate * (step + 1) / warmup
    progress = (step - warmup) / max(settings.steps - warmup, 1)
    return settings.learning_rate * (0.05 + 0.95 * 0.5 * (1 + np.cos(np.pi * min(progress, 1))))


def train(model, sequences: list[TrainingSequence], settings: TrainSettings, out_dir, *,
          resume: bool = False, progress: bool = True, on_checkpoint=None,
          checkpoint_metadata: dict | None = None,
          logger: logging.Logger | None = None) -> TrainState:
    """Train ``model`` in place for ``settings.steps`` steps; return the final state.

    Writes ``out_dir/checkpoint.safetensors`` every ``checkpoint_every`` steps and at the end;
    with ``resume`` it continues from that file (same settings). ``on_checkpoint(state)`` is
    called after each checkpoint (for held-out scores).
    """
    import torch
    from tqdm import tqdm

    logger = logger or _LOGGER
    settings.check()
    set_seed(settings.seed)
    out_dir = pathlib.Path(out_dir)
    checkpoint = out_dir / CHECKPOINT_NAME
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.learning_rate)
    state = TrainState()
    sampler = BatchSampler(sequences, settings)
    if resume:
        if not checkpoint.is_file():
            raise BadMessageError('--resume', str(checkpoint), 'an existing checkpoint')
        state = restore(checkpoint, model, optimizer)
        logger.info('resuming %s at step %d', checkpoint, state.step)
    model.train()
    window: list[float] = []
    started = time.monotonic() - state.seconds
    bar = tqdm(total=settings.steps, initial=state.step, disable=not progress,
               desc=f'train ({settings.mode})', unit='step', dynamic_ncols=True)
    skipped = 0
    while state.step < settings.steps:
        for group in optimizer.param_groups:
            group['lr'] = learning_rate_at(state.step, settings)
        # Each step's batch depends on (seed, step) only: a resumed run sees the same data.
        sampler.rng = np.random.default_rng([settings.seed, state.step])
        loss = step_loss(model, sampler, settings)
        if not torch.isfinite(loss):
            skipped += 1
            if skipped in (1, 10, 100):
                logger.warning('skipped %d batches whose loss was not finite', skipped)
            state.step += 1
            continue
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        optimizer.step()
        state.step += 1
        window.append(loss.item())
        if len(window) == settings.history_every:
            state.history.append((state.step, float(np.mean(window))))
            bar.set_postfix(loss=f'{state.history[-1][1]:.4f}')
            window.clear()
        bar.update(1)
        if state.step % settings.checkpoint_every == 0 or state.step == settings.steps:
            state.seconds = time.monotonic() - started
            save_checkpoint(checkpoint, model, optimizer, state, settings, checkpoint_metadata)
            if on_checkpoint is not None:
                model.eval()
                on_checkpoint(state)
                model.train()
    bar.close()
    state.seconds = time.monotonic() - started
    model.eval()
    return state
