"""The report's CNN in plain TensorFlow: a whole epoch as one `tf.function`.

Variables and data live on the device; the epoch's loop is a graph `tf.range` loop
(AutoGraph), so Python is entered once per epoch rather than once per step; each step
gathers its batch on the device and applies plain SGD to the variables.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from cnnbench.native import initial_weights


def _forward(weights, x):
    (k1, b1), (k2, b2), (k3, b3), (k4, b4) = weights
    for kernel, bias in ((k1, b1), (k2, b2)):
        x = tf.nn.relu(tf.nn.conv2d(x, kernel, strides=1, padding="SAME") + bias)
        x = tf.nn.max_pool2d(x, ksize=2, strides=2, padding="VALID")
    x = tf.reshape(x, (tf.shape(x)[0], -1))
    x = tf.nn.relu(x @ k3 + b3)
    return x @ k4 + b4


def _loss_and_correct(weights, x, y):
    logits = _forward(weights, x)
    losses = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits)
    correct = tf.reduce_sum(
        tf.cast(tf.equal(tf.argmax(logits, 1, output_type=tf.int32), y), tf.int32)
    )
    return losses, correct


class Trainer:
    def __init__(self, config, data, eval_batch_size: int) -> None:
        gpus = tf.config.list_logical_devices("GPU")
        self.tf_device = "/GPU:0" if gpus and config.device != "cpu" else "/CPU:0"
        with tf.device(self.tf_device):
            self.weights = [
                (tf.Variable(k), tf.Variable(b))
                for k, b in initial_weights(config.filters, config.seed)
            ]
            n = config.train_subset or len(data.x_train)
            self.splits = {
                "train": (tf.constant(data.x_train[:n]), tf.constant(data.y_train[:n])),
                "val": (tf.constant(data.x_val), tf.constant(data.y_val)),
                "test": (tf.constant(data.x_test), tf.constant(data.y_test)),
            }
        location = self.weights[0][0].device
        if "GPU" in location:
            details = tf.config.experimental.get_device_details(
                tf.config.list_physical_devices("GPU")[0]
            )
            self.device = details.get("device_name", "GPU:0")
        else:
            self.device = "cpu"
        self.params = sum(int(np.prod(k.shape)) + int(b.shape[0]) for k, b in self.weights)
        self.variables = [v for pair in self.weights for v in pair]
        self.learning_rate = tf.constant(config.learning_rate, tf.float32)
        self.batch_size = config.batch_size
        self.eval_batch_size = eval_batch_size
        self._epoch = tf.function(self._train_epoch, jit_compile=False)
        self._eval = tf.function(self._evaluate)
        self.settings = {
            "layout": "NHWC",
            "loop": "one tf.function per epoch (tf.range)",
            "jit_compile": False,
        }

    def _train_epoch(self, order):
        x, y = self.splits["train"]
        steps = (tf.shape(order)[0] + self.batch_size - 1) // self.batch_size
        total_loss, correct = tf.constant(0.0), tf.constant(0)
        for step in tf.range(steps):
            index = order[step * self.batch_size : (step + 1) * self.batch_size]
            xb, yb = tf.gather(x, index), tf.gather(y, index)
            with tf.GradientTape() as tape:
                losses, right = _loss_and_correct(self.weights, xb, yb)
                loss = tf.reduce_mean(losses)
            grads = tape.gradient(loss, self.variables)
            for variable, grad in zip(self.variables, grads, strict=True):
                variable.assign_sub(self.learning_rate * grad)
            total_loss += tf.reduce_sum(losses)
            correct += right
        return total_loss, correct

    def _evaluate(self, x, y):
        losses, correct = _loss_and_correct(self.weights, x, y)
        return tf.reduce_sum(losses), correct

    def train_epoch(self, order: np.ndarray) -> tuple[float, float]:
        with tf.device(self.tf_device):
            total_loss, correct = self._epoch(tf.constant(order))
        n = len(order)
        return float(total_loss) / n, int(correct) / n

    def evaluate(self, split: str) -> tuple[float, float]:
        x, y = self.splits[split]
        total_loss, correct = 0.0, 0
        with tf.device(self.tf_device):
            for start in range(0, int(x.shape[0]), self.eval_batch_size):
                end = start + self.eval_batch_size
                loss, right = self._eval(x[start:end], y[start:end])
                total_loss, correct = total_loss + float(loss), correct + int(right)
        n = int(x.shape[0])
        return total_loss / n, correct / n
