"""cnnbench: the 2017 MNIST CNN lab report, reproduced on Keras 3's TensorFlow, PyTorch and
JAX backends beside native baselines, timed on CPU and GPU.

Read from the bottom up: `experiment` (the 2017 facts), `analytic` (sizes, parameter and
FLOP counts), `records` (a run's config and result), `precision` and `profiles` (how runs
compute and execute), `data` (verified MNIST), `model` and `native` (the network in
Keras and without it), `train` (one timed run), `tune` (choosing settings), `sweep` and
`results` (a benchmark sweep and its file), `report` (tables, figures, compare), and the
command lines `cli` and `report.cli`. Importing this package imports no backend.
"""

__version__ = "0.2.0"
