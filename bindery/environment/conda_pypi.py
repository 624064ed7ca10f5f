"""The PyPI fallback: the packages of a conda environment, as PyPI requirements. Pure.

Used when no conda channel answers. Most conda packages of Python libraries carry their
PyPI name; the table below holds the well-known exceptions (documented in
docs/environment.md, "conda"). Packages that are not Python libraries (compilers, C
libraries, programs) cannot come from PyPI: they are dropped, each with its reason, and
the report says so in the build log and in the ``org.bindery.conda`` image label.

Version specs are translated from conda's syntax to PEP 440: conda's ``=1.2`` means
"1.2 or any 1.2.x" (``==1.2.*``), a bare ``1.2`` in ``name 1.2`` means exactly 1.2,
``1.2*`` is ``==1.2.*``; build strings have no PyPI equivalent and are dropped (noted).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bindery.environment.conda_file import CondaEnvFile, CondaSpec

#: conda name → PyPI name, where they differ.
RENAMES: dict[str, str] = {
    "matplotlib-base": "matplotlib",
    "pytables": "tables",
    "py-opencv": "opencv-python",
    "opencv": "opencv-python",
    "libopencv": "opencv-python",
    "pytorch": "torch",
    "pytorch-cpu": "torch",
    "torchvision-cpu": "torchvision",
    "python-graphviz": "graphviz",
    "pyqt": "PyQt5",
    "py-xgboost": "xgboost",
    "py-lightgbm": "lightgbm",
    "msgpack-python": "msgpack",
    "ruamel_yaml": "ruamel.yaml",
    "dask-core": "dask",
    "seaborn-base": "seaborn",
    "psycopg2": "psycopg2-binary",
    "tensorflow-base": "tensorflow",
    "pillow-simd": "pillow",
    "python-kaleido": "kaleido",
    "jupyter_contrib_nbextensions": "jupyter-contrib-nbextensions",
}

#: The image already provides these; nothing to install.
PROVIDED: dict[str, str] = {
    "pip": "the environment already has pip",
    "python": "the Python version is chosen from python=X.Y; the interpreter is the image's",
    "nodejs": "Node.js and npm come with the image, not from PyPI",
    "git": "git is part of every image",
    "ca-certificates": "the image trusts the system CA store (and the deployment's extra CA bundle)",
    "nb_conda_kernels": "conda-only Jupyter helper; the image has one Python kernel",
}

#: Not Python libraries: no PyPI equivalent (PyPI wheels bring their own libraries).
_SYSTEM = (
    "a system library or tool packaged by conda; PyPI wheels bundle what they need "
    "(add a Debian package to apt.txt if something is missing)"
)
NOT_ON_PYPI: dict[str, str] = {
    name: _SYSTEM
    for name in (
        "mkl", "mkl-service", "blas", "libblas", "libcblas", "liblapack", "openblas",
        "libopenblas", "cudatoolkit", "cuda-toolkit", "cudnn", "nccl", "pytorch-cuda",
        "cpuonly", "compilers", "gcc", "gxx", "gfortran", "make", "libgcc-ng",
        "libstdcxx-ng", "libgfortran-ng", "openssl", "zlib", "xz", "sqlite", "libffi",
        "ncurses", "readline", "tk", "krb5", "hdf5", "libnetcdf", "geos", "proj", "libgdal",
        "libarrow", "arrow-cpp", "libprotobuf", "qt", "qt-main", "libxgboost", "boost",
        "boost-cpp", "eigen", "tbb", "icu", "libiconv", "libxml2", "libxslt", "curl",
        "libcurl", "jpeg", "libpng", "libtiff", "freetype", "fontconfig", "cairo", "pango",
        "pandoc", "ffmpeg", "imagemagick", "texlive-core", "graphviz", "gdal", "poppler",
        "r-base", "julia",
    )
}
NOT_ON_PYPI["graphviz"] = (
    "conda's graphviz is the Graphviz program: add graphviz to apt.txt "
    "(python-graphviz is the Python library)"
)
NOT_ON_PYPI["gdal"] = "GDAL needs the system library: add gdal-bin and python3-gdal to apt.txt"
NOT_ON_PYPI["pandoc"] = "a program, not a Python library: add pandoc to apt.txt"
NOT_ON_PYPI["ffmpeg"] = "a program, not a Python library: add ffmpeg to apt.txt"
NOT_ON_PYPI["r-base"] = "R itself: use runtime.txt r-X.Y-YYYY-MM-DD and install.R for R"
NOT_ON_PYPI["julia"] = "Julia itself: use Project.toml for Julia"

_R_REASON = (
    "an R package: conda's R is not on PyPI; R packages come from the R path "
    "(install.R / DESCRIPTION) when the repository has one"
)


@dataclass(frozen=True)
class FallbackPlan:
    """The PyPI version of one conda environment, and the report of how it was made."""

    #: Requirement lines for ``uv pip install -r`` (conda packages, then the pip: list).
    requirements: tuple[str, ...]
    #: ``{"conda": spec, "pypi": requirement, "note": ...}`` per mapped package.
    mapped: tuple[dict[str, str], ...] = ()
    #: ``{"conda": spec, "why": reason}`` per package not installed from PyPI.
    dropped: tuple[dict[str, str], ...] = ()
    #: True when a pip: line refers to repository files (``-e .``, ``-r other.txt``):
    #: the install then runs after the repository copy.
    needs_repo: bool = False
    notes: tuple[str, ...] = field(default_factory=tuple)


def conda_version_to_pep440(version: str) -> tuple[str, str]:
    """(PEP 440 specifier, note). An empty specifier means "any version"."""
    v = version.strip()
    if not v or v in {"*", "=*"}:
        return "", ""
    if "|" in v:
        return "", f"version '{v}' uses '|' (or), which PyPI specifiers cannot say; any version"
    if v.startswith("=") and not v.startswith("=="):
        return f"=={_fuzzy(v[1:])}", ""
    if v[0].isalnum():
        # "1.26.*", "1.26*" → fuzzy; "1.26" → exactly that version.
        return (f"=={_fuzzy(v)}" if v.endswith("*") else f"=={v}"), ""
    parts = []
    for clause in v.split(","):
        clause = clause.strip()
        found = re.fullmatch(r"(==|!=|>=|<=|>|<|~=)\s*(.+)", clause)
        if not found:
            return "", f"version '{v}' cannot be translated to PyPI; any version"
        op, ver = found.groups()
        if ver.endswith("*") and op not in {"==", "!="}:
            ver = ver.rstrip("*").rstrip(".")
        elif ver.endswith("*"):
            ver = _fuzzy(ver)
        parts.append(f"{op}{ver}")
    return ",".join(parts), ""


def _fuzzy(version: str) -> str:
    """conda's "1.2", "1.2*", "1.2.*" prefix match → PEP 440's "1.2.*"."""
    base = version.rstrip("*").rstrip(".")
    return f"{base}.*" if base else "*"


def plan_fallback(env_file: CondaEnvFile) -> FallbackPlan:
    """Map every dependency of ``env_file`` to PyPI, or drop it with a reason."""
    requirements: list[str] = []
    mapped: list[dict[str, str]] = []
    dropped: list[dict[str, str]] = []
    for spec in env_file.dependencies:
        reason = _drop_reason(spec)
        if reason:
            dropped.append({"conda": spec.text, "why": reason})
            continue
        line, note = _requirement(spec)
        requirements.append(line)
        entry = {"conda": spec.text, "pypi": line}
        if note:
            entry["note"] = note
        mapped.append(entry)
    requirements.extend(env_file.pip)
    needs_repo = any(refers_to_repo(line) for line in env_file.pip)
    return FallbackPlan(
        requirements=tuple(requirements), mapped=tuple(mapped), dropped=tuple(dropped),
        needs_repo=needs_repo,
    )


def _drop_reason(spec: CondaSpec) -> str:
    name = spec.name
    if name in PROVIDED:
        return PROVIDED[name]
    if name.startswith("r-"):
        return _R_REASON
    if name.startswith("_") or name.endswith("-compiler"):
        return _SYSTEM
    return NOT_ON_PYPI.get(name, "")


def _requirement(spec: CondaSpec) -> tuple[str, str]:
    pypi = RENAMES.get(spec.name, spec.name)
    specifier, note = conda_version_to_pep440(spec.version)
    notes = [note] if note else []
    if spec.build:
        notes.append(f"build string '{spec.build}' has no PyPI equivalent; ignored")
    if pypi != spec.name:
        notes.insert(0, f"PyPI name of conda's {spec.name}")
    return f"{pypi}{specifier}", "; ".join(notes)


def refers_to_repo(line: str) -> bool:
    text = line.strip()
    return text.startswith(("-e", "-r", "-c", "--requirement", "--editable", "--constraint",
                            ".", "/", "file:"))
