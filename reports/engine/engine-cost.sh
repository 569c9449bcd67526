#!/usr/bin/env bash
# The engine's cost: the same cell bare, through the local Ray launcher, and bare again
# (bracketing the machine's drift), nothing else running, from a worktree of a commit.
set -u
cd /tmp/sweep-wt
export PATH=/work/main/.venv/bin:$PATH PYTHONPATH=/tmp/sweep-wt KERAS_BACKEND=tensorflow PYTHONUNBUFFERED=1
CELL=(--device cpu --filters 16 --impl keras,native --profile default --lrs 0.1 --rounds 3)
bare() {
  echo "=== $(date -u +%FT%TZ) commit $(git rev-parse HEAD) bare $1"
  python -m pytest benchmarks/ -p no:cacheprovider "${CELL[@]}" --results "reports/engine/bare-$1.jsonl"
}
bare 1
echo "=== $(date -u +%FT%TZ) ray"
python -m cnnbench sweep --engine ray --plan-backends tensorflow --shards 1 "${CELL[@]}" \
  --results reports/engine/ray.jsonl
bare 2
echo "=== $(date -u +%FT%TZ) end"
