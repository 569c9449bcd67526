#!/usr/bin/env bash
# One call on a lent GPU machine (the `device` tool; no keras, no TensorFlow there): install
# keras from the carried wheels (.whl/), choose the native and Keras-tuned settings by
# measurement (`cnnbench tune`), then the full-length sweep in priority order, each stage
# under a deadline. Finished runs stream to $OUT as JSONL (one fsynced line each) and are
# kept in $STATE, so a second call on the same warm machine resumes where the first ended.
#
#   PLAN=first BUDGET=540 COMMIT=<sha> bash benchmarks/gpu-session.sh   # tune, then sweep
#   PLAN=second BUDGET=200 COMMIT=<sha> bash benchmarks/gpu-session.sh  # what is left
#
# Needs .whl/ (keras 3.15.1, namex, optree wheels for Python 3.12) and .gpu/mnist.npz (the
# verified Keras-format file), both carried by the call.
set -u
START=$(date +%s)
BUDGET=${BUDGET:-540}
PLAN=${PLAN:-first}
STATE=/tmp/cnnbench-state
LOG=$OUT/gpu-$PLAN.log
mkdir -p "$STATE"
left() { echo $((BUDGET - ($(date +%s) - START))); }

export PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 COLUMNS=140 CNNBENCH_COMMIT=${COMMIT:-}
if ! python3 -c "import keras" 2>/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || exit 1
fi
export PYTHONPATH=/tmp/site:$PWD CNNBENCH_DATA=$PWD/.gpu/mnist.npz
cp -n .gpu/state/* "$STATE"/ 2>/dev/null # an earlier call's runs, carried to a fresh machine
cp "$STATE"/*.jsonl "$STATE"/*.json "$OUT"/ 2>/dev/null # a first call's runs, to resume
{
  echo "plan $PLAN, budget $BUDGET s, commit ${CNNBENCH_COMMIT:-from git}"
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
  python3 -c "import keras, jax, torch, pytest_benchmark as pb; print('keras', keras.__version__,
  'jax', jax.__version__, 'torch', torch.__version__, 'pytest-benchmark', pb.__version__)"
} 2>&1 | tee -a "$LOG"

stage() { # name cap command... : run under min(cap, what is left), keep what finished
  local name=$1 cap=$2 t
  shift 2
  t=$(left)
  [ "$t" -gt "$cap" ] && t=$cap
  if [ "$t" -lt 30 ]; then
    echo "=== skip $name: $t s left" | tee -a "$LOG"
    return
  fi
  echo "=== $name (cap $t s of $(left) s left): $*" | tee -a "$LOG"
  timeout "$t" "$@" 2>&1 | tee -a "$LOG" |
    grep -E "^tune:|done:|FAILED|rror|passed|failed|skipped|peak|warm-up|│|┃" | tail -45
  echo "=== $name ended: exit ${PIPESTATUS[0]}, $(left) s left" | tee -a "$LOG"
  cp "$OUT"/*.jsonl "$STATE"/ 2>/dev/null
}
choices() { if [ -s "$STATE/$1-choices.json" ]; then echo "--choices $STATE/$1-choices.json"; fi; }

DEVICE=${DEVICE:-gpu} # DEVICE=cpu with small sizes: a dry run of this script anywhere
TUNE_SIZE=${TUNE_SIZE:-"--filters 64 --epochs 3 --train-subset 11000"}
SWEEP_SIZE=${SWEEP_SIZE:-} # empty: full length
TUNE="python3 -m cnnbench tune --device $DEVICE --precision fp32 $TUNE_SIZE
  --results $OUT/tune-$DEVICE.jsonl"
SWEEP="python3 -m pytest benchmarks/ -p no:cacheprovider --device $DEVICE -k test_filters
  --resume $SWEEP_SIZE"
JAX="env KERAS_BACKEND=jax $SWEEP --results $OUT/jax-$DEVICE.jsonl"
TORCH="env KERAS_BACKEND=torch $SWEEP --results $OUT/torch-$DEVICE.jsonl"

if [ "$PLAN" = first ]; then
  stage tune-jax 110 env KERAS_BACKEND=jax $TUNE --impl native,keras \
    --write-choices "$STATE/jax-choices.json"
  stage tune-torch 150 env KERAS_BACKEND=torch $TUNE --impl native,keras \
    --write-choices "$STATE/torch-choices.json"
  cp "$STATE"/*-choices.json "$OUT"/ 2>/dev/null
  stage jax-fp32 250 $JAX $(choices jax) --benchmark-json "$OUT/jax-fp32.json" \
    --precision fp32 --filters 8,64,256 --impl keras,native --profile tuned --rounds 3
  stage torch-fp32 9999 $TORCH $(choices torch) --benchmark-json "$OUT/torch-fp32.json" \
    --precision fp32 --filters 8,64,256 --impl native --rounds 3
else # what is missing most first: Keras on PyTorch, Keras default, then rounds and widths
  if [ ! -s "$STATE/torch-keras-choices.json" ]; then
    stage tune-torch-keras 70 env KERAS_BACKEND=torch $TUNE --impl keras \
      --write-choices "$STATE/torch-keras-choices.json"
  fi
  python3 - "$STATE" <<'EOF' # merge: the keras winner beside the native one
import json, pathlib, sys
state = pathlib.Path(sys.argv[1])
merged = {}
for name in ("torch-choices.json", "torch-keras-choices.json"):
    if (state / name).exists():
        merged.update(json.loads((state / name).read_text()))
(state / "torch-choices.json").write_text(json.dumps(merged))
EOF
  cp "$STATE"/*-choices.json "$OUT"/ 2>/dev/null
  # jit_compile=True compiles for about 34 s, in the warm-up and again in the timed run
  stage torch-keras-tuned 240 $TORCH $(choices torch) --benchmark-json "$OUT/torch-keras.json" \
    --precision fp32 --filters 16 --impl keras --profile tuned --rounds 1
  stage jax-default 150 $JAX --benchmark-json "$OUT/jax-default.json" \
    --precision fp32 --filters 8,64,256 --impl keras --profile default --rounds 1
  stage jax-fp32-rest 120 $JAX $(choices jax) --benchmark-json "$OUT/jax-fp32-rest.json" \
    --precision fp32 --filters 8,64,256 --impl keras,native --profile tuned --rounds 3
  stage jax-tf32 80 $JAX $(choices jax) --benchmark-json "$OUT/jax-tf32.json" \
    --precision tf32 --filters 8,256 --impl native --rounds 3
  stage jax-widths 9999 $JAX $(choices jax) --benchmark-json "$OUT/jax-widths.json" \
    --precision fp32 --filters 16,32,128 --impl keras,native --profile tuned --rounds 1
fi

python3 - "$OUT" <<'EOF' 2>&1 | tee -a "$LOG"
import json, pathlib, statistics, sys
cells = {}
for path in sorted(pathlib.Path(sys.argv[1]).glob("*.jsonl")):
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        r = record["result"]
        if record.get("warmup") or record.get("candidate"):
            continue
        key = (r["backend"], r["impl"], r["profile"] or "", r["precision"], r["filters"])
        cells.setdefault(key, []).append(r)
print("backend impl profile precision filters: runtimes s | first epoch s | val_accuracy")
for key, runs in sorted(cells.items()):
    times = " ".join(f"{r['runtime_s']:.2f}" for r in runs)
    first = statistics.median(r["first_epoch_s"] for r in runs)
    acc = " ".join(f"{r['val_accuracy']:.4f}" for r in runs)
    print(*key, f": {times} | {first:.2f} | {acc}")
EOF
echo "=== end of $PLAN, $(left) s of budget left" | tee -a "$LOG"
