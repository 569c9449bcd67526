#!/usr/bin/env bash
# A published block, resumable: NAME names its files (reports/blocks/NAME.jsonl, its log
# reports/logs/NAME.log, its workers' logs beside the results); the arguments are
# `python -m cnnbench block`'s. Run it from a `git worktree` of a committed version with
# nothing else running; rerun the same command to finish a killed block (it resumes the
# file's block of the same definition, on the same machine only).
#
#   NAME=cpu-16 benchmarks/block.sh tensorflow:native torch:native jax:native \
#       --aa torch:native --filters 16 --rounds 6
set -u
: "${NAME:?NAME must name the files of the block}"
if [ -n "$(git status --porcelain --untracked-files=no)" ]; then
  echo "block.sh: the checkout has uncommitted changes; run it from a worktree of a commit" >&2
  exit 2
fi
mkdir -p reports/blocks reports/logs
export PYTHONUNBUFFERED=1 CNNBENCH_COMMIT="$(git rev-parse HEAD)"
{
  echo "=== $(date -u +%FT%TZ) commit $CNNBENCH_COMMIT $*"
  python -m cnnbench block "$@" --results "reports/blocks/$NAME.jsonl" --resume
  status=$?  # before $(date) resets it
  echo "=== $(date -u +%FT%TZ) end, exit status $status"
} >>"reports/logs/$NAME.log" 2>&1
