"""The Keras model trained by a hand-written PyTorch loop (keras.io's PyTorch guide).

On the PyTorch backend a Keras model is a `torch.nn.Module`: a `torch.optim.SGD` over its
parameters, the Keras loss on its output, `backward()` and `step()`, eagerly
(`loop=eager`), with the step `torch.compile`d (`loop=compile`), or compiled with
`mode="reduce-overhead"` (`loop=compile-graphs`): Inductor's CUDA graphs replay the step
with one launch, where the eager loop's per-step host work bounds it on a GPU (7.5 ms a
step on the H200, docs/gpu.md). Inductor may decline a graph and say why in its log; the
tune's figures decide either way. On a CPU it makes no graphs, so it is a GPU candidate
only. Images stay in Keras's channels-last layout (the model transposes them itself).
"""

from __future__ import annotations

import keras
import numpy as np
import torch

from cnnbench import backend as backends
from cnnbench import precision
from cnnbench.data import place_splits
from cnnbench.model import build_model


class Trainer:
    def __init__(self, config, data, settings: dict, eval_batch_size: int) -> None:
        cuda = config.device != "cpu" and torch.cuda.is_available()
        self.torch_device = torch.device("cuda" if cuda else "cpu")
        # Built as the guide builds it: under `keras.device` Keras 3.15 registers every
        # variable twice with the torch Module, and an optimizer over `parameters()` then
        # updates copies the model never reads.
        policy = precision.keras_dtype_policy(config.precision)
        self.model = build_model(config.filters, policy, seed=config.seed)
        self.model.to(self.torch_device)
        self.loss_fn = keras.losses.SparseCategoricalCrossentropy()
        self.optimizer = torch.optim.SGD(
            self.model.parameters(), lr=config.learning_rate, foreach=True
        )
        self.device = backends.device_of(next(self.model.parameters()))
        self.params = self.model.count_params()
        n = config.train_samples

        def to_device(x, y):
            images = torch.from_numpy(np.ascontiguousarray(x)).to(self.torch_device)
            return images, torch.from_numpy(y).long().to(self.torch_device)

        self.splits, self.sizes = place_splits(data, n, to_device)
        zeros = {"device": self.torch_device}
        self.total_loss = torch.zeros((), **zeros)
        self.correct = torch.zeros((), dtype=torch.long, **zeros)
        self.batch_size = config.batch_size
        self.step = self._step
        if settings["loop"] == "compile":
            self.step = torch.compile(self._step)
        elif settings["loop"] == "compile-graphs":
            self.step = torch.compile(self._step, mode="reduce-overhead")
        self.settings = {
            **settings,
            "threads": torch.get_num_threads(),
            "api": "the Keras model as a torch.nn.Module, torch.optim.SGD(foreach)",
        }

    def _step(self, xb: torch.Tensor, yb: torch.Tensor):
        """One SGD step; the batch's summed loss and correct count, accumulated outside it
        (a graph's inputs mutated inside it would make Inductor decline the graph)."""
        probs = self.model(xb, training=True)
        loss = self.loss_fn(yb, probs)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        with torch.no_grad():
            return loss.detach() * yb.shape[0], (probs.argmax(1) == yb).sum()

    def train_epoch(self, order: np.ndarray):
        x, y = self.splits["train"]
        self.total_loss.zero_()
        self.correct.zero_()
        index = torch.from_numpy(order.astype(np.int64)).to(self.torch_device)
        for start in range(0, len(index), self.batch_size):
            batch = index[start : start + self.batch_size]
            loss, correct = self.step(x.index_select(0, batch), y.index_select(0, batch))
            self.total_loss += loss
            self.correct += correct
        return self.total_loss, self.correct

    def eval_batch(self, split: str, start: int, stop: int):
        x, y = self.splits[split]
        with torch.inference_mode():
            probs = self.model(x[start:stop], training=False)
            yb = y[start:stop]
            loss = self.loss_fn(yb, probs) * yb.shape[0]
            return loss, (probs.argmax(1) == yb).sum()
