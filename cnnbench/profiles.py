"""How each path runs, per backend and kind of device: chosen by measurement, recorded here.

- `KERAS[profile][backend][kind]`: the Keras execution profiles. `default` is what a
  user gets from `model.fit` with Keras's defaults; `tuned` is the fastest setting
  found with Keras's public API alone (compile arguments, the input), so a Keras user
  can copy it. Keys: `steps_per_execution` (an int, or "epoch" for one call per
  epoch), `jit_compile`, `input` ("numpy"; "device": tensors already on the device;
  "tf.data": a `tf.data` pipeline of our own, autotuning off, TensorFlow only).
- `NATIVE[backend][kind]`: how the same network runs written directly in the framework
  (`cnnbench/native/`), the fastest correct version found.
- `CANDIDATES[(impl, backend, kind)]`: what `python -m cnnbench tune` times to choose
  them. docs/tuning.md has each choice's figures; a result records the settings it ran.
"""

from __future__ import annotations

from collections.abc import Mapping

from cnnbench.backend import BACKENDS

_EPOCH = {"steps_per_execution": "epoch"}

KERAS: dict[str, dict[str, dict[str, dict]]] = {
    "default": {backend: {"cpu": {}, "gpu": {}} for backend in BACKENDS},
    "tuned": {
        # cpu: tf.data's autotuning off stops whole epochs stalling (docs/targets.md);
        # gpu: not measured (no TensorFlow on the lent machine)
        "tensorflow": {"cpu": {**_EPOCH, "input": "tf.data"}, "gpu": _EPOCH},
        "torch": {"cpu": {}, "gpu": {"jit_compile": True}},
        "jax": {"cpu": _EPOCH, "gpu": _EPOCH},
    },
}

NATIVE: dict[str, dict[str, dict]] = {
    "tensorflow": {"cpu": {"jit_compile": False}, "gpu": {"jit_compile": False}},
    "torch": {
        "cpu": {"loop": "eager", "layout": "channels_last"},
        "gpu": {"loop": "graph", "layout": "nchw", "cudnn_benchmark": True},
    },
    "jax": {
        "cpu": {"loop": "step", "pool": "reshape"},
        "gpu": {"loop": "scan", "pool": "reshape"},
    },
}

# The Keras model in a hand-written loop (cnnbench.kerasloop), per backend and kind: the
# keras.io guides' loop first; chosen by measurement (docs/tuning.md).
LOOP: dict[str, dict[str, dict]] = {
    "tensorflow": {"cpu": {"loop": "epoch"}, "gpu": {"loop": "epoch"}},
    "torch": {"cpu": {"loop": "eager"}, "gpu": {"loop": "eager"}},
    "jax": {"cpu": {"loop": "step"}, "gpu": {"loop": "scan"}},
}
LOOP_OPTIONS: dict[str, dict[str, tuple]] = {
    "tensorflow": {"loop": ("step", "epoch")},
    "torch": {"loop": ("eager", "compile", "compile-graphs")},
    "jax": {"loop": ("step", "scan")},
}
GPU_ONLY = {("torch", "loop", "compile-graphs")}  # CUDA graphs: none on a CPU

# What each native trainer accepts: option -> allowed values (the first is the plain one).
NATIVE_OPTIONS: dict[str, dict[str, tuple]] = {
    "tensorflow": {"jit_compile": (False, True)},
    "torch": {
        "loop": ("eager", "graph", "compile"),
        "layout": ("nchw", "channels_last"),
        "cudnn_benchmark": (False, True),
    },
    "jax": {"loop": ("step", "scan"), "pool": ("window", "reshape"), "conv": ("xla", "im2col")},
}
KERAS_OPTIONS: dict[str, tuple] = {
    "steps_per_execution": (1, "epoch"),
    "jit_compile": ("auto", True, False),
    "input": ("numpy", "device", "tf.data"),
}
# Keras settings only one backend has: (key, value) -> that backend.
BACKEND_ONLY = {("input", "tf.data"): "tensorflow"}

CANDIDATES: dict[tuple[str, str, str], list[dict]] = {
    ("keras", "jax", "gpu"): [{}, _EPOCH, {**_EPOCH, "input": "device"}],
    ("keras", "jax", "cpu"): [{}, _EPOCH],
    # steps_per_execution on PyTorch: only Keras 3.16's trainer runs it (`refused_here`)
    ("keras", "torch", "gpu"): [{}, {"jit_compile": True}, {"input": "device"}, _EPOCH],
    ("keras", "torch", "cpu"): [{}, {"jit_compile": True}, _EPOCH],
    ("keras", "tensorflow", "gpu"): [{}, _EPOCH, {**_EPOCH, "jit_compile": True}],
    ("keras", "tensorflow", "cpu"): [
        {},
        _EPOCH,
        {**_EPOCH, "jit_compile": True},
        {**_EPOCH, "input": "tf.data"},  # autotuning off: no half-speed epochs (targets.md)
    ],
    ("native", "jax", "gpu"): [
        {"loop": "step", "pool": "window"},
        {"loop": "scan", "pool": "window"},
        {"loop": "scan", "pool": "reshape"},
    ],
    ("native", "jax", "cpu"): [
        {"loop": "step", "pool": "window"},
        {"loop": "step", "pool": "reshape"},
        {"loop": "step", "pool": "reshape", "conv": "im2col"},
        {"loop": "scan", "pool": "reshape"},  # 32x slower at 64 filters: a short tune only
    ],
    ("native", "torch", "gpu"): [
        {"loop": "eager", "layout": "nchw"},
        {"loop": "graph", "layout": "nchw"},
        {"loop": "graph", "layout": "nchw", "cudnn_benchmark": True},
        {"loop": "graph", "layout": "channels_last", "cudnn_benchmark": True},
    ],
    ("native", "torch", "cpu"): [
        {"loop": "eager", "layout": "nchw"},
        {"loop": "eager", "layout": "channels_last"},
        {"loop": "compile", "layout": "nchw"},
    ],
    ("native", "tensorflow", "gpu"): [{"jit_compile": False}, {"jit_compile": True}],
    # XLA on the CPU did not finish 2 epochs of 5000 images in 120 s (0.9 s without).
    ("native", "tensorflow", "cpu"): [{"jit_compile": False}],
    **{
        ("keras-loop", backend, kind): [
            {"loop": v}
            for v in LOOP_OPTIONS[backend]["loop"]
            if kind == "gpu" or (backend, "loop", v) not in GPU_ONLY
        ]
        for backend in BACKENDS
        for kind in ("cpu", "gpu")
    },
}


def for_run(config, backend: str, kind: str) -> dict:
    """The complete settings a run uses: its config's own, else its path's chosen ones."""
    wanted = config.settings
    if wanted is None:
        wanted = chosen(config.impl, config.profile, backend, kind)
    return check(config.impl, backend, wanted)


def chosen(impl: str, profile: str, backend: str, kind: str) -> dict:
    """The settings a run of this path uses unless it is given others."""
    table = {"native": NATIVE, "keras-loop": LOOP}.get(impl) or KERAS[profile]
    return dict(table[backend][kind])


def options_of(impl: str, backend: str) -> dict[str, tuple]:
    """The settings a path accepts: option -> allowed values (the first is the plain one)."""
    if impl == "native":
        return NATIVE_OPTIONS[backend]
    return LOOP_OPTIONS[backend] if impl == "keras-loop" else KERAS_OPTIONS


def check(impl: str, backend: str, settings: Mapping) -> dict:
    """`settings` completed with the plain values; ValueError naming an unknown key or value."""
    options = options_of(impl, backend)
    complete = {}
    for key, values in options.items():
        value = settings.get(key, values[0])
        if value not in values and not (key == "steps_per_execution" and _positive_int(value)):
            allowed = ", ".join(map(str, values))
            raise ValueError(f"{impl} {backend} setting {key}={value!r}: choose from {allowed}")
        only = BACKEND_ONLY.get((key, value)) if impl != "native" else None
        if only and only != backend:
            raise ValueError(f"{impl} {backend} setting {key}={value!r}: {only} only")
        complete[key] = value
    unknown = sorted(set(settings) - set(options))
    if unknown:
        raise ValueError(
            f"unknown {impl} {backend} setting(s) {', '.join(unknown)}; known: {', '.join(options)}"
        )
    return complete


# The first Keras whose PyTorch trainer runs more than one step per call (3.15.1 refuses).
TORCH_STEPS_PER_EXECUTION = "3.16.0.dev0"


def refused_here(impl: str, backend: str, settings: Mapping) -> str | None:
    """Why the installed Keras cannot run these (valid) settings, or None: `check` says
    what a setting may be, this what the Keras at hand allows."""
    per_call = settings.get("steps_per_execution", 1)
    if impl != "keras" or backend != "torch" or per_call == 1:
        return None
    import keras
    from packaging.version import Version

    if Version(keras.__version__) >= Version(TORCH_STEPS_PER_EXECUTION):
        return None
    return (
        f"keras torch setting steps_per_execution={per_call!r}: Keras {keras.__version__}'s "
        "PyTorch trainer runs one step per call; Keras 3.16 (requirements/next.txt) runs more"
    )


def _positive_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def same_as_default(backend: str, kind: str, tuned: Mapping | None = None) -> bool:
    """Whether `tuned` (by default the chosen one here) is Keras's defaults: no public-API
    setting measured faster, so timing it would time the defaults twice."""
    tuned = KERAS["tuned"][backend][kind] if tuned is None else tuned
    default = KERAS["default"][backend][kind]
    return check("keras", backend, tuned) == check("keras", backend, default)
