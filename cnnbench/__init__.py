"""cnnbench: the 2017 MNIST CNN lab report, reproduced on Keras 3's TensorFlow, PyTorch and
JAX backends, timed on CPU and GPU.

Modules: `model` (the network and its analytic size), `data` (verified MNIST), `train`
(one timed run), `report` (tables and figures), `cli` (`python -m cnnbench`).
Importing this package imports no backend.
"""

__version__ = "0.1.0"
