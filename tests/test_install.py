"""Packaging that cannot drift: install solidion the way the container recipes do and run it.

* every directory of .py files in the packages is a package (``__init__.py``),
  so setuptools' discovery (pyproject.toml) installs it;
* docker/Dockerfile and docker/solidion-debian.def copy the same sources (one
  per top-level package discovered) and run the same pip command;
* that command, run on those sources into a temporary prefix, installs every
  source file, and the installed ``solidion`` command -- started outside the
  repository with the repository off ``PYTHONPATH`` -- lists the problems and
  runs a tiny case of every problem in ``problems.REGISTRY``.
"""

from __future__ import annotations

import json
import math
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO

PACKAGE_ROOTS = ("fem", "meshes", "problems", "solidion")

#: a few seconds each: small meshes, short end times (see each problem's Parameters)
TINY = {
    "sphere_diffusion": ["t_end_s=5.0", "dt_s=1.0", "mesh_size=0.5", "element_degree=1", "geometry_order=1"],
    "spinodal": ["cells_per_side=10", "t_end_s=1.0", "dt_s=0.1"],
    "electro_spinodal": ["cells_per_side=10", "t_end=1.0", "dt=0.1"],
    "particle_spinodal": ["mesh_size=0.5", "interface_length_m=1.5e-8", "t_end_s=0.1", "dt_s=0.01"],
    "phase_separating_charge": ["cells_x=20", "cells_y=10", "c_rates=[5.0]", "capacity_end=0.05"],
    "platelet_intercalation": ["cells_x=40", "c_rates=[100.0]", "capacity_end=0.2"],
    "particle_discharge": ["geometry='sphere'", "mesh_size=0.5", "t_end_s=30.0", "fields_every=0",
                           "section_plot=false"],
    "spm_sphere": ["mesh_size=0.5", "mesh_size_surface=0.5", "element_degree=1", "geometry_order=1",
                   "t_end_s=90.0", "reference_cells=20", "reference_steps=20", "fields_every=0",
                   "section_plot=false"],
    "shrinking_core": ["mesh_size=0.1", "t_end_s=10.0"],
    "interdiffusion": ["t_end_s=10.0", "mesh_size=0.1", "mesh_size_interface=0.01"],
    "grain_boundary_diffusion": ["t_end_s=10.0", "mesh_size=0.1", "mesh_size_gb=0.01", "mesh_size_surface=0.01"],
    "space_charge": ["t_end_s=0.0", "currents_A_m2=[0.01]"],
    "thermodiffusion": ["n_cells=8", "t_end_s=10.0"],
    "particle_in_electrolyte": ["dim=2", "h_bulk_debye=16.0", "h_interface_debye=2.0"],
}


def _registry() -> list[str]:
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    import problems
    return sorted(problems.REGISTRY)


# ------------------------------------------------------------------ recipes
def dockerfile_recipe() -> tuple[list[tuple[str, str]], str]:
    """(COPY (source, destination) pairs, pip command) of docker/Dockerfile."""
    text = (REPO / "docker" / "Dockerfile").read_text().replace("\\\n", " ")
    copies = []
    for line in text.splitlines():
        words = shlex.split(line.split("#")[0]) if line.startswith("COPY") else []
        if words:
            *srcs, dest = words[1:]
            for s in srcs:
                copies.append((s, dest + Path(s).name if dest.endswith("/") else dest))
    return copies, _pip_command(text)


def apptainer_recipe() -> tuple[list[tuple[str, str]], str]:
    """(%files (source, destination) pairs, pip command) of docker/solidion-debian.def."""
    text = (REPO / "docker" / "solidion-debian.def").read_text()
    files = re.search(r"^%files\n(.*?)(?=^%|\Z)", text, re.M | re.S).group(1)
    copies = [tuple(line.split()) for line in files.splitlines()
              if line.strip() and not line.strip().startswith("#")]
    return copies, _pip_command(text)


def _pip_command(text: str) -> str:
    cmds = re.findall(r"\bpip install [^&\n]*", text)
    assert len(cmds) == 1, cmds
    return " ".join(cmds[0].split())


def test_every_package_directory_has_init():
    missing = []
    for root in PACKAGE_ROOTS:
        for d in sorted({p.parent for p in (REPO / root).rglob("*.py") if "__pycache__" not in p.parts}):
            if not (d / "__init__.py").exists():
                missing.append(str(d.relative_to(REPO)))
    assert not missing, f"directories with .py files but no __init__.py (not installed): {missing}"


def test_container_recipes_copy_the_same_sources_and_pip_command():
    import tomllib
    dcopies, dpip = dockerfile_recipe()
    acopies, apip = apptainer_recipe()
    assert dpip == apip, (dpip, apip)
    assert dpip.startswith("pip install ") and "/opt/solidion" in dpip
    include = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    tops = sorted({p.rstrip("*").rstrip(".") for p in include["include"]})
    assert tops == sorted(PACKAGE_ROOTS), tops
    needed = {(s, f"/opt/solidion/{s}") for s in (*tops, "pyproject.toml", "README.md")}
    for name, copies in (("docker/Dockerfile", dcopies), ("docker/solidion-debian.def", acopies)):
        missing = needed - set(copies)
        assert not missing, f"{name} does not copy {sorted(missing)} into /opt/solidion"


# ------------------------------------------------------------------ install and run
@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """Install the recipe's sources with the recipe's pip command into a prefix; returns
    (solidion script, site directory, sources, environment without the repository, work dir)."""
    tmp = tmp_path_factory.mktemp("install")
    copies, pip = dockerfile_recipe()
    src = tmp / "opt" / "solidion"
    src.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for s, dest in copies:
        if not dest.startswith("/opt/solidion/"):
            continue
        target = src / dest.removeprefix("/opt/solidion/")
        if (REPO / s).is_dir():
            shutil.copytree(REPO / s, target, ignore=ignore)
        else:
            shutil.copy2(REPO / s, target)
    args = shlex.split(pip)
    assert args[:2] == ["pip", "install"]
    args = [str(src) if a == "/opt/solidion" else a for a in args[2:]]
    prefix = tmp / "prefix"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_CACHE_DIR="1",
               PIP_ROOT_USER_ACTION="ignore")
    r = subprocess.run([sys.executable, "-m", "pip", "install", *args, "--prefix", str(prefix)],
                       capture_output=True, text=True, timeout=300, cwd=tmp, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    site = next(p.parent.parent for p in prefix.rglob("solidion/__init__.py"))
    script = next(p for p in prefix.rglob("bin/solidion"))
    # the installed package is importable from its prefix only (not from the repository)
    env["PYTHONPATH"] = str(site)
    work = tmp / "work"
    work.mkdir()
    return script, site, src, env, work


def test_installed_files_match_sources(installed):
    script, site, src, env, work = installed
    for root in PACKAGE_ROOTS:
        srcs = {p.relative_to(src) for p in (src / root).rglob("*") if p.is_file()}
        inst = {p.relative_to(site) for p in (site / root).rglob("*") if p.is_file() and p.suffix != ".pyc"}
        assert srcs == inst, (f"not installed: {sorted(map(str, srcs - inst))} (a data file needs "
                              f"[tool.setuptools.package-data] in pyproject.toml); "
                              f"extra: {sorted(map(str, inst - srcs))}")
    r = subprocess.run([sys.executable, "-c", "import importlib.metadata as md, fem, meshes, problems, solidion; "
                        "assert md.version('solidion') == fem.__version__, md.version('solidion'); "
                        "print(fem.__file__, meshes.__file__, problems.__file__, solidion.__file__)"],
                       capture_output=True, text=True, timeout=120, cwd=work, env=env)
    assert r.returncode == 0, r.stderr
    for path in r.stdout.split():
        assert Path(path).is_relative_to(site), (path, site)


def test_installed_command_lists_every_problem(installed):
    script, site, src, env, work = installed
    r = subprocess.run([str(script), "list"], capture_output=True, text=True, timeout=120, cwd=work,
                       env=env)
    assert r.returncode == 0, r.stderr
    assert sorted(line.split()[0] for line in r.stdout.splitlines() if line.strip()) == _registry()


@pytest.mark.parametrize("name", _registry())
def test_installed_command_runs_problem(installed, name):
    script, site, src, env, work = installed
    assert name in TINY, f"add tiny settings (a few seconds) for the new problem {name!r} to TINY"
    out = work / name
    sets = [x for s in TINY[name] for x in ("--set", s)]
    r = subprocess.run([str(script), "run", name, "--quiet", "--out", str(out), *sets],
                       capture_output=True, text=True, timeout=300, cwd=work, env=env)
    summary = json.loads((out / "summary.json").read_text()) if (out / "summary.json").exists() else {}
    assert r.returncode == 0 and summary.get("status") == "ok", (
        f"exit {r.returncode}, status {summary.get('status')!r}: {summary.get('reason', '')}\n"
        f"{r.stderr[-3000:]}")


def test_installed_command_analyzes_data(installed):
    """`solidion analyze` from the installed copy (fem.analysis, solidion.analyze), outside the repository."""
    script, site, src, env, work = installed
    T = [300.0, 325.0, 350.0, 375.0, 400.0]
    data = work / "d_vs_T.csv"
    data.write_text("T_K,D_m2_s\n" + "".join(f"{t},{1e-6 * math.exp(-0.5 * 96485.33212 / (8.314462618 * t))}\n"
                                            for t in T))
    out = work / "arrhenius"
    r = subprocess.run([str(script), "analyze", "arrhenius", str(data), "--out", str(out)],
                       capture_output=True, text=True, timeout=300, cwd=work, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    assert (out / "summary.json").is_file() and (out / "results.csv").is_file()
