"""The report's CNN in plain JAX, over device-resident arrays.

Parameters are a pytree updated by plain SGD inside the compiled function, which gathers
each batch on the device from the epoch's order. Settings (`cnnbench.profiles`):

- `loop`: `step`, one `jax.jit` call per step (dispatch is asynchronous, so Python runs
  ahead of the device), or `scan`, the whole epoch as one compiled `lax.scan` call;
- `pool`: `window`, 2x2 max-pooling as `lax.reduce_window` (its gradient is XLA's
  `select_and_scatter`), or `reshape`, the same pooling as a reshape and a max over
  the window axes;
- `conv`: `xla`, `lax.conv_general_dilated`, or `im2col`, the 3x3 convolution as nine
  shifted copies of the input side by side and one matrix product (its gradients are
  matrix products too).

Every Trainer compiles its own functions, so each run pays its own compilation.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from cnnbench import backend as backends
from cnnbench.data import place_splits
from cnnbench.native.weights import initial_weights

DIMENSIONS = ("NHWC", "HWIO", "NHWC")


def _pool(x, how: str):
    if how == "window":
        return lax.reduce_window(x, -jnp.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")
    n, h, w, c = x.shape
    return x.reshape(n, h // 2, 2, w // 2, 2, c).max(axis=(2, 4))


def _conv(x, kernel, how: str):
    """A 3x3, stride-1, 'same' convolution of NHWC `x` with an HWIO kernel."""
    if how == "xla":
        return lax.conv_general_dilated(x, kernel, (1, 1), "SAME", dimension_numbers=DIMENSIONS)
    kh, kw, c, f = kernel.shape
    n, h, w, _ = x.shape
    padded = jnp.pad(x, ((0, 0), (kh // 2, kh // 2), (kw // 2, kw // 2), (0, 0)))
    shifted = [padded[:, i : i + h, j : j + w, :] for i in range(kh) for j in range(kw)]
    columns = jnp.concatenate(shifted, axis=-1).reshape(n * h * w, kh * kw * c)
    return (columns @ kernel.reshape(kh * kw * c, f)).reshape(n, h, w, f)


def _forward(params, x, pool: str, conv: str, dtype):
    (k1, b1), (k2, b2), (k3, b3), (k4, b4) = jax.tree.map(lambda p: p.astype(dtype), params)
    x = x.astype(dtype)
    for kernel, bias in ((k1, b1), (k2, b2)):
        x = _pool(jax.nn.relu(_conv(x, kernel, conv) + bias), pool)
    x = x.reshape(x.shape[0], -1)
    x = jax.nn.relu(x @ k3 + b3)
    return (x @ k4 + b4).astype(jnp.float32)


def _sums(params, x, y, pool, conv, dtype):
    """(summed cross-entropy, correct count) of a batch."""
    logits = _forward(params, x, pool, conv, dtype)
    log_probs = jax.nn.log_softmax(logits)
    loss = -jnp.sum(jnp.take_along_axis(log_probs, y[:, None], axis=1))
    return loss, jnp.sum(jnp.argmax(logits, axis=1) == y)


def _step(params, x_all, y_all, index, learning_rate, **static):
    x, y = x_all[index], y_all[index]

    def mean_loss(params):
        loss, correct = _sums(params, x, y, **static)
        return loss / index.shape[0], (loss, correct)

    grads, (loss, correct) = jax.grad(mean_loss, has_aux=True)(params)
    params = jax.tree.map(lambda p, g: p - learning_rate * g, params, grads)
    return params, loss, correct


def _epoch(params, x_all, y_all, order, learning_rate, **static):
    """Every full batch of `order` (steps x batch) in one `lax.scan`."""

    def body(params, index):
        params, loss, correct = _step(params, x_all, y_all, index, learning_rate, **static)
        return params, (loss, correct)

    params, (losses, corrects) = lax.scan(body, params, order)
    return params, jnp.sum(losses), jnp.sum(corrects)


class Trainer:
    def __init__(self, config, data, settings: dict, eval_batch_size: int) -> None:
        platform = "cpu" if config.device == "cpu" else None
        self.jax_device = jax.devices(platform)[0]
        put = partial(jax.device_put, device=self.jax_device)
        self.weights = put(initial_weights(config.filters, config.seed))
        self.device = backends.device_of(self.weights[0][0])
        self.params = sum(k.size + b.size for k, b in self.weights)
        n = config.train_samples
        self.splits, self.sizes = place_splits(data, n, lambda x, y: (put(x), put(y)))
        self.learning_rate = jnp.float32(config.learning_rate)
        self.batch_size = config.batch_size
        self.loop = settings["loop"]
        static = {
            "pool": settings["pool"],
            "conv": settings["conv"],
            "dtype": self._dtype(config.precision),
        }
        # New jitted functions per Trainer: every run compiles (and is timed with) its own.
        self._step = jax.jit(partial(_step, **static), donate_argnums=0)
        self._epoch = jax.jit(partial(_epoch, **static), donate_argnums=0)
        self._sums = jax.jit(partial(_sums, **static))
        self.settings = {**settings, "layout": "NHWC", "platform": self.jax_device.platform}

    @staticmethod
    def _dtype(precision: str):
        return jnp.bfloat16 if precision == "bf16" else jnp.float32

    def train_epoch(self, order: np.ndarray):
        x, y = self.splits["train"]
        full = len(order) // self.batch_size * self.batch_size
        losses, corrects = [], []
        if self.loop == "scan" and full:
            index = jax.device_put(order[:full].reshape(-1, self.batch_size), self.jax_device)
            self.weights, loss, correct = self._epoch(self.weights, x, y, index, self.learning_rate)
            losses.append(loss)
            corrects.append(correct)
            order = order[full:]
        index = jax.device_put(order, self.jax_device)
        for start in range(0, len(order), self.batch_size):
            batch = index[start : start + self.batch_size]
            self.weights, loss, correct = self._step(self.weights, x, y, batch, self.learning_rate)
            losses.append(loss)
            corrects.append(correct)
        return jnp.sum(jnp.stack(losses)), jnp.sum(jnp.stack(corrects))

    def eval_batch(self, split: str, start: int, stop: int):
        x, y = self.splits[split]
        return self._sums(self.weights, x[start:stop], y[start:stop])
