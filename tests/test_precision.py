"""The precision policy: what each setting means on a CPU, and that the backend's own
flags read back what was asked."""

import pytest

from cnnbench import precision


def test_tf32_on_a_cpu_is_fp32_and_says_so():
    assert precision.effective("tf32", "cpu") == "fp32"
    assert precision.effective("tf32", "gpu") == "tf32"
    assert precision.effective("bf16", "cpu") == "bf16"
    with pytest.raises(ValueError, match="precision must be one of fp32, tf32, bf16"):
        precision.effective("fp16", "gpu")


@pytest.mark.parametrize(
    "asked, strict",
    [("fp32", True), ("tf32", False), ("bf16", True), ("fp32", True)],
)
def test_the_backends_own_flag_reads_back_what_was_asked(backend, asked, strict):
    precision.apply(asked, backend)
    flags = precision.describe(backend)
    wanted = {
        "jax": "jax_default_matmul_precision=float32" if strict else "=tensorfloat32",
        "torch": "allow_tf32=False, cudnn.allow_tf32=False"
        if strict
        else "allow_tf32=True, cudnn.allow_tf32=True",
        "tensorflow": "tensor_float_32_execution=False" if strict else "execution=True",
    }[backend]
    assert wanted in flags, flags


def test_bf16_is_keras_mixed_precision():
    assert precision.keras_dtype_policy("bf16") == "mixed_bfloat16"
    assert precision.keras_dtype_policy("tf32") == "float32"


@pytest.mark.parametrize("framework", ["torch", "jax"])
def test_each_framework_s_flags_follow_the_policy_whatever_keras_runs_on(framework):
    """The native paths set their framework's flags too: checked for every framework
    installed, not only the one KERAS_BACKEND names."""
    pytest.importorskip(framework)
    for asked, tf32 in (("tf32", True), ("fp32", False), ("bf16", False)):
        precision.apply(asked, framework)
        flags = precision.describe(framework)
        if framework == "torch":
            assert f"matmul.allow_tf32={tf32}, cudnn.allow_tf32={tf32}" in flags, flags
        else:
            assert flags.endswith("tensorfloat32" if tf32 else "=float32"), flags
