"""The Keras model trained by a hand-written TensorFlow loop (keras.io's TensorFlow guide).

`tf.GradientTape` over the model's call, `optimizer.apply` of the gradients, in one
`tf.function` per step (`loop=step`) or the whole epoch in one `tf.function` with a
`tf.range` loop (`loop=epoch`), batches gathered from the epoch's order on the device.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from cnnbench import backend as backends
from cnnbench import precision
from cnnbench.data import place_splits
from cnnbench.model import build_model


class Trainer:
    def __init__(self, config, data, settings: dict, eval_batch_size: int) -> None:
        gpus = tf.config.list_logical_devices("GPU")
        self.tf_device = "/GPU:0" if gpus and config.device != "cpu" else "/CPU:0"
        with tf.device(self.tf_device):
            policy = precision.keras_dtype_policy(config.precision)
            self.model = build_model(config.filters, policy, seed=config.seed)
            self.optimizer = keras.optimizers.SGD(learning_rate=config.learning_rate)
            self.optimizer.build(self.model.trainable_variables)
            n = config.train_samples
            self.splits, self.sizes = place_splits(
                data, n, lambda x, y: (tf.constant(x), tf.constant(y))
            )
        self.loss_fn = keras.losses.SparseCategoricalCrossentropy()
        self.device = backends.device_of(self.model.trainable_variables[0].value)
        self.params = self.model.count_params()
        self.batch_size = config.batch_size
        self.loop = settings["loop"]
        self._step_fn = tf.function(self._step)
        self._epoch_fn = tf.function(self._epoch)
        self._eval = tf.function(self._evaluate)
        self.settings = {**settings, "api": "tf.GradientTape + optimizer.apply in tf.function"}

    def _step(self, xb, yb):
        with tf.GradientTape() as tape:
            probs = self.model(xb, training=True)
            loss = self.loss_fn(yb, probs)
        variables = self.model.trainable_variables
        self.optimizer.apply(tape.gradient(loss, variables), variables)
        right = tf.reduce_sum(
            tf.cast(tf.equal(tf.argmax(probs, 1, output_type=yb.dtype), yb), tf.int32)
        )
        return loss * tf.cast(tf.shape(yb)[0], loss.dtype), right

    def _epoch(self, order):
        x, y = self.splits["train"]
        steps = (tf.shape(order)[0] + self.batch_size - 1) // self.batch_size
        total_loss, correct = tf.constant(0.0), tf.constant(0)
        for step in tf.range(steps):
            index = order[step * self.batch_size : (step + 1) * self.batch_size]
            loss, right = self._step(tf.gather(x, index), tf.gather(y, index))
            total_loss += tf.cast(loss, tf.float32)
            correct += right
        return total_loss, correct

    def _evaluate(self, x, y):
        probs = self.model(x, training=False)
        loss = self.loss_fn(y, probs) * tf.cast(tf.shape(y)[0], tf.float32)
        right = tf.reduce_sum(
            tf.cast(tf.equal(tf.argmax(probs, 1, output_type=y.dtype), y), tf.int32)
        )
        return loss, right

    def train_epoch(self, order: np.ndarray):
        with tf.device(self.tf_device):
            if self.loop == "epoch":
                return self._epoch_fn(tf.constant(order))
            x, y = self.splits["train"]
            losses, corrects = [], []
            for start in range(0, len(order), self.batch_size):
                index = tf.constant(order[start : start + self.batch_size])
                loss, right = self._step_fn(tf.gather(x, index), tf.gather(y, index))
                losses.append(loss)
                corrects.append(right)
            return tf.add_n([tf.cast(v, tf.float32) for v in losses]), tf.add_n(corrects)

    def eval_batch(self, split: str, start: int, stop: int):
        x, y = self.splits[split]
        with tf.device(self.tf_device):
            return self._eval(x[start:stop], y[start:stop])
