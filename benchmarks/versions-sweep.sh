#!/usr/bin/env bash
# Two Kerases side by side on one backend, in one session: the pinned Keras (`python` on
# PATH, e.g. `tox -e torch-cpu`'s env) and the next (NEXT: a python whose Keras is
# requirements/next.txt's, e.g. `.tox/torch-cpu-next/bin/python`), the same runs, rounds
# interleaved (round 1 of each, then round 2 of each, ...) so the session's drift falls on
# both alike. Keras default and tuned; shortened to EPOCHS full epochs (default 2) to keep
# a backend under an hour on a 2-core machine: the ratio between versions is the result,
# not the seconds. Resumable (rerun the same command); run it from a `git worktree` of a
# committed version with nothing else running. More options go to pytest and win over
# these; NEXT_CHOICES names a `tune --write-choices` file for the next Keras's own tuned
# settings (e.g. `steps_per_execution` on PyTorch, which only it allows).
#
#   NEXT=.tox/torch-cpu-next/bin/python benchmarks/versions-sweep.sh torch
#   -> reports/runs/cpu-versions-torch.jsonl (pinned), cpu-versions-torch-next.jsonl
set -u
backend=$1
shift
: "${NEXT:?NEXT must name a python with the next Keras installed}"
epochs=${EPOCHS:-2}
runs=reports/runs
name=cpu-versions-$backend
mkdir -p "$runs" reports/logs
log=reports/logs/$name.log
export KERAS_BACKEND=$backend PYTHONUNBUFFERED=1
common=(-p no:cacheprovider --device cpu --resume --filters 16,64 --epochs "$epochs"
  -k test_filters --impl keras --profile default,tuned)
for python in python "$NEXT"; do  # both must import, with different Kerases
  "$python" -c "import keras" || { echo "versions-sweep: $python cannot import keras" >&2; exit 2; }
done
pinned=$(python -c "import keras; print(keras.__version__)")
next=$("$NEXT" -c "import keras; print(keras.__version__)")
if [ "$pinned" = "$next" ]; then
  echo "versions-sweep: both pythons have Keras $pinned; NEXT must have the next one" >&2
  exit 2
fi
{
  echo "=== $(date -u +%FT%TZ) commit $(git rev-parse HEAD) $backend keras $pinned vs $next $*"
  for round in 1 2 3; do
    python -m pytest benchmarks/ "${common[@]}" --rounds "$round" \
      --results "$runs/$name.jsonl" --benchmark-json "$runs/$name.json" "$@"
    "$NEXT" -m pytest benchmarks/ "${common[@]}" --rounds "$round" \
      ${NEXT_CHOICES:+--choices "$NEXT_CHOICES"} \
      --results "$runs/$name-next.jsonl" --benchmark-json "$runs/$name-next.json" "$@"
  done
  echo "=== $(date -u +%FT%TZ) end"
} 2>&1 | grep --line-buffered -vE "^(I0000|W0000|WARNING: All log)" >>"$log"
