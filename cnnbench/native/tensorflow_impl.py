"""The report's CNN in plain TensorFlow: a whole epoch as one `tf.function`.

Variables and data live on the device; the epoch's loop is a graph `tf.range` loop
(AutoGraph), so Python is entered once per epoch rather than once per step; each step
gathers its batch on the device and applies plain SGD to the variables. Setting
(`cnnbench.profiles`): `jit_compile`, whether XLA compiles the epoch function.
bf16 casts the forward pass to bfloat16 over float32 variables.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from cnnbench import backend as backends
from cnnbench.data import place_splits
from cnnbench.native.weights import initial_weights


def _forward(weights, x, dtype):
    (k1, b1), (k2, b2), (k3, b3), (k4, b4) = [
        (tf.cast(k, dtype), tf.cast(b, dtype)) for k, b in weights
    ]
    x = tf.cast(x, dtype)
    for kernel, bias in ((k1, b1), (k2, b2)):
        x = tf.nn.relu(tf.nn.conv2d(x, kernel, strides=1, padding="SAME") + bias)
        x = tf.nn.max_pool2d(x, ksize=2, strides=2, padding="VALID")
    x = tf.reshape(x, (tf.shape(x)[0], -1))
    x = tf.nn.relu(x @ k3 + b3)
    return tf.cast(x @ k4 + b4, tf.float32)


def _sums(weights, x, y, dtype):
    """(per-image cross-entropy, correct count) of a batch."""
    logits = _forward(weights, x, dtype)
    losses = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits)
    correct = tf.reduce_sum(
        tf.cast(tf.equal(tf.argmax(logits, 1, output_type=tf.int32), y), tf.int32)
    )
    return losses, correct


class Trainer:
    def __init__(self, config, data, settings: dict, eval_batch_size: int) -> None:
        gpus = tf.config.list_logical_devices("GPU")
        self.tf_device = "/GPU:0" if gpus and config.device != "cpu" else "/CPU:0"
        with tf.device(self.tf_device):
            self.weights = [
                (tf.Variable(k), tf.Variable(b))
                for k, b in initial_weights(config.filters, config.seed)
            ]
            n = config.train_samples
            self.splits, self.sizes = place_splits(
                data, n, lambda x, y: (tf.constant(x), tf.constant(y))
            )
        self.device = backends.device_of(self.weights[0][0])
        self.params = sum(int(np.prod(k.shape)) + int(b.shape[0]) for k, b in self.weights)
        self.variables = [v for pair in self.weights for v in pair]
        self.learning_rate = tf.constant(config.learning_rate, tf.float32)
        self.batch_size = config.batch_size
        self.dtype = tf.bfloat16 if config.precision == "bf16" else tf.float32
        self._epoch = tf.function(self._train_epoch, jit_compile=settings["jit_compile"])
        self._eval = tf.function(self._evaluate)
        self.settings = {**settings, "layout": "NHWC", "loop": "one tf.function per epoch"}

    def _train_epoch(self, order):
        x, y = self.splits["train"]
        steps = (tf.shape(order)[0] + self.batch_size - 1) // self.batch_size
        total_loss, correct = tf.constant(0.0), tf.constant(0)
        for step in tf.range(steps):
            index = order[step * self.batch_size : (step + 1) * self.batch_size]
            xb, yb = tf.gather(x, index), tf.gather(y, index)
            with tf.GradientTape() as tape:
                losses, right = _sums(self.weights, xb, yb, self.dtype)
                loss = tf.reduce_mean(losses)
            grads = tape.gradient(loss, self.variables)
            for variable, grad in zip(self.variables, grads, strict=True):
                variable.assign_sub(self.learning_rate * grad)
            total_loss += tf.reduce_sum(losses)
            correct += right
        return total_loss, correct

    def _evaluate(self, x, y):
        losses, correct = _sums(self.weights, x, y, self.dtype)
        return tf.reduce_sum(losses), correct

    def train_epoch(self, order: np.ndarray):
        with tf.device(self.tf_device):
            return self._epoch(tf.constant(order))

    def eval_batch(self, split: str, start: int, stop: int):
        x, y = self.splits[split]
        with tf.device(self.tf_device):
            return self._eval(x[start:stop], y[start:stop])
