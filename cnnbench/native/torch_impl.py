"""The report's CNN in plain PyTorch, over device-resident tensors.

`F.cross_entropy` on logits (the softmax fused into the loss, as is idiomatic),
`torch.optim.SGD(foreach=True)`, batches gathered by index on the device, loss and
accuracy summed on the device (no per-step wait). Settings (`cnnbench.profiles`):

- `loop`: `eager`, one Python step after another; `graph`, the whole training step
  (gather, forward, backward, SGD update, sums) captured once as a CUDA graph and
  replayed, so a step costs one launch (CUDA only); `compile`, the network through
  `torch.compile` (`reduce-overhead`, i.e. CUDA graphs, on a GPU);
- `layout`: `nchw` (PyTorch's default) or `channels_last` (NHWC in memory);
- `cudnn_benchmark`: let cuDNN time its convolution algorithms and keep the fastest.

bf16 runs the forward pass under `torch.autocast` with float32 master weights.
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from cnnbench import backend as backends
from cnnbench.analytic import DENSE_UNITS, KERNEL, NUM_CLASSES, POOLED_SIDE
from cnnbench.data import place_splits
from cnnbench.native.weights import initial_weights

WARMUP_STEPS = 3  # before a capture: cuDNN/cuBLAS choose their kernels, the allocator settles


def _network(filters: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(1, filters, KERNEL, padding="same"),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(filters, filters, KERNEL, padding="same"),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(POOLED_SIDE * POOLED_SIDE * filters, DENSE_UNITS),
        nn.ReLU(),
        nn.Linear(DENSE_UNITS, NUM_CLASSES),
    )


def _load_keras_layout(net: nn.Sequential, filters: int, seed: int) -> None:
    """Copy the shared Glorot initialisation (Keras layouts) into PyTorch's layouts."""
    (k1, b1), (k2, b2), (k3, b3), (k4, b4) = initial_weights(filters, seed)
    # Keras flattens NHWC, PyTorch NCHW: permute the dense rows so both see the same map.
    side = POOLED_SIDE
    k3 = k3.reshape(side, side, filters, DENSE_UNITS).transpose(2, 0, 1, 3)
    k3 = k3.reshape(-1, DENSE_UNITS)
    layers = [net[0], net[3], net[7], net[9]]
    kernels = [k1.transpose(3, 2, 0, 1), k2.transpose(3, 2, 0, 1), k3.T, k4.T]
    with torch.no_grad():
        for layer, kernel, bias in zip(layers, kernels, (b1, b2, b3, b4), strict=True):
            layer.weight.copy_(torch.from_numpy(np.ascontiguousarray(kernel)))
            layer.bias.copy_(torch.from_numpy(bias))


class Trainer:
    def __init__(self, config, data, settings: dict, eval_batch_size: int) -> None:
        cuda = config.device != "cpu" and torch.cuda.is_available()
        self.torch_device = torch.device("cuda" if cuda else "cpu")
        if settings["loop"] == "graph" and not cuda:
            raise ValueError("native torch loop 'graph' needs a CUDA device")
        torch.backends.cudnn.benchmark = settings["cudnn_benchmark"]
        memory = torch.channels_last if settings["layout"] == "channels_last" else None
        self.net = _network(config.filters)
        _load_keras_layout(self.net, config.filters, config.seed)
        self.net.to(self.torch_device, memory_format=memory or torch.contiguous_format)
        self.device = backends.device_of(self.net[0].weight)
        self.params = sum(p.numel() for p in self.net.parameters())
        self.optimizer = torch.optim.SGD(
            self.net.parameters(), lr=config.learning_rate, foreach=True
        )
        self.batch_size = config.batch_size
        self.loop = settings["loop"]
        self.forward = self.net
        if self.loop == "compile":
            mode = "reduce-overhead" if cuda else "default"
            self.forward = torch.compile(self.net, mode=mode)
        self.bf16 = config.precision == "bf16"
        n = config.train_samples

        def to_device(x, y):
            images = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
            images = images.to(self.torch_device)
            if memory is not None:
                images = images.contiguous(memory_format=memory)
            return images, torch.from_numpy(y).long().to(self.torch_device)

        self.splits, self.sizes = place_splits(data, n, to_device)
        zeros = dict(device=self.torch_device)
        self.total_loss = torch.zeros((), **zeros)
        self.correct = torch.zeros((), dtype=torch.long, **zeros)
        self.graph = None
        self.settings = {
            **settings,
            "threads": torch.get_num_threads(),
            "optimizer": "torch.optim.SGD(foreach)",
        }

    def _autocast(self):
        if not self.bf16:
            return contextlib.nullcontext()
        # No weight-cast cache: it would hold tensors from outside a graph capture.
        return torch.autocast(self.torch_device.type, dtype=torch.bfloat16, cache_enabled=False)

    def _step(self, index: torch.Tensor) -> None:
        """One SGD step on the images at `index`; loss and correct count summed in place."""
        x, y = self.splits["train"]
        xb, yb = x.index_select(0, index), y.index_select(0, index)
        with self._autocast():
            logits = self.forward(xb)
        loss = F.cross_entropy(logits.float(), yb)
        self.optimizer.zero_grad(set_to_none=self.graph is None)
        loss.backward()
        self.optimizer.step()
        with torch.no_grad():
            self.total_loss += loss.detach() * index.numel()
            self.correct += (logits.argmax(1) == yb).sum()

    def _graph_step(self) -> None:
        """The step a CUDA graph replays: its batch is row `self.cursor` of the order."""
        index = self.order.index_select(0, self.cursor).view(-1)
        self._step(index)
        self.cursor += 1

    def _capture(self, steps: int) -> None:
        """Record one training step as a CUDA graph (once per run, inside the timed region).

        The warm-up steps before the capture train too: the parameters are put back
        afterwards, so every implementation starts from the same weights.
        """
        self.order = torch.zeros((steps, self.batch_size), dtype=torch.long, **self._on)
        self.cursor = torch.zeros(1, dtype=torch.long, **self._on)
        saved = [p.detach().clone() for p in self.net.parameters()]
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(WARMUP_STEPS):
                self._graph_step()
        torch.cuda.current_stream().wait_stream(side)
        self.optimizer.zero_grad(set_to_none=True)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self._graph_step()
        with torch.no_grad():
            for param, value in zip(self.net.parameters(), saved, strict=True):
                param.copy_(value)

    @property
    def _on(self) -> dict:
        return {"device": self.torch_device}

    def train_epoch(self, order: np.ndarray):
        self.net.train()
        self.total_loss.zero_()
        self.correct.zero_()
        full = len(order) // self.batch_size
        index = torch.from_numpy(order.astype(np.int64)).to(self.torch_device)
        if self.loop == "graph" and full:
            if self.graph is None:
                self._capture(full)
                self.total_loss.zero_()
                self.correct.zero_()
            self.order.copy_(index[: full * self.batch_size].view(full, self.batch_size))
            self.cursor.zero_()
            for _ in range(full):
                self.graph.replay()
            index = index[full * self.batch_size :]
        for start in range(0, len(index), self.batch_size):
            self._step(index[start : start + self.batch_size])
        return self.total_loss, self.correct

    def eval_batch(self, split: str, start: int, stop: int):
        x, y = self.splits[split]
        self.net.eval()
        with torch.inference_mode(), self._autocast():
            logits = self.net(x[start:stop]).float()
            yb = y[start:stop]
            return F.cross_entropy(logits, yb, reduction="sum"), (logits.argmax(1) == yb).sum()
