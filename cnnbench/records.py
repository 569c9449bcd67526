"""What a run is asked to do (`RunConfig`) and what it measured (`Measured`, `RunResult`).

Each `RunConfig` field carries its help text and choices, so the command line and the
benchmark suite build their options from these fields rather than re-declaring them.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from cnnbench import experiment, profiles
from cnnbench.backend import DEVICES
from cnnbench.precision import PRECISIONS

IMPLS = ("keras", "keras-loop", "native")  # fit, the Keras model in a hand loop, no Keras
MAX_SEED = 2**32 - 1  # numpy's and Keras's seeds are unsigned 32-bit
MAX_FILTERS = 2**20  # far past any memory; a bound so no count overflows a float
MAX_LR = 3.4028234663852886e38  # the largest float32: what the optimizer holds it in
HISTORY_KEYS = ("loss", "accuracy", "val_loss", "val_accuracy")


def _option(help: str, choices: tuple = ()) -> dict:
    return {"help": help, "choices": choices}


@dataclass(frozen=True)
class RunConfig:
    filters: int = field(default=16, metadata=_option("filters per conv layer"))
    learning_rate: float = field(
        default=experiment.LEARNING_RATE, metadata=_option("SGD learning rate")
    )
    epochs: int = field(default=experiment.EPOCHS, metadata=_option("epochs per run"))
    batch_size: int = field(default=experiment.BATCH_SIZE, metadata=_option("batch size"))
    seed: int = field(default=0, metadata=_option("initialisation and shuffling seed"))
    device: str = field(
        default="auto",
        metadata=_option("cpu hides GPUs; gpu fails without one; auto: the default", DEVICES),
    )
    train_subset: int | None = field(
        default=None, metadata=_option("train on the first N of the 55000 images")
    )
    impl: str = field(
        default="keras", metadata=_option("the Keras model, or the network without Keras", IMPLS)
    )
    profile: str = field(
        default="default",
        metadata=_option("Keras execution profile (native has one)", tuple(profiles.KERAS)),
    )
    precision: str = field(
        default="fp32",
        metadata=_option("fp32 strict, tf32 allowed, or bf16 mixed precision", PRECISIONS),
    )
    # None: the path's chosen settings (cnnbench.profiles); else exactly these (how
    # `tune` times candidates, and how a sweep runs with what `tune` chose).
    settings: Mapping | None = field(default=None, hash=False)

    def __post_init__(self) -> None:
        problems = []
        if not 1 <= self.filters <= MAX_FILTERS:
            problems.append(f"filters must be in 1..{MAX_FILTERS}, got {self.filters}")
        if not (math.isfinite(self.learning_rate) and 0 < self.learning_rate <= MAX_LR):
            problems.append(f"learning rate must be in (0, {MAX_LR:.4g}], got {self.learning_rate}")
        if self.epochs < 1:
            problems.append(f"epochs must be >= 1, got {self.epochs}")
        if self.batch_size < 1:
            problems.append(f"batch size must be >= 1, got {self.batch_size}")
        if not 0 <= self.seed <= MAX_SEED:
            problems.append(f"seed must be in 0..{MAX_SEED}, got {self.seed}")
        limit = experiment.TRAIN_SIZE
        if self.train_subset is not None and not 1 <= self.train_subset <= limit:
            problems.append(f"train subset must be in 1..{limit}, got {self.train_subset}")
        for name in ("device", "impl", "profile", "precision"):
            choices = CHOICES[name]
            value = getattr(self, name)
            if value not in choices:
                problems.append(f"{name} must be one of {', '.join(choices)}, got {value!r}")
        if problems:
            raise ValueError("; ".join(problems))

    @property
    def train_samples(self) -> int:
        return self.train_subset or experiment.TRAIN_SIZE

    @property
    def steps(self) -> int:
        """Optimizer steps in one epoch (the last batch may be short)."""
        return math.ceil(self.train_samples / self.batch_size)

    @property
    def recorded_profile(self) -> str | None:
        return self.profile if self.impl == "keras" else None


CHOICES = {f.name: f.metadata["choices"] for f in dataclasses.fields(RunConfig) if f.metadata}


Variant = tuple[str, "str | None"]  # (impl, profile); native has no profile


def variants(impls, profile_names) -> list[Variant]:
    """(impl, profile) pairs: each Keras profile, and native once (it has no profile)."""
    pairs: list[Variant] = []
    for impl in impls:
        pairs += [(impl, p) for p in profile_names] if impl == "keras" else [(impl, None)]
    return pairs


VARIANTS = variants(IMPLS, tuple(profiles.KERAS))  # every path, in display order


def variant_id(impl: str, profile: str | None) -> str:
    """`keras-default`, `keras-tuned`, `native`: how a path is named in ids and files."""
    return impl if profile is None else f"{impl}-{profile}"


def path_label(impl: str, profile: str | None) -> str:
    """`keras default`, `keras tuned`, `native`: how the report names a path (its id)."""
    return variant_id(impl, profile).replace("-", " ")


def result_path(result: Mapping) -> str:
    """The path label of a recorded run (runs from before `impl` was recorded: Keras)."""
    impl = result.get("impl", "keras")
    return path_label(impl, (result.get("profile") or "default") if impl == "keras" else None)


@dataclass(frozen=True)
class Measured:
    """What one implementation measured in its timed region; `result` derives the rest."""

    history: dict[str, list[float]]  # loss, accuracy, val_loss, val_accuracy, epoch_seconds
    runtime_s: float  # the timed region: every epoch with its validation pass
    params: int
    device: str  # 'cpu' or the GPU's name, read from where the parameters live
    settings: dict


def _key(**kwargs):
    """A field that says what was measured: two runs measured the same thing (and
    `--resume` takes one for the other) only when all such fields agree."""
    return field(metadata={"key": True}, **kwargs)


@dataclass(frozen=True)
class RunResult:
    backend: str = _key()
    device: str = _key()  # 'cpu' or the GPU's name, read from where the weights live
    filters: int = _key()
    params: int
    epochs: int = _key()
    batch_size: int = _key()
    learning_rate: float = _key()
    seed: int = _key()
    train_samples: int = _key()
    history: dict[str, list[float]]  # loss, accuracy, val_loss, val_accuracy, epoch_seconds
    val_accuracy: float
    val_loss: float
    test_accuracy: float
    test_error: float
    runtime_s: float  # the timed region: every epoch with its validation pass
    first_epoch_s: float  # carries tracing, compilation, graph capture
    steady_epoch_s: float | None  # median of the later epochs; None for one epoch
    samples_per_s: float | None  # train_samples / steady_epoch_s
    flops_per_sample: int
    versions: dict[str, str] = _key(default_factory=dict)
    data_source: str = ""
    impl: str = _key(default="keras")
    profile: str | None = _key(default="default")  # None for native
    settings: dict = field(default_factory=dict)  # what the path ran with
    achieved_gflops: float | None = None  # flops_per_sample * samples_per_s, steady state
    peak_gflops: float | None = None  # the matmul peak measured at the run's precision
    peak_fraction: float | None = None  # achieved_gflops / peak_gflops
    peak_host_mb: float | None = None  # peak resident memory during the run
    peak_gpu_mb: float | None = None  # peak GPU allocator memory during the run, on GPU
    precision: str = _key(default="fp32")  # fp32, tf32 or bf16, as computed (CPU: no tf32)
    math: str = ""  # the backend's float32 math flags, read back during the run
    setup_s: float | None = None  # building, compiling setup and data placement, untimed
    energy: dict = field(default_factory=dict)  # joules around the timed fit (cnnbench.energy)

    def with_peak(self, peak_gflops: float) -> RunResult:
        """This result, placed against a measured peak (`python -m cnnbench peak`)."""
        fraction = None if self.achieved_gflops is None else self.achieved_gflops / peak_gflops
        return dataclasses.replace(self, peak_gflops=peak_gflops, peak_fraction=fraction)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def summary(self) -> str:
        """The report's closing block, with the backend and device it ran on."""
        from cnnbench.analytic import DENSE_UNITS

        lines = [
            "Training has been completed",
            "",
            f"Backend: {self.backend} on {self.device} ({self.precision})",
            f"Total number of Epochs trained: {self.epochs}",
            f"Batch size: {self.batch_size}",
            f"Learning rate: {self.learning_rate:g}",
            f"Number of units: {DENSE_UNITS}",
            f"Number of filters: {self.filters}",
            "",
            f"Validation accuracy: {self.val_accuracy:.3f}",
            f"Training loss: {self.history['loss'][-1]:.3f}",
            f"Test Error: {self.test_error:.4f}",
            f"Runtime: {self.runtime_s:.2f} seconds",
            f"Total number of parameters: {self.params}",
        ]
        return "\n".join(lines)


KEY_FIELDS = tuple(f.name for f in dataclasses.fields(RunResult) if f.metadata.get("key"))


def asked(config: RunConfig, backend: str, device: str, versions: Mapping) -> dict:
    """What a finished run of `config` records in its KEY_FIELDS, known before it runs
    (`device`: the name it runs on; `config.precision`: as computed there)."""
    known = {
        "backend": backend,
        "device": device,
        "versions": dict(versions),
        "profile": config.recorded_profile,
        "train_samples": config.train_samples,
    }
    return {name: known[name] if name in known else getattr(config, name) for name in KEY_FIELDS}
