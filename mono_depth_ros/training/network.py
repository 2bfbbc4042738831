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

"""A FastDepth-like encoder-decoder that predicts log inverse depth at any input size.

MobileNet-style depthwise-separable blocks halve the resolution five times; the decoder
upsamples each level to the size of the skip it joins (so any H, W works, multiples of 14
included, and the ONNX export keeps H and W dynamic) and ends at the input size. The output is
``log`` of inverse depth: relative (any global scale) after supervised training, metric (1/m)
after self-supervised training with known poses. A few hundred thousand weights, a few MB.
"""

from dataclasses import asdict, dataclass
import json

import torch
from torch import nn
from torch.nn import functional

ARCHITECTURE = 'mono_depth_ros-fastdepth'
LOG_INVERSE_LIMIT = 12.0  # |log inverse depth| is clamped here: 6e-6 to 1.6e5 per metre


@dataclass(frozen=True)
class NetworkConfig:
    """The network's widths; stored in every checkpoint so that it rebuilds the same network."""

    encoder: tuple[int, ...] = (24, 32, 48, 96, 160)
    decoder: tuple[int, ...] = (96, 48, 32, 24)

    def to_json(self) -> str:
        """Return the config as JSON (the checkpoint metadata)."""
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> 'NetworkConfig':
        """Return the config a checkpoint recorded."""
        values = json.loads(text)
        return cls(encoder=tuple(values['encoder']), decoder=tuple(values['decoder']))


def _separable(inputs: int, outputs: int, stride: int = 1) -> nn.Sequential:
    """Depthwise 3x3 then pointwise 1x1, each with batch norm and ReLU6."""
    return nn.Sequential(
        nn.Conv2d(inputs, inputs, 3, stride, 1, groups=inputs, bias=False),
        nn.BatchNorm2d(inputs), nn.ReLU6(inplace=True),
        nn.Conv2d(inputs, outputs, 1, bias=False), nn.BatchNorm2d(outputs),
        nn.ReLU6(inplace=True))


class DepthNet(nn.Module):
    """Normalised RGB (N, 3, H, W) -> log inverse depth (N, 1, H, W)."""

    def __init__(self, config: NetworkConfig | None = None):
        super().__init__()
        self.config = config or NetworkConfig()
        widths = self.config.encoder
        self.stem = nn.Sequential(nn.Conv2d(3, widths[0], 3, 2, 1, bias=False),
                                  nn.BatchNorm2d(widths[0]), nn.ReLU6(inplace=True),
                                  _separable(widths[0], widths[0]))
        self.stages = nn.ModuleList(
            nn.Sequential(_separable(widths[i - 1], widths[i], stride=2),
                          _separable(widths[i], widths[i]))
            for i in range(1, len(widths)))
        # The deepest level also sees the whole image's mean: a cheap global context.
        self.context = nn.Sequential(nn.Conv2d(widths[-1], widths[-1], 1), nn.ReLU6())
        skips = list(reversed(widths[:-1]))
        decoder = self.config.decoder
        if len(decoder) != len(skips):
            raise ValueError(f'decoder has {len(decoder)} levels; the encoder needs '
                             f'{len(skips)}')
        inputs = [widths[-1], *decoder[:-1]]
        self.decoder = nn.ModuleList(_separable(inputs[i] + skips[i], decoder[i])
                                     for i in range(len(decoder)))
        self.head = nn.Conv2d(decoder[-1], 1, 3, 1, 1)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        """Return log inverse depth at the input's size."""
        levels = [self.stem(pixels)]
        for stage in self.stages:
            levels.append(stage(levels[-1]))
        features = levels[-1]
        features = features + self.context(features.mean(dim=(2, 3), keepdim=True))
        for block, skip in zip(self.decoder, reversed(levels[:-1])):
            features = functional.interpolate(features, size=skip.shape[-2:], mode='bilinear',
                                              align_corners=False)
            features = block(torch.cat([features, skip], dim=1))
        log_inverse = functional.interpolate(self.head(features), size=pixels.shape[-2:],
                                             mode='bilinear', align_corners=False)
        return log_inverse.clamp(-LOG_INVERSE_LIMIT, LOG_INVERSE_LIMIT)


def parameter_count(model: nn.Module) -> int:
    """Return the number of weights."""
    return sum(parameter.numel() for parameter in model.parameters())
