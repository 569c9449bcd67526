#!/usr/bin/env bash
# The published CPU sweep of one backend, resumable: the filter sweep 8-64 for Keras
# default, Keras tuned and native, and the learning-rate sweep (Keras default; its lr 0.1
# run is the filter sweep's), the default rounds a cell (3), round by round. Run it from a `git worktree` of a committed version, one backend
# at a time, with nothing else running; rerun the same command to finish a killed sweep.
#
#   benchmarks/cpu-sweep.sh tensorflow    # -> reports/runs/cpu-tensorflow.{jsonl,json}
set -u
backend=$1
shift
runs=reports/runs
mkdir -p "$runs" reports/logs
log=reports/logs/cpu-$backend.log
export KERAS_BACKEND=$backend PYTHONUNBUFFERED=1
common=(-p no:cacheprovider --device cpu --resume --results "$runs/cpu-$backend.jsonl")
{
  echo "=== $(date -u +%FT%TZ) commit $(git rev-parse HEAD) $backend"
  python -m pytest benchmarks/ "${common[@]}" --filters 8,16,32,64 \
    -k "test_filters or (test_learning_rate and keras-default)" \
    --impl keras,native --profile default,tuned --benchmark-json "$runs/cpu-$backend.json" "$@"
  echo "=== $(date -u +%FT%TZ) end"
} 2>&1 | grep --line-buffered -vE "^(I0000|W0000|WARNING: All log)" >>"$log"
