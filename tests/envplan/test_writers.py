"""The environment.yml (parsed back with PyYAML) and the JSON plan."""

from __future__ import annotations

import json

import pytest
import yaml

from gpudoctor import __version__
from gpudoctor.envplan.plan import Plan, Request, make_plan
from gpudoctor.envplan.target import target_from_args
from gpudoctor.envplan.writers import to_dict, to_json, to_yaml
from gpudoctor.kb import load


def _plan(driver: str, cc: str, **kw: object) -> Plan:
    kb = load()
    return make_plan(kb, target_from_args(kb, driver=driver, cc=cc), Request(**kw))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"source": "conda-forge"},
        {"frameworks": ("tensorflow",)},
        {"frameworks": ("torch", "tensorflow"), "cpu": True},
        {"torch": "2.0", "name": "my env: #1"},
        {"python": "3.12", "torch": "2.9.1", "name": "lab-" + "x" * 100},
    ],
)
def test_yaml_is_a_conda_environment(kw: dict[str, object]) -> None:
    plan = _plan("535.104.05", "8.0", **kw)
    text = to_yaml(plan)
    doc = yaml.safe_load(text)
    assert set(doc) == {"name", "channels", "dependencies"}
    assert doc["name"] == plan.name
    assert doc["channels"] == ["conda-forge", "nodefaults"]
    conda = [d for d in doc["dependencies"] if isinstance(d, str)]
    assert conda == [pin.spec for pin in plan.conda]
    pip = [d["pip"] for d in doc["dependencies"] if isinstance(d, dict)]
    if plan.pip:
        assert pip == [[*plan.pip_options, *(pin.spec for pin in plan.pip)]]
    else:
        assert pip == []
    header = text.split("\nname:")[0]
    assert all(line.startswith("#") for line in header.splitlines())
    lines = header.splitlines()
    # the command stays on one line however long; the prose wraps at 100
    assert all(len(line) <= 100 for line in lines if not line.startswith("# Regenerate: "))
    assert f"# Regenerate: {plan.command}" in lines
    assert "driver 535.104.05" in header


def test_every_pin_has_a_reason_with_source_in_the_header() -> None:
    plan = _plan("535.104.05", "7.0")
    text = " ".join(line.lstrip("# ") for line in to_yaml(plan).splitlines())
    for pin in plan.pip:
        assert pin.spec in text
    assert "source: https://github.com/pytorch/pytorch/blob/main/RELEASE.md" in text.replace(
        "source: ", "source: "
    )
    assert "minor-version compatibility" in text


def test_json_shape() -> None:
    plan = _plan("580.65.06", "6.1", torch="2.9")  # cu128 lacks Pascal: cu126
    doc = json.loads(to_json(plan))
    # versioned and named as every other document: the plan had none of the three
    assert (doc["schema_version"], doc["tool"]) == (1, "gpudoctor make-env")
    assert doc["gpudoctor_version"] == __version__
    assert doc["python"] == "3.14"
    assert doc["frameworks"][0] == doc["frameworks"][0] | {
        "name": "torch",
        "version": "2.9.1",
        "cuda": "12.6",
        "source": "pip",
    }
    assert isinstance(doc["warnings"], list) and isinstance(doc["reasons"], list)
    assert doc == to_dict(plan)


def test_json_cpu_has_null_cuda() -> None:
    doc = to_dict(_plan("535.104.05", "8.0", cpu=True))
    assert doc["frameworks"][0]["cuda"] is None


def test_create_line_names_the_path_given() -> None:
    plan = _plan("535.104.05", "8.0")
    assert "# Create with: conda env create -f environment.yml\n" in to_yaml(plan)
    assert "# Create with: conda env create -f envs/lab.yml\n" in to_yaml(plan, "envs/lab.yml")
    assert "conda env create -f 'my lab.yml'\n" in to_yaml(plan, "my lab.yml")


def test_the_header_names_each_module_to_unload_as_one_word():
    # 'First: module unload cuda/12.1 x;rm -rf ~' named the modules of a report as they came:
    # copied, the line ran 'rm -rf ~'
    from gpudoctor.envplan.header import header
    from gpudoctor.envplan.target import Target

    target = Target(driver="590.48.01", cc="9.0", unload_modules=("cuda/12.1", "x;rm -rf ~", "-f"))
    plan = make_plan(load(), target, Request(frameworks=("torch",)))
    text = " ".join(" ".join(header(plan, "conda env create -f environment.yml")).split("#"))
    assert "module unload cuda/12.1 'x;rm -rf ~' NAME " in " ".join(text.split())


def test_the_header_never_wraps_a_command():
    # 'First: module unload a b c ...' went over several '#' lines, and so did a `code span`
    # in a note: a copied line was half a command
    from gpudoctor.envplan.emit import WIDTH, comment
    from gpudoctor.envplan.header import header
    from gpudoctor.envplan.target import Target

    modules = tuple(f"cuda-tools/12.{n}.0-gcc-13.2.0" for n in range(12))
    target = Target(driver="590.48.01", cc="9.0", unload_modules=modules)
    plan = make_plan(load(), target, Request(frameworks=("torch",)))
    lines = header(plan, "conda env create -f environment.yml")
    (first,) = [line for line in lines if "module unload" in line]
    assert first == "# First: module unload " + " ".join(modules)  # one line, however long
    at = lines.index(first)
    assert lines[at + 1].startswith("#   (they put CUDA libraries on LD_LIBRARY_PATH")
    assert not any("cuda-tools" in line for line in lines[at + 1 :])

    span = "`wsl --set-version DISTRO 2`"
    for pad in range(WIDTH):
        text = "x" * pad + " then " + span + " and more words after it to fill a line"
        assert any(span in line for line in comment(text)), pad
    long = "`" + "module load " * 20 + "`"
    assert comment("First: " + long) == ["#   - First:", "#     " + long]
