"""The report's CNN in plain PyTorch: an eager loop over device-resident tensors.

NCHW tensors (PyTorch's native layout, what its CPU and cuDNN convolutions expect),
`F.cross_entropy` on logits (the softmax fused into the loss, as is idiomatic),
`torch.optim.SGD(foreach=True)`, and batches gathered by index on the device.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from cnnbench.native import initial_weights


def _network(filters: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(1, filters, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(filters, filters, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(7 * 7 * filters, 128),
        nn.ReLU(),
        nn.Linear(128, 10),
    )


def _load_keras_layout(net: nn.Sequential, filters: int, seed: int) -> None:
    """Copy the shared Glorot initialisation (Keras layouts) into PyTorch's layouts."""
    (k1, b1), (k2, b2), (k3, b3), (k4, b4) = initial_weights(filters, seed)
    # Keras flattens NHWC, PyTorch NCHW: permute the dense rows so both see the same map.
    k3 = k3.reshape(7, 7, filters, 128).transpose(2, 0, 1, 3).reshape(-1, 128)
    layers = [net[0], net[3], net[7], net[9]]
    kernels = [k1.transpose(3, 2, 0, 1), k2.transpose(3, 2, 0, 1), k3.T, k4.T]
    with torch.no_grad():
        for layer, kernel, bias in zip(layers, kernels, (b1, b2, b3, b4), strict=True):
            layer.weight.copy_(torch.from_numpy(np.ascontiguousarray(kernel)))
            layer.bias.copy_(torch.from_numpy(bias))


class Trainer:
    def __init__(self, config, data, eval_batch_size: int) -> None:
        cuda = config.device != "cpu" and torch.cuda.is_available()
        self.torch_device = torch.device("cuda" if cuda else "cpu")
        self.device = torch.cuda.get_device_name(0) if cuda else "cpu"
        torch.manual_seed(config.seed)
        self.net = _network(config.filters)
        _load_keras_layout(self.net, config.filters, config.seed)
        self.net.to(self.torch_device)
        self.params = sum(p.numel() for p in self.net.parameters())
        self.optimizer = torch.optim.SGD(
            self.net.parameters(), lr=config.learning_rate, foreach=True
        )
        self.batch_size = config.batch_size
        self.eval_batch_size = eval_batch_size
        n = config.train_subset or len(data.x_train)

        def to_device(x, y):
            images = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
            return images.to(self.torch_device), torch.from_numpy(y).long().to(self.torch_device)

        self.splits = {
            "train": to_device(data.x_train[:n], data.y_train[:n]),
            "val": to_device(data.x_val, data.y_val),
            "test": to_device(data.x_test, data.y_test),
        }
        self.settings = {
            "layout": "NCHW",
            "threads": torch.get_num_threads(),
            "loop": "eager, per step",
            "optimizer": "torch.optim.SGD(foreach)",
        }

    def train_epoch(self, order: np.ndarray) -> tuple[float, float]:
        x, y = self.splits["train"]
        index = torch.from_numpy(order.astype(np.int64)).to(self.torch_device)
        self.net.train()
        total_loss = torch.zeros((), device=self.torch_device)
        correct = torch.zeros((), dtype=torch.long, device=self.torch_device)
        for start in range(0, len(order), self.batch_size):
            batch = index[start : start + self.batch_size]
            xb, yb = x[batch], y[batch]
            logits = self.net(xb)
            loss = F.cross_entropy(logits, yb)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            with torch.no_grad():  # accumulate on the device: no per-step host sync
                total_loss += loss.detach() * len(batch)
                correct += (logits.argmax(1) == yb).sum()
        n = len(order)
        return total_loss.item() / n, correct.item() / n

    def evaluate(self, split: str) -> tuple[float, float]:
        x, y = self.splits[split]
        self.net.eval()
        total_loss, correct = 0.0, 0
        with torch.inference_mode():
            for start in range(0, len(x), self.eval_batch_size):
                logits = self.net(x[start : start + self.eval_batch_size])
                yb = y[start : start + self.eval_batch_size]
                total_loss += F.cross_entropy(logits, yb, reduction="sum").item()
                correct += (logits.argmax(1) == yb).sum().item()
        return total_loss / len(x), correct / len(x)
