"""convkit._machine: CPU flags, BLAS probing, the OPENBLAS_CORETYPE advice, and the doctor."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convkit import _machine

MACHINE_PY = Path(_machine.__file__)

# Abridged /proc/cpuinfo of an AVX-512 Xeon (two processors listed) and of an AVX2-only CPU.
CPUINFO_AVX512 = """\
processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz
flags\t\t: fpu vme sse sse2 ssse3 sse4_1 sse4_2 avx f16c fma avx2 avx512f avx512dq avx512cd \
avx512bw avx512vl avx512_vnni
bogomips\t: 5800.00

processor\t: 1
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz
flags\t\t: fpu vme sse sse2 ssse3 sse4_1 sse4_2 avx f16c fma avx2 avx512f avx512dq avx512cd \
avx512bw avx512vl avx512_vnni
"""
CPUINFO_AVX2 = """\
processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC 7B12
flags\t\t: fpu vme sse sse2 ssse3 sse4_1 sse4_2 avx f16c fma avx2 sha_ni
"""
CPUINFO_ARM = """\
processor\t: 0
BogoMIPS\t: 50.00
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics
CPU implementer\t: 0x41
CPU part\t: 0xd0c
"""
SKYLAKEX_SUBSETS = ("avx512f", "avx512bw", "avx512vl", "avx512dq")
OPENBLAS_HASWELL = {"name": "openblas", "version": "0.3.27", "core_type": "Haswell"}


# ------------------------------------------------------------------ cpuinfo parsing
def test_flags_of_an_avx512_cpu() -> None:
    flags = _machine.parse_cpu_flags(CPUINFO_AVX512)
    assert {"avx2", "fma", *SKYLAKEX_SUBSETS, "avx512_vnni"} <= flags
    assert "bogomips" not in flags and "5800.00" not in flags
    assert _machine.has_avx512(flags)


def test_flags_of_an_avx2_cpu() -> None:
    flags = _machine.parse_cpu_flags(CPUINFO_AVX2)
    assert flags == {"fpu", "vme", "sse", "sse2", "ssse3", "sse4_1", "sse4_2", "avx", "f16c",
                     "fma", "avx2", "sha_ni"}
    assert not _machine.has_avx512(flags)


def test_flags_of_an_arm_cpu_and_of_nothing() -> None:
    assert _machine.parse_cpu_flags(CPUINFO_ARM) == {
        "fp", "asimd", "evtstrm", "aes", "pmull", "sha1", "sha2", "crc32", "atomics"}
    assert _machine.parse_cpu_flags("") == set()
    assert _machine.parse_cpu_flags("processor : 0\nvendor_id : x\n") == set()


def test_model_names() -> None:
    assert (_machine.parse_cpu_model(CPUINFO_AVX512)
            == "Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz")
    assert _machine.parse_cpu_model(CPUINFO_AVX2) == "AMD EPYC 7B12"
    assert _machine.parse_cpu_model(CPUINFO_ARM) == "0xd0c"
    assert _machine.parse_cpu_model("") is None


@pytest.mark.parametrize("missing", SKYLAKEX_SUBSETS)
def test_avx512_needs_all_four_subsets(missing: str) -> None:
    flags = set(SKYLAKEX_SUBSETS) - {missing} | {"avx2"}
    assert not _machine.has_avx512(flags)


def test_this_machine() -> None:
    assert _machine.usable_cores() == len(os.sched_getaffinity(0))
    assert isinstance(_machine.cpu_model(), str) and _machine.cpu_model()
    flags = _machine.cpu_flags()
    if Path("/proc/cpuinfo").exists():
        assert flags == _machine.parse_cpu_flags(Path("/proc/cpuinfo").read_text())


# ------------------------------------------------------------------ advice
def test_advice_for_avx512_cpu_on_haswell_kernels() -> None:
    flags = _machine.parse_cpu_flags(CPUINFO_AVX512)
    advice = _machine.openblas_coretype_advice(flags, OPENBLAS_HASWELL)
    assert advice is not None
    assert "OPENBLAS_CORETYPE=SkylakeX" in advice and "Haswell" in advice


@pytest.mark.parametrize("blas", [
    {"name": "openblas", "core_type": "SkylakeX"},    # already on AVX-512 kernels
    {"name": "openblas", "core_type": "Cooperlake"},
    {"name": "openblas", "core_type": "SapphireRapids"},
    {"name": "openblas", "core_type": None},          # unknown: do not guess
    {"name": "mkl", "core_type": "Haswell"},          # not OpenBLAS: the variable does nothing
    {"name": None, "core_type": None},
])
def test_no_advice_when_it_would_not_help(blas: dict) -> None:
    flags = _machine.parse_cpu_flags(CPUINFO_AVX512)
    assert _machine.openblas_coretype_advice(flags, blas) is None


@settings(max_examples=40, deadline=None)
@given(st.sets(st.sampled_from(["avx", "avx2", "fma", "sse4_2", "avx512cd", "avx512_vnni",
                                "avx512_bf16", *SKYLAKEX_SUBSETS])),
       st.sampled_from(["Haswell", "Zen", "SandyBridge", "Prescott", "haswell", "generic"]))
def test_never_advise_without_avx512(flags: set[str], core: str) -> None:
    blas = {"name": "openblas", "core_type": core}
    advice = _machine.openblas_coretype_advice(flags, blas)
    if set(SKYLAKEX_SUBSETS) <= flags:
        assert advice is not None
    else:
        assert advice is None


# ------------------------------------------------------------------ applying the variable
@pytest.fixture
def numpy_not_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    # the function refuses once NumPy is imported (as it is in this test process): hide it
    monkeypatch.delitem(sys.modules, "numpy")


@pytest.mark.usefixtures("numpy_not_loaded")
def test_apply_sets_the_variable_on_an_avx512_cpu() -> None:
    environ: dict[str, str] = {"PATH": "/bin"}
    assert _machine.apply_openblas_coretype(environ, _machine.parse_cpu_flags(CPUINFO_AVX512))
    assert environ == {"PATH": "/bin", "OPENBLAS_CORETYPE": "SkylakeX"}


@pytest.mark.usefixtures("numpy_not_loaded")
def test_apply_leaves_an_avx2_cpu_alone() -> None:
    environ: dict[str, str] = {}
    assert not _machine.apply_openblas_coretype(environ, _machine.parse_cpu_flags(CPUINFO_AVX2))
    assert environ == {}


@pytest.mark.usefixtures("numpy_not_loaded")
def test_apply_never_overrides_the_user() -> None:
    environ = {"OPENBLAS_CORETYPE": "Haswell"}
    assert not _machine.apply_openblas_coretype(environ, _machine.parse_cpu_flags(CPUINFO_AVX512))
    assert environ == {"OPENBLAS_CORETYPE": "Haswell"}


def test_apply_refuses_once_numpy_is_imported() -> None:
    assert "numpy" in sys.modules
    environ: dict[str, str] = {}
    assert not _machine.apply_openblas_coretype(environ, _machine.parse_cpu_flags(CPUINFO_AVX512))
    assert environ == {}


def _fresh_python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=False, env=env)


# Loads _machine from its file, without the convkit package (whose __init__ imports NumPy).
_BOOT = f"""
import importlib.util, json, os, sys
spec = importlib.util.spec_from_file_location("machine_boot", {str(MACHINE_PY)!r})
machine = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = machine  # dataclasses look their module up while being built
spec.loader.exec_module(machine)
numpy_before = "numpy" in sys.modules
applied = machine.apply_openblas_coretype()
import numpy
print(json.dumps({{"numpy_before": numpy_before, "applied": applied,
                   "env": os.environ.get("OPENBLAS_CORETYPE"),
                   "core": machine.blas_info()["core_type"]}}))
"""


def test_apply_in_a_fresh_process() -> None:
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
    result = _fresh_python(_BOOT, env)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["numpy_before"] is False  # the module itself must not pull NumPy in
    avx512 = _machine.has_avx512(_machine.cpu_flags())
    assert out["applied"] is avx512
    assert out["env"] == ("SkylakeX" if avx512 else None)
    if out["applied"] and _machine.blas_info()["name"] == "openblas":
        assert str(out["core"]).lower() == "skylakex"  # OpenBLAS loaded its AVX-512 kernels


def test_a_users_coretype_survives_a_fresh_process() -> None:
    env = {**os.environ, "OPENBLAS_CORETYPE": "Haswell"}
    result = _fresh_python(_BOOT, env)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["applied"] is False and out["env"] == "Haswell"
    if _machine.blas_info()["name"] == "openblas":  # OpenBLAS obeyed the user's choice
        assert str(out["core"]).lower() == "haswell"


# ------------------------------------------------------------------ BLAS probing
def test_blas_info_fields() -> None:
    info = _machine.blas_info()
    expected = {"name", "version", "core_type", "num_threads", "filepath", "threading_layer",
                "build_config", "coretype_env", "source"}
    assert expected <= set(info)
    assert info["name"] is not None and info["source"] is not None
    assert info["num_threads"] is None or (isinstance(info["num_threads"], int)
                                           and info["num_threads"] >= 1)
    assert info["coretype_env"] == os.environ.get("OPENBLAS_CORETYPE")


def test_blas_info_without_threadpoolctl(monkeypatch: pytest.MonkeyPatch) -> None:
    with_pool = _machine.blas_info()
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)  # makes its import fail
    without = _machine.blas_info()
    assert without["source"] is not None and "threadpoolctl" not in without["source"]
    assert without["name"] is not None
    if with_pool["name"] == "openblas":  # ctypes must find the same kernels and threads
        assert without["core_type"] == with_pool["core_type"]
        assert without["num_threads"] == with_pool["num_threads"]


def test_openblas_symbol_names() -> None:
    class ScipyOpenBLAS:  # the 64-bit-integer scipy-openblas wheels' naming
        scipy_openblas_get_corename64_ = "found"

    class PlainOpenBLAS:
        openblas_get_corename = "plain"

    assert _machine._openblas_symbol(ScipyOpenBLAS(), "openblas_get_corename") == "found"
    assert _machine._openblas_symbol(PlainOpenBLAS(), "openblas_get_corename") == "plain"
    assert _machine._openblas_symbol(PlainOpenBLAS(), "openblas_get_config") is None


# ------------------------------------------------------------------ doctor
def test_doctor_fields() -> None:
    report = _machine.doctor()
    assert isinstance(report.python, str) and report.python.count(".") == 2
    assert isinstance(report.numpy, str) and isinstance(report.scipy, str)
    assert report.numba is None or isinstance(report.numba, str)
    assert report.usable_cores == len(os.sched_getaffinity(0))
    assert isinstance(report.avx512, bool)
    assert report.avx512 == _machine.has_avx512(_machine.cpu_flags())
    assert isinstance(report.blas, dict) and report.blas["name"]
    assert report.fft_workers is None or (isinstance(report.fft_workers, int)
                                          and report.fft_workers >= 1)
    assert isinstance(report.conv_constants_path, str)
    assert report.conv_constants_exist == Path(report.conv_constants_path).is_file()
    assert report.advice == _machine.openblas_coretype_advice(_machine.cpu_flags(), report.blas)
    as_dict = report.to_dict()
    assert json.loads(json.dumps(as_dict)) == as_dict  # JSON-ready
    assert as_dict["usable_cores"] == report.usable_cores


def test_doctor_report_in_a_subprocess() -> None:
    result = subprocess.run([sys.executable, "-m", "convkit._machine"], capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    text = result.stdout
    blas = _machine.blas_info()
    assert "BLAS" in text and str(blas["name"]) in text
    assert f"usable cores     {len(os.sched_getaffinity(0))}" in text
    assert "conv planner" in text and "AVX-512" in text
