"""What differs between the TensorFlow, PyTorch and JAX backends, in one small place.

Which GPUs a backend sees, where a tensor actually lives, how much memory is left,
peak memory, and the library versions and machine a result was produced with.
Everything else in cnnbench is backend-neutral Keras (or `cnnbench.native`).
"""

from __future__ import annotations

import importlib
import logging
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

BACKENDS = ("tensorflow", "torch", "jax")
DEVICES = ("auto", "cpu", "gpu")  # what a run may ask for
KINDS = ("cpu", "gpu")  # what it ran on, as a kind of device


class DeviceError(Exception):
    """The requested device is not what the backend can run on."""


def quiet(backend: str, verbose: bool = False) -> None:
    """Keep the libraries' start-up notices (TensorFlow's absl and oneDNN lines, JAX's
    search for a TPU) out of the output unless `verbose`; before any backend is imported.

    TensorFlow 2.21 prints its oneDNN notice from C++ before its logging reads
    TF_CPP_MIN_LOG_LEVEL, so it is imported here with the stderr descriptor closed off;
    an import that fails still raises, and its traceback prints once stderr is back.
    """
    if verbose:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    logging.getLogger("jax._src.xla_bridge").setLevel(logging.ERROR)
    if backend == "tensorflow" and "tensorflow" not in sys.modules:
        saved, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 2)
        try:
            import tensorflow  # noqa: F401
        except ImportError:
            pass  # keras says so, with stderr back
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(null)


def hide_gpus(environ: dict[str, str] | os._Environ = os.environ) -> None:
    """Make every backend see the CPU alone. Only works before the backend is imported."""
    environ["CUDA_VISIBLE_DEVICES"] = ""  # TensorFlow and PyTorch
    environ["JAX_PLATFORMS"] = "cpu"


def gpu_names(backend: str) -> list[str]:
    """Names of the GPUs the (already chosen) backend can use, in device order."""
    if backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        return [
            tf.config.experimental.get_device_details(g).get("device_name", g.name) for g in gpus
        ]
    if backend == "torch":
        import torch

        if not torch.cuda.is_available():
            return []
        return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    if backend == "jax":
        import jax

        try:
            return [d.device_kind for d in jax.devices("gpu")]
        except RuntimeError:  # no GPU platform initialised
            return []
    raise ValueError(f"unknown backend {backend!r}; expected one of {', '.join(BACKENDS)}")


def require_gpu(backend: str) -> list[str]:
    """The backend's GPU names; DeviceError when it sees none (never a silent fallback)."""
    gpus = gpu_names(backend)
    if not gpus:
        raise DeviceError(f"device 'gpu' requested, but the {backend} backend sees no GPU")
    return gpus


def resolve_device(backend: str, requested: str) -> str:
    """What a request runs on: 'cpu' or the first GPU's name; DeviceError for 'gpu'
    when the backend sees none."""
    gpus = require_gpu(backend) if requested == "gpu" else gpu_names(backend)
    return gpus[0] if gpus and requested != "cpu" else "cpu"


def kind_of(device: str) -> str:
    return "cpu" if device == "cpu" else "gpu"


def check_placement(requested: str, actual: str, backend: str) -> None:
    """DeviceError unless a model requested on 'cpu'/'gpu' really lives there."""
    if requested != "auto" and (requested == "cpu") != (actual == "cpu"):
        raise DeviceError(
            f"device {requested!r} requested, but the {backend} backend placed the model on "
            f"{actual!r}"
        )


def device_of(tensor) -> str:
    """'cpu' or the GPU's name, read from where `tensor` (a backend array) lives."""
    device = getattr(tensor, "device", None)
    if hasattr(tensor, "devices"):  # jax.Array
        (device,) = tensor.devices()
        return "cpu" if device.platform == "cpu" else device.device_kind
    if type(device).__module__.startswith("torch"):
        if device.type == "cpu":
            return "cpu"
        import torch

        return torch.cuda.get_device_name(device)
    if isinstance(device, str):  # tensorflow: '/job:localhost/.../device:GPU:0'
        kind, _, index = device.rpartition("device:")[2].partition(":")
        if kind == "CPU":
            return "cpu"
        import tensorflow as tf

        gpu = tf.config.list_physical_devices("GPU")[int(index or 0)]
        return tf.config.experimental.get_device_details(gpu).get("device_name", gpu.name)
    raise TypeError(f"cannot tell where a {type(tensor).__name__} lives")


def available_bytes(backend: str, kind: str) -> int | None:
    """Memory a run can still take on this kind of device; None when the backend won't say."""
    if kind == "cpu":
        try:
            for line in Path("/proc/meminfo").read_text().splitlines():
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
        except OSError:
            pass
        return None
    if backend == "torch":
        import torch

        return torch.cuda.mem_get_info()[0]
    if backend == "jax":
        import jax

        stats = jax.devices("gpu")[0].memory_stats() or {}
        limit, used = stats.get("bytes_limit"), stats.get("bytes_in_use", 0)
        return None if limit is None else limit - used
    return None


def reset_process_settings(backend: str) -> None:
    """Put back the process-wide switches a native run may turn (the library defaults)."""
    if backend == "torch":
        import torch

        torch.backends.cudnn.benchmark = False


def reset_peak_memory(backend: str) -> None:
    """Start a fresh peak for `peak_memory_mb`: host RSS high-water mark and GPU allocator."""
    try:
        Path("/proc/self/clear_refs").write_text("5")  # Linux: resets VmHWM to current RSS
    except OSError:
        pass  # elsewhere the peak stays the process's lifetime peak
    if backend == "torch":
        import torch

        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
    elif backend == "tensorflow":
        import tensorflow as tf

        for i, _ in enumerate(tf.config.list_logical_devices("GPU")):
            tf.config.experimental.reset_memory_stats(f"GPU:{i}")


def peak_host_mb() -> float:
    """Peak resident memory of this process since the last reset, in MiB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def peak_gpu_mb(backend: str) -> float | None:
    """Peak GPU memory the backend's allocator held since the last reset; None without GPU.

    JAX has no reset: its figure is the process's peak so far (an upper bound per run).
    """
    mib = 1024 * 1024
    if backend == "torch":
        import torch

        return torch.cuda.max_memory_allocated() / mib if torch.cuda.is_available() else None
    if backend == "tensorflow":
        import tensorflow as tf

        if not tf.config.list_logical_devices("GPU"):
            return None
        return tf.config.experimental.get_memory_info("GPU:0")["peak"] / mib
    if backend == "jax":
        import jax

        try:
            (device, *_) = jax.devices("gpu")
        except RuntimeError:
            return None
        stats = device.memory_stats() or {}
        return stats["peak_bytes_in_use"] / mib if "peak_bytes_in_use" in stats else None
    return None


def library_versions(backend: str) -> dict[str, str]:
    """python, keras, numpy and the backend's own libraries, as installed."""
    import keras
    import numpy

    versions = {
        "python": platform.python_version(),
        "keras": keras.__version__,
        "numpy": numpy.__version__,
    }
    modules = {"tensorflow": ["tensorflow"], "torch": ["torch"], "jax": ["jax", "jaxlib"]}
    for name in modules[backend]:
        versions[name] = importlib.import_module(name).__version__
    return versions


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def gpu_driver() -> str | None:
    if shutil.which("nvidia-smi") is None:
        return None
    cmd = ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.splitlines()[0] if out else None


MACHINE_KEYS = ("cpu_model", "cpu_count", "gpu")  # what makes two machines time alike


def same_machine(a: dict, b: dict) -> bool:
    """Whether two `machine_info` records name the same kind of machine."""
    return all(a.get(key) == b.get(key) for key in MACHINE_KEYS)


def machine_info(backend: str, device: str) -> dict:
    """Where a result came from: backend, device, CPU model and cores, GPU driver, versions."""
    gpu = device != "cpu"
    return {
        "backend": backend,
        "device": device,
        "device_kind": "gpu" if gpu else "cpu",
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "gpu": device if gpu else None,
        "gpu_driver": gpu_driver() if gpu else None,
        "host": platform.node(),
        "versions": library_versions(backend),
    }
