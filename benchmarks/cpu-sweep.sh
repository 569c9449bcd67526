#!/usr/bin/env bash
# A published CPU sweep of one backend, resumable: by default the filter sweep 8-64 for
# Keras default, Keras tuned and native, and the learning-rate sweep on Keras default (its
# lr 0.1 run is the filter sweep's), the default rounds a cell (3), round by round. Run it
# from a `git worktree` of a committed version, one backend at a time, with nothing else
# running; rerun the same command to finish a killed sweep. NAME names its files; more
# options go to pytest and win over these.
#
#   benchmarks/cpu-sweep.sh tensorflow                      # -> reports/runs/cpu-tensorflow.*
#   NAME=cpu-loop-torch benchmarks/cpu-sweep.sh torch --impl keras-loop -k test_filters
set -u
backend=$1
shift
name=${NAME:-cpu-$backend}
runs=reports/runs
mkdir -p "$runs" reports/logs
log=reports/logs/$name.log
export KERAS_BACKEND=$backend PYTHONUNBUFFERED=1
common=(-p no:cacheprovider --device cpu --resume --results "$runs/$name.jsonl")
{
  echo "=== $(date -u +%FT%TZ) commit $(git rev-parse HEAD) $backend $*"
  python -m pytest benchmarks/ "${common[@]}" --filters 8,16,32,64 \
    -k "test_filters or (test_learning_rate and keras-default)" \
    --impl keras,native --profile default,tuned --benchmark-json "$runs/$name.json" "$@"
  echo "=== $(date -u +%FT%TZ) end"
} 2>&1 | grep --line-buffered -vE "^(I0000|W0000|WARNING: All log)" >>"$log"
