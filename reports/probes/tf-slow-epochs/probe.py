"""Why some epochs of Keras `fit` on TensorFlow run at half speed on a 2-core CPU.

Each run is a fresh process training the 16-filter CNN with `fit` at Keras's defaults
(10 epochs, batch 50, 55000 images), exactly as the suite's `keras-default` path does;
at every epoch's end it reads every thread's seconds on a CPU and runnable but waiting
(`/proc/self/task/*/schedstat`) and every CPU's busy, idle and stolen seconds
(`/proc/stat`), so a slow epoch says whether its threads waited for a CPU or for
each other. Conditions are environment settings, run in interleaved rounds (each
round every condition once, order rotated):

    cd reports/probes/tf-slow-epochs && python probe.py --rounds 6 --out runs.jsonl

One JSON line per run: the condition, its round and place, and per epoch the wall and
process CPU seconds, each thread's and each CPU's.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

CONDITIONS = {
    "default": {},
    "interop-1": {"TF_NUM_INTEROP_THREADS": "1"},
    # a pipeline of our own: slices, shuffle, batch, prefetch(1); one private thread, no autotune
    "data-threads-1": {"PROBE_PIPELINE": "own"},
    # Keras's own pipeline for the arrays (its ArrayDataAdapter's), handed to fit as a dataset
    "keras-data": {"PROBE_PIPELINE": "keras"},
    # the same with tf.data's autotuning off (`tf.data.Options().autotune.enabled = False`)
    "keras-data-no-autotune": {"PROBE_PIPELINE": "keras-no-autotune"},
}
TICK = os.sysconf("SC_CLK_TCK")


def threads_now() -> dict[str, tuple[float, float]]:
    """Each thread of this process ("name/tid"): (seconds on a CPU, seconds runnable
    but waiting for one), from `/proc/self/task/*/schedstat` (nanoseconds)."""
    now = {}
    for task in Path("/proc/self/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
            ran, waited, _ = (task / "schedstat").read_text().split()
        except OSError:  # the thread ended between listing and reading
            continue
        now[f"{name}/{task.name}"] = (int(ran) / 1e9, int(waited) / 1e9)
    return now


def cpus_now() -> dict[str, tuple[float, float, float]]:
    """Each CPU of the machine: (busy, idle, steal) seconds, from `/proc/stat`."""
    now = {}
    for line in Path("/proc/stat").read_text().splitlines():
        name, *ticks = line.split()
        if name.startswith("cpu") and name != "cpu":
            t = [int(v) / TICK for v in ticks]
            idle, steal = t[3] + t[4], t[7]
            now[name] = (sum(t[:8]) - idle - steal, idle, steal)
    return now


def delta(now: dict, then: dict) -> dict:
    return {
        k: [round(a - b, 2) for a, b in zip(v, then.get(k, (0.0,) * len(v)), strict=True)]
        for k, v in sorted(now.items())
    }


def child() -> None:
    import keras
    import tensorflow as tf

    from cnnbench.data import load
    from cnnbench.model import build_model

    data = load()
    keras.utils.set_random_seed(0)
    model = build_model(16, seed=0)
    model.compile(
        optimizer=keras.optimizers.SGD(0.1),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    x, y = data.x_train[:55000], data.y_train[:55000]
    pipeline = os.environ.get("PROBE_PIPELINE")
    if pipeline in ("keras", "keras-no-autotune"):
        from keras.src.trainers.data_adapters.array_data_adapter import ArrayDataAdapter

        dataset = ArrayDataAdapter(x, y, batch_size=50, shuffle=True).get_tf_dataset()
        if pipeline == "keras-no-autotune":
            options = tf.data.Options()
            options.autotune.enabled = False
            dataset = dataset.with_options(options)
        inputs = {"x": dataset}
    elif pipeline == "own":
        options = tf.data.Options()
        options.threading.private_threadpool_size = 1
        options.autotune.enabled = False
        dataset = (
            tf.data.Dataset.from_tensor_slices((x, y))
            .shuffle(len(x), seed=0)
            .batch(50)
            .prefetch(1)
            .with_options(options)
        )
        inputs = {"x": dataset}
    else:
        inputs = {"x": x, "y": y, "batch_size": 50}
    epochs = []

    class Clock(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = (time.perf_counter(), time.process_time(), threads_now(), cpus_now())

        def on_epoch_end(self, epoch, logs=None):
            wall, cpu, threads, cpus = (
                time.perf_counter(),
                time.process_time(),
                threads_now(),
                cpus_now(),
            )
            wall0, cpu0, threads0, cpus0 = self.start
            threads = delta(threads, threads0)
            epochs.append(
                {
                    "wall_s": wall - wall0,
                    "cpu_s": cpu - cpu0,
                    # name/tid: [ran, waited] seconds, threads that ran over 0.05 s
                    "threads": {k: v for k, v in threads.items() if v[0] > 0.05},
                    "cpus": delta(cpus, cpus0),  # cpuN: [busy, idle, steal] seconds
                }
            )

    model.fit(
        **inputs,
        epochs=10,
        validation_data=(data.x_val, data.y_val),
        verbose=0,
        callbacks=[Clock()],
    )
    print(json.dumps({"epochs": epochs, "keras": keras.__version__, "tensorflow": tf.__version__}))


SLOW_CORES = 1.2  # an epoch on fewer cores (CPU seconds a second) than this is a slow one


def summary(path: Path) -> None:
    """Per condition: its epochs after the first, how many were slow, and what a slow
    and a fast epoch each spent: wall, cores, the machine's idle and the threads' wait."""
    rows = collections.defaultdict(list)
    for record in map(json.loads, path.open()):
        for epoch in record["epochs"][1:]:  # the first compiles
            cores = epoch["cpu_s"] / epoch["wall_s"]
            idle = sum(c[1] for c in epoch["cpus"].values())
            waited = sum(t[1] for t in epoch["threads"].values())
            rows[record["condition"]].append((epoch["wall_s"], cores, idle, waited))
    print("condition        epochs  slow   wall s (fast / slow)  cores      idle s     wait s")
    for name, epochs in rows.items():
        kinds = [[e for e in epochs if (e[1] < SLOW_CORES) == slow] for slow in (False, True)]
        cells = [
            " / ".join(
                f"{statistics.median(e[i] for e in kind):.2f}" if kind else "-" for kind in kinds
            )
            for i in range(4)
        ]
        print(f"{name:16} {len(epochs):6} {len(kinds[1]):5}   " + "   ".join(cells))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--conditions", default=",".join(CONDITIONS))
    parser.add_argument("--summary", action="store_true", help="summarise --out, run nothing")
    args = parser.parse_args()
    if args.summary:
        return summary(args.out)
    names = args.conditions.split(",")
    done = set()
    if args.out.exists():
        done = {(r["condition"], r["round"]) for r in map(json.loads, args.out.open())}
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    for round_ in range(args.rounds):
        order = names[round_ % len(names) :] + names[: round_ % len(names)]
        for place, name in enumerate(order):
            if (name, round_) in done:
                continue
            env = {
                **os.environ,
                "KERAS_BACKEND": "tensorflow",
                "PROBE_CHILD": "1",
                "TF_CPP_MIN_LOG_LEVEL": "2",
                **CONDITIONS[name],
            }
            start = time.time()
            proc = subprocess.run(
                [sys.executable, __file__], env=env, capture_output=True, text=True
            )
            if proc.returncode:
                print(
                    f"{name} round {round_}: exit {proc.returncode}: "
                    f"{proc.stderr.strip().splitlines()[-1:]}",
                    file=sys.stderr,
                )
                continue
            record = {
                "condition": name,
                "env": CONDITIONS[name],
                "round": round_,
                "place": place,
                "commit": commit.strip(),
                "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start)),
                **json.loads(proc.stdout.strip().splitlines()[-1]),
            }
            with args.out.open("a") as out:
                out.write(json.dumps(record) + "\n")
            walls = [round(e["wall_s"], 1) for e in record["epochs"]]
            print(f"round {round_} {name}: {walls}", flush=True)


if __name__ == "__main__":
    child() if os.environ.get("PROBE_CHILD") else main()
