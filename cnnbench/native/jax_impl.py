"""The report's CNN in plain JAX: one jit-compiled SGD step over device-resident arrays.

Parameters are a pytree; the step takes the batch's indices, gathers the images on the
device, and returns updated parameters with the loss and the correct count, which stay
on the device until the epoch ends. Dispatch is asynchronous, so Python runs ahead
of the device instead of waiting for each step.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from cnnbench.native import initial_weights

DIMENSIONS = ("NHWC", "HWIO", "NHWC")


def _forward(params, x):
    (k1, b1), (k2, b2), (k3, b3), (k4, b4) = params
    for kernel, bias in ((k1, b1), (k2, b2)):
        x = lax.conv_general_dilated(x, kernel, (1, 1), "SAME", dimension_numbers=DIMENSIONS)
        x = jax.nn.relu(x + bias)
        x = lax.reduce_window(x, -jnp.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")
    x = x.reshape(x.shape[0], -1)
    x = jax.nn.relu(x @ k3 + b3)
    return x @ k4 + b4


def _loss_and_correct(params, x, y):
    logits = _forward(params, x)
    log_probs = jax.nn.log_softmax(logits)
    loss = -jnp.mean(jnp.take_along_axis(log_probs, y[:, None], axis=1))
    return loss, jnp.sum(jnp.argmax(logits, axis=1) == y)


@partial(jax.jit, donate_argnums=0)
def _step(params, x_all, y_all, index, learning_rate):
    x, y = x_all[index], y_all[index]
    (loss, correct), grads = jax.value_and_grad(_loss_and_correct, has_aux=True)(params, x, y)
    params = jax.tree.map(lambda p, g: p - learning_rate * g, params, grads)
    return params, loss * index.shape[0], correct


@jax.jit
def _evaluate(params, x, y):
    logits = _forward(params, x)
    log_probs = jax.nn.log_softmax(logits)
    loss = -jnp.sum(jnp.take_along_axis(log_probs, y[:, None], axis=1))
    return loss, jnp.sum(jnp.argmax(logits, axis=1) == y)


class Trainer:
    def __init__(self, config, data, eval_batch_size: int) -> None:
        platform = "cpu" if config.device == "cpu" else None
        self.jax_device = jax.devices(platform)[0]
        self.device = "cpu" if self.jax_device.platform == "cpu" else self.jax_device.device_kind
        put = partial(jax.device_put, device=self.jax_device)
        self.weights = put(initial_weights(config.filters, config.seed))
        self.params = sum(k.size + b.size for k, b in self.weights)
        n = config.train_subset or len(data.x_train)
        self.splits = {
            "train": (put(data.x_train[:n]), put(data.y_train[:n])),
            "val": (put(data.x_val), put(data.y_val)),
            "test": (put(data.x_test), put(data.y_test)),
        }
        self.learning_rate = jnp.float32(config.learning_rate)
        self.batch_size = config.batch_size
        self.eval_batch_size = eval_batch_size
        self.settings = {
            "layout": "NHWC",
            "step": "jax.jit, donated parameters",
            "backend_platform": self.jax_device.platform,
        }

    def train_epoch(self, order: np.ndarray) -> tuple[float, float]:
        x, y = self.splits["train"]
        index = jax.device_put(order, self.jax_device)
        losses, corrects = [], []
        for start in range(0, len(order), self.batch_size):
            self.weights, loss, correct = _step(
                self.weights, x, y, index[start : start + self.batch_size], self.learning_rate
            )
            losses.append(loss)
            corrects.append(correct)
        n = len(order)
        return float(jnp.sum(jnp.stack(losses))) / n, int(jnp.sum(jnp.stack(corrects))) / n

    def evaluate(self, split: str) -> tuple[float, float]:
        x, y = self.splits[split]
        total_loss, correct = 0.0, 0
        for start in range(0, len(x), self.eval_batch_size):
            end = start + self.eval_batch_size
            loss, right = _evaluate(self.weights, x[start:end], y[start:end])
            total_loss, correct = total_loss + float(loss), correct + int(right)
        return total_loss / len(x), correct / len(x)
