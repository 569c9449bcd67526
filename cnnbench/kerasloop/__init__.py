"""The Keras model in a hand-written training loop: the path a Keras user takes for speed.

The very model `cnnbench.model` builds (same layers, same seeded initialisation, same
softmax and sparse cross-entropy, plain SGD), trained the way keras.io's "Writing a
training loop from scratch" guides do it on each backend, through Keras's public API:

- JAX (`jax_loop`): `model.stateless_call` and `optimizer.stateless_apply` in a jitted step,
  or the epoch as one `lax.scan` of that step;
- PyTorch (`torch_loop`): the Keras model as the `torch.nn.Module` it is, a
  `torch.optim.SGD` over its parameters, eager or `torch.compile`d;
- TensorFlow (`tensorflow_loop`): `tf.GradientTape` and `optimizer.apply` in a
  `tf.function` per step, or the epoch in one `tf.function`.

Each module defines a `Trainer` that follows `cnnbench.native.Trainer`: the timed epoch
loop, shuffling and evaluation are the native path's, so fit default -> fit tuned ->
this loop -> native splits what Keras costs into its trainer (what a hand loop removes)
and its layers (what it does not). How it runs per device is chosen by measurement like
the other paths (`cnnbench.profiles.LOOP`).
"""
