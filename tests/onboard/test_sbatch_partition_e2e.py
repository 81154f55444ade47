"""The ``#SBATCH -p`` lines gpudoctor writes (onboard's job script, GD-HOST-007/008's fixes)
read back by the real sbatch as the partition they name, or as PARTITION, never as more
options: sbatch splits an ``#SBATCH`` line itself (at whitespace, at an unquoted ``#``; quotes
group; a backslash escapes even inside quotes; a leading ``:`` is fatal)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from gpudoctor.model.shell import sbatch_word
from gpudoctor.onboard.plan import Target, job_script
from tests.fleet.conftest import SlurmCluster, slurm_path

pytestmark = [pytest.mark.slurm]


# each odd name, and what sbatch must read from the line gpudoctor writes for it
NAMES = [
    ("gpu a", "gpu a"),
    ("gpu --job-name=injected", "gpu --job-name=injected"),  # unquoted: named the job
    ("gpu#x", "gpu#x"),  # unquoted: '-p gpu', the rest a comment
    ("g'pu", "g'pu"),  # unquoted: 'Unmatched `'`', sbatch fatal
    ('g"pu', 'g"pu'),
    (":gpu", ":gpu"),  # unquoted: 'Unexpected `:`', sbatch fatal
    ("x$(id)", "x$(id)"),
    ("g\\pu", "PARTITION"),  # sbatch drops a backslash, quoted or not: it would read 'gpu'
    ("gpu\nhostname", "PARTITION"),
    ("-p", "PARTITION"),
]


def _sbatch_reads(cluster: SlurmCluster, script: Path) -> str:
    """The partition ``sbatch --test-only`` reports for ``script`` (none of these exists)."""
    done = subprocess.run(
        [str(shutil.which("sbatch", path=slurm_path())), "--test-only", str(script)],
        capture_output=True,
        text=True,
        timeout=30,
        env=cluster.environ(),
        check=False,
    )
    said = done.stderr
    prefix = "sbatch: error: invalid partition specified: "
    lines = [line for line in said.splitlines() if line.startswith(prefix)]
    assert len(lines) == 1, said
    return lines[0][len(prefix) :]


@pytest.mark.parametrize(("name", "read"), NAMES)
def test_sbatch_reads_the_partition_of_the_lines_gpudoctor_writes(
    slurm_cluster: SlurmCluster, tmp_path: Path, name: str, read: str
) -> None:
    fix = tmp_path / "fix.sbatch"
    fix.write_text(f"#!/bin/bash\n#SBATCH -p {sbatch_word(name, 'PARTITION')}\nhostname\n")
    assert _sbatch_reads(slurm_cluster, fix) == read
    script = job_script(Target(partition=name, gpu=True, why=""), "true", ())
    assert script is not None
    # its -p line alone: this cluster's nodes have no GPU GRES for its --gres=gpu:1
    (line,) = [line for line in script.splitlines() if line.startswith("#SBATCH -p ")]
    onboard = tmp_path / "train.sbatch"
    onboard.write_text(f"#!/bin/bash\n{line}\nhostname\n")
    assert _sbatch_reads(slurm_cluster, onboard) == read


def test_a_plain_partition_is_written_as_it_is(slurm_cluster: SlurmCluster, tmp_path: Path) -> None:
    assert sbatch_word("gpu", "PARTITION") == "gpu"
    script = tmp_path / "ok.sbatch"
    script.write_text(f"#!/bin/bash\n#SBATCH -p {sbatch_word('gpu', 'PARTITION')}\nhostname\n")
    done = subprocess.run(
        [str(shutil.which("sbatch", path=slurm_path())), "--test-only", str(script)],
        capture_output=True, text=True, timeout=30, env=slurm_cluster.environ(), check=False,
    )  # fmt: skip
    assert "in partition gpu" in done.stderr, done.stderr
