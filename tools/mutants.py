"""Do the tests catch bugs? Plant each behavioural mutation below in the package, one at a
time, run the fast unit tests, and count the mutants they kill.

    KERAS_BACKEND=jax python tools/mutants.py              # every mutant, fast tests
    KERAS_BACKEND=jax python tools/mutants.py --slow       # survivors again, with slow tests
    python tools/mutants.py --list                         # what each mutant breaks

Each mutant is a bug a reader could write (a resume key dropped, a gate flipped, a median
made a mean), not a syntactic variant: a string in a file replaced by another. The file is
restored whatever happens. A mutant whose text is no longer found is reported as stale,
so the list keeps up with the code. Results: docs/mutants.md.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 900  # seconds: the fast suite takes about 90


@dataclass(frozen=True)
class Mutant:
    name: str
    path: str
    old: str
    new: str


M = Mutant
MUTANTS = [
    # the sweep: resume, rounds, what counts
    M("resume ignores the precision", "cnnbench/records.py",
      'precision: str = _key(default="fp32")', 'precision: str = field(default="fp32")'),
    M("resume ignores the epochs", "cnnbench/records.py",
      "    epochs: int = _key()\n", "    epochs: int\n"),
    M("resume ignores the versions", "cnnbench/records.py",
      "versions: dict[str, str] = _key(default_factory=dict)",
      "versions: dict[str, str] = field(default_factory=dict)"),
    M("resume takes another machine's run", "cnnbench/sweep.py",
      "        if not same_machine(machine, self.machine):\n            return False\n", ""),
    M("resume takes a tune candidate", "cnnbench/sweep.py",
      'if record.get("warmup") or record.get("candidate") or', 'if record.get("warmup") or'),
    M("resume takes a failed run", "cnnbench/sweep.py",
      "return not self.problems(record[\"result\"])", "return True"),
    M("resume ignores the settings", "cnnbench/sweep.py",
      "and settings_match(wanted, result.get(\"settings\") or {})", "and True"),
    M("round i seeds with seed", "cnnbench/sweep.py",
      "seed=self.seed + round_,", "seed=self.seed,"),
    M("a run on another device counts", "cnnbench/sweep.py",
      'if result.get("device") != self.device_name:', "if False:"),
    M("a run in another precision counts", "cnnbench/sweep.py",
      'if result.get("precision") != self.precision:', "if False:"),
    M("machines compared on the model alone", "cnnbench/backend.py",
      'MACHINE_KEYS = ("cpu_model", "cpu_count", "gpu")', 'MACHINE_KEYS = ("cpu_model",)'),
    # the checks
    M("a run at the floor fails it", "cnnbench/checks.py",
      'result["val_accuracy"] >= floor.val_accuracy',
      'result["val_accuracy"] > floor.val_accuracy'),
    M("the test-error gate flipped", "cnnbench/checks.py",
      'result["test_error"] <= floor.test_error', 'result["test_error"] >= floor.test_error'),
    M("params checked at the 2017 widths only", "cnnbench/checks.py",
      "want = reference.params if reference else param_count(filters)",
      "want = reference.params if reference else result['params']"),
    M("a NaN runtime counts", "cnnbench/checks.py",
      'if not (finite(result["runtime_s"]) and result["runtime_s"] > 0):', "if False:"),
    M("a diverged validation loss passes", "cnnbench/checks.py",
      'zip(history["loss"], history["val_loss"], strict=False)',
      'zip(history["loss"], history["loss"], strict=False)'),
    M("the full-length floor is the shortened one", "cnnbench/checks.py",
      "return Floor(VAL_ACCURACY_FLOOR, TEST_ERROR_CEILING", "return Floor(0.90, None"),
    # the files
    M("append without its lock", "cnnbench/results.py",
      "        fcntl.flock(f, fcntl.LOCK_EX)\n", ""),
    M("append without fsync", "cnnbench/results.py", "            os.fsync(f.fileno())\n", ""),
    M("append cuts a stranger's last line", "cnnbench/results.py",
      "if not data[tail:].startswith(PREFIX[: len(data) - tail]):", "if False:"),
    M("a results file is not checked", "cnnbench/results.py",
      "    if regular_file(path, flag) and path.stat().st_size:", "    if False:"),
    M("a FIFO passes as a file", "cnnbench/files.py",
      "    if not stat.S_ISREG(mode):", "    if False:"),
    M("check_writable creates folders", "cnnbench/files.py",
      "    folder = target.parent\n",
      "    target.parent.mkdir(parents=True, exist_ok=True)\n    folder = target.parent\n"),
    # the data
    M("verify skips the dtype", "cnnbench/data.py", "if array.dtype != np.uint8:", "if False:"),
    M("verify skips the shape", "cnnbench/data.py",
      "if array.shape != SHAPES[key]:", "if False:"),
    M("a FIFO cache is opened", "cnnbench/data.py",
      "if not stat.S_ISREG(os.stat(source).st_mode):", "if False:"),
    M("KERAS_HOME not expanded", "cnnbench/data.py",
      "return Path(os.path.expanduser(keras_home))", "return Path(keras_home)"),
    M("the hub pickle inflates unbounded", "cnnbench/hub.py",
      "    if len(payload) > limit:", "    if False:"),
    # options
    M("duplicates in a list pass", "cnnbench/options.py", "    if twice:", "    if False:"),
    M("lists unbounded", "cnnbench/options.py",
      "    if len(values) > MAX_VALUES:", "    if False:"),
    # precision
    M("torch cuDNN TF32 left on", "cnnbench/precision.py",
      "torch.backends.cudnn.allow_tf32 = tf32", "torch.backends.cudnn.allow_tf32 = True"),
    M("Keras ignores bf16", "cnnbench/precision.py",
      'return "mixed_bfloat16" if precision == "bf16" else "float32"', 'return "float32"'),
    M("tf32 on a CPU recorded as tf32", "cnnbench/precision.py",
      'return "fp32" if precision == "tf32" and device_kind == "cpu" else precision',
      "return precision"),
    # training
    M("Keras tuned runs the defaults", "cnnbench/train.py",
      "        if per_call != 1:\n", "        if False:\n"),
    # the report
    M("a cell's median made a mean", "cnnbench/report/grid.py",
      "median, low, high, n = values.median(),", "median, low, high, n = values.mean(),"),
    M("the accuracy cell is a mean", "cnnbench/report/tables.py",
      'acc, err = runs["val_accuracy"].median()', 'acc, err = runs["val_accuracy"].mean()'),
    M("the headline takes the minimum", "cnnbench/report/headline.py",
      'seconds, accuracy = runs["runtime_s"].median()',
      'seconds, accuracy = runs["runtime_s"].min()'),
    M("the headline ranks separate sessions", "cnnbench/report/headline.py",
      'cells.append(f"{cell.seconds:.1f}{mark} ({cell.accuracy:.3f})")',
      'cells.append(f"**{cell.seconds:.1f}{mark} ({cell.accuracy:.3f})**")'),
    M("the limit with forward FLOPs", "cnnbench/report/frame.py",
      "train_flops_per_sample(filters) * result[\"train_samples\"]",
      "forward_flops_per_sample(filters) * result[\"train_samples\"]"),
    M("Keras/native pools machines", "cnnbench/report/frame.py",
      'same = ["kind", "machine", "backend",', 'same = ["kind", "backend",'),
    M("a repeated round pooled", "cnnbench/report/frame.py",
      '    if not repeated.any():\n', '    if True:\n'),
    M("the CSV drops a column", "cnnbench/report/render.py",
      '"params", "cpu_model",', '"cpu_model",'),
    M("the README block appended", "cnnbench/report/headline.py",
      'write_atomic(path, old[:start] + "\\n" + text + "\\n" + old[end:])',
      'write_atomic(path, old[:start] + "\\n" + text + "\\n" + old[start:])'),
    M("'faster' never reported", "cnnbench/report/compare.py",
      'return "faster"', 'return "within noise"'),
    M("separate sessions without their drift", "cnnbench/report/compare.py",
      "spread = drift.get(key[0], 0.0)", "spread = 0.0"),
    M("a gate that compared nothing passes", "cnnbench/report/cli.py",
      "            if not changes(warm, base, {}):", "            if False:"),
    M("an interval on z, not t", "cnnbench/stats.py",
      "    return float(sp.t.ppf(0.5 + LEVEL / 2, rounds - 1))", "    return 1.96"),
    M("a block's order never rotates", "cnnbench/block.py",
      "return shuffled[turn:] + shuffled[:turn]", "return shuffled"),
    M("the A/A twin is its arm on file", "cnnbench/block.py",
      'key = (info["arm"], info.get("twin", 0), result["filters"], record["round"])',
      'key = (info["arm"], 0, result["filters"], record["round"])'),
    M("a block resumed on another machine", "cnnbench/runner.py",
      'if self.machine is not None and not same_machine(self.machine, ready["machine"]):',
      "if False:"),
    M("a cold run in a warm median", "cnnbench/report/blocks.py",
      'warm = data[data["block"].notna() & ~data["cold"]]', 'warm = data[data["block"].notna()]'),
    M("names not escaped in Markdown", "cnnbench/report/grid.py",
      'return str(text).replace("&", "&amp;").translate(MARKUP)', "return str(text)"),
    M("readme markers checked late", "cnnbench/report/cli.py",
      "            block(Path(target), name, optional=name not in required)", "            pass"),
    M("runs at another rate dropped silently", "cnnbench/report/frame.py",
      "    if lost.empty:\n        return []", "    if True:\n        return []"),
    M("an infinite GFLOP/s accepted", "cnnbench/report/fields.py",
      '"achieved_gflops": (lambda v: _number(v, above=0)', '"achieved_gflops": (lambda v: True'),
    M("wide tables squeezed", "cnnbench/report/grid.py",
      "        if groups[-1] and width(model, [*groups[-1], i]) > budget:", "        if False:"),
    # the plan, the engine, the session, energy and prices
    M("the twin run planned twice", "cnnbench/plan.py",
      "if not (twins and lr == LEARNING_RATE and v in paths)", "if True"),
    M("shards cut by count, not time", "cnnbench/plan.py",
      "order = sorted(range(len(runs)), key=lambda i: (-seconds(runs[i]), i))",
      "order = list(range(len(runs)))"),
    M("the job array index off by one", "cnnbench/plan.py",
      "return int(value) - int(first) + 1", "return int(value) - int(first)"),
    M("the driver takes a round twice", "cnnbench/engine.py",
      "if key is not None and key in self.seen:", "if False:"),
    M("Ray's thread limit inherited", "cnnbench/engine.py",
      "                env.pop(name, None)", "                pass"),
    M("a swallowed Ctrl-C stays swallowed", "cnnbench/interrupt.py",
      "    if _requested:\n        raise KeyboardInterrupt", "    if False:\n        pass"),
    M("an energy counter going backwards counted", "cnnbench/energy.py",
      "if gpu1.joules < self._gpu0.joules:", "if False:"),
    M("a negative price accepted", "cnnbench/report/costs.py",
      "if not (math.isfinite(dollars) and dollars >= 0):", "if False:"),
    M("the 2017 rows on shortened runs", "cnnbench/report/tables.py",
      "    if full_length:\n        table.rows += reference_rows",
      "    if True:\n        table.rows += reference_rows"),
    # outputs checked before work, refused input
    M("place --json checked after the probes", "cnnbench/place_cli.py",
      'check_writable(args.json, "--json", replace=True)', "pass"),
    M("place --device gpu probes without a GPU", "cnnbench/place_cli.py",
      'if args.device == "gpu" and gpu_driver() is None:', "if False:"),
    M("a placement of no probes written", "cnnbench/place_cli.py",
      "    if not probes:\n", "    if False:\n"),
    M("a replaced file's folder not checked", "cnnbench/files.py",
      "        if not replace:\n            return\n", "        return\n"),
    M("run --json checked as if appended", "cnnbench/cli.py",
      'replace=flag != "results"', "replace=False"),
    M("a refused line redone by resume refuses the file", "cnnbench/report/read.py",
      "            if again is None:\n                raise", "            raise"),
    # another commit as an arm
    M("a commit arm's worker imports any cnnbench", "cnnbench/worker.py",
      "if self.cwd is not None and package and not", "if False and not"),
    M("a commit arm counted as its backend's native", "cnnbench/report/blocks.py",
      '== "native" and plain(arm) == arm', '== "native"'),
    M("a gate on the point, not the interval", "cnnbench/stats.py",
      "return (self.low if self.known else self.value) > bound", "return self.value > bound"),
    M("an old commit's export without a worker", "cnnbench/commits.py",
      "        if WORKER not in archive.getnames():", "        if False:"),
    # the kinds of bug that survived (#31)
    M("an lr path the filter sweep skips loses lr 0.1", "cnnbench/plan.py",
      "if not (twins and lr == LEARNING_RATE and v in paths)",
      "if not (twins and lr == LEARNING_RATE)"),
    M("a tuned path that is the default gets lr runs", "cnnbench/plan.py",
      "lr_paths = [v for v in spec.lr_variants if not redundant(spec, backend, v)]",
      "lr_paths = list(spec.lr_variants)"),
    M("the makespan is the first shard's", "cnnbench/plan.py",
      "return max(loads(runs, devices, cost), default=0.0)",
      "return loads(runs, devices, cost)[0]"),
    M("the standing is the mean ratio", "cnnbench/place.py",
      "statistics.median(r) for b, r", "statistics.mean(r) for b, r"),
    M("a short run checks a placement", "cnnbench/place_cli.py",
      '        & data["full_length"]\n', ""),
    M("a kind's price beats the machine's", "cnnbench/report/costs.py",
      'prices.get(row["machine"], prices.get(row["kind"]))',
      'prices.get(row["kind"], prices.get(row["machine"]))'),
    M("to 0.99 priced at the whole run", "cnnbench/report/costs.py",
      "for p, t in zip(per_hour, to, strict=True)",
      'for p, t in zip(per_hour, out["runtime_s"], strict=True)'),
    M("the settings share flips sign", "cnnbench/report/decompose.py",
      "steps = (default - tuned, tuned - loop, loop - native)",
      "steps = (tuned - default, tuned - loop, loop - native)"),
    M("a CPU plan gets a shard a core", "cnnbench/engine.py",
      'resources.get("GPU", 0) if kind == "gpu" else resources.get(HOST_RESOURCE, 0)',
      'resources.get("GPU", 0) if kind == "gpu" else resources.get("CPU", 0)'),
    M("an any_backend test runs on every backend", "tests/conftest.py",
      "        return backend == ANY_BACKEND\n", "        return True\n"),
    M("two runs without a seed count as one", "cnnbench/estimate.py",
      "            samples.setdefault(key, {}).setdefault(filters, []).append(per_image)",
      "            seen = samples.setdefault(key, {}).setdefault(filters, [])\n"
      "            if result.get(\"seed\") is not None or per_image not in seen:\n"
      "                seen.append(per_image)"),
    M("the Keras loop's accuracy is its last batch's", "cnnbench/kerasloop/jax_loop.py",
      "return jnp.sum(jnp.stack(losses)), jnp.sum(jnp.stack(corrects))",
      "return jnp.sum(jnp.stack(losses)), corrects[-1]"),
    M("two replicates' runs of one name kept once", "cnnbench/driver.py",
      "where,\n         block.get(\"id\")]", "where]"),
    M("a replicate resumes another's block", "cnnbench/block_ray.py",
      'if (r.get("block") or {}).get("replicate") == self.tag]', "]"),
    M("replicates that differ pooled as one sample", "cnnbench/stats.py",
      "    if agree is None or agree >= 1 - LEVEL:\n", "    if True:\n"),
    M("a killed shard not named", "cnnbench/sweep_cli.py",
      "        if status.get(shard.k):\n", "        if False:\n"),
    M("a gate takes a negative or infinite PCT", "cnnbench/stats.py",
      "    if not (math.isfinite(fail_above) and fail_above >= 0):\n", "    if False:\n"),
    M("a half-written shard line parsed", "cnnbench/engine.py",
      'end = data.rfind(b"\\n") + 1', "end = len(data)"),
    M("the history's line names its first marked step, not its largest",
      "cnnbench/report/history.py",
      "big = max(beyond, key=lambda p: abs(math.log(p.step.value)))", "big = beyond[0]"),
    M("a history's step within its interval named its largest", "cnnbench/report/history.py",
      "beyond = [p for p in steps if _beyond(p.step)]", "beyond = steps"),
    M("the history's step row shows each release over the block's own",
      "cnnbench/report/history.py",
      "steps = [_step(by_version[v])", "steps = [_cell(by_version[v])"),
    M("the history's figure draws a lone comparison beside it", "cnnbench/report/history.py",
      "found = [p for ps in lines.values() for p in ps] if lines else history(data)",
      "found = history(data)"),
    M("a history's block also gets a block line", "cnnbench/report/headline.py",
      'others = blocks[~blocks["block"].isin(history_blocks(blocks))]', "others = blocks"),
    M("one-version lines stay beside a history", "cnnbench/report/headline.py",
      "verdict_lines(others, versions=not histories)", "verdict_lines(others)"),
    # a setting of one backend, and TensorFlow's pipeline without tf.data's autotuning
    M("a TensorFlow-only setting passes on another backend", "cnnbench/profiles.py",
      "if only and only != backend:", "if False:"),
    M("the tf.data input autotunes", "cnnbench/data.py",
      "    options.autotune.enabled = False\n", ""),
    M("the tf.data input keeps one order", "cnnbench/data.py",
      "reshuffle_each_iteration=True", "reshuffle_each_iteration=False"),
    M("a tuned target reads the defaults where tuned is not", "cnnbench/report/targets.py",
      "and profiles.same_as_default(backend, kind)):", "):"),
    M("a tuned target reads another commit's arm", "cnnbench/report/targets.py",
      "a.backend == backend and plain(a.arm) == a.arm]",
      "a.backend == backend and a.arm.split('@')[0] == a.arm]"),
    M("an arm of another commit is taken for a rerun", "cnnbench/report/frame.py",
      '"seed", "block", "arm", "twin", "cold")', '"seed", "block", "twin", "cold")'),
    M("a block of one backend gets README verdict lines", "cnnbench/report/headline.py",
      'others = others[others["block"].isin(backends[backends > 1].index)]', "pass"),
    M("the A/A target ignores a disturbed block", "cnnbench/report/targets.py",
      "disturbed = [s for s in pairs if s.disturbed]", "disturbed = []"),
]  # fmt: skip


# In-process modules first, the ones that start subprocesses last: with -x a killed mutant
# stops at its first failing test, so most end in seconds.
FIRST = ("sweep", "results", "checks", "files", "options", "matrix", "compare",
         "report_hostile", "report", "layout", "profiles", "tune", "precision", "model",
         "train", "native", "plan", "interrupt", "energy", "place", "data", "engine")  # fmt: skip


def tests(slow: bool, only: list[str] | None = None) -> list[str]:
    marker = [] if slow else ["-m", "not slow"]
    first = [f"tests/test_{name}.py" for name in FIRST]
    rest = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests").glob("test_*.py"))
    order = only or first + [p for p in rest if p not in first]
    return [sys.executable, "-m", "pytest", *order, "-x", "-q", "-p", "no:cacheprovider",
            *marker]  # fmt: skip


def run(mutant: Mutant, slow: bool, only: list[str] | None = None) -> str:
    path = ROOT / mutant.path
    original = path.read_text()
    if original.count(mutant.old) != 1:
        return "stale"
    path.write_text(original.replace(mutant.old, mutant.new))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # the suite's subprocesses import it too
    try:
        done = subprocess.run(
            tests(slow, only), cwd=ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT
        )
    except subprocess.TimeoutExpired:
        return "hung"  # CI would stop it at its limit: caught, by the clock
    finally:
        path.write_text(original)
    return "killed" if done.returncode != 0 else "survived"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slow", action="store_true", help="with the slow tests too")
    parser.add_argument("--list", action="store_true", help="list the mutants and stop")
    parser.add_argument("-k", default="", help="only mutants whose name contains this")
    parser.add_argument("--start", type=int, default=1, help="begin at the N-th mutant")
    parser.add_argument("--markdown", metavar="PATH", help="also write the results table here")
    parser.add_argument("--tests", nargs="+", metavar="FILE", help="only these test files")
    args = parser.parse_args()
    chosen = [m for m in MUTANTS if args.k in m.name][args.start - 1 :]
    if args.list:
        for m in chosen:
            print(f"{m.path}: {m.name}")
        return 0
    os.environ.setdefault("KERAS_BACKEND", "jax")
    verdicts = {}
    for i, mutant in enumerate(chosen, 1):
        start = time.perf_counter()
        verdicts[mutant.name] = run(mutant, args.slow, args.tests)
        seconds = time.perf_counter() - start
        print(f"[{i}/{len(chosen)}] {verdicts[mutant.name]:8} {mutant.name} ({seconds:.0f} s)")
    killed = sum(v in ("killed", "hung") for v in verdicts.values())
    counted = sum(v != "stale" for v in verdicts.values())
    total = (f"killed {killed} of {counted} ({killed / max(counted, 1):.0%}); "
             f"stale {len(verdicts) - counted}")  # fmt: skip
    print(total)
    if args.markdown:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        tests_run = "fast and slow tests" if args.slow else "fast tests (-m 'not slow')"
        lines = [
            f"Commit {commit}, KERAS_BACKEND={os.environ['KERAS_BACKEND']}, {tests_run}: {total}.",
            "",
            "| mutant | file | verdict |",
            "|---|---|---|",
            *(f"| {m.name} | `{m.path}` | {verdicts[m.name]} |" for m in chosen),
        ]
        Path(args.markdown).write_text("\n".join(lines) + "\n")
    return 0 if all(v != "stale" for v in verdicts.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
