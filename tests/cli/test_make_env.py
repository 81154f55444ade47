"""`gpudoctor make-env`: targets, outputs, refusals, --solve, and its import weight."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import DATA, Cli

REPORTS = DATA / "reports"
H100 = REPORTS / "linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01__idle.json"
TARGET = ("--driver", "535.104.05", "--cc", "7.0")


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--driver", "abc", "--cc", "8.6"), "--driver abc"),
        (("--driver", "580", "--cc", "9.0"), "--driver 580: give the full version nvidia-smi"),
        (("--driver", "535.104.05", "--cc", "99.1"), "--cc 99.1"),
        # Fermi GPUs exist: it said "no NVIDIA GPU has this compute capability"
        (("--driver", "390.157", "--cc", "2.1"), "--cc 2.1: older than every GPU the knowledge"),
        # a CC newer than the data: it said "no NVIDIA GPU has this compute capability"
        (
            ("--driver", "620.70.06", "--cc", "13.0"),
            "--cc 13.0: newer than every GPU the knowledge base knows (the newest is CC 12.1, "
            "Blackwell; knowledge base as of ",
        ),
        # between known CCs: "no NVIDIA GPU has" it was false of the Tegra K1's 3.2
        (
            ("--driver", "580.65.06", "--cc", "8.5"),
            "--cc 8.5: no GPU the knowledge base knows has this compute capability",
        ),
        (("--driver", "470.82.01", "--cc", "3.2"), "--cc 3.2: no GPU the knowledge base knows"),
        (("--driver", "535.104.05"), "--driver needs --cc"),
        ((*TARGET, "--torch", "9.9"), "PyTorch 9.9 is not in the knowledge base"),
        ((*TARGET, "--tensorflow", "2.20"), "--tensorflow needs"),
        ((*TARGET, "--framework", "jax"), "--framework jax"),
        ((*TARGET, "--os", "bsd"), "--os bsd"),
        # an empty --os/--arch was taken as the default and planned for linux-64, exit 0
        ((*TARGET, "--os", ""), "--os '': use linux or windows"),
        ((*TARGET, "--arch", ""), "--arch '': use x86_64 or aarch64"),
        (("--os", ""), "--os '': use linux or windows"),
        ((*TARGET, "--python", "three"), "Python version"),
        # digits other than ASCII ones (full-width, superscript) are no version: they were
        # an internal error (exit 3) from packaging's Version or int()
        (("--driver", "\uff15\uff18\uff10.\uff19\uff15.\uff10\uff15", "--cc", "9.0"), "--driver"),
        (("--driver", "535.104.05", "--cc", "8\u00b2"), "--cc 8\u00b2: not a compute capability"),
        (("--driver", "535.104.05", "--cc", "\uff18.\uff10"), "not a compute capability"),
        ((*TARGET, "--python", "\uff13.\uff11\uff12"), "is not like 3.12"),
        ((*TARGET, "--python", "abc"), "Python version 'abc' is not like 3.12"),
        ((*TARGET, "--python", "2.7"), "--python 2.7: PyTorch and TensorFlow need Python 3"),
        ((*TARGET, "--torch", "2.9.7"), "--torch 2.9.7: no such PyTorch release"),
        ((*TARGET, "--torch", "2.14.5"), "--torch 2.14.5: no such PyTorch release"),
        (
            (*TARGET, "--framework", "tensorflow", "--tensorflow", "2.20.9"),
            "--tensorflow 2.20.9: no such TensorFlow release",
        ),
        (
            (*TARGET, "--source", "conda-forge", "--torch", "2.9"),
            "pytorch 2.13 (older conda-forge builds are not recorded); use --source pip",
        ),
        # newer than every recorded conda-forge release: it read "older conda-forge builds are
        # not recorded", and whether conda-forge has 2.14 was never checked
        (
            (*TARGET, "--source", "conda-forge", "--torch", "2.14"),
            "pytorch 2.13 (newer conda-forge builds were not checked after 2026-08-13); use "
            "--source pip",
        ),
        ((*TARGET, "--format", "toml"), "--format toml"),
        (("--from-report", "missing.json"), "missing.json"),
        (("--from-report", str(H100), *TARGET), "cannot be combined with --driver, --cc"),
        # it named --driver/--cc/--os/--arch/--glibc, and not the --wsl given
        (
            ("--from-report", str(H100), "--wsl"),
            "--from-report cannot be combined with --wsl (the report describes the machine)",
        ),
        ((*TARGET, "--name", "my env"), "--name 'my env'"),
        ((*TARGET, "--name", "lab/torch"), "conda environment name"),
        ((*TARGET, "--name", ""), "--name ''"),
        ((*TARGET, "--name", "base"), "--name base: conda reserves 'base' and 'root'"),
        ((*TARGET, "--name", "root"), "--name root: conda reserves"),
        # a wheels-only file holds no conda package: --solve solved what it does not install
        (
            (*TARGET, "--format", "uv", "--solve"),
            "--solve solves the conda packages of the file: --format uv installs wheels only "
            "(use --format conda or pixi)",
        ),
        ((*TARGET, "-o", "req.txt", "--solve"), "--format requirements installs wheels only"),
        # requirements.txt names no environment: --name reached the Regenerate line alone
        (
            (*TARGET, "--format", "requirements", "--name", "lab"),
            "--name lab: requirements.txt names no environment (you make the venv); --name "
            "goes with --format conda, uv or pixi",
        ),
        ((*TARGET, "-o", "req.txt", "--name", "lab"), "requirements.txt names no environment"),
        # the plan is printed, no file written: --force was dropped without a word
        ((*TARGET, "--stdout", "--force"), "--stdout and --force exclude each other"),
        ((*TARGET, "--format", "json", "--force"), "--force goes with --output FILE"),
    ],
)
def test_bad_input_is_one_line_exit_2(
    cli: Cli, in_tmp: Path, args: tuple[str, ...], message: str
) -> None:
    result = cli("make-env", *args)
    assert result.exit_code == 2, result
    assert result.stderr.count("\n") == 1 and message in result.stderr, result
    assert not (in_tmp / "environment.yml").exists()


def test_corrupt_report_is_exit_2(cli: Cli, in_tmp: Path) -> None:
    (in_tmp / "bad.json").write_text("{not json", encoding="utf-8")
    result = cli("make-env", "--from-report", "bad.json")
    assert result.exit_code == 2 and result.stderr.count("\n") == 1, result


def test_writes_environment_yml_and_refuses_to_overwrite(cli: Cli, in_tmp: Path) -> None:
    result = cli("make-env", *TARGET)
    assert result.exit_code == 0, result
    path = in_tmp / "environment.yml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert doc["name"] == "torch2.14-cu126"
    # the summary goes to stderr, as check's and verify's do
    assert result.stdout == ""
    assert "wrote environment.yml" in result.stderr
    assert "warning: " in result.stderr  # minor-version compatibility on R535
    again = cli("make-env", *TARGET, "--framework", "tensorflow")
    assert again.exit_code == 2 and "--force" in again.stderr
    assert yaml.safe_load(path.read_text(encoding="utf-8"))["name"] == "torch2.14-cu126"
    forced = cli("make-env", *TARGET, "--framework", "tensorflow", "--force")
    assert forced.exit_code == 0, forced
    assert yaml.safe_load(path.read_text(encoding="utf-8"))["name"].startswith(
        "tf2.19"
    )  # V100: cuDNN 9.11+ dropped Volta


def test_output_and_stdout(cli: Cli, in_tmp: Path) -> None:
    result = cli("make-env", *TARGET, "--stdout", "--name", "demo")
    assert result.exit_code == 0 and yaml.safe_load(result.stdout)["name"] == "demo"
    result = cli("make-env", *TARGET, "-o", "sub.yml")
    assert result.exit_code == 0 and (in_tmp / "sub.yml").exists()
    assert not (in_tmp / "environment.yml").exists()


def test_create_line_names_the_file_written(cli: Cli, in_tmp: Path) -> None:
    (in_tmp / "envs").mkdir()
    for output, shown in (
        ("sub.yml", "sub.yml"),
        ("envs/lab.yml", "envs/lab.yml"),
        ("my env.yml", "'my env.yml'"),
    ):
        result = cli("make-env", *TARGET, "-o", output)
        assert result.exit_code == 0, result
        text = (in_tmp / output).read_text(encoding="utf-8")
        assert f"# Create with: conda env create -f {shown}\n" in text, text
        assert "-f environment.yml" not in text
    printed = cli("make-env", *TARGET, "--stdout").stdout
    assert "# Create with: conda env create -f environment.yml\n" in printed


def test_regenerate_is_one_line_however_long(cli: Cli, in_tmp: Path) -> None:
    name = "lab-" + "x" * 90
    args = (*TARGET, "--python", "3.12", "--torch", "2.9.1", "--name", name)
    result = cli("make-env", *args, "--stdout")
    assert result.exit_code == 0, result
    lines = result.stdout.splitlines()
    i = next(i for i, line in enumerate(lines) if line.startswith("# Regenerate: "))
    assert lines[i + 1].startswith("# Create with: "), lines[i : i + 2]
    command = shlex.split(lines[i].removeprefix("# Regenerate: "))
    assert command[:2] == ["gpudoctor", "make-env"] and command[-2:] == ["--name", name]
    # the copied line alone writes the same file
    again = cli(*command[1:], "--stdout")
    assert again.exit_code == 0 and again.stdout == result.stdout, again


@pytest.mark.parametrize("tag", ["cu126", "cu128", "cu130"])
def test_a_local_label_chooses_its_build(cli: Cli, in_tmp: Path, tag: str) -> None:
    # --torch 2.9.1+cu126 (as torch.__version__ prints it) was planned as the cu128 build:
    # torch==2.9.1+cu126 under --index-url .../cu128, a version that index does not have
    result = cli("make-env", "--driver", "580.95.05", "--cc", "9.0", "--torch", f"2.9.1+{tag}")
    assert result.exit_code == 0, result
    text = (in_tmp / "environment.yml").read_text(encoding="utf-8")
    assert f"--index-url https://download.pytorch.org/whl/{tag}" in text
    assert f"torch==2.9.1+{tag}" in text and f"name: torch2.9-{tag}" in text
    # the reasons name the build once: "PyTorch 2.9.1 cu126", not "PyTorch 2.9.1+cu126 cu126"
    assert f"PyTorch 2.9.1 {tag}" in text and f"+{tag} {tag}" not in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--torch", "2.9.1+cu999"), "PyTorch 2.9 has no +cu999 build (cu126, cu128, cu130, cpu)"),
        (("--torch", "2.9.1+cpu"), "+cpu names the CPU build: add --cpu"),
        (("--torch", "2.9.1+cu126", "--cpu"), "+cu126 is a GPU build, not one for --cpu"),
        (("--torch", "2.13.0+cu130", "--source", "conda-forge"), "drop +cu130"),
        (
            ("--framework", "tensorflow", "--tensorflow", "2.21.0+cu125"),
            "TensorFlow's wheels carry no local label",
        ),
    ],
)
def test_a_local_label_that_names_no_build_is_bad_input(
    cli: Cli, in_tmp: Path, args: tuple[str, ...], message: str
) -> None:
    result = cli("make-env", "--driver", "580.95.05", "--cc", "9.0", *args)
    assert result.exit_code == 2 and result.stderr.count("\n") == 1, result
    assert message in result.stderr, result


def test_framework_all_is_both(cli: Cli, in_tmp: Path) -> None:
    both = cli("make-env", *TARGET, "--cpu", "--framework", "both", "--stdout")
    every = cli("make-env", *TARGET, "--cpu", "--framework", "all", "--stdout")
    assert both.exit_code == 0 and every.exit_code == 0, every
    assert every.stdout == both.stdout
    assert "--framework both" in every.stdout


@pytest.mark.parametrize(("alias", "canonical"), [("pytorch", "torch"), ("TF", "tensorflow")])
def test_framework_spelled_as_its_package(
    cli: Cli, in_tmp: Path, alias: str, canonical: str
) -> None:
    # --framework pytorch (the project's and conda-forge's name) was bad input
    typed = cli("make-env", *TARGET, "--framework", alias, "--stdout")
    plain = cli("make-env", *TARGET, "--framework", canonical, "--stdout")
    assert typed.exit_code == 0 and typed.stdout == plain.stdout, typed
    assert f"--framework {canonical}" in typed.stdout


def test_json(cli: Cli, in_tmp: Path) -> None:
    result = cli("make-env", "--driver", "580.95.05", "--cc", "6.1", "--format", "json")
    assert result.exit_code == 0, result
    doc = json.loads(result.stdout)
    assert doc["frameworks"][0]["name"] == "torch"
    assert doc["frameworks"][0]["cuda"] == "12.6"
    assert doc["python"] and isinstance(doc["warnings"], list) and doc["reasons"]
    assert doc["target"]["glibc"] is None  # not given: not judged
    typed = cli(
        "make-env",
        "--driver",
        "580.95.05",
        "--cc",
        "6.1",
        "--glibc",
        "2.17",
        "--format",
        "json",
        "--stdout",
    )
    assert json.loads(typed.stdout)["target"]["glibc"] == "2.17", typed


@pytest.mark.parametrize(
    ("tensorflow", "cuda", "cudnn"), [("2.21", "12.9", "9.28.0.42"), ("2.19", "12.5", "9.3.0.75")]
)
def test_json_names_the_cuda_and_cudnn_pip_installs_and_the_builds(
    cli: Cli, in_tmp: Path, tensorflow: str, cuda: str, cudnn: str
) -> None:
    # tensorflow[and-cuda] 2.20/2.21 set floors (nvidia-cudnn-cu12>=9.3.0.75,<10) and pip
    # takes the newest (9.28.0.42, uv pip compile on 2026-12-07): "cudnn" said 9.3, the
    # build's tested cuDNN; 2.19 pins its wheels (9.3.0.75, CUDA 12.5)
    args = ("--driver", "580.95.05", "--cc", "9.0", "--framework", "tensorflow")
    result = cli("make-env", *args, "--tensorflow", tensorflow, "--format", "json")
    assert result.exit_code == 0, result
    doc = json.loads(result.stdout)
    (fw,) = doc["frameworks"]
    assert (fw["cuda"], fw["cudnn"]) == (cuda, cudnn)
    assert (fw["build_cuda"], fw["build_cudnn"]) == ("12.5", "9.3")
    floats = f"pip installs cuDNN {cudnn} with it (the newest its floor allows; the build was "
    assert any(floats in reason for reason in doc["reasons"]) == (tensorflow == "2.21")


def test_nothing_fits_is_exit_1(cli: Cli, in_tmp: Path) -> None:
    result = cli("make-env", "--driver", "470.82.01", "--cc", "8.6", "--python", "3.14")
    assert result.exit_code == 1, result
    assert result.stderr.count("\n") == 1
    assert "upgrade the driver to >= 525.60.13 for CUDA 12" in result.stderr
    assert not (in_tmp / "environment.yml").exists()


def test_impossible_machine_is_exit_1(cli: Cli, in_tmp: Path) -> None:
    result = cli("make-env", "--driver", "560.35.03", "--cc", "12.0")
    assert result.exit_code == 1, result
    assert result.stderr.count("\n") == 1
    assert "this GPU (CC 12.0, Blackwell) needs driver >= 570" in result.stderr
    assert not (in_tmp / "environment.yml").exists()


def test_json_version_is_the_pinned_one(cli: Cli, in_tmp: Path) -> None:
    result = cli("make-env", *TARGET, "--torch", "2.9.0", "--format", "json")
    assert result.exit_code == 0, result
    doc = json.loads(result.stdout)
    assert doc["frameworks"][0]["version"] == "2.9.0"
    assert "torch==2.9.0" in doc["pip"]
    assert not any("2.9.1" in r for r in doc["reasons"])


def test_from_report(cli: Cli, in_tmp: Path) -> None:
    result = cli("make-env", "--from-report", str(H100), "--stdout")
    assert result.exit_code == 0, result
    assert "driver 590.48.01" in result.stdout and "NVIDIA H100" in result.stdout


def cpu_env_name() -> str:
    """The name make-env gives a CPU environment: the newest PyTorch with a CPU build."""
    from gpudoctor.kb import load

    releases = load().releases("torch")
    newest = next(r for r in releases if any(v.cuda is None for v in r.variants))
    return f"torch{newest.version}-cpu"


@pytest.mark.parametrize(
    ("report", "gpu"),
    [
        ("failure__no_driver.json", "PCI 0000:01:00.0, device 0x26b9, no driver bound"),
        (
            "failure__driver_not_loaded_nouveau.json",
            "PCI 0000:0c:00.0, device 0x1e81, bound to nouveau",
        ),
    ],
)
def test_gpu_without_a_driver_is_refused(cli: Cli, in_tmp: Path, report: str, gpu: str) -> None:
    path = str(REPORTS / report)
    result = cli("make-env", "--from-report", path)
    assert result.exit_code == 1, result
    assert result.stderr.count("\n") == 1, result
    for part in (
        f"report {report} shows an NVIDIA GPU ({gpu}) but no NVIDIA driver",
        "install the driver first (`gpudoctor check` says how), then run make-env again",
        "--driver VERSION --cc X.Y",
        "--cpu for a CPU-only environment",
    ):
        assert part in result.stderr, result
    assert not (in_tmp / "environment.yml").exists()
    cpu = cli("make-env", "--from-report", path, "--cpu", "--stdout")
    assert cpu.exit_code == 0 and f"name: {cpu_env_name()}" in cpu.stdout, cpu


def test_gpu_its_installed_driver_does_not_run_is_not_told_to_install_one(
    cli: Cli, in_tmp: Path
) -> None:
    # R590 (open modules) is installed and refuses the GTX 1080 Ti: "install the driver first"
    # was wrong advice; check names the cause (R580 was the last branch for Pascal)
    result = cli(
        "make-env", "--from-report", str(REPORTS / "failure__pascal_on_driver_590_open.json")
    )
    assert result.exit_code == 1 and result.stderr.count("\n") == 1, result
    assert "driver 590.48.01 is installed but not loaded" in result.stderr
    assert "install the driver first" not in result.stderr


def test_machine_without_a_gpu_gets_the_cpu_environment(cli: Cli, in_tmp: Path) -> None:
    from dataclasses import replace

    from gpudoctor.model.serialize import report_to_json
    from gpudoctor.userfiles.read import load_report

    report = load_report(REPORTS / "failure__no_driver.json")
    no_gpu = replace(report, driver=replace(report.driver, pci_functions=()))
    (in_tmp / "cpu.json").write_text(report_to_json(no_gpu), encoding="utf-8")
    result = cli("make-env", "--from-report", "cpu.json", "--stdout")
    assert result.exit_code == 0, result
    assert f"name: {cpu_env_name()}" in result.stdout
    assert "no NVIDIA driver on the target: this is a CPU-only environment" in result.stdout


def _no_gpu_here_and_sinfo_says(
    said: str, in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str | None]:
    """This machine without a GPU, and an sinfo that fails saying ``said``: the env to run in."""
    from dataclasses import replace

    from gpudoctor.probe import collect
    from gpudoctor.userfiles.read import load_report

    report = load_report(REPORTS / "failure__no_driver.json")
    no_gpu = replace(report, driver=replace(report.driver, pci_functions=()))
    monkeypatch.setattr(collect, "collect_report", lambda ctx, *, frameworks=True: no_gpu)
    bin_dir = in_tmp / "bin"
    bin_dir.mkdir()
    sinfo = bin_dir / "sinfo"
    sinfo.write_text(f"#!/bin/sh\necho '{said}' >&2\nexit 1\n")
    sinfo.chmod(0o755)
    return {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "SLURM_JOB_ID": None}


def test_a_login_node_whose_sinfo_does_not_answer_gets_no_cpu_environment(
    cli: Cli, in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # it wrote a CPU-only environment.yml (with a warning) for what may be a GPU cluster's
    # login node, as onboard refuses to
    said = "sinfo: error: Unable to contact slurm controller"
    env = _no_gpu_here_and_sinfo_says(said, in_tmp, monkeypatch)
    result = cli("make-env", env=env)
    assert result.exit_code == 2, result
    assert "but sinfo did not answer (" in result.stderr and "--cpu" in result.stderr
    assert len(result.stderr.splitlines()) == 1 and not (in_tmp / "environment.yml").exists()
    result = cli("make-env", "--cpu", env=env)
    assert result.exit_code == 0, result
    assert (in_tmp / "environment.yml").exists()


def test_slurm_commands_without_a_configuration_are_no_login_node(
    cli: Cli, in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # slurm-client installed, no slurm.conf (a workstation, this VM): make-env refused with
    # "try again when sinfo answers", which it never will
    said = "sinfo: fatal: Could not establish a configuration source"
    env = _no_gpu_here_and_sinfo_says(said, in_tmp, monkeypatch)
    result = cli("make-env", env=env)
    assert result.exit_code == 0, result
    assert "sinfo" not in result.stderr
    assert "this is a CPU-only environment" in (in_tmp / "environment.yml").read_text()


@pytest.mark.parametrize(
    ("where", "said"),
    [
        (
            "find_nodes",
            "partition gpu: no node is idle or mixed now (n1 drained (qa)); try again later, or "
            "name another with --partition/--nodelist",
        ),
        (
            "run_check_on_one_of",
            "node n1 (partition gpu): srun refused the job: Unable to allocate resources (try "
            "again later, or wait longer with --immediate)",
        ),
    ],
)
def test_a_partition_with_no_node_free_names_make_envs_options_not_checks(
    cli: Cli, in_tmp: Path, monkeypatch: pytest.MonkeyPatch, where: str, said: str
) -> None:
    # the line asked for check's --nodelist and --immediate, which make-env does not have
    from gpudoctor.fleet import remote

    def unavailable(*args: object, **kw: object) -> object:
        raise remote.NodeUnavailableError(said)

    def one_gpu_node(**kw: object) -> list[object]:
        return [remote.Where(node="n1", partition="gpu", gpu=True, state="idle")]

    monkeypatch.setattr(remote, "find_nodes", one_gpu_node)
    monkeypatch.setattr(remote, where, unavailable)
    # make-env asks sinfo for the GPU models of the partition's nodes before the check
    monkeypatch.setattr(remote.slurm, "list_compute_nodes", lambda **kw: ())
    result = cli("make-env", "--partition", "gpu")
    assert result.exit_code == 1, result
    kept = said.split(" (try", 1)[0].split("; try", 1)[0]  # what happened, without the remedy
    assert len(result.stderr.splitlines()) == 1 and kept in result.stderr
    assert "--nodelist" not in result.stderr and "--immediate" not in result.stderr
    assert result.stderr.endswith(
        "; try again later, or plan without a job on the nodes: --partition gpu --driver VERSION "
        "--cc X.Y (as `nvidia-smi` prints on a node), or --partition gpu --from-fleet DIR\n"
    )


def test_this_machine_uses_the_probes(
    cli: Cli, in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gpudoctor.probe import collect
    from gpudoctor.userfiles.read import load_report

    calls: list[bool] = []

    def fake(ctx: object, *, frameworks: bool = True) -> object:
        calls.append(frameworks)
        return load_report(H100)

    monkeypatch.setattr(collect, "collect_report", fake)
    result = cli("make-env", "--stdout")
    assert result.exit_code == 0, result
    assert calls == [False]
    assert "driver 590.48.01" in result.stdout


def test_solve_without_rattler(cli: Cli, in_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "rattler", None)
    result = cli("make-env", *TARGET, "--solve")
    assert result.exit_code == 2 and "py-rattler" in result.stderr, result
    assert result.stderr.count("\n") == 1


def test_solve_when_conda_forge_does_not_answer_is_exit_1_not_bad_input(
    cli: Cli, in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the file's own channel (a name, no --solve-channel) was taken for a folder the user
    # named: "--solve-channel conda-forge: not a conda channel: error sending request", exit 2
    rattler = pytest.importorskip("rattler")
    from gpudoctor.envplan import solve

    async def offline(**kw: object) -> list[object]:
        raise RuntimeError("error sending request for url (https://conda.anaconda.org/...)")

    monkeypatch.setattr(rattler, "solve", offline)
    monkeypatch.setattr(solve, "SETTLE_S", 0.0)
    result = cli("make-env", *TARGET, "--source", "conda-forge", "--solve")
    assert result.exit_code == 1, result
    assert "--solve: could not read the channel conda-forge: error sending request" in result.stderr
    assert "--solve-channel conda-forge" not in result.stderr
    assert not (in_tmp / "environment.yml").exists()


def test_solve_against_local_channel(cli: Cli, in_tmp: Path) -> None:
    pytest.importorskip("rattler")
    from tests.envplan.channel import build_channel

    channel = str(build_channel(in_tmp / "channel"))
    ok = cli("make-env", *TARGET, "--source", "conda-forge", "--solve", "--solve-channel", channel)
    assert ok.exit_code == 0, ok
    assert "cuda-version 12.9" in ok.stderr
    # the fixture channel has no cudatoolkit, which TensorFlow 2.11 takes from conda
    tf211 = ("--framework", "tensorflow", "--tensorflow", "2.11")
    bad = cli("make-env", *TARGET, *tf211, "--solve", "--solve-channel", channel, "-o", "pip.yml")
    assert bad.exit_code == 1 and "cannot be solved" in bad.stderr, bad
    assert not (in_tmp / "pip.yml").exists()


def test_solve_says_on_stderr_that_it_started_and_keeps_json_stdout_clean(
    cli: Cli, in_tmp: Path
) -> None:
    # reading conda-forge can take up to --solve-timeout, which passed with no output at all
    pytest.importorskip("rattler")
    from tests.envplan.channel import build_channel

    channel = str(build_channel(in_tmp / "channel"))
    solving = ("--solve", "--solve-channel", channel)
    result = cli("make-env", *TARGET, "--source", "conda-forge", *solving, "--format", "json")
    assert result.exit_code == 0, result
    first, solved = result.stderr.splitlines()
    said = f"make-env: solving with rattler against {channel} (at most 120 s, --solve-timeout) ..."
    assert first == said
    assert solved.startswith("--solve: solvable with ")
    assert json.loads(result.stdout)["frameworks"][0]["name"] == "torch"
    # no line where the input is refused before any channel is read
    folder = cli("make-env", *TARGET, "--solve", "--solve-channel", "./nochannel")
    assert folder.exit_code == 2 and folder.stderr.count("\n") == 1, folder


def test_solve_with_a_channel_that_does_not_answer_is_exit_1_and_writes_nothing(
    cli: Cli, in_tmp: Path
) -> None:
    # it was exit 2, "bad input", for a network that is down: the input was fine
    pytest.importorskip("rattler")
    down = "http://127.0.0.1:9/channel"  # the discard port: nothing listens, refused at once
    result = cli("make-env", *TARGET, "--solve", "--solve-channel", down, "-o", "env.yml")
    assert result.exit_code == 1, result
    # the line saying the solve started, then the error
    started, error = result.stderr.splitlines()
    assert started == (
        f"make-env: solving with rattler against {down} (at most 120 s, --solve-timeout) ..."
    )
    said = f"gpudoctor: error: --solve: could not read the channel {down}:"
    assert error.startswith(said)
    assert "no file was written" in result.stderr
    assert not (in_tmp / "env.yml").exists()
    # a folder the user named that is no channel stays bad input
    folder = cli("make-env", *TARGET, "--solve", "--solve-channel", "./nochannel", "-o", "env.yml")
    assert folder.exit_code == 2, folder
    assert "--solve-channel ./nochannel: not a conda channel" in folder.stderr


def test_solve_timeout_sets_the_limit_and_the_message_names_it(
    cli: Cli, in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the 120 s were fixed: a busy conda mirror that needed 3 minutes could never be solved
    # against, and the message named no way to wait longer
    import asyncio
    import time

    rattler = pytest.importorskip("rattler")
    from gpudoctor.envplan import solve

    async def slow(**kw: object) -> list[object]:
        await asyncio.sleep(30)  # a mirror still sending repodata
        return []

    monkeypatch.setattr(rattler, "solve", slow)
    monkeypatch.setattr(solve, "SETTLE_S", 0.0)
    start = time.monotonic()
    result = cli("make-env", *TARGET, "--solve", "--solve-timeout", "1", "-o", "env.yml")
    assert time.monotonic() - start < 5
    assert result.exit_code == 1, result
    started, error = result.stderr.splitlines()
    assert started == (
        "make-env: solving with rattler against conda-forge (at most 1 s, --solve-timeout) ..."
    )
    assert error.startswith(
        "gpudoctor: error: --solve: reading the channel conda-forge and solving took more than "
        "1 s (--solve-timeout); "
    )
    assert "rerun with a longer --solve-timeout" in error
    assert not (in_tmp / "env.yml").exists()


@pytest.mark.parametrize("value", ["0", "-5", "abc", "1e9", "nan", "inf", ""])
def test_solve_timeout_refuses_what_is_no_limit(cli: Cli, in_tmp: Path, value: str) -> None:
    result = cli("make-env", *TARGET, "--solve", "--solve-timeout", value, "--stdout")
    assert result.exit_code == 2, result
    assert result.stderr.count("\n") == 1, result
    assert "Invalid value for '--solve-timeout': " in result.stderr, result
    assert "Traceback" not in result.stderr


def test_solve_timeout_without_solve_is_refused(cli: Cli, in_tmp: Path) -> None:
    # given where nothing reads it, it would read as if the plan had been solved with it
    result = cli("make-env", *TARGET, "--solve-timeout", "300", "--stdout")
    assert result.exit_code == 2, result
    assert result.stderr == "gpudoctor: error: --solve-timeout needs --solve\n"
    assert result.stdout == ""


def test_no_heavy_import_with_the_target_on_the_command_line(tmp_path: Path) -> None:
    code = (
        "import sys, time\n"
        "from gpudoctor.cli import run\n"
        "t = time.perf_counter()\n"
        "code = run(['make-env', '--driver', '535.104.05', '--cc', '7.0', '--stdout'])\n"
        "elapsed = time.perf_counter() - t\n"
        "heavy = [m for m in ('torch', 'tensorflow', 'keras', 'numpy', 'pynvml', 'rattler',"
        " 'gpudoctor.probe.collect') if m in sys.modules]\n"
        "print('RESULT', code, round(elapsed, 3), heavy, file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        check=False,
    )
    line = next(x for x in done.stderr.splitlines() if x.startswith("RESULT"))
    _, status, _elapsed, heavy = line.split(" ", 3)
    # Speed is a benchmark's business (docs/make-env.md gives the measured figure and how):
    # a timed assert here failed under load (1.06 s on the 2-core VM); what keeps make-env
    # fast is that it imports none of these, which holds under any load.
    assert status == "0" and heavy == "[]", done.stderr


def test_a_json_output_name_writes_the_json_plan(cli: Cli, in_tmp: Path) -> None:
    result = cli("make-env", *TARGET, "-o", "plan.json")
    assert result.exit_code == 0, result
    assert json.loads((in_tmp / "plan.json").read_text())["frameworks"][0]["name"] == "torch"
    forced = cli("make-env", *TARGET, "-o", "plan.json", "--force", "--format", "yaml")
    assert forced.exit_code == 0, forced
    assert yaml.safe_load((in_tmp / "plan.json").read_text())["dependencies"]


def test_output_dash_is_standard_output(cli: Cli, in_tmp: Path) -> None:
    result = cli("make-env", *TARGET, "-o", "-")
    assert result.exit_code == 0, result
    assert yaml.safe_load(result.stdout)["name"].startswith("torch")
    assert list(in_tmp.iterdir()) == []


@pytest.mark.parametrize(
    ("given", "platform"),
    [(("--os", "Linux", "--arch", "arm64"), "linux-aarch64"), (("--arch", "AMD64"), "linux-64")],
)
def test_platform_spellings_of_other_tools_are_accepted(
    cli: Cli, in_tmp: Path, given: tuple[str, ...], platform: str
) -> None:
    result = cli("make-env", "--driver", "580.95.05", "--cc", "9.0", *given, "--stdout")
    assert result.exit_code == 0, result
    assert platform in result.stdout.splitlines()[0]


@pytest.mark.parametrize(
    "given", [("--os", "linux"), ("--arch", "aarch64"), ("--wsl",), ("--glibc", "2.17")]
)
def test_a_machine_part_without_driver_is_a_typed_machine_without_gpu(
    cli: Cli, in_tmp: Path, given: tuple[str, ...]
) -> None:
    # docs/make-env.md said so of `--os` alone; --arch, --wsl and --glibc alone do the same
    result = cli("make-env", *given, "--format", "json", "--stdout")
    assert result.exit_code == 0, result
    plan = json.loads(result.stdout)
    assert plan["target"]["origin"] == "the command line", plan["target"]
    assert plan["target"]["driver"] is None and plan["frameworks"][0]["cuda"] is None
    assert plan["command"].startswith("gpudoctor make-env --os linux"), plan["command"]


@pytest.mark.parametrize("torch", [None, "2.12", "2.13", "2.14", "2.15"])
def test_a_missing_torchvision_pin_is_always_explained(
    cli: Cli, in_tmp: Path, torch: str | None
) -> None:
    args = ("--driver", "580.95.05", "--cc", "9.0", "--format", "json", "--stdout")
    result = cli("make-env", *args, *(("--torch", torch) if torch else ()))
    assert result.exit_code == 0, result
    plan = json.loads(result.stdout)
    pinned = any(spec.startswith("torchvision") for spec in plan["pip"])
    explained = any("no torchvision release" in w for w in plan["warnings"])
    assert pinned != explained, plan


@pytest.mark.parametrize(
    ("args", "check"),
    [
        (("--format", "JSON"), lambda out: json.loads(out)["frameworks"]),
        (("--framework", "Torch"), lambda out: "torch==" in out),
        (("--source", "PIP"), lambda out: "torch==" in out),
    ],
)
def test_choices_take_any_case(cli: Cli, in_tmp: Path, args, check) -> None:
    result = cli("make-env", *TARGET, *args, "--stdout")
    assert result.exit_code == 0, result
    assert check(result.stdout)


def test_platform_aliases_apply_only_to_platforms(cli: Cli, in_tmp: Path) -> None:
    result = cli("make-env", *TARGET, "--framework", "x64", "--stdout")
    assert result.exit_code == 2
    assert "--framework x64:" in result.stderr


def test_from_report_on_standard_input(cli: Cli, in_tmp: Path) -> None:
    report = (REPORTS / "linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01__idle.json").read_text()
    result = cli("make-env", "--from-report", "-", "--stdout", input=report)
    assert result.exit_code == 0, result
    assert "CC 9.0" in result.stdout.splitlines()[0]


def test_a_name_with_a_control_character_is_refused(cli: Cli, in_tmp: Path) -> None:
    result = cli("make-env", *TARGET, "--name", "a\nb", "--stdout")
    assert result.exit_code == 2
    assert "control characters" in result.stderr


def test_an_unreleased_python_is_warned_about(cli: Cli, in_tmp: Path) -> None:
    from gpudoctor.kb import load

    unreleased = [p.version for p in load().pythons if p.released is None]
    released = [p.version for p in load().pythons if p.released is not None]
    args = ("--driver", "580.95.05", "--cc", "9.0", "--format", "json", "--stdout")
    checked = []
    for version, warned in ((released[-1], False), *((v, True) for v in unreleased)):
        result = cli("make-env", *args, "--python", version)
        if result.exit_code == 1:  # no build supports that Python: nothing to warn about
            continue
        warnings = json.loads(result.stdout)["warnings"]
        assert any("not a final release" in w for w in warnings) == warned, (version, warnings)
        checked.append(warned)
    assert False in checked and (True in checked or not unreleased)


@pytest.mark.parametrize("name", ["yes", "123", "on", "null", "1e3", "0x1F", "2026-01-01"])
def test_names_yaml_would_retype_read_back_as_strings(cli: Cli, in_tmp: Path, name: str) -> None:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib

    conda = cli("make-env", *TARGET, "--name", name, "--stdout")
    assert conda.exit_code == 0, conda
    assert yaml.safe_load(conda.stdout)["name"] == name
    pixi = cli("make-env", *TARGET, "--name", name, "--format", "pixi", "--stdout")
    assert tomllib.loads(pixi.stdout)["workspace"]["name"] == name


@pytest.mark.parametrize(
    "args",
    [
        ("--driver", "535.104.05\n", "--cc", "7.0"),
        ("--driver", "535.104.05", "--cc", "7.0\r"),
        (*TARGET, "--python", "3.12\n"),
        (*TARGET, "--torch", "2.9\x1b"),
        (*TARGET, "--name", "lab\x85"),
        (*TARGET, "--torch-index-url", "https://m/\nx"),
        (*TARGET, "-o", "env\n.yml"),
        (*TARGET, "-o", "env\u2028.toml", "--format", "uv"),
    ],
)
def test_control_characters_in_any_typed_value_are_refused(
    cli: Cli, in_tmp: Path, args: tuple[str, ...]
) -> None:
    result = cli("make-env", *args)
    assert result.exit_code == 2, result
    assert result.stderr.count("\n") == 1 and "control characters" in result.stderr, result
    assert list(in_tmp.iterdir()) == []


@pytest.mark.parametrize(
    "args",
    [("--os", "windows", "--arch", "aarch64"), (*TARGET, "--os", "windows", "--arch", "arm64")],
)
def test_windows_on_arm_is_refused_with_the_reason(
    cli: Cli, in_tmp: Path, args: tuple[str, ...]
) -> None:
    # a real platform, so not bad input: exit 1, nothing written, and exactly why not
    result = cli("make-env", *args)
    assert result.exit_code == 1, result
    assert list(in_tmp.iterdir()) == []
    assert "no win_arm64 wheels of torch or tensorflow" in result.stderr
    assert "--os linux --arch aarch64 --cpu" in result.stderr
    assert result.stderr.count("\n") == 1 and "Windows on Arm" in result.stderr


@pytest.mark.parametrize(
    ("output", "first_key", "create"),
    [
        ("pyproject.toml", "[project]", "# Create with: uv sync\n"),
        ("envs/lab/pyproject.toml", "[project]", "# Create with: uv sync --project envs/lab\n"),
        ("pixi.toml", "[workspace]", "# Create with: pixi install\n"),
        (
            "envs/pixi.toml",
            "[workspace]",
            "# Create with: pixi install --manifest-path envs/pixi.toml\n",
        ),
        (
            "requirements.txt",
            "--index-url",
            "# Create with: python3.14 -m venv .venv && .venv/bin/python -m pip install -r "
            "requirements.txt\n",
        ),
        ("env.yaml", "name:", "# Create with: conda env create -f env.yaml\n"),
    ],
)
def test_the_output_name_picks_the_form(
    cli: Cli, in_tmp: Path, output: str, first_key: str, create: str
) -> None:
    (in_tmp / "envs" / "lab").mkdir(parents=True)
    result = cli("make-env", *TARGET, "-o", output)
    assert result.exit_code == 0, result
    text = (in_tmp / output).read_text(encoding="utf-8")
    assert create in text, text
    assert any(line.startswith(first_key) for line in text.splitlines()), text
    again = cli("make-env", *TARGET, "-o", output)
    assert again.exit_code == 2 and "--force" in again.stderr
    assert (in_tmp / output).read_text(encoding="utf-8") == text


@pytest.mark.parametrize(
    ("fmt", "file"),
    [
        ("uv", "pyproject.toml"),
        ("pixi", "pixi.toml"),
        ("requirements", "requirements.txt"),
        ("yaml", "environment.yml"),
    ],
)
def test_each_format_has_its_usual_file(cli: Cli, in_tmp: Path, fmt: str, file: str) -> None:
    result = cli("make-env", *TARGET, "--format", fmt)
    assert result.exit_code == 0, result
    assert [p.name for p in in_tmp.iterdir()] == [file]
    assert f"wrote {file}" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--format", "uv", "--source", "conda-forge"), "--format uv installs wheels only"),
        (("--format", "requirements", "--source", "conda-forge"), "use --source pip"),
        (("--format", "uv", "--name", "lab+1"), "a uv project name"),
        (("-o", "lab.toml"), "--format uv or --format pixi"),
        (("--torch-index-url", "ftp://mirror/x"), "--torch-index-url ftp://mirror/x"),
        (
            ("--torch-index-url", "https://mirror/{varient}"),
            "only {variant} is replaced, {varient} would stay in the URL",
        ),
    ],
)
def test_form_specific_bad_input(
    cli: Cli, in_tmp: Path, args: tuple[str, ...], message: str
) -> None:
    result = cli("make-env", *TARGET, *args)
    assert result.exit_code == 2, result
    assert result.stderr.count("\n") == 1 and message in result.stderr, result
    assert list(in_tmp.iterdir()) == []


def test_a_conda_only_build_is_refused_by_the_wheel_forms(cli: Cli, in_tmp: Path) -> None:
    args = (*TARGET, "--framework", "tensorflow", "--tensorflow", "2.11", "--python", "3.10")
    for fmt in ("uv", "requirements"):
        result = cli("make-env", *args, "--format", fmt)
        assert result.exit_code == 1, result
        assert "cudatoolkit=11.2" in result.stderr and "--format pixi" in result.stderr
    pixi = cli("make-env", *args, "--format", "pixi", "--stdout")
    assert pixi.exit_code == 0 and 'cudatoolkit = "11.2.*"' in pixi.stdout, pixi


def test_regenerate_line_rewrites_each_form(cli: Cli, in_tmp: Path) -> None:
    for fmt in ("uv", "pixi", "requirements"):
        first = cli("make-env", *TARGET, "--format", fmt, "--stdout")
        line = next(x for x in first.stdout.splitlines() if x.startswith("# Regenerate: "))
        again = cli(*shlex.split(line.removeprefix("# Regenerate: "))[1:], "--stdout")
        assert again.exit_code == 0 and again.stdout == first.stdout, fmt


@pytest.mark.parametrize(
    ("driver", "cc", "said"),
    [
        ("590.48.01", "6.1", "this GPU (CC 6.1, Pascal) is not driven by driver 590.48.01: R580"),
        ("535.104.05", "3.7", "this GPU (CC 3.7, Kepler) is not driven by driver 535.104.05: R470"),
    ],
)
def test_a_gpu_its_driver_branch_dropped_is_exit_1(
    cli: Cli, in_tmp: Path, driver: str, cc: str, said: str
) -> None:
    for fmt in ("conda", "uv", "pixi", "requirements", "json"):
        result = cli("make-env", "--driver", driver, "--cc", cc, "--format", fmt)
        assert result.exit_code == 1, result
        assert result.stderr.count("\n") == 1 and said in result.stderr, result
        assert "legacy branch" in result.stderr
    assert list(in_tmp.iterdir()) == []


def test_report_values_cannot_break_the_file(cli: Cli, in_tmp: Path) -> None:
    from dataclasses import replace

    from gpudoctor.model.serialize import report_to_json
    from gpudoctor.userfiles.read import load_report

    report = load_report(H100)
    gpus = tuple(replace(g, name="GPU\nname: evil\x1b]0;t\x07\u2028") for g in report.nvml.gpus)
    bad = replace(report, nvml=replace(report.nvml, gpus=gpus, driver_version="590.48.01\n"))
    (in_tmp / "r.json").write_text(report_to_json(bad), encoding="utf-8")
    for fmt in ("conda", "uv", "pixi", "requirements"):
        result = cli("make-env", "--from-report", "r.json", "--format", fmt, "--stdout")
        if result.exit_code == 2:  # a report reader that refuses such strings is fine too
            assert result.stderr.count("\n") == 1 and result.stdout == "", result
            continue
        assert result.exit_code == 0, result
        header = [x for x in result.stdout.splitlines() if x.startswith("# GPUs")]
        assert header and "\\x0a" in header[0] and "\\x1b" in header[0], header
        assert "--driver 590.48.01 " in result.stdout
        if fmt == "conda":
            assert set(yaml.safe_load(result.stdout)) == {"name", "channels", "dependencies"}


def test_a_newer_driver_that_unlocks_a_newer_release_is_named(cli: Cli) -> None:
    # issue 17 #16: an RTX 50 on R570 gets 2.11 cu128; R580 gives the CUDA 13 builds
    result = cli("make-env", "--driver", "570.124.06", "--cc", "12.0", "--stdout")
    assert result.exit_code == 0, result
    assert "torch==2.11.*" in result.stdout
    text = " ".join(result.stdout.replace("#", " ").split())
    assert "a newer driver unlocks a newer PyTorch: driver >= 580 (R580) gives PyTorch 2.15" in text
    # a pinned version is what was asked for: no such note
    pinned = cli(
        "make-env", "--driver", "570.124.06", "--cc", "12.0", "--torch", "2.11", "--stdout"
    )
    assert pinned.exit_code == 0, pinned
    assert "torch==2.11.*" in pinned.stdout  # the file itself, on stdout: none in the tree
    assert "newer driver" not in pinned.stdout + pinned.stderr


def test_a_version_only_a_newer_driver_allows_is_refused_in_one_clear_sentence(cli: Cli) -> None:
    result = cli("make-env", "--driver", "570.124.06", "--cc", "12.0", "--torch", "2.14")
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "--torch 2.14: PyTorch 2.14 needs driver >= 580 (R580) for this GPU" in result.stderr
    assert "needs PyTorch <=" not in result.stderr  # the old, garbled hint
    assert "drop --torch 2.14 (PyTorch 2.11 cu128 fits this driver)" in result.stderr


def test_an_environment_file_carries_one_date_the_knowledge_bases(cli: Cli) -> None:
    import re

    from gpudoctor import kb

    for target in (
        ("--driver", "470.82.01", "--cc", "6.1"),
        ("--driver", "535.104.05", "--cc", "7.0"),
    ):
        result = cli("make-env", *target, "--stdout")
        assert result.exit_code == 0, result
        dates = set(re.findall(r"\b20\d\d-\d\d-\d\d\b", result.stdout))
        assert dates == {kb.load().as_of.isoformat()}, dates


def test_regenerate_line_of_a_report_without_cc_is_a_command_that_runs(cli: Cli) -> None:
    # the report has a driver but no compute capability: the Regenerate line said
    # `--driver 570.133.20 --os linux`, which make-env refuses (--driver needs --cc)
    report = REPORTS / "failure__driver_library_mismatch.json"
    result = cli("make-env", "--from-report", str(report), "--format", "json")
    assert result.exit_code == 0, result
    argv = shlex.split(json.loads(result.stdout)["command"])
    assert argv == ["gpudoctor", "make-env", "--framework", "torch"]
    typed = cli("make-env", "--driver", "570.133.20", "--os", "linux", "--stdout")
    assert typed.exit_code == 2  # what it used to say


def test_a_report_of_a_cpu_without_avx_is_warned_about(cli: Cli) -> None:
    # the E5620 has SSE4.2 but no AVX: TensorFlow's wheels stop at import there (GD-HOST-036)
    report = REPORTS / "failure__tensorflow_cpu_without_avx.json"
    result = cli("make-env", "--from-report", str(report), "--framework", "tensorflow", "--stdout")
    assert result.exit_code == 0, result
    assert "lacks AVX" in result.stdout and "GD-HOST-036" in result.stdout
    # a report without the flags (written before 2026-12-07) says nothing
    quiet = cli("make-env", "--from-report", str(H100), "--framework", "tensorflow", "--stdout")
    assert quiet.exit_code == 0 and "AVX" not in quiet.stdout


def test_a_report_with_an_old_glibc_gets_wheels_that_install_there(cli: Cli) -> None:
    # glibc 2.27 (Ubuntu 18.04): PyPI's torch wheels are manylinux1 up to 2.6.0 and
    # manylinux_2_28 from 2.7.0, so pip finds no torch 2.7+ for it; make-env planned 2.15
    report = REPORTS / "failure__torch_needs_newer_glibc.json"
    result = cli("make-env", "--from-report", str(report), "--format", "json")
    assert result.exit_code == 0, result
    plan = json.loads(result.stdout)
    assert plan["frameworks"][0]["version"] == "2.6.0"
    assert any("glibc 2.27" in w and "2.28" in w for w in plan["warnings"])
    # TensorFlow 2.21 is manylinux_2_27: it still installs on 2.27
    tf = cli(
        "make-env", "--from-report", str(report), "--framework", "tensorflow", "--format", "json"
    )
    assert json.loads(tf.stdout)["frameworks"][0]["version"] == "2.21"
    # pinned to a release glibc rules out: refused, saying why
    pinned = cli("make-env", "--from-report", str(report), "--torch", "2.9", "--stdout")
    assert pinned.exit_code == 1 and "glibc" in pinned.stderr, pinned


def test_the_regenerate_line_of_an_old_glibc_plan_plans_the_same(cli: Cli) -> None:
    # the Regenerate line dropped the glibc that chose PyTorch 2.6: run as printed it planned
    # 2.15, whose manylinux_2_28 wheels pip cannot install on that Ubuntu 18.04 host (and
    # there was no way to type a glibc for another machine)
    report = REPORTS / "failure__torch_needs_newer_glibc.json"
    result = cli("make-env", "--from-report", str(report), "--format", "json")
    plan = json.loads(result.stdout)
    assert "--glibc 2.27" in plan["command"]
    again = cli(*shlex.split(plan["command"])[1:], "--format", "json")
    assert again.exit_code == 0, again
    typed = json.loads(again.stdout)
    assert typed["frameworks"] == plan["frameworks"] and typed["pip"] == plan["pip"]
    assert typed["command"] == plan["command"]
    # a glibc that rules nothing out is left out of the line
    new = cli("make-env", *TARGET, "--glibc", "2.35", "--format", "json")
    assert "--glibc" not in json.loads(new.stdout)["command"]


def test_conda_forge_cuda13_builds_need_glibc_2_28(cli: Cli) -> None:
    # conda-forge's CUDA 13.0 pytorch is built with c_stdlib_version 2.28 (__glibc >=2.28),
    # its CUDA 12.9 one with 2.17: on glibc 2.17 the file pinned cuda130*, which conda cannot
    # install there
    h100 = ("--driver", "580.95.05", "--cc", "9.0", "--source", "conda-forge")
    old = cli("make-env", *h100, "--glibc", "2.17", "--format", "json")
    assert old.exit_code == 0, old
    plan = json.loads(old.stdout)
    assert plan["frameworks"][0]["variant"] == "cuda129"
    assert "--glibc 2.17" in plan["command"]
    assert any("cuda129" in w and "glibc 2.28" in w for w in plan["warnings"]), plan["warnings"]
    new = cli("make-env", *h100, "--glibc", "2.28", "--format", "json")
    assert json.loads(new.stdout)["frameworks"][0]["variant"] == "cuda130"
    # Thor has only the CUDA 13 build: refused, saying why
    thor = cli(
        "make-env", *h100[:2], "--cc", "11.0", "--arch", "aarch64", *h100[4:], "--glibc", "2.17"
    )
    assert thor.exit_code == 1 and "glibc >= 2.28 (__glibc >=2.28)" in thor.stderr, thor


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--glibc", "abc"), "--glibc abc: not a glibc version like 2.28"),
        (("--glibc", "2.17", "--os", "windows"), "--glibc 2.17: glibc is for a Linux target"),
    ],
)
def test_glibc_bad_input(cli: Cli, in_tmp: Path, args: tuple[str, ...], message: str) -> None:
    result = cli("make-env", *TARGET, *args)
    assert result.exit_code == 2 and result.stderr.count("\n") == 1, result
    assert message in result.stderr, result


def test_thors_old_compute_capability_is_planned_under_its_new_name(cli: Cli) -> None:
    # --cc 10.1 (CUDA 12.8/12.9's name for Thor, 11.0 since CUDA 13.0) read "no NVIDIA GPU
    # has this compute capability"
    new = cli("make-env", "--driver", "580.95.05", "--cc", "10.1", "--arch", "aarch64", "-o", "-")
    assert new.exit_code == 0, new
    assert "CC 11.0" in new.stdout and "--cc 11.0" in new.stdout
    # a driver that still says 10.1 predates R580: not "no such machine"
    old = cli("make-env", "--driver", "570.86.10", "--cc", "10.1", "--arch", "aarch64", "-o", "-")
    assert "no such machine" not in old.stderr and "no NVIDIA GPU has" not in old.stderr, old


@pytest.mark.parametrize(
    ("gres", "refused"), [((), True), (("gpu:8",), False), (("gpu:h100:8(S:0-1)",), False)]
)
def test_a_partition_without_gpu_gres_is_refused_with_driver_and_cc_too(
    cli: Cli, in_tmp: Path, monkeypatch: pytest.MonkeyPatch, gres: tuple[str, ...], refused: bool
) -> None:
    # docs/make-env.md: a partition without GPU GRES is refused (exit 2) unless --cpu; with
    # --driver/--cc it was planned as a GPU environment 'for the compute nodes of partition cpu',
    # which no job there can get a GPU for (onboard refuses the same partition)
    from gpudoctor.fleet import slurm
    from gpudoctor.model.slurm import SlurmNode

    def nodes(**kw: object) -> tuple[slurm.ComputeNode, ...]:
        node = SlurmNode(name="n3", state="idle", partitions=("cpu",))
        return (slurm.ComputeNode(node=node, gres=gres),)

    monkeypatch.setattr(slurm, "list_compute_nodes", nodes)
    args = ("make-env", "--partition", "cpu", "--driver", "570.124.06", "--cc", "9.0", "-o", "-")
    result = cli(*args)
    if refused:
        assert result.exit_code == 2, result
        assert result.stderr == (
            "gpudoctor: error: --partition cpu has no GPU GRES: its nodes offer no GPU to plan "
            "for; choose a GPU partition, or add --cpu for a CPU-only environment\n"
        )
        assert cli(*args, "--cpu").exit_code == 0
    else:
        assert result.exit_code == 0, result
        assert "# Planned for the compute nodes of partition cpu: nodes n3" in result.stdout


def test_a_cpu_plan_for_a_gpu_machine_says_it_is_cpu_only(cli: Cli) -> None:
    # it read "environment for driver 570.124.06 (CUDA 12.8), CC 9.0", as a GPU plan does
    target = ("--driver", "570.124.06", "--cc", "9.0", "-o", "-")
    cpu = cli("make-env", *target, "--cpu")
    assert cpu.stdout.startswith("# gpudoctor make-env: CPU-only environment for driver"), cpu
    gpu = cli("make-env", *target)
    assert gpu.stdout.startswith("# gpudoctor make-env: environment for driver"), gpu


def test_a_jetson_thor_is_planned_as_the_aarch64_machine_it_is(cli: Cli) -> None:
    # `make-env --driver 580.65 --cc 11.0` planned linux-64 and, refused on pip, pointed at
    # conda-forge's linux-64 build: no x86_64 machine has a CC 11.0 GPU (Jetson Thor)
    result = cli("make-env", "--driver", "580.65.06", "--cc", "11.0", "-o", "-")
    assert result.exit_code == 0, result
    assert "linux-aarch64" in result.stdout and "--os linux --arch aarch64" in result.stdout
    assert result.stderr.startswith(
        "make-env: CC 11.0 (Jetson T5000, Jetson T4000 (Jetson Thor)) is found only on "
        "linux-aarch64: planning for --os linux --arch aarch64\n"
    ), result
    # said to be another platform, the machine cannot exist: one line, exit 2
    wrong = cli("make-env", "--driver", "580.65.06", "--cc", "11.0", "--arch", "x86_64", "-o", "-")
    assert wrong.exit_code == 2 and wrong.stderr.count("\n") == 1, wrong
    assert "only on linux-aarch64" in wrong.stderr and "not on linux-64" in wrong.stderr


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("--tensorflow", ""), "--tensorflow is empty: give a version like 2.21"),
        (("--framework", "both", "--torch", ""), "--torch is empty: give a version like 2.9"),
        (("--python", ""), "--python is empty: give a version like 3.12"),
        (("--glibc", "2.28.1.2"), "--glibc 2.28.1.2: not a glibc version like 2.28"),
        (("--python", "3.12.4.1"), "--python '3.12.4.1' is not like 3.12 or 3.12.4"),
        (("--torch-index-url", "http://"), "--torch-index-url http://: the URL names no host"),
        (("--torch-index-url", "https:///whl"), "--torch-index-url https:///whl: the URL names no"),
        (("--torch-index-url", "http://[::1/x"), "--torch-index-url http://[::1/x: the URL names"),
    ],
)
def test_an_empty_or_malformed_typed_value_is_one_line(cli, args, said) -> None:
    # --tensorflow '' was taken (and written into the Regenerate line), --glibc 2.28.1.2 read
    # as 2.28, --python 3.12.4.1 pinned a Python that does not exist, http:// taken as an index
    result = cli("make-env", "--driver", "535.104.05", "--cc", "8.0", "--stdout", *args)
    assert result.exit_code == 2, result
    assert result.stderr.startswith(f"gpudoctor: error: {said}"), result
    assert result.stderr.count("\n") == 1 and result.stdout == ""


PASCAL = REPORTS / "failure__pascal_with_torch_cu128.json"


def mixed_partition(root: Path, **n2: object) -> dict[str, str | None]:
    """A fake SLURM whose partition gpu holds an H100 node (n1) and a Pascal node (n2)."""
    from tests.fleet.fake_slurm import FakeSlurm

    slurm = FakeSlurm(
        root,
        {
            "n1": {"partitions": ["gpu"], "gres": "gpu:h100:8", "report": str(H100)},
            "n2": {"partitions": ["gpu"], "gres": "gpu:p100:4", "report": str(PASCAL), **n2},
        },
    )
    return {**slurm.env(), "SLURM_JOB_ID": None, "SLURM_CONF": None}


def test_a_partition_of_two_gpu_models_is_planned_for_both(cli: Cli, in_tmp: Path) -> None:
    # it checked n1 (H100) alone and planned CUDA 13 for CC 9.0 under "Planned for ... nodes
    # n[1-2] (h100, p100)": a build the Pascal node n2 cannot run
    result = cli("make-env", "--partition", "gpu", "--stdout", env=mixed_partition(in_tmp))
    assert result.exit_code == 0, result
    assert "checking node n1 of partition gpu" in result.stderr
    assert "checking node n2 of partition gpu" in result.stderr
    assert "CC 6.1 (Pascal)" in result.stdout.splitlines()[0]
    assert "nodes n[1-2] (h100, p100)" in result.stdout
    assert "cu13" not in result.stdout


def test_a_gpu_model_whose_nodes_cannot_be_checked_is_warned_about(cli: Cli, in_tmp: Path) -> None:
    env = mixed_partition(in_tmp, state="allocated")
    result = cli("make-env", "--partition", "gpu", "--stdout", env=env)
    assert result.exit_code == 0, result
    assert "checking node n2" not in result.stderr
    assert (
        "node(s) n2 of partition gpu (p100) were not checked (none idle or mixed now): this "
        "environment may not run there"
    ) in " ".join(line.lstrip("# ") for line in result.stdout.splitlines())


def test_a_partition_that_refuses_the_account_is_not_to_be_tried_later(
    cli: Cli, in_tmp: Path
) -> None:
    # "Requested nodes are busy; try again later": the nodes were idle, the partition's
    # AllowAccounts left the account out, and no wait changes that
    env = mixed_partition(in_tmp)
    state = json.loads((in_tmp / "state.json").read_text())
    for node in state["nodes"].values():
        node.update(srun="partition_config", gres="gpu:h100:8")
    (in_tmp / "state.json").write_text(json.dumps(state))
    result = cli("make-env", "--partition", "gpu", "--stdout", env=env)
    assert result.exit_code == 1, result
    last = result.stderr.splitlines()[-1]
    assert "Requested partition configuration not available now" in last
    assert "busy" not in last and "try again later" not in last
    assert last.endswith(
        "; plan without a job on the nodes: --partition gpu --driver VERSION --cc X.Y (as "
        "`nvidia-smi` prints on a node), or --partition gpu --from-fleet DIR"
    )


@pytest.mark.parametrize("form", ["conda", "uv", "pixi", "requirements"])
def test_a_file_make_env_wrote_given_as_a_report_is_named(cli: Cli, tmp_path: Path, form: str):
    # docs/check.md: --from-report names what a wrong file is. make-env's environment.yml read
    # "not valid JSON (Expecting value at line 1)": its comment block hid the conda keys
    written = tmp_path / f"env.{form}"
    assert cli("make-env", *TARGET, "--format", form, "-o", str(written)).exit_code == 0
    for command in ("check", "make-env"):
        result = cli(command, "--from-report", str(written))
        assert result.exit_code == 2, result.stdout
        assert result.stderr == (
            f"gpudoctor: error: {written} is an environment file gpudoctor make-env wrote, not a "
            "check report (write one with `gpudoctor check --format json -o FILE`)\n"
        )


def test_the_modules_loaded_here_are_named_for_a_partition_given_driver_and_cc(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `module load cuda/12.4` on the login node, then make-env --partition gpu --driver --cc
    # (the nodes' check cannot run): srun and sbatch pass the module's LD_LIBRARY_PATH on to
    # the jobs, but with no node checked the header named nothing to unload
    from gpudoctor.fleet import slurm
    from gpudoctor.model.slurm import SlurmNode

    def nodes(**kw: object) -> tuple[slurm.ComputeNode, ...]:
        node = SlurmNode(name="n1", state="idle", partitions=("gpu",))
        return (slurm.ComputeNode(node=node, gres=("gpu:h100:8",)),)

    monkeypatch.setattr(slurm, "list_compute_nodes", nodes)
    files = []
    for name, body in (("gcc/12", ""), ("cuda/12.4", 'prepend_path("PATH", "/sw/cuda/12.4/bin")')):
        file = tmp_path / f"{name}.lua"
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(body + "\n")
        files.append(str(file))
    loaded = {
        "LOADEDMODULES": "gcc/12:cuda/12.4",
        "_LMFILES_": ":".join(files),
        "LD_LIBRARY_PATH": "/sw/cuda/12.4/lib64",
    }
    args = ("make-env", "--partition", "gpu", "--driver", "580.95.05", "--cc", "9.0", "-o", "-")
    result = cli(*args, env=loaded)
    assert result.exit_code == 0, result
    assert "# First: module unload cuda/12.4\n#   (they put CUDA libraries on" in result.stdout
    assert "gcc" not in result.stdout
    none = cli(*args, env=dict.fromkeys(loaded))
    assert "First: module unload" not in none.stdout
    # for a machine given by --driver/--cc alone, this shell's modules are not its
    alone = cli(*args[:1], *args[3:], env=loaded)
    assert alone.exit_code == 0, alone
    assert "First: module unload" not in alone.stdout


def _saved(report: object, path: Path) -> Path:
    from gpudoctor.model.serialize import report_to_json

    path.write_text(report_to_json(report), encoding="utf-8")  # type: ignore[arg-type]
    return path


def test_a_mac_report_is_refused_with_a_next_step(cli: Cli, in_tmp: Path) -> None:
    # it read "report mac.json is from darwin: make-env plans Linux and Windows", no next step
    from tests.rules.builders import mac

    result = cli("make-env", "--from-report", str(_saved(mac(), in_tmp / "mac.json")))
    assert result.exit_code == 2, result
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "is a Mac" in result.stderr
    assert "python3 -m pip install torch" in result.stderr
    assert "--os linux --driver VERSION --cc X.Y" in result.stderr
    assert not (in_tmp / "environment.yml").exists()


def test_a_rocm_report_is_no_nvidia_gpu_and_the_cpu_plan_says_so(cli: Cli, in_tmp: Path) -> None:
    # it was refused: "shows an NVIDIA GPU with a driver (PyTorch sees 1 GPU), but the driver
    # version could not be read"; the ROCm build's GPU is AMD's
    from tests.rules.builders import rocm_machine

    saved = _saved(rocm_machine(), in_tmp / "rocm.json")
    result = cli("make-env", "--from-report", str(saved), "--stdout")
    assert result.exit_code == 0, result
    assert "NVIDIA GPU with a driver" not in result.stderr
    assert f"name: {cpu_env_name()}" in result.stdout
    assert (
        "PyTorch 2.9.1+rocm6.4 sees 1 AMD GPU through ROCm, but make-env plans CUDA or "
        "CPU-only builds: this is a CPU-only environment that uses no GPU here"
    ) in " ".join(result.stdout.replace("#", " ").split())  # the header's warnings
