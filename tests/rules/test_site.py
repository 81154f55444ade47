"""Where-am-I rules: login node, job without GPUs, containers, modules, storage."""

from __future__ import annotations

from dataclasses import replace

import pytest

from gpudoctor.model.findings import Severity
from gpudoctor.model.report import (
    CacheInfo,
    FsUsage,
    RemoteRun,
    SiteInfo,
    SlurmCluster,
    SlurmJob,
    StorageInfo,
)
from tests.render import site_scenarios as s
from tests.rules import builders as b

GIB = 1 << 30


def ids(report):
    return {f.id: f for f in b.diagnose(report).findings}


def test_a_login_node_is_a_warning_that_names_the_gpu_partitions_not_an_error():
    found = ids(s.login_node())
    login = found["GD-HOST-007"]
    assert login.severity == Severity.WARNING
    assert any("gpu:h100:8" in e for e in login.evidence)
    assert "$ srun -p gpu --gres=gpu:1 --pty bash   # an interactive shell on a GPU node" in (
        login.fix
    )
    assert "#SBATCH --gres=gpu:1" in login.fix
    assert found["GD-DRV-001"].severity == Severity.INFO
    assert b.diagnose(s.login_node()).worst == Severity.WARNING


def test_a_gpu_partition_whose_nodes_are_all_drained_or_down_is_said_before_the_srun():
    # the login node named "partition gpu: 4 nodes gpu[01-04]" and told the student to
    # `srun -p gpu ...`, which waits in the queue while every node is drained
    report = s.login_node()
    cluster = report.site.slurm
    parts = tuple(
        replace(p, nodes_usable=0 if p.name == "debug" else p.node_count)
        for p in cluster.partitions
    )
    dead = replace(report, site=replace(report.site, slurm=replace(cluster, partitions=parts)))
    assert "drained" not in ids(dead)["GD-HOST-007"].title  # gpu, the first, has nodes up
    parts = tuple(replace(p, nodes_usable=0 if p.name == "gpu" else 1) for p in parts)
    dead = replace(report, site=replace(report.site, slurm=replace(cluster, partitions=parts)))
    login = ids(dead)["GD-HOST-007"]
    assert login.title.endswith(", whose nodes are all drained or down now")
    assert login.fix[0].startswith("No node of partition gpu can start a job now")
    assert any("none of them can start a job now" in e for e in login.evidence)
    # it said "use another GPU partition" whether or not there was one with nodes up
    assert login.fix[0].endswith("Ask the admins, or use partition debug, which has nodes up.")
    parts = tuple(replace(p, nodes_usable=0) for p in parts)
    dead = replace(report, site=replace(report.site, slurm=replace(cluster, partitions=parts)))
    login = ids(dead)["GD-HOST-007"]
    assert login.fix[0].endswith("Ask the admins: no other GPU partition has nodes up.")
    only = tuple(p for p in parts if p.name == "gpu")
    alone = replace(report, site=replace(report.site, slurm=replace(cluster, partitions=only)))
    assert (
        ids(alone)["GD-HOST-007"]
        .fix[0]
        .endswith("Ask the admins: no other GPU partition has nodes up.")
    )


@pytest.mark.parametrize("gres", ["gpu:²", "gpu:h100:" + "9" * 5000])
def test_a_partition_s_hostile_gres_count_is_shown_as_unknown(gres):
    # a saved report's GRES went to int(): an internal error (exit 3) for the whole check
    report = s.login_node()
    cluster = report.site.slurm
    parts = tuple(replace(p, gres=(gres,)) for p in cluster.partitions)
    hostile = replace(report, site=replace(report.site, slurm=replace(cluster, partitions=parts)))
    login = ids(hostile)["GD-HOST-007"]
    assert any("? × " in e for e in login.evidence)


def test_without_sinfo_an_answer_the_no_gpu_machine_stays_as_before():
    report = replace(s.login_node(), site=SiteInfo())
    found = ids(report)
    assert "GD-HOST-007" not in found
    assert found["GD-DRV-001"].severity == Severity.WARNING


def test_a_controller_that_does_not_answer_is_information():
    cluster = SlurmCluster(reachable=False, command="sinfo", message="sinfo gave no answer in 5 s")
    report = replace(s.login_node(), site=SiteInfo(slurm=cluster))
    found = ids(report)
    assert found["GD-HOST-007"].severity == Severity.INFO
    assert found["GD-DRV-001"].severity == Severity.WARNING


def test_a_login_node_whose_controller_does_not_answer_is_not_told_to_use_the_cpu():
    # "No NVIDIA GPU: deep learning here runs on the CPU only ... Nothing to do if this machine
    # has no GPU ... On a cloud VM: choose an instance type with an NVIDIA GPU", to a student
    # on a login node whose slurmctld was down
    cluster = SlurmCluster(
        reachable=False,
        command="sinfo",
        message="sinfo failed: slurm_load_partitions: Unable to contact slurm controller",
    )
    no_gpu = ids(replace(s.login_node(), site=SiteInfo(slurm=cluster)))["GD-DRV-001"]
    assert no_gpu.title == (
        "No NVIDIA GPU here; SLURM is configured but its controller did not answer: if this is a "
        "login node, the GPUs are on the compute nodes"
    )
    assert "$ srun -p PARTITION --gres=gpu:1 --pty bash" in no_gpu.fix
    assert not any("CPU" in line and "Nothing to do" in line for line in no_gpu.fix)
    assert not any("cloud VM" in line for line in no_gpu.fix)
    # SLURM installed but not configured: no cluster, the machine's own words stay
    unset = replace(cluster, message="sinfo: fatal: Could not establish a configuration source")
    plain = ids(replace(s.login_node(), site=SiteInfo(slurm=unset)))["GD-DRV-001"]
    assert plain.title == "No NVIDIA GPU: deep learning here runs on the CPU only"


def test_a_cpu_only_torch_on_a_login_node_says_it_will_not_use_the_gpu_nodes():
    # the login node's PyTorch line read "[✓] PyTorch 2.13.0+cpu, CPU-only build": the student
    # ran jobs on partition gpu with that environment and its GPUs went unused
    report = b.with_framework(
        s.login_node(), "torch", version="2.13.0+cpu", cuda_build=False, build_cuda=None
    )
    report = b.with_framework(report, "torch", init_error=None)
    found = ids(report)["GD-TORCH-004"]
    assert found.severity == Severity.INFO
    assert found.title == (
        "PyTorch 2.13.0+cpu is a CPU-only build: run in a job on partition gpu, it will not use "
        "the GPUs there"
    )
    assert found.fix[0] == "An environment for those nodes: $ gpudoctor make-env --partition gpu"
    # a machine without GPU and without SLURM: the CPU build is what it should have
    plain = replace(report, site=SiteInfo())
    assert "GD-TORCH-004" not in ids(plain)


def test_inside_a_job_the_login_node_rule_is_silent():
    report = s.login_node()
    report = replace(report, site=replace(report.site, slurm_job=SlurmJob(job_id="1")))
    assert "GD-HOST-007" not in ids(report)


def test_a_job_without_gres_on_a_gpu_node_is_an_error_with_sbatch_and_srun_lines():
    finding = ids(s.job_without_gres())["GD-HOST-008"]
    assert finding.severity == Severity.ERROR
    assert finding.fix == (
        "In the batch script:",
        "#SBATCH -p gpu",
        "#SBATCH --gres=gpu:1",
        "or: $ srun -p gpu --gres=gpu:1 python train.py",
    )


def test_a_job_that_asked_for_a_gpu_is_not_told_to_ask():
    report = s.job_without_gres()
    job = replace(report.site.slurm_job, gpu_variables={"SLURM_JOB_GPUS": "0"})
    report = replace(report, site=replace(report.site, slurm_job=job))
    report = b.with_nvml(report, gpus=(b.h100(),))
    found = ids(report)
    assert "GD-HOST-008" not in found
    assert found["GD-HOST-009"].title == "This SLURM job sees 1 of the node's 2 GPUs"


def test_a_cpu_job_on_a_cpu_node_is_fine():
    report = replace(b.no_gpu_machine(), site=SiteInfo(slurm_job=SlurmJob(job_id="3")))
    assert "GD-HOST-008" not in ids(report)


def test_apptainer_without_nv_is_told_to_add_nv_before_the_image():
    found = ids(s.apptainer_without_nv())
    for rule_id in ("GD-NVML-001", "GD-CUDA-001"):
        # the command is containers.toml's row (before, 'apptainer exec --nv IMAGE python
        # train.py' written by hand)
        assert "$ apptainer exec --nv IMAGE ...   # singularity takes the same --nv" in (
            found[rule_id].fix
        )
        assert not any("docker" in line for line in found[rule_id].fix)


def test_a_kubernetes_pod_without_gpu_gets_a_resource_limit():
    report = b.with_host(s.apptainer_without_nv(), container="kubernetes")
    fix = ids(report)["GD-NVML-001"].fix
    assert any(
        line.endswith(": a pod whose container has resources.limits nvidia.com/gpu: 1")
        for line in fix
    ), fix


def test_docker_keeps_its_gpus_fix():
    report = b.with_host(s.apptainer_without_nv(), container="docker")
    assert any("--gpus all" in line for line in ids(report)["GD-NVML-001"].fix)


def test_module_shadowing_is_fixed_by_unloading_the_module():
    finding = ids(s.module_shadowing())["GD-CUDA-007"]
    assert finding.fix[0] == "$ module unload cudnn/8.9"
    assert "cudnn/8.9" in finding.title


def test_shadowing_outside_any_module_still_edits_ld_library_path():
    report = replace(s.module_shadowing(), site=SiteInfo())
    finding = ids(report)["GD-CUDA-007"]
    assert finding.fix[0].startswith("$ export LD_LIBRARY_PATH=/sw/pkgs/cuda/12.4.1/lib64")


def _storage(report, **changes):
    return replace(report, site=SiteInfo(storage=StorageInfo(**changes)))


def _home(total, free, inodes=(1000, 500)):
    return FsUsage(
        path="/home/ada",
        mount_point="/home",
        fs_type="nfs4",
        total_bytes=total,
        free_bytes=free,
        total_inodes=inodes[0],
        free_inodes=inodes[1],
    )


def test_a_nearly_full_home_is_a_warning_with_the_cache_variables():
    report = _storage(b.healthy(), home=_home(100 * GIB, 5 * GIB))
    finding = ids(report)["GD-HOST-011"]
    assert "$ export PIP_CACHE_DIR=/scratch/$USER/pip" in finding.fix
    assert "$ export HF_HOME=/scratch/$USER/huggingface" in finding.fix
    assert "GD-HOST-011" not in ids(_storage(b.healthy(), home=_home(100 * GIB, 11 * GIB)))


def test_running_out_of_inodes_counts_too():
    report = _storage(b.healthy(), home=_home(100 * GIB, 50 * GIB, (1000, 20)))
    assert "inodes free: 2%" in ids(report)["GD-HOST-011"].evidence[0]


def test_caches_filling_a_small_home_are_a_warning_and_a_cut_walk_says_at_least():
    cache = CacheInfo(
        name="pip",
        path="/home/ada/.cache/pip",
        variable="PIP_CACHE_DIR",
        size_bytes=6 * GIB,
        complete=False,
        mount_point="/home",
    )
    report = _storage(b.healthy(), home=_home(20 * GIB, 10 * GIB), caches=(cache,))
    finding = ids(report)["GD-HOST-012"]
    assert "pip cache /home/ada/.cache/pip: at least 6.0 GiB" in finding.evidence
    assert finding.fix[1] == "$ export PIP_CACHE_DIR=/scratch/$USER/pip"
    small = replace(cache, size_bytes=GIB)
    assert "GD-HOST-012" not in ids(
        _storage(b.healthy(), home=_home(20 * GIB, 10 * GIB), caches=(small,))
    )


def test_a_uv_cache_on_another_file_system_than_the_env_is_noted():
    cache = CacheInfo(
        name="uv",
        path="/home/ada/.cache/uv",
        variable="UV_CACHE_DIR",
        size_bytes=GIB,
        mount_point="/home",
        fs_type="nfs4",
    )
    envfs = FsUsage(path="/scratch/ada/env", mount_point="/scratch", fs_type="lustre")
    found = ids(_storage(b.healthy(), environment=envfs, caches=(cache,)))
    assert found["GD-HOST-013"].fix[0] == "$ export UV_CACHE_DIR=/scratch/$USER/.uv-cache"
    assert found["GD-HOST-014"].title == "The Python environment is on lustre: imports are slow"
    same = replace(envfs, mount_point="/home", fs_type="nfs4")
    assert "GD-HOST-013" not in ids(_storage(b.healthy(), environment=same, caches=(cache,)))


def test_a_small_shm_in_docker_is_a_warning_but_not_in_apptainer():
    report = replace(
        b.with_host(b.healthy(), container="docker"), site=SiteInfo(shm_bytes=64 << 20)
    )
    finding = ids(report)["GD-HOST-010"]
    assert "$ docker run --shm-size=8g ..." in finding.fix
    assert "/dev/shm: 64.0 MiB in a docker container" in finding.evidence
    apptainer = b.with_host(report, container="apptainer")
    assert "GD-HOST-010" not in ids(apptainer)
    assert "GD-HOST-010" not in ids(replace(report, site=SiteInfo(shm_bytes=8 * GIB)))


def test_a_job_given_gpus_on_an_unnamed_node_says_which_word_to_replace():
    # it read 'sbatch --exclude=$SLURMD_NODENAME ...', which is empty where the fix is read (the
    # login node where sbatch is typed, or check --from-report on a saved report)
    report = s.login_node()
    job = SlurmJob(job_id="7", gpu_variables={"SLURM_STEP_GPUS": "0"})
    found = ids(replace(report, site=replace(report.site, slurm_job=job)))["GD-DRV-001"]
    assert "Run the job elsewhere: $ sbatch --exclude=NODE ..." in found.fix
    assert found.fix[-1].startswith("$ sudo scontrol update nodename=NODE state=drain ")
    assert not any("SLURMD_NODENAME" in line for line in found.fix)


def test_old_reports_without_a_site_section_diagnose_as_before():
    report = b.no_gpu_machine()
    assert report.site is None
    assert ids(report)["GD-DRV-001"].severity == Severity.WARNING


def test_a_job_given_gpus_on_a_node_without_any_is_an_error_not_a_cpu_machine():
    """SLURM's GRES promise GPUs the node lacks: every GPU job sent there fails."""
    report = s.login_node()
    job = SlurmJob(job_id="7", node="n1", gpu_variables={"SLURM_STEP_GPUS": "0"})
    report = replace(report, site=replace(report.site, slurm_job=job))
    found = ids(report)["GD-DRV-001"]
    assert found.severity == Severity.ERROR
    assert "SLURM_STEP_GPUS=0" in found.evidence[-1]
    assert any("--exclude=n1" in line for line in found.fix)
    # it read 'scontrol update ... reason="gpudoctor: GRES GPUs absent"': no sudo (scontrol
    # update is root's or the SLURM admin's), and a reason that named no finding; now the
    # gate's reason, which it resumes once the node is clean
    assert found.fix[-1] == (
        "$ sudo scontrol update nodename=n1 state=drain reason='gpudoctor:DRV-001 SLURM "
        "gave this job GPUs, but the node shows no NVIDIA GPU'"
    )
    no_gpus = replace(report, site=replace(report.site, slurm_job=SlurmJob(job_id="7")))
    assert ids(no_gpus)["GD-DRV-001"].severity == Severity.WARNING  # a job without GPUs


@pytest.mark.parametrize(
    "variables",
    [
        {"SLURM_TRES_PER_TASK": "cpu=4"},  # newer SLURM: --cpus-per-task, not a GPU
        {"SLURM_TRES_PER_TASK": "cpu:4", "SLURM_GPUS_ON_NODE": "0"},
    ],
)
def test_a_cpu_job_s_variables_are_no_gpus_given(variables: dict[str, str]) -> None:
    # `srun -c 4` on a CPU node read "SLURM gave this job GPUs, but the node shows no NVIDIA
    # GPU" (an error), and on a GPU node the job without --gres was not told to ask for one
    report = s.login_node()
    job = SlurmJob(job_id="7", node="n3", gpu_variables=variables)
    cpu_node = replace(report, site=replace(report.site, slurm_job=job))
    assert ids(cpu_node)["GD-DRV-001"].severity == Severity.WARNING
    gpu_node = s.job_without_gres()
    hidden = replace(gpu_node.site.slurm_job, gpu_variables=variables)
    gpu_node = replace(gpu_node, site=replace(gpu_node.site, slurm_job=hidden))
    assert ids(gpu_node)["GD-HOST-008"].severity == Severity.ERROR


def test_sinfo_without_a_configuration_says_slurm_is_not_configured():
    # what sinfo prints where slurm-client is installed but no slurm.conf exists (this VM)
    message = "sinfo failed: sinfo: fatal: Could not establish a configuration source"
    cluster = SlurmCluster(reachable=False, command="sinfo", message=message)
    found = ids(replace(s.login_node(), site=SiteInfo(slurm=cluster)))["GD-HOST-007"]
    assert found.severity == Severity.INFO
    assert found.title == "SLURM's commands are here but SLURM is not configured on this machine"
    assert "controller" not in " ".join(found.fix)


def with_docker(report, toolkit=None, **host):
    from gpudoctor.model.report import ContainerToolkitInfo

    toolkit = toolkit or ContainerToolkitInfo(docker="/usr/bin/docker")
    site = replace(report.site or SiteInfo(), container_toolkit=toolkit)
    return b.with_host(replace(report, site=site), **host)


def test_docker_on_a_gpu_host_without_the_container_toolkit_is_a_warning_with_its_install():
    # docker run --gpus all then fails with 'could not select device driver "" with
    # capabilities: [[gpu]]' and nothing on the host side said why
    report = with_docker(b.healthy(), os_release="Ubuntu 24.04.3 LTS")
    (found,) = b.findings(report, "GD-HOST-061")
    assert found.severity == Severity.WARNING
    assert found.evidence[0] == "Docker: /usr/bin/docker"
    from gpudoctor.probe.site import TOOLKIT_BINARIES

    # the evidence names every program the probe looked for (it named 3 of its 5)
    looked = next(e for e in found.evidence if "toolkit's programs" in e)
    assert all(name in looked for name in TOOLKIT_BINARIES), looked
    assert any("sudo apt-get install -y nvidia-container-toolkit" in f for f in found.fix)
    assert any("stable/deb/nvidia-container-toolkit.list" in f for f in found.fix)
    assert found.fix[-3:-1] == (
        "$ sudo nvidia-ctk runtime configure --runtime=docker",
        "$ sudo systemctl restart docker",
    )
    fedora = with_docker(b.healthy(), os_release="Fedora Linux 44 (Workstation Edition)")
    (found,) = b.findings(fedora, "GD-HOST-061")
    assert "$ sudo dnf install -y nvidia-container-toolkit" in found.fix
    assert not any("apt-get" in f for f in found.fix)
    (found,) = b.findings(with_docker(b.healthy(), os_release="Arch Linux"), "GD-HOST-061")
    assert any("apt-get" in f for f in found.fix) and any("dnf" in f for f in found.fix)


def test_the_toolkit_check_is_quiet_where_it_does_not_apply():
    from gpudoctor.model.report import ContainerToolkitInfo

    for toolkit in (
        ContainerToolkitInfo(docker="docker", binaries=("/usr/bin/nvidia-container-runtime-hook",)),
        ContainerToolkitInfo(docker="docker", runtimes=("nvidia",)),
        ContainerToolkitInfo(docker="docker", cdi_specs=("/etc/cdi/nvidia.yaml",)),
    ):
        assert b.findings(with_docker(b.healthy(), toolkit), "GD-HOST-061") == []
    assert b.findings(b.healthy(), "GD-HOST-061") == []  # no docker recorded
    assert b.findings(with_docker(b.no_gpu_machine()), "GD-HOST-061") == []  # no GPU
    assert b.findings(with_docker(b.healthy(), container="docker"), "GD-HOST-061") == []
    assert b.findings(with_docker(b.healthy(), wsl=True), "GD-HOST-061") == []


def test_a_job_on_a_node_without_gpus_is_told_of_gpu_partitions_not_cloud_vms():
    # check --partition cpu from a login node: the node's GD-DRV-001 said "Nothing to do if
    # this machine has no GPU ... On a cloud VM: choose an instance type with an NVIDIA GPU"
    job = SlurmJob(job_id="52022", step_id="0", partition="cpu", node="n3")
    ran = RemoteRun(node="n3", partition="cpu", gres=None)
    site = SiteInfo(slurm_job=job, slurm_commands=True, remote=ran)
    found = ids(replace(b.no_gpu_machine(), site=site))["GD-DRV-001"]
    assert found.severity == Severity.WARNING
    assert found.title == (
        "No NVIDIA GPU on node n3 (partition cpu): this SLURM job runs on the CPU only"
    )
    assert (
        "SLURM job 52022 on node n3 (partition cpu), which sinfo lists with no gpu GRES"
        in found.evidence
    )
    assert "$ srun -p PARTITION --gres=gpu:1 --pty bash" in found.fix
    assert not any("cloud" in line for line in found.fix)
    # fleet run's job on a node of partition gpu asks for no GPU either: not told to go to one
    gpu_job = replace(job, partition="gpu", node="n1")
    fleet = replace(b.no_gpu_machine(), site=SiteInfo(slurm_job=gpu_job, slurm_commands=True))
    assert "partition" not in ids(fleet)["GD-DRV-001"].title


@pytest.mark.parametrize(
    ("partition", "line"),
    [
        ("gpu --output=/home/ada/.bashrc", "#SBATCH -p 'gpu --output=/home/ada/.bashrc'"),
        ("gpu#x", "#SBATCH -p 'gpu#x'"),
        (":gpu", "#SBATCH -p ':gpu'"),
        ("g\\pu", "#SBATCH -p PARTITION"),
    ],
)
def test_the_sbatch_line_of_a_fix_names_the_partition_as_sbatch_reads_it(partition, line):
    # '#SBATCH -p gpu --output=F' pasted into a batch script wrote the job's output to F:
    # sbatch splits the line at whitespace and ends it at an unquoted '#' (its own parser,
    # not the shell's: tests/onboard/test_sbatch_partition_e2e.py asks the real sbatch)
    report = s.job_without_gres()
    job = replace(report.site.slurm_job, partition=partition)
    report = replace(report, site=replace(report.site, slurm_job=job))
    assert line in ids(report)["GD-HOST-008"].fix


def test_a_login_node_without_srun_names_an_odd_partition_as_sbatch_reads_it():
    # the srun-less fix wrote '#SBATCH -p gpu --output=F' as the partition came, which sbatch
    # reads as two options (the other #SBATCH lines of the fixes quote it)
    report = s.login_node()
    cluster = report.site.slurm
    parts = tuple(
        replace(p, name="gpu --output=F") if p.name == "gpu" else p for p in cluster.partitions
    )
    site = replace(report.site, srun_command=False, slurm=replace(cluster, partitions=parts))
    without = replace(report, site=site)
    login = ids(without)["GD-HOST-007"]
    assert "#SBATCH -p 'gpu --output=F'" in login.fix
    assert not any(line == "#SBATCH -p gpu --output=F" for line in login.fix)


def test_a_login_node_without_srun_is_told_to_load_slurm_or_use_sbatch():
    # sinfo on PATH, srun not (a SLURM module or package that left it out): GD-HOST-007 said
    # '$ srun -p gpu --gres=gpu:1 --pty bash', which failed with 'srun: command not found'
    report = s.login_node()
    without = replace(report, site=replace(report.site, srun_command=False))
    login = ids(without)["GD-HOST-007"]
    assert login.fix[0] == (
        "srun is not on PATH here (sinfo is): load the cluster's SLURM module first "
        "($ module load slurm; `module avail slurm` names it), or submit a batch job with sbatch:"
    )
    assert login.fix[1:3] == ("#SBATCH -p gpu", "#SBATCH --gres=gpu:1")
    assert not any(line.startswith("$ srun") for line in login.fix)
    assert login.fix[-1] == (
        "With srun on PATH, check one of its nodes from here: $ gpudoctor check --partition gpu"
    )
    # where srun is there, and in reports written before the field (None), as before
    for srun in (True, None):
        given = replace(report, site=replace(report.site, srun_command=srun))
        assert "$ srun -p gpu --gres=gpu:1 --pty bash   # an interactive shell on a GPU node" in (
            ids(given)["GD-HOST-007"].fix
        )
    # the controller does not answer: its shell line says srun is missing too
    cluster = SlurmCluster(reachable=False, command="sinfo", message="sinfo gave no answer in 5 s")
    down = replace(report, site=SiteInfo(slurm=cluster, srun_command=False))
    assert "srun, which is not on PATH here" in ids(down)["GD-HOST-007"].fix[-1]


VENV_PYTHON = "/home/alice/.venvs/gpudoctor/bin/python"


def test_fixes_start_gpudoctor_as_it_was_started_where_none_is_on_path():
    # run as `python -m gpudoctor check` from a venv not on PATH, the fixes said
    # '$ gpudoctor check --partition gpu', which failed there: 'gpudoctor: command not found'
    report = s.login_node()
    venv = replace(
        report, host=replace(report.host, gpudoctor_command=(VENV_PYTHON, "-m", "gpudoctor"))
    )
    login = ids(venv)["GD-HOST-007"]
    assert f"then run {VENV_PYTHON} -m gpudoctor check there." in login.fix
    assert (
        f"Or check one of its nodes from here: $ {VENV_PYTHON} -m gpudoctor check --partition gpu"
    ) in login.fix
    assert f"and set up an environment for those GPUs: $ {VENV_PYTHON} -m gpudoctor onboard" in (
        login.fix
    )
    assert not any("$ gpudoctor" in line for line in login.fix)
    # redacted as every path of the report is (the fix of a redacted report too)
    from gpudoctor.model.redact import redact

    hidden = ids(redact(venv))["GD-HOST-007"]
    assert hidden.fix[-1] == (
        "and set up an environment for those GPUs: $ '/home/<user>/.venvs/gpudoctor/bin/python' "
        "-m gpudoctor onboard"
    )
    # gpudoctor on PATH, and reports written before the field: as before
    for command in (("gpudoctor",), None):
        plain = replace(report, host=replace(report.host, gpudoctor_command=command))
        assert "Or check one of its nodes from here: $ gpudoctor check --partition gpu" in (
            ids(plain)["GD-HOST-007"].fix
        )
    # a report's interpreter path is one word of the command, or the word to replace
    for path, shown in (("/opt/my env/python", "'/opt/my env/python'"), ("-x", "PYTHON")):
        odd = replace(
            report, host=replace(report.host, gpudoctor_command=(path, "-m", "gpudoctor"))
        )
        assert f"and set up an environment for those GPUs: $ {shown} -m gpudoctor onboard" in (
            ids(odd)["GD-HOST-007"].fix
        )


def test_a_suggested_make_env_starts_gpudoctor_as_it_was_started():
    # GD-TORCH-004 on a login node and every make-env a fix plans said bare `gpudoctor`
    from gpudoctor.rules.facts import make_env_command

    report = b.with_framework(
        s.login_node(), "torch", version="2.13.0+cpu", cuda_build=False, build_cuda=None
    )
    venv = replace(
        report, host=replace(report.host, gpudoctor_command=(VENV_PYTHON, "-m", "gpudoctor"))
    )
    found = ids(venv)["GD-TORCH-004"]
    assert (
        f"An environment for those nodes: $ {VENV_PYTHON} -m gpudoctor make-env --partition gpu"
        in (found.fix)
    )
    assert make_env_command(venv, "torch").startswith(f"{VENV_PYTHON} -m gpudoctor make-env ")
    assert make_env_command(report, "torch").startswith("gpudoctor make-env ")


def test_a_windows_report_starts_gpudoctor_as_powershell_and_cmd_run_it():
    # 'C:\...\python.exe' -m gpudoctor make-env ...: shlex's single quotes, which PowerShell
    # reads as a string ('Unexpected token -m') and cmd.exe as part of the program's name
    from gpudoctor.rules.facts import make_env_command

    report = b.windows_laptop()
    exe = r"C:\Users\ana\venv\Scripts\python.exe"
    venv = replace(report, host=replace(report.host, gpudoctor_command=(exe, "-m", "gpudoctor")))
    assert make_env_command(venv).startswith(f"{exe} -m gpudoctor make-env")
    # a path neither shell runs unquoted (a space, '&', a redacted '<user>'): the word to replace
    for odd in (r"C:\Program Files\Python311\python.exe", r"C:\Users\<user>\python.exe"):
        there = replace(
            report, host=replace(report.host, gpudoctor_command=(odd, "-m", "gpudoctor"))
        )
        assert make_env_command(there).startswith("PYTHON -m gpudoctor make-env")
    # Linux as before: one word in single quotes where it needs them
    linux = replace(
        s.login_node(),
        host=replace(s.login_node().host, gpudoctor_command=("/opt/my env/py", "-m", "gpudoctor")),
    )
    assert make_env_command(linux).startswith("'/opt/my env/py' -m gpudoctor make-env")


def test_the_unanswered_controllers_check_starts_gpudoctor_as_it_was_started():
    # GD-DRV-001 there said `gpudoctor check` names the GPU partitions, GD-HOST-007 beside it
    # `VENV -m gpudoctor check`: only the second runs from a venv not on PATH
    cluster = SlurmCluster(reachable=False, command="sinfo", message="sinfo gave no answer in 5 s")
    report = replace(s.login_node(), site=SiteInfo(slurm=cluster))
    venv = replace(
        report, host=replace(report.host, gpudoctor_command=(VENV_PYTHON, "-m", "gpudoctor"))
    )
    line = (
        f"then `{VENV_PYTHON} -m gpudoctor check` names the GPU partitions, and a GPU node's "
        "shell is"
    )
    assert line in ids(venv)["GD-DRV-001"].fix
    assert f"`{VENV_PYTHON} -m gpudoctor check`" in ids(venv)["GD-HOST-007"].fix[-1]
