"""What this machine gives convkit: CPU, cores, the BLAS behind NumPy, FFT threads.

Standard library only at import time, so that a script can consult it *before* NumPy is
imported -- the only moment at which ``OPENBLAS_CORETYPE`` still has an effect (OpenBLAS reads
it once, when the library is loaded)::

    from convkit import _machine
    _machine.apply_openblas_coretype()   # before `import numpy`
    import numpy as np

Why the core type matters: some OpenBLAS builds (DYNAMIC_ARCH wheels on CPUs their detection
code does not know yet) fall back to the Haswell (AVX2) kernels on AVX-512 machines, which
halves float32 GEMM throughput -- and every GEMM-based convolution algorithm with it.

:func:`doctor` gathers everything into a :class:`DoctorReport` (``str()`` for people,
``to_dict()`` for JSON). NumPy, SciPy and threadpoolctl are imported inside the functions
that need them; every probe that fails reports ``None`` instead of raising.
"""

from __future__ import annotations

import ctypes
import os
import platform
import sys
from collections.abc import Mapping, MutableMapping
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["parse_cpu_flags", "parse_cpu_model", "cpu_flags", "cpu_model", "usable_cores",
           "has_avx512", "blas_info", "openblas_coretype_advice", "apply_openblas_coretype",
           "DoctorReport", "doctor"]

_CPUINFO = "/proc/cpuinfo"
# The AVX-512 subsets OpenBLAS's SkylakeX kernels execute; all four must be present.
AVX512_FOR_SKYLAKEX = frozenset({"avx512f", "avx512bw", "avx512vl", "avx512dq"})
# Core types whose kernels stop at AVX2 (or below) although the CPU may do better.
_PRE_AVX512_CORES = frozenset({"haswell", "zen", "sandybridge", "nehalem", "prescott", "core2",
                               "atom", "penryn", "dunnington", "bulldozer", "piledriver",
                               "steamroller", "excavator", "barcelona", "opteron", "katmai",
                               "coppermine", "northwood", "banias", "generic"})


# ----------------------------------------------------------------------------- CPU
def _read_cpuinfo() -> str:
    try:
        with open(_CPUINFO, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def parse_cpu_flags(cpuinfo_text: str) -> set[str]:
    """The feature flags of the first processor in a ``/proc/cpuinfo`` text.

    x86 kernels list them on a ``flags`` line, ARM kernels on ``Features``; lower-cased.
    """
    for line in cpuinfo_text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip().lower() in ("flags", "features"):
            return {flag.lower() for flag in value.split()}
    return set()


def parse_cpu_model(cpuinfo_text: str) -> str | None:
    """The ``model name`` (x86) or ``Hardware``/``CPU part`` (ARM) of a cpuinfo text."""
    found: dict[str, str] = {}
    for line in cpuinfo_text.splitlines():
        key, sep, value = line.partition(":")
        key = key.strip().lower()
        if sep and key in ("model name", "hardware", "cpu part") and key not in found:
            found[key] = value.strip()
    for key in ("model name", "hardware", "cpu part"):
        if found.get(key):
            return found[key]
    return None


def cpu_flags() -> set[str]:
    """This CPU's feature flags (empty where ``/proc/cpuinfo`` is unavailable)."""
    return parse_cpu_flags(_read_cpuinfo())


def cpu_model() -> str:
    """A human-readable CPU name (``platform.processor()`` where cpuinfo has none)."""
    return parse_cpu_model(_read_cpuinfo()) or platform.processor() or platform.machine() \
        or "unknown"


def usable_cores() -> int:
    """The cores this process may run on (its affinity mask, not the machine's total)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def has_avx512(flags: set[str] | frozenset[str]) -> bool:
    """Whether ``flags`` include every AVX-512 subset the SkylakeX kernels need."""
    return AVX512_FOR_SKYLAKEX <= set(flags)


# ----------------------------------------------------------------------------- BLAS
def _loaded_openblas_paths() -> list[str]:
    """Paths of the OpenBLAS libraries mapped into this process (from /proc/self/maps)."""
    paths: list[str] = []
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as f:
            for line in f:
                path = line.split(maxsplit=5)[-1].strip() if line.count(" ") >= 5 else ""
                name = os.path.basename(path).lower()
                if "openblas" in name and ".so" in name and path not in paths:
                    paths.append(path)
    except OSError:
        pass
    return paths


def _openblas_symbol(lib: ctypes.CDLL, base: str) -> Any:
    """``base`` under the names OpenBLAS builds export it as: plain, or with scipy-openblas's
    ``scipy_`` prefix and ``64_``/``_64_`` suffix of its 64-bit-integer builds."""
    for prefix in ("", "scipy_"):
        for suffix in ("", "64_", "_64_", "64"):
            try:
                return getattr(lib, f"{prefix}{base}{suffix}")
            except AttributeError:
                continue
    return None


def _ask_openblas(path: str) -> dict[str, Any]:
    """Core name, threads and configuration string reported by a loaded OpenBLAS."""
    out: dict[str, Any] = {}
    try:
        lib = ctypes.CDLL(path)
    except OSError:
        return out
    corename = _openblas_symbol(lib, "openblas_get_corename")
    if corename is not None:
        corename.restype = ctypes.c_char_p
        out["core_type"] = (corename() or b"").decode(errors="replace") or None
    threads = _openblas_symbol(lib, "openblas_get_num_threads")
    if threads is not None:
        threads.restype = ctypes.c_int
        out["num_threads"] = int(threads())
    config = _openblas_symbol(lib, "openblas_get_config")
    if config is not None:
        config.restype = ctypes.c_char_p
        out["config"] = (config() or b"").decode(errors="replace") or None
    return out


def _numpy_blas_build() -> dict[str, Any]:
    """Name and version of the BLAS NumPy was built against (its build configuration)."""
    try:
        import numpy as np

        config = np.show_config(mode="dicts")
        blas = config.get("Build Dependencies", {}).get("blas", {})
        return {"name": blas.get("name"), "version": blas.get("version"),
                "config": blas.get("openblas configuration")}
    except Exception:  # older NumPy (no mode='dicts') or an unusual build: leave unknown
        return {}


def _threadpoolctl_blas() -> dict[str, Any] | None:
    """The BLAS pool of NumPy's library according to threadpoolctl (None if unavailable)."""
    try:
        import numpy as np
        import threadpoolctl
    except ImportError:
        return None
    try:
        pools = [p for p in threadpoolctl.threadpool_info() if p.get("user_api") == "blas"]
    except Exception:
        return None
    if not pools:
        return None
    numpy_dir = os.path.dirname(os.path.dirname(os.path.abspath(np.__file__)))

    def belongs_to_numpy(pool: dict) -> bool:
        # NumPy's wheel vendors its BLAS in site-packages/numpy.libs; SciPy's (scipy.libs) and
        # PyTorch's may be loaded too, and are not the one NumPy computes with
        path = os.path.abspath(pool.get("filepath") or "")
        return path.startswith(os.path.join(numpy_dir, "numpy"))

    pool = next((p for p in pools if belongs_to_numpy(p)), pools[0])
    return {"name": pool.get("internal_api"), "version": pool.get("version"),
            "core_type": pool.get("architecture") or pool.get("corename"),
            "num_threads": pool.get("num_threads"), "filepath": pool.get("filepath"),
            "threading_layer": pool.get("threading_layer"), "source": "threadpoolctl"}


def blas_info() -> dict[str, Any]:
    """The BLAS library NumPy computes with.

    Returns a dict with ``name`` ('openblas', 'mkl', ...), ``version``, ``core_type`` (the
    kernel family OpenBLAS selected at load time, e.g. 'Haswell' or 'SkylakeX'),
    ``num_threads``, ``filepath``, ``build_config`` (NumPy's build record), ``coretype_env``
    (``$OPENBLAS_CORETYPE``) and ``source`` (how it was found). Unknown fields are ``None``.
    Imports NumPy.
    """
    info: dict[str, Any] = {"name": None, "version": None, "core_type": None,
                            "num_threads": None, "filepath": None, "threading_layer": None,
                            "build_config": None, "coretype_env": os.environ.get(
                                "OPENBLAS_CORETYPE"), "source": None}
    build = _numpy_blas_build()
    info["build_config"] = build.get("config")
    from_pool = _threadpoolctl_blas()
    if from_pool is not None:
        info.update({k: v for k, v in from_pool.items() if v is not None})
    else:
        info["name"] = build.get("name")
        info["version"] = build.get("version")
        info["source"] = "numpy build configuration"
    if info["core_type"] is None or info["num_threads"] is None:
        # SciPy may map a second OpenBLAS of its own: NumPy's (numpy.libs) is asked first
        paths = [info["filepath"]] if info["filepath"] else sorted(
            _loaded_openblas_paths(), key=lambda path: "numpy" not in path)
        for path in paths:
            asked = _ask_openblas(path)
            if asked:
                info["filepath"] = path
                info["core_type"] = info["core_type"] or asked.get("core_type")
                if info["num_threads"] is None:
                    info["num_threads"] = asked.get("num_threads")
                if info["name"] is None or "openblas" in str(info["name"]).lower():
                    info["name"] = "openblas"
                info["source"] = (info["source"] or "") + " + OpenBLAS via ctypes"
                break
    return info


def openblas_coretype_advice(flags: set[str] | frozenset[str] | None = None,
                             blas: Mapping[str, Any] | None = None) -> str | None:
    """Advice to set ``OPENBLAS_CORETYPE=SkylakeX``, or ``None`` when it would not help.

    Given only when the CPU has AVX-512 (F, BW, VL and DQ) *and* the BLAS is an OpenBLAS
    running pre-AVX-512 kernels (e.g. 'Haswell'); never on a CPU without those flags, where
    the SkylakeX kernels would crash with an illegal instruction. ``flags`` and ``blas``
    default to this machine's :func:`cpu_flags` and :func:`blas_info`.
    """
    flags = cpu_flags() if flags is None else flags
    if not has_avx512(flags):
        return None
    blas = blas_info() if blas is None else blas
    if "openblas" not in str(blas.get("name") or "").lower():
        return None
    core = str(blas.get("core_type") or "").strip().lower()
    if core not in _PRE_AVX512_CORES:
        return None
    return (f"this CPU has AVX-512 but OpenBLAS runs its {blas.get('core_type')} (AVX2) kernels: "
            "set OPENBLAS_CORETYPE=SkylakeX in the environment before Python starts "
            "(about 2x faster float32 GEMM, hence GEMM-based convolution)")


def apply_openblas_coretype(environ: MutableMapping[str, str] | None = None,
                            flags: set[str] | frozenset[str] | None = None) -> bool:
    """For a process about to import NumPy: select OpenBLAS's AVX-512 kernels when safe.

    Sets ``environ['OPENBLAS_CORETYPE'] = 'SkylakeX'`` only if the CPU has the AVX-512
    subsets those kernels use, the variable is not already set (a user's choice is never
    overridden) and NumPy is not imported yet (afterwards the variable has no effect).
    Returns whether it set the variable. ``environ`` defaults to ``os.environ``.
    """
    environ = os.environ if environ is None else environ
    flags = cpu_flags() if flags is None else flags
    if "numpy" in sys.modules or "OPENBLAS_CORETYPE" in environ or not has_avx512(flags):
        return False
    environ["OPENBLAS_CORETYPE"] = "SkylakeX"
    return True


# ----------------------------------------------------------------------------- doctor
def _version(module: str) -> str | None:
    try:
        return __import__(module).__version__
    except Exception:  # absent, or broken on import: report it as missing
        return None


@dataclass
class DoctorReport:
    """What convkit runs on; ``str()`` gives a readable report, :meth:`to_dict` a JSON one."""

    python: str
    numpy: str | None
    scipy: str | None
    numba: str | None
    cpu_model: str
    usable_cores: int
    avx512: bool
    blas: dict[str, Any]
    fft_workers: int | None
    fft_parallel_min_elements: int | None
    conv_constants_path: str | None
    conv_constants_exist: bool
    advice: str | None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        b = self.blas

        def show(value: Any) -> str:
            return "unknown" if value is None else str(value)

        threshold = ("" if self.fft_parallel_min_elements is None else
                     f" (from {self.fft_parallel_min_elements:,} transform points; fewer: 1)")
        constants = (f"{self.conv_constants_path} "
                     f"({'present' if self.conv_constants_exist else 'MISSING: uncalibrated'})"
                     if self.conv_constants_path else "unknown")
        lines = [
            "convkit doctor",
            f"  Python           {self.python}",
            f"  NumPy            {show(self.numpy)}",
            f"  SciPy            {show(self.scipy)}",
            f"  numba            {self.numba or 'not installed'}",
            f"  CPU              {self.cpu_model}",
            f"  usable cores     {self.usable_cores}",
            f"  AVX-512          {'yes' if self.avx512 else 'no'}",
            f"  BLAS             {show(b.get('name'))} {show(b.get('version'))}, core type "
            f"{show(b.get('core_type'))}, {show(b.get('num_threads'))} threads"
            + (f" (OPENBLAS_CORETYPE={b['coretype_env']})" if b.get("coretype_env") else ""),
            f"  BLAS library     {show(b.get('filepath'))}",
            f"  FFT workers      {show(self.fft_workers)}{threshold}",
            f"  conv planner     {constants}",
        ]
        if self.advice:
            lines.append(f"  advice           {self.advice}")
        lines += [f"  note             {note}" for note in self.notes]
        return "\n".join(lines)


def doctor() -> DoctorReport:
    """Probe this machine and convkit's configuration (imports NumPy, SciPy and convkit's
    engine); never raises for a missing or unusual component."""
    notes: list[str] = []
    blas = blas_info()
    flags = cpu_flags()
    if not flags:
        notes.append(f"{_CPUINFO} unreadable: CPU features unknown")
    fft_workers = parallel_min = None
    try:
        from convkit.engine import plan as signal_plan

        fft_constants = signal_plan.load_constants()["fft"]
        fft_workers = fft_constants.get("workers")
        parallel_min = fft_constants.get("parallel_min_elements")
    except Exception as e:  # report, do not fail: the doctor is what one runs when things fail
        notes.append(f"FFT planner constants unavailable: {e}")
    constants_path: str | None = None
    constants_exist = False
    try:
        from convkit.engine import conv_plan

        path = os.environ.get("CONVKIT_CONV_CONSTANTS") or conv_plan.CONSTANTS_PATH
        constants_path = os.fspath(path)
        constants_exist = os.path.isfile(constants_path)
    except Exception as e:
        notes.append(f"convolution planner unavailable: {e}")
    return DoctorReport(
        python=platform.python_version(), numpy=_version("numpy"), scipy=_version("scipy"),
        numba=_version("numba"), cpu_model=cpu_model(), usable_cores=usable_cores(),
        avx512=has_avx512(flags), blas=blas, fft_workers=fft_workers,
        fft_parallel_min_elements=parallel_min, conv_constants_path=constants_path,
        conv_constants_exist=constants_exist,
        advice=openblas_coretype_advice(flags, blas), notes=notes)


if __name__ == "__main__":
    print(doctor())
