"""The Keras model trained by a hand-written JAX loop (keras.io's JAX guide).

`model.stateless_call` gives the predictions from the variables' values, `jax.grad` the
gradients, `optimizer.stateless_apply` the new values; the state travels through a jitted
step (`loop=step`) or a `lax.scan` over the epoch (`loop=scan`). Batches are gathered on
the device from the epoch's order, as the native JAX path does.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import keras
import numpy as np
from jax import lax

from cnnbench import backend as backends
from cnnbench import precision
from cnnbench.data import place_splits
from cnnbench.model import build_model


class Trainer:
    def __init__(self, config, data, settings: dict, eval_batch_size: int) -> None:
        platform = "cpu" if config.device == "cpu" else None
        self.jax_device = jax.devices(platform)[0]
        put = partial(jax.device_put, device=self.jax_device)
        with jax.default_device(self.jax_device):
            policy = precision.keras_dtype_policy(config.precision)
            model = build_model(config.filters, policy, seed=config.seed)
            optimizer = keras.optimizers.SGD(learning_rate=config.learning_rate)
            optimizer.build(model.trainable_variables)
        loss_fn = keras.losses.SparseCategoricalCrossentropy()
        self.state = put(
            (
                [v.value for v in model.trainable_variables],
                [v.value for v in model.non_trainable_variables],
                [v.value for v in optimizer.variables],
            )
        )
        self.device = backends.device_of(self.state[0][0])
        self.params = model.count_params()
        n = config.train_samples
        self.splits, self.sizes = place_splits(data, n, lambda x, y: (put(x), put(y)))
        self.batch_size = config.batch_size
        self.loop = settings["loop"]

        def sums(trainable, non_trainable, x, y):
            probs, non_trainable = model.stateless_call(trainable, non_trainable, x)
            loss = loss_fn(y, probs) * x.shape[0]  # the batch's summed cross-entropy
            correct = jnp.sum(jnp.argmax(probs, axis=1) == y)
            return loss, (correct, non_trainable)

        def step(state, x_all, y_all, index):
            trainable, non_trainable, opt_vars = state
            x, y = x_all[index], y_all[index]

            def mean_loss(trainable):
                loss, aux = sums(trainable, non_trainable, x, y)
                return loss / index.shape[0], (loss, aux)

            grads, (loss, (correct, non_trainable)) = jax.grad(mean_loss, has_aux=True)(trainable)
            trainable, opt_vars = optimizer.stateless_apply(opt_vars, grads, trainable)
            return (trainable, non_trainable, opt_vars), loss, correct

        def epoch(state, x_all, y_all, order):
            def body(state, index):
                state, loss, correct = step(state, x_all, y_all, index)
                return state, (loss, correct)

            state, (losses, corrects) = lax.scan(body, state, order)
            return state, jnp.sum(losses), jnp.sum(corrects)

        def evaluate(state, x, y):
            loss, (correct, _) = sums(state[0], state[1], x, y)
            return loss, correct

        # New jitted functions per Trainer: every run compiles (and is timed with) its own.
        self._step = jax.jit(step, donate_argnums=0)
        self._epoch = jax.jit(epoch, donate_argnums=0)
        self._eval = jax.jit(evaluate)
        self.settings = {**settings, "api": "stateless_call + stateless_apply under jax.jit"}

    def train_epoch(self, order: np.ndarray):
        x, y = self.splits["train"]
        full = len(order) // self.batch_size * self.batch_size
        losses, corrects = [], []
        if self.loop == "scan" and full:
            index = jax.device_put(order[:full].reshape(-1, self.batch_size), self.jax_device)
            self.state, loss, correct = self._epoch(self.state, x, y, index)
            losses.append(loss)
            corrects.append(correct)
            order = order[full:]
        index = jax.device_put(order, self.jax_device)
        for start in range(0, len(order), self.batch_size):
            batch = index[start : start + self.batch_size]
            self.state, loss, correct = self._step(self.state, x, y, batch)
            losses.append(loss)
            corrects.append(correct)
        return jnp.sum(jnp.stack(losses)), jnp.sum(jnp.stack(corrects))

    def eval_batch(self, split: str, start: int, stop: int):
        x, y = self.splits[split]
        return self._eval(self.state, x[start:stop], y[start:stop])
