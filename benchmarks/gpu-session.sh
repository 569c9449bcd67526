#!/usr/bin/env bash
# One call on a lent GPU machine (the `device` tool; no keras, no TensorFlow there): keras
# from the carried wheels (.whl/), the verified MNIST (.gpu/mnist.npz), then the stages of
# benchmarks/gpu_session.py, in priority order under the call's budget.
#
#   BUDGET=540 COMMIT=<sha> bash benchmarks/gpu-session.sh
#   DEVICE=cpu SIZE=quick BUDGET=300 OUT=/tmp/out bash benchmarks/gpu-session.sh  # dry run
set -eu
if ! python3 -c "import keras" 2>/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site:$PWD
fi
if ls .whl/next/*.whl >/dev/null 2>&1; then  # the next Keras, for the stages that ask
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site-next .whl/next/*.whl
fi
export PYTHONDONTWRITEBYTECODE=1 COLUMNS=140 CNNBENCH_COMMIT=${COMMIT:-}
[ -f .gpu/mnist.npz ] && export CNNBENCH_DATA=$PWD/.gpu/mnist.npz
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>/dev/null || true
exec python3 benchmarks/gpu_session.py
