"""Every form (conda, uv, pixi, requirements, json) parsed back with a real parser and checked
against the plan, for the machines the conda form is tested on; refusals alike in every form."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement

from gpudoctor.cli.formats import MAKE_ENV
from gpudoctor.envplan.forms import FORMATS, render
from gpudoctor.envplan.pixi_form import conda_entry
from gpudoctor.envplan.plan import Plan, Request, make_plan
from gpudoctor.envplan.target import target_from_args
from gpudoctor.envplan.uv_form import MARKERS
from gpudoctor.envplan.writers import to_dict
from gpudoctor.errors import BadInputError, PlanError
from gpudoctor.kb import KnowledgeBase, load
from tests.conftest import Cli
from tests.envplan.pixi_schema import problems

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

MIRROR = "https://mirror.example.org/pytorch/whl/{variant}"
MACHINES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("pascal-r470", {"driver": "470.82.01", "cc": "6.1"}, {}),
    ("v100-r535", {"driver": "535.104.05", "cc": "7.0"}, {}),
    ("a100-r535-torch2.2-numpy", {"driver": "535.104.05", "cc": "8.0"}, {"torch": "2.2"}),
    ("rtx50-r570", {"driver": "570.124.06", "cc": "12.0"}, {}),
    ("h100-r580-2.14", {"driver": "580.95.05", "cc": "9.0"}, {"torch": "2.14"}),
    ("h100-r580-tf", {"driver": "580.95.05", "cc": "9.0"}, {"frameworks": ("tensorflow",)}),
    (
        "rtx50-r570-tf-conda-forge",
        {"driver": "570.124.06", "cc": "12.0"},
        {"frameworks": ("tensorflow",), "source": "conda-forge"},
    ),
    ("h100-r580-conda-forge", {"driver": "580.95.05", "cc": "9.0"}, {"source": "conda-forge"}),
    (
        "both-cpu",
        {"driver": "535.104.05", "cc": "8.0"},
        {"frameworks": ("torch", "tensorflow"), "cpu": True},
    ),
    ("windows-rtx30", {"driver": "572.61", "cc": "8.6", "os": "windows"}, {}),
    ("wsl-rtx30", {"driver": "572.61", "cc": "8.6", "wsl": True}, {}),
    ("gh200-aarch64", {"driver": "580.95.05", "cc": "9.0", "arch": "aarch64"}, {}),
    ("v100-tf2.11-conda-cuda", {"driver": "535.104.05", "cc": "7.0"}, {
        "frameworks": ("tensorflow",), "tensorflow": "2.11", "python": "3.10"}),
    ("mirror", {"driver": "535.104.05", "cc": "8.6"}, {"torch_index_url": MIRROR}),
    ("name-yes", {"driver": "535.104.05", "cc": "8.6"}, {"name": "yes"}),
    ("name-123", {"driver": "535.104.05", "cc": "8.6"}, {"name": "123"}),
]  # fmt: skip


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return load()


def _plan(kb: KnowledgeBase, target: dict[str, Any], request: dict[str, Any]) -> Plan:
    return make_plan(kb, target_from_args(kb, **target), Request(**request))


def _body(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.startswith("#"))


def _comments(text: str) -> list[str]:
    """The comment block the file starts with."""
    lines = text.splitlines()
    end = next((i for i, line in enumerate(lines) if not line.startswith("#")), len(lines))
    return lines[:end]


def _joined(text: str) -> str:
    """The comment block as one line of prose (wrapped lines joined)."""
    return " ".join(line.lstrip("# ").strip() for line in _comments(text))


def _check_conda(plan: Plan, text: str) -> None:
    doc = yaml.safe_load(text)
    assert doc["name"] == plan.name and isinstance(doc["name"], str)
    specs = [d for d in doc["dependencies"] if isinstance(d, str)]
    assert specs == [p.spec for p in plan.conda]
    pip = [d["pip"] for d in doc["dependencies"] if isinstance(d, dict)]
    assert pip == ([[*plan.pip_options, *(p.spec for p in plan.pip)]] if plan.pip else [])


def _check_requirements(plan: Plan, text: str) -> None:
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    options = [line for line in lines if line.startswith("-")]
    assert options == list(plan.pip_options)
    reqs = [Requirement(line) for line in lines if not line.startswith("-")]
    assert [str(r) for r in reqs] == [str(Requirement(p.spec)) for p in plan.pip]
    assert f"Needs Python {plan.python}" in text


def _check_uv(plan: Plan, text: str) -> None:
    doc = tomllib.loads(text)
    project = doc["project"]
    assert project["name"] == plan.name
    assert project["requires-python"] == f"=={plan.python}.*"
    assert [Requirement(d) for d in project["dependencies"]] == [
        Requirement(p.spec) for p in plan.pip
    ]
    uv = doc["tool"]["uv"]
    assert uv["package"] is False
    assert uv["environments"] == uv["required-environments"] == [MARKERS[plan.target.platform]]
    indexes = {i["name"]: i for i in uv.get("index", [])}
    assert all(i["explicit"] is True for i in indexes.values())
    sources = uv.get("sources", {})
    for pin in plan.pip:
        name = Requirement(pin.spec).name
        if pin.index is None:
            assert name not in sources  # from PyPI
        else:
            assert indexes[sources[name]["index"]]["url"] == pin.index
    assert {i["url"] for i in indexes.values()} == {
        fw.index_url for fw in plan.frameworks if fw.index_url
    }


def _check_pixi(plan: Plan, text: str) -> None:
    doc = tomllib.loads(text)
    assert problems(doc) == []
    workspace = doc["workspace"]
    assert workspace["name"] == plan.name
    assert workspace["platforms"] == [plan.target.platform]
    assert workspace["channels"] == [c for c in plan.channels if c != "nodefaults"]
    gpu = any(fw.cuda for fw in plan.frameworks)
    assert doc.get("system-requirements", {}).get("cuda") == (plan.driver_cuda if gpu else None)
    conda = [p.spec for p in plan.conda if p.spec != "pip"]
    assert [conda_entry(s)[0] for s in conda] == list(doc["dependencies"])
    for spec in conda:
        name, value = conda_entry(spec)
        assert doc["dependencies"][name] == value
        # conda's name=X[=build] means version X.* (and the build): pixi must say the same
        version = spec.split("=")[1]
        given = value if isinstance(value, str) else value["version"]
        assert given == (version if version.endswith("*") else f"{version}.*")
        if spec.count("=") == 2:
            assert value["build"] == spec.split("=")[2]  # type: ignore[index]
    pypi = doc.get("pypi-dependencies", {})
    assert len(pypi) == len(plan.pip)
    for pin in plan.pip:
        req = Requirement(pin.spec)
        entry = pypi[req.name]
        table = {"version": entry} if isinstance(entry, str) else entry
        assert table["version"] == str(req.specifier)
        assert sorted(table.get("extras", [])) == sorted(req.extras)
        assert table.get("index") == pin.index


CHECKS = {
    "conda": _check_conda,
    "uv": _check_uv,
    "pixi": _check_pixi,
    "requirements": _check_requirements,
}


@pytest.mark.parametrize(("label", "target", "request_kw"), MACHINES, ids=[m[0] for m in MACHINES])
def test_every_form_holds_the_plan(
    kb: KnowledgeBase, label: str, target: dict[str, Any], request_kw: dict[str, Any]
) -> None:
    plan = _plan(kb, target, request_kw)
    headers = {}
    for fmt, check in CHECKS.items():
        try:
            text = render(plan, fmt)
        except (BadInputError, PlanError) as exc:
            # only the wheels-only forms refuse, and only for conda packages
            assert fmt in ("uv", "requirements"), (fmt, exc)
            assert plan.frameworks[0].source == "conda-forge" or "from conda" in str(exc)
            continue
        check(plan, text)
        prose = _joined(text)
        for reason in (*plan.reasons, *plan.warnings):
            assert " ".join(reason.split()) in prose, (fmt, reason)
        assert all(
            len(line) <= 100
            for line in _comments(text)
            if not line.startswith(("# Regenerate:", "# Then "))
        )
        regenerate = next(x for x in _comments(text) if x.startswith("# Regenerate: "))
        argv = shlex.split(regenerate.removeprefix("# Regenerate: "))
        assert argv[:2] == ["gpudoctor", "make-env"]
        assert (fmt == "conda") == ("--format" not in argv)
        headers[fmt] = [
            x for x in _comments(text) if not x.startswith(("# Regenerate", "# Create", "# Needs"))
        ]
    # the same header (target, data date, reasons, warnings) in every form
    first = next(iter(headers.values()))
    assert all(h == first for h in headers.values()), label
    assert to_dict(plan)["name"] == plan.name


def test_mirror_replaces_the_pytorch_index_in_every_form(kb: KnowledgeBase) -> None:
    plan = _plan(kb, {"driver": "535.104.05", "cc": "8.6"}, {"torch_index_url": MIRROR})
    (fw,) = plan.frameworks
    mirror = MIRROR.replace("{variant}", fw.variant)
    assert fw.index_url == mirror
    for fmt in ("conda", "uv", "pixi", "requirements"):
        body = _body(render(plan, fmt))
        assert mirror in body and "download.pytorch.org" not in body, fmt
    assert "--torch-index-url" in plan.command


@pytest.mark.parametrize(
    ("request_kw", "message"),
    [
        ({"torch_index_url": "ftp://x/y"}, "https://, http:// or file://"),
        ({"torch_index_url": "https://x/ y"}, "without spaces"),
        (
            {"torch_index_url": MIRROR, "source": "conda-forge"},
            "of the pip builds: not with --source conda-forge",
        ),
        ({"torch_index_url": MIRROR, "frameworks": ("tensorflow",)}, "--framework torch"),
    ],
)
def test_bad_mirror_is_bad_input(
    kb: KnowledgeBase, request_kw: dict[str, Any], message: str
) -> None:
    with pytest.raises(BadInputError, match=message.replace("*", r"\*")):
        _plan(kb, {"driver": "535.104.05", "cc": "8.6"}, request_kw)


@pytest.mark.parametrize(
    ("path", "fmt"),
    [
        ("environment.yml", "conda"),
        ("envs/lab.yaml", "conda"),
        ("pyproject.toml", "uv"),
        ("lab/pixi.toml", "pixi"),
        ("requirements.txt", "requirements"),
        ("requirements-gpu.txt", "requirements"),
        ("plan.JSON", "json"),
        ("-", None),
        ("envfile", None),
    ],
)
def test_format_from_the_file_name(path: str, fmt: str | None) -> None:
    assert MAKE_ENV.for_name(path) == fmt  # the CLI's one suffix table


def test_an_ambiguous_toml_name_is_bad_input() -> None:
    with pytest.raises(BadInputError, match="--format uv or --format pixi"):
        MAKE_ENV.for_name("lab.toml")


REFUSED = [
    ("--driver", "560.35.03", "--cc", "12.0"),  # a driver older than the GPU
    ("--driver", "470.82.01", "--cc", "8.6", "--python", "3.14"),  # nothing fits
    ("--driver", "580.95.05", "--cc", "8.7", "--arch", "aarch64"),  # Jetson: no build
]


@pytest.mark.parametrize("args", REFUSED, ids=" ".join)
def test_refusals_are_the_same_in_every_form(cli: Cli, args: tuple[str, ...]) -> None:
    results = {fmt: cli("make-env", *args, "--format", fmt, "--stdout") for fmt in FORMATS}
    conda = results["conda"]
    assert conda.exit_code == 1 and conda.stderr.count("\n") == 1, conda
    for fmt, result in results.items():
        assert (result.exit_code, result.stderr) == (conda.exit_code, conda.stderr), fmt
        assert result.stdout == ""


def test_the_docs_show_the_forms_as_written(kb: KnowledgeBase) -> None:
    # docs/make-env.md "The four forms": each sample is the body of the file for the V100 node
    from pathlib import Path

    docs = (Path(__file__).resolve().parents[2] / "docs" / "make-env.md").read_text("utf-8")
    plan = _plan(kb, {"driver": "535.104.05", "cc": "7.0"}, {})
    for title, fmt in (
        ("# pyproject.toml (uv)", "uv"),
        ("# pixi.toml (pixi), --source pip", "pixi"),
        ("# requirements.txt (python -m venv + pip)", "requirements"),
    ):
        start = docs.index(title) + len(title) + 1
        sample = docs[start : docs.index("```", start)].strip("\n")
        text = render(plan, fmt)
        body = "\n".join(text.splitlines()[len(_comments(text)) :]).strip("\n")
        assert sample == body, fmt


@pytest.mark.skipif(shutil.which("bash") is None, reason="runs the bash line the file gives")
def test_the_then_line_writes_the_library_path_script(kb: KnowledgeBase, tmp_path: Any) -> None:
    # TensorFlow 2.13 with conda's cudatoolkit and the cuDNN wheel (R470 + Kepler)
    plan = _plan(kb, {"driver": "470.82.01", "cc": "3.7"}, {"frameworks": ("tensorflow",)})
    for fmt in ("conda", "pixi"):
        (line,) = [x for x in _comments(render(plan, fmt)) if x.startswith("# Then ")]
    command = line.split(": ", 1)[1]
    env = {"CONDA_PREFIX": str(tmp_path), "PATH": "/usr/bin:/bin"}
    bash = shutil.which("bash")
    assert bash is not None
    subprocess.run([bash, "-c", command], env=env, check=True, timeout=30)
    script = (tmp_path / "etc/conda/activate.d/env_vars.sh").read_text(encoding="utf-8")
    assert "CUDNN_PATH=$(dirname" in script
    assert "export LD_LIBRARY_PATH=$CUDNN_PATH/lib:$CONDA_PREFIX/lib/:$LD_LIBRARY_PATH" in script
    # the and-cuda wheels of 2.14+ need no such step
    plan = _plan(kb, {"driver": "470.82.01", "cc": "6.1"}, {"frameworks": ("tensorflow",)})
    assert not [x for x in _comments(render(plan, "conda")) if x.startswith("# Then ")]
