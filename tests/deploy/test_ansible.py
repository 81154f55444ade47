"""deploy/ansible/gpudoctor-fleet.yml, run for real by `ansible-playbook -c local` on localhost."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gpudoctor.userfiles.read import load_report

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOK = ROOT / "deploy" / "ansible" / "gpudoctor-fleet.yml"
FAKE = Path(__file__).with_name("fake_gpudoctor.py")
REPORT = ROOT / "tests" / "data" / "reports" / "failure__no_driver.json"

# The venv's own ansible-playbook first: the one next to this interpreter is the one
# `pip install .[test]` put there.
ANSIBLE_PLAYBOOK = shutil.which(
    "ansible-playbook", path=os.pathsep.join([str(Path(sys.executable).parent), os.defpath])
) or shutil.which("ansible-playbook")

# Each run of ansible-playbook takes 1 to 6 s on the 2-core VM.
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        ANSIBLE_PLAYBOOK is None,
        reason="ansible-playbook is not installed (pip install ansible-core)",
    ),
]


def playbook(tmp_path: Path, **extra_vars: object) -> subprocess.CompletedProcess[str]:
    """Runs the playbook against localhost with a hermetic Ansible configuration."""
    assert ANSIBLE_PLAYBOOK is not None
    config = tmp_path / "ansible.cfg"
    config.write_text("", encoding="utf-8")
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(config),
        "ANSIBLE_HOME": str(tmp_path / "ansible-home"),
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-local"),
        "ANSIBLE_REMOTE_TEMP": str(tmp_path / "ansible-remote"),  # the "remote" is localhost
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
        # ansible-playbook refuses to start unless the locale's encoding is UTF-8 (LC_ALL=C).
        "LC_ALL": "C.UTF-8",
    }
    argv = [
        ANSIBLE_PLAYBOOK,
        "-c",
        "local",
        "-i",
        "localhost,",
        str(PLAYBOOK),
        # This interpreter runs the modules; interpreter discovery could pick any python3.
        "-e",
        f"ansible_python_interpreter={sys.executable}",
        # JSON, not key=value: Ansible splits key=value pairs at spaces inside the value.
        "-e",
        json.dumps(extra_vars),
    ]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120, check=False)


def fake_cmd(tmp_path: Path, rc: int) -> str:
    return shlex.join([sys.executable, str(FAKE), "--rc", str(rc), "--log", str(log(tmp_path))])


def log(tmp_path: Path) -> Path:
    return tmp_path / "calls.jsonl"


def calls(tmp_path: Path) -> list[dict[str, object]]:
    lines = log(tmp_path).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def has_fleet() -> bool:
    probe = subprocess.run(
        [sys.executable, "-m", "gpudoctor", "fleet", "--help"],
        capture_output=True,
        timeout=60,
        check=False,
    )
    return probe.returncode == 0


@pytest.fixture(scope="module")
def real_reports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reports directory after one real run of the playbook (the real gpudoctor, fast path)."""
    tmp_path = tmp_path_factory.mktemp("ansible-real")
    out = tmp_path / "reports"
    cmd = shlex.join([sys.executable, "-m", "gpudoctor"])
    run = playbook(tmp_path, out_dir=str(out), gpudoctor_cmd=cmd, gpudoctor_no_frameworks=True)
    assert run.returncode == 0, run.stdout + run.stderr
    return out


def test_the_real_check_report_of_localhost_is_fetched_and_readable(real_reports):
    assert sorted(p.name for p in real_reports.iterdir()) == ["localhost.json"]
    report = load_report(real_reports / "localhost.json")
    assert report.redacted  # check's default: the fleet report names nodes by file stem
    assert report.frameworks == ()  # --no-frameworks reached the host


@pytest.mark.skipif(not has_fleet(), reason="gpudoctor fleet is not there yet")
def test_fleet_report_reads_what_the_playbook_gathered(real_reports):
    fleet = subprocess.run(
        [
            sys.executable,
            "-m",
            "gpudoctor",
            "fleet",
            "report",
            str(real_reports),
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert fleet.returncode in (0, 1), fleet.stderr
    assert json.loads(fleet.stdout)["nodes"][0]["node"] == "localhost"


def test_problems_found_is_data_and_verify_is_fetched_too(tmp_path):
    out = tmp_path / "reports"
    run = playbook(
        tmp_path,
        out_dir=str(out),
        gpudoctor_cmd=fake_cmd(tmp_path, 1),
        gpudoctor_verify=True,
        gpudoctor_check_args="--timeout 5",
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert sorted(p.name for p in out.iterdir()) == ["localhost.json", "localhost.verify.json"]
    assert (out / "localhost.json").read_bytes() == REPORT.read_bytes()
    assert json.loads((out / "localhost.verify.json").read_text()) == {"fake": "verify report"}
    check, verify = calls(tmp_path)
    assert check["command"] == "check"
    assert check["rest"] == ["--format", "json", "--timeout", "5"]
    assert verify["command"] == "verify"
    assert verify["rest"] == ["--quick", "--format", "json"]
    # The private directory on the host is gone.
    assert not Path(str(check["output"])).parent.exists()


def test_a_failed_check_fails_the_host_and_leaves_nothing(tmp_path):
    out = tmp_path / "reports"
    run = playbook(tmp_path, out_dir=str(out), gpudoctor_cmd=fake_cmd(tmp_path, 2))
    assert run.returncode != 0
    assert "failed=1" in run.stdout
    assert list(out.iterdir()) == []
    (check,) = calls(tmp_path)
    assert not Path(str(check["output"])).parent.exists()


def test_out_dir_is_required(tmp_path):
    run = playbook(tmp_path, gpudoctor_cmd=fake_cmd(tmp_path, 0))
    assert run.returncode != 0
    assert "set out_dir" in run.stdout + run.stderr
    assert not log(tmp_path).exists()  # nothing ran on the host
