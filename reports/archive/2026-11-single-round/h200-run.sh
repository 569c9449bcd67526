#!/bin/bash
# How reports/{jax,torch}-gpu.* were measured (2026-11-27, one NVIDIA H200 lent for 15 minutes).
# Call 1 ran this script (BUDGET=555); its log is h200-call1.log. keras 3.15.1, namex and
# optree travelled as wheels in .whl/, the verified mnist.npz in .gpu/; $OUT is the folder
# whose files came back. Call 2 (h200-call2.log), on the same warm machine, ran:
#   P="python3 -m pytest benchmarks/ -p no:cacheprovider -W default --device gpu -k test_filters --filters 64,128,256"
#   KERAS_BACKEND=torch timeout 85 $P --impl native --results $OUT/torch-gpu.jsonl ...
#   KERAS_BACKEND=jax timeout 125 $P --filters 8,16,32,64,128,256 --impl native,keras --profile default,tuned -k "native or tuned" --results $OUT/jax-gpu.jsonl ...
# Timeouts ended the sessions part-way: the finished runs are in the .jsonl files.
# One device call: install keras (carried wheels), smoke each backend on the GPU, then
# the full-length filter sweep 8..256 in priority order, each stage under a deadline.
# Results stream to $OUT as JSONL (one fsynced line per finished run) and JSON.
set -u
START=$(date +%s); BUDGET=${BUDGET:-560}
left() { echo $(( BUDGET - ($(date +%s) - START) )); }
LOG=$OUT/gpu.log
export PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD CNNBENCH_DATA=$PWD/.gpu/mnist.npz
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv; nproc;
  python3 -c "import keras, jax, torch, pytest_benchmark; print('keras', keras.__version__, 'jax', jax.__version__, 'torch', torch.__version__, 'pytest-benchmark', pytest_benchmark.__version__)"; } 2>&1 | tee -a $LOG
PYTEST="python3 -m pytest benchmarks/ -p no:cacheprovider -W default --device gpu -k test_filters"
ok=""
for b in jax torch; do
  echo "=== smoke $b ($(left) s left)" | tee -a $LOG
  KERAS_BACKEND=$b timeout 120 $PYTEST --filters 8,256 --epochs 2 --train-subset 2750 \
     --impl keras,native --profile default,tuned --results /tmp/smoke-$b.jsonl 2>&1 \
     | tee -a $LOG | grep -v " epoch [0-9]" | tail -25
  [ "${PIPESTATUS[0]}" = 0 ] && ok="$ok $b"
done
echo "=== smoke passed:$ok" | tee -a $LOG
stage() {  # backend json-name cap pytest-args...
  local b=$1 name=$2 cap=$3; shift 3
  case " $ok " in *" $b "*) ;; *) echo "skip $name: smoke failed"; return;; esac
  local t=$(left); [ "$t" -gt "$cap" ] && t=$cap
  [ "$t" -lt 40 ] && { echo "skip $name: $t s left" | tee -a $LOG; return; }
  echo "=== $name: $* (cap $t s)" | tee -a $LOG
  KERAS_BACKEND=$b timeout $t $PYTEST --filters 8,16,32,64,128,256 --resume \
     --results $OUT/$b-gpu.jsonl --benchmark-json $OUT/$name.json "$@" 2>&1 \
     | tee -a $LOG | grep -E " done:|FAILED|ERROR|Error|passed|failed|peak" | tail -20
}
stage jax jax-gpu 150 --impl keras --profile default
stage torch torch-gpu 240 --impl keras --profile default
stage torch torch-gpu-native 120 --impl native
stage jax jax-gpu-2 9999 --impl native,keras --profile default,tuned
stage torch torch-gpu-2 9999 --impl keras --profile default
echo "=== end, $(left) s of budget left" | tee -a $LOG
