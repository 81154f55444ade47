"""Where-am-I rules: SLURM login nodes and jobs, container limits, home storage and caches."""

from __future__ import annotations

from collections.abc import Iterator

from gpudoctor.model import shell
from gpudoctor.model.derived import a_container, node_gpu_count, slurm_not_configured
from gpudoctor.model.findings import Severity
from gpudoctor.model.report import FsUsage, Report, SiteInfo, SlurmPartition
from gpudoctor.model.slurm import gpu_gres, gpus_given
from gpudoctor.model.slurm import gpu_partitions as cluster_gpu_partitions
from gpudoctor.rules.distro import install_container_toolkit
from gpudoctor.rules.facts import (
    env,
    gpudoctor_start,
    gpus,
    is_linux_host,
    no_nvidia_gpu,
    nvidia_traces,
)
from gpudoctor.rules.registry import Hit, KnowledgeBase, rule

NETWORK_FS = frozenset(
    {"nfs", "nfs4", "lustre", "gpfs", "beegfs", "cifs", "smb3", "ceph", "fuse.ceph", "panfs"}
)
SHM_MIN_BYTES = 1 << 30
"""Below this a DataLoader with workers runs out of shared memory (Docker gives 64 MB)."""
LOW_FREE = 0.10
CACHE_SHARE = 0.25
"""Caches taking this share of a home file system fill it (a small home)."""
GIB = 1 << 30


def gpu_partitions(site: SiteInfo) -> list[SlurmPartition]:
    """The partitions whose nodes offer a ``gpu`` GRES, default partition first."""
    return cluster_gpu_partitions(site.slurm)


def _describe(part: SlurmPartition) -> str:
    gpus_per_node = []
    for gres in part.gres:
        parsed = gpu_gres(gres)
        if parsed:
            kind, count = parsed
            gpus_per_node.append(f"{count or '?'} × {kind or 'GPU'}")
    default = " (default)" if part.default else ""
    nodes = (
        f"{part.node_count} node{'s' if part.node_count != 1 else ''}" if part.node_count else ""
    )
    features = f", features {','.join(part.features)}" if part.features else ""
    state = f", {part.available}" if part.available and part.available != "up" else ""
    if part.nodes_usable == 0:
        state += ", none of them can start a job now (drained, down or not responding)"
    return (
        f"partition {part.name}{default}: {nodes} {part.nodes}, "
        f"{' + '.join(gpus_per_node)} per node (GRES {','.join(part.gres)}){features}{state}"
    )


def _unusable(parts: list[SlurmPartition], name: str) -> bool:
    """Every node of partition ``name`` (all its sinfo rows) drained, down or unresponsive."""
    rows = [p for p in parts if p.name == name]
    return bool(rows) and all(p.nodes_usable == 0 for p in rows)


NO_SRUN = (
    "srun is not on PATH here (sinfo is): load the cluster's SLURM module first "
    "($ module load slurm; `module avail slurm` names it), or submit a batch job with sbatch:"
)
"""GD-HOST-007's first fix line where ``srun`` is missing: its srun lines failed with 'srun:
command not found'."""


def _get_on(
    partition: str | None, srun: bool | None = True, gpudoctor: str = "gpudoctor"
) -> tuple[str, ...]:
    if srun is False:
        return (
            NO_SRUN,
            *([f"#SBATCH -p {shell.sbatch_word(partition, 'PARTITION')}"] if partition else []),
            "#SBATCH --gres=gpu:1",
            f"then run {gpudoctor} check there.",
            *(
                [
                    f"With srun on PATH, check one of its nodes from here: $ {gpudoctor} check "
                    "--partition " + shell.word(partition, "PARTITION"),
                ]
                if partition
                else []
            ),
        )
    p = f"-p {shell.word(partition, 'PARTITION')} " if partition else ""
    return (
        f"$ srun {p}--gres=gpu:1 --pty bash   # an interactive shell on a GPU node",
        "or in a batch script:",
        *([f"#SBATCH -p {shell.sbatch_word(partition, 'PARTITION')}"] if partition else []),
        "#SBATCH --gres=gpu:1",
        f"then run {gpudoctor} check there.",
        *(
            [
                f"Or check one of its nodes from here: $ {gpudoctor} check --partition "
                + shell.word(partition, "PARTITION"),
                f"and set up an environment for those GPUs: $ {gpudoctor} onboard",
            ]
            if partition
            else []
        ),
    )


@rule(
    "GD-HOST-007",
    area="host",
    severity=Severity.WARNING,
    severities=(Severity.WARNING, Severity.INFO),
    title="This is a login node of a SLURM cluster: the GPUs are on the compute nodes",
    why="`sinfo` answered, this machine has no NVIDIA GPU and the shell is not inside a SLURM "
    "job (`SLURM_JOB_ID` is unset): a login node. A check here diagnoses the wrong machine; "
    "the GPU partitions, their nodes, GPU types and counts come from `sinfo` (GRES such as "
    "`gpu:h100:8`), asked for at most 5 s. It is a warning (exit status 0 unless "
    "`--strict`): nothing is broken, but GPU work does not run here. It replaces the no-GPU "
    "warning GD-DRV-001, which is information on a login node. When SLURM's commands exist "
    "but the controller does not answer, or SLURM is not configured here at all (sinfo "
    "finds no `slurm.conf`: `Could not establish a configuration source`), this finding is "
    "information that says which.",
    fix="Get a shell on a GPU node (`srun -p PARTITION --gres=gpu:1 --pty bash`) or submit "
    "a batch job with `#SBATCH -p PARTITION` and `#SBATCH --gres=gpu:1`, and run the check "
    "there. Where `srun` is not on PATH (`sinfo` is: a SLURM module or package that left it "
    "out), load the cluster's SLURM module first (`module load slurm`), or submit the batch "
    "job with `sbatch`.",
    sources=(
        "https://slurm.schedmd.com/sinfo.html",
        "https://slurm.schedmd.com/gres.html",
        "https://slurm.schedmd.com/srun.html",
        "conda-forge/pytorch-cpu-feedstock#364 (a CPU build planned on a login node)",
    ),
)
def login_node(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    site = report.site
    if site is None or site.slurm is None or site.slurm_job is not None:
        return
    if not no_nvidia_gpu(report):
        return
    if not site.slurm.reachable:
        if slurm_not_configured(site.slurm):
            yield Hit(
                severity=Severity.INFO,
                title="SLURM's commands are here but SLURM is not configured on this machine",
                evidence=(site.slurm.command, site.slurm.message),
                fix=(
                    "Nothing to do unless this machine belongs to a SLURM cluster; if it does, "
                    "its slurm.conf is missing (or SLURM_CONF names another file):",
                    "$ ls -l /etc/slurm/slurm.conf; echo ${SLURM_CONF:-SLURM_CONF is not set}",
                ),
            )
            return
        yield Hit(
            severity=Severity.INFO,
            title="SLURM's commands are here but its controller did not answer",
            evidence=(site.slurm.command, site.slurm.message),
            fix=(
                "$ sinfo -s",
                "$ scontrol ping",
                f"Once it answers, `{gpudoctor_start(report)} check` "
                "names the GPU partitions; a shell on a GPU "
                + (
                    "node needs srun, which is not on PATH here: load the cluster's SLURM "
                    "module first ($ module load slurm), or submit a batch job with sbatch"
                    if site.srun_command is False
                    else "node: $ srun -p PARTITION --gres=gpu:1 --pty bash"
                ),
            ),
        )
        return
    parts = gpu_partitions(site)
    evidence = ["sinfo answered; no NVIDIA GPU here; SLURM_JOB_ID is not set"]
    evidence += [_describe(p) for p in parts] or ["no partition lists a gpu GRES"]
    down = bool(parts) and _unusable(parts, parts[0].name)
    # "use another GPU partition" was said where there was none: name those with nodes up
    names = dict.fromkeys(p.name for p in parts)  # a partition has a row per GRES
    others = [n for n in list(names)[1:] if not _unusable(parts, n)]
    elsewhere = (
        f"Ask the admins, or use partition {', '.join(others)}, which has nodes up."
        if len(others) == 1
        else f"Ask the admins, or use one of partitions {', '.join(others)}, which have nodes up."
        if others
        else "Ask the admins: no other GPU partition has nodes up."
    )
    yield Hit(
        title=(
            f"This is a SLURM login node: the GPUs are on partition {parts[0].name}"
            + (f" (and {len(parts) - 1} more)" if len(parts) > 1 else "")
            + (", whose nodes are all drained or down now" if down else "")
            if parts
            else "This is a SLURM login node; no partition lists GPUs (GRES gpu)"
        ),
        evidence=tuple(evidence),
        fix=(
            # the srun below would wait in the queue until an admin brings a node back
            *(
                [
                    f"No node of partition {parts[0].name} can start a job now: a job there "
                    f"waits until one is back. {elsewhere}",
                ]
                if down
                else []
            ),
            *_get_on(
                parts[0].name if parts else None,
                site.srun_command,
                gpudoctor_start(report),
            ),
        ),
    )


@rule(
    "GD-HOST-008",
    area="host",
    severity=Severity.ERROR,
    title="This SLURM job asked for no GPU, on a node that has them",
    why="SLURM gives a job only the GPUs it asked for (`--gres=gpu:N` or `--gpus=N`): the "
    "device cgroup hides the others, and `SLURM_JOB_GPUS`, `SLURM_STEP_GPUS`, "
    "`SLURM_GPUS_ON_NODE` stay unset. The driver still lists every GPU of the node in "
    "`/proc/driver/nvidia/gpus` and on the PCI bus, while NVML and CUDA see none.",
    fix="Ask for a GPU: `#SBATCH --gres=gpu:1` in the batch script, or `srun --gres=gpu:1 ...`.",
    sources=(
        "https://slurm.schedmd.com/gres.html",
        "https://slurm.schedmd.com/sbatch.html",
    ),
)
def job_without_gpu(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    site = report.site
    if site is None or site.slurm_job is None or gpus_given(site.slurm_job.gpu_variables):
        return
    on_node = node_gpu_count(report)
    visible = len(gpus(report))
    if on_node == 0 or visible >= on_node:
        return
    job = site.slurm_job
    where = f"job {job.job_id}" + (f", step {job.step_id}" if job.step_id else "")
    evidence = [
        f"SLURM {where} on partition {job.partition or '?'}",
        "SLURM_JOB_GPUS, SLURM_STEP_GPUS and SLURM_GPUS_ON_NODE are not set",
        f"the node has {on_node} GPU{'s' if on_node != 1 else ''}; this job sees {visible}",
    ]
    cvd = env(report, "CUDA_VISIBLE_DEVICES")
    if cvd is not None:
        evidence.append(f"CUDA_VISIBLE_DEVICES={cvd!r}")
    p = f"-p {shell.word(job.partition, 'PARTITION')} " if job.partition else ""
    yield Hit(
        evidence=tuple(evidence),
        fix=(
            "In the batch script:",
            *(
                [f"#SBATCH -p {shell.sbatch_word(job.partition, 'PARTITION')}"]
                if job.partition
                else []
            ),
            "#SBATCH --gres=gpu:1",
            f"or: $ srun {p}--gres=gpu:1 python train.py",
        ),
    )


@rule(
    "GD-HOST-009",
    area="host",
    severity=Severity.INFO,
    title="This SLURM job sees some of the node's GPUs; the others are hidden from it",
    why="A job sees the GPUs it was given; the node's other GPUs belong to other jobs. "
    "This is how SLURM shares a node, noted so that a smaller GPU count than "
    "`nvidia-smi` on the node shows is not mistaken for a fault.",
    fix="Ask for more GPUs (`--gres=gpu:N`) if the job needs them.",
    sources=(
        "https://slurm.schedmd.com/gres.html",
        "https://slurm.schedmd.com/cgroup.conf.html (ConstrainDevices)",
    ),
)
def job_sees_some(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    site = report.site
    if site is None or site.slurm_job is None or not gpus_given(site.slurm_job.gpu_variables):
        return
    on_node, visible = node_gpu_count(report), len(gpus(report))
    if 0 < visible < on_node:
        given = ", ".join(
            f"{k}={v}" for k, v in sorted(gpus_given(site.slurm_job.gpu_variables).items())
        )
        yield Hit(
            title=f"This SLURM job sees {visible} of the node's {on_node} GPUs",
            evidence=(given, f"NVML lists {visible}; the driver owns {on_node}"),
        )


@rule(
    "GD-HOST-010",
    area="host",
    severity=Severity.WARNING,
    title="The container's /dev/shm is small: DataLoader workers will be killed",
    why="PyTorch's DataLoader workers hand batches to the main process through shared memory "
    "(`/dev/shm`). Docker gives a container 64 MB unless told otherwise; a few batches of "
    "images fill it and the workers die with `bus error` or `DataLoader worker (pid N) is "
    "killed by signal: Bus error`. gpudoctor warns below 1 GiB in a container.",
    fix="`docker run --shm-size=8g ...` or `--ipc=host`; in Kubernetes mount an `emptyDir` "
    "with `medium: Memory` at `/dev/shm`.",
    sources=(
        "https://docs.docker.com/reference/cli/docker/container/run/ (--shm-size, --ipc)",
        "pytorch/pytorch#2244 (DataLoader workers killed by a small /dev/shm)",
    ),
)
def small_shm(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    site = report.site
    container = report.host.container
    if site is None or site.shm_bytes is None or not container or site.shm_bytes >= SHM_MIN_BYTES:
        return
    if container == "apptainer":
        return  # Apptainer shares the host's /dev/shm
    fix = (
        ("volumes: - name: dshm, emptyDir: {medium: Memory, sizeLimit: 8Gi}",)
        if container == "kubernetes"
        else ("$ docker run --shm-size=8g ...", "or share the host's: $ docker run --ipc=host ...")
    )
    yield Hit(
        evidence=(f"/dev/shm: {_size(site.shm_bytes)} in {a_container(container)}",),  # noqa: S108
        fix=(*fix, "or DataLoader(num_workers=0), which needs no shared memory (slower)"),
    )


def _size(n: int) -> str:
    for unit, factor in (("TiB", 1 << 40), ("GiB", GIB), ("MiB", 1 << 20)):
        if n >= factor:
            return f"{n / factor:.1f} {unit}"
    return f"{n} bytes"


def _move_caches(report: Report) -> tuple[str, ...]:
    storage = report.site.storage if report.site else None
    caches = [c for c in (storage.caches if storage else ()) if c.size_bytes]
    names = {c.variable: c.name for c in caches}
    variables = names or {
        "PIP_CACHE_DIR": "pip",
        "UV_CACHE_DIR": "uv",
        "CONDA_PKGS_DIRS": "conda",
        "HF_HOME": "huggingface",
        "APPTAINER_CACHEDIR": "apptainer",
    }
    return (
        "Move the caches to scratch (in ~/.bashrc):",
        *(f"$ export {var}=/scratch/$USER/{name}" for var, name in variables.items()),
    )


def _free_share(fs: FsUsage) -> tuple[float | None, float | None]:
    space = fs.free_bytes / fs.total_bytes if fs.total_bytes and fs.free_bytes is not None else None
    inodes = (
        fs.free_inodes / fs.total_inodes if fs.total_inodes and fs.free_inodes is not None else None
    )
    return space, inodes


@rule(
    "GD-HOST-011",
    area="host",
    severity=Severity.WARNING,
    title="The home file system is almost full",
    why="pip, uv, conda, Hugging Face and Apptainer download into the home directory by "
    "default, and a full home makes installs fail half-way (`No space left on device`, also "
    "when inodes, not bytes, run out). gpudoctor warns below 10 % free space or inodes, "
    "and shows `quota -s` where it exists.",
    fix="Move the caches to scratch with `PIP_CACHE_DIR`, `UV_CACHE_DIR`, `CONDA_PKGS_DIRS`, "
    "`HF_HOME` and `APPTAINER_CACHEDIR`, and clean them (`pip cache purge`, `uv cache clean`, "
    "`conda clean -a`).",
    sources=(
        "https://pip.pypa.io/en/stable/topics/caching/",
        "https://docs.astral.sh/uv/concepts/cache/",
        "https://huggingface.co/docs/huggingface_hub/package_reference/environment_variables",
    ),
)
def home_full(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    storage = report.site.storage if report.site else None
    home = storage.home if storage else None
    if home is None:
        return
    space, inodes = _free_share(home)
    low = [
        f"{what} free: {share:.0%}"
        for what, share in (("space", space), ("inodes", inodes))
        if share is not None and share < LOW_FREE
    ]
    if not low:
        return
    evidence = [
        f"{home.path} ({home.fs_type or '?'} at {home.mount_point or '?'}): " + "; ".join(low)
    ]
    if home.free_bytes is not None:
        evidence.append(f"{_size(home.free_bytes)} free of {_size(home.total_bytes or 0)}")
    evidence += [f"quota: {line}" for line in storage.quota] if storage else []
    evidence += _cache_lines(report, home)
    yield Hit(
        evidence=tuple(evidence),
        fix=(*_move_caches(report), "$ pip cache purge; uv cache clean; conda clean -a"),
    )


def _cache_lines(report: Report, fs: FsUsage) -> list[str]:
    storage = report.site.storage if report.site else None
    return [
        f"{c.name} cache {c.path}: {'at least ' if not c.complete else ''}{_size(c.size_bytes)}"
        for c in (storage.caches if storage else ())
        if c.size_bytes and c.mount_point == fs.mount_point
    ]


@rule(
    "GD-HOST-012",
    area="host",
    severity=Severity.WARNING,
    title="Download caches fill a small home directory",
    why="On clusters home directories are small (often 10 to 50 GB) and backed up; a "
    "PyTorch install caches gigabytes of wheels, a model download tens more. gpudoctor "
    "sizes each cache with a walk bounded in time and entries (a cut walk says *at least*) "
    "and warns when those in the home file system take a quarter of it or more.",
    fix="Point the cache variables at scratch or project space and clean the old caches.",
    sources=(
        "https://pip.pypa.io/en/stable/topics/caching/",
        "https://docs.astral.sh/uv/concepts/cache/",
        "https://docs.conda.io/projects/conda/en/latest/user-guide/configuration/settings.html",
    ),
)
def caches_fill_home(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    storage = report.site.storage if report.site else None
    home = storage.home if storage else None
    if storage is None or home is None or not home.total_bytes:
        return
    in_home = [c for c in storage.caches if c.size_bytes and c.mount_point == home.mount_point]
    total = sum(c.size_bytes or 0 for c in in_home)
    if total < GIB or total < CACHE_SHARE * home.total_bytes:
        return
    yield Hit(
        evidence=(
            f"caches take {_size(total)} of the {_size(home.total_bytes)} home file system "
            f"({total / home.total_bytes:.0%})",
            *_cache_lines(report, home),
        ),
        fix=_move_caches(report),
    )


@rule(
    "GD-HOST-013",
    area="host",
    severity=Severity.INFO,
    title="The uv cache is on another file system than the environment: uv copies",
    why="uv installs by hard-linking files from its cache into the environment. Across file "
    "systems a hard link is impossible, so uv falls back to copying (and warns `Failed to "
    "hardlink files; falling back to full copy`): slower installs and twice the space.",
    fix="Put the cache on the environment's file system (`UV_CACHE_DIR`), or accept copies "
    "silently with `UV_LINK_MODE=copy`.",
    sources=(
        "https://docs.astral.sh/uv/concepts/cache/",
        "https://docs.astral.sh/uv/reference/settings/#link-mode",
    ),
)
def uv_cache_elsewhere(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    storage = report.site.storage if report.site else None
    envfs = storage.environment if storage else None
    if storage is None or envfs is None or envfs.mount_point is None:
        return
    for cache in storage.caches:
        if (
            cache.name == "uv"
            and cache.size_bytes
            and cache.mount_point
            not in (
                None,
                envfs.mount_point,
            )
        ):
            yield Hit(
                evidence=(
                    f"uv cache {cache.path} on {cache.mount_point} ({cache.fs_type})",
                    f"environment {envfs.path} on {envfs.mount_point} ({envfs.fs_type})",
                ),
                fix=(
                    "$ export UV_CACHE_DIR="
                    + _under(envfs.mount_point.rstrip("/"), "$USER/.uv-cache"),
                    "or: $ export UV_LINK_MODE=copy",
                ),
            )


@rule(
    "GD-HOST-014",
    area="host",
    severity=Severity.INFO,
    title="The Python environment is on a network file system",
    why="NFS, Lustre, GPFS and BeeGFS serve large files well and many small ones slowly: "
    "`import torch` opens thousands of files, which takes seconds to minutes there, and "
    "multiplies across the ranks of a job.",
    fix="Keep environments on local disk or in a container image (one file), or accept a "
    "slow first import.",
    sources=(
        "https://docs.astral.sh/uv/concepts/cache/",
        "https://docs.nersc.gov/development/languages/python/",
    ),
)
def env_on_network(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    storage = report.site.storage if report.site else None
    envfs = storage.environment if storage else None
    if envfs is not None and envfs.fs_type in NETWORK_FS:
        yield Hit(
            title=f"The Python environment is on {envfs.fs_type}: imports are slow",
            evidence=(f"{envfs.path} on {envfs.mount_point} ({envfs.fs_type})",),
            fix=(
                "Keep it on local disk, or in an Apptainer image:",
                "$ apptainer build env.sif docker://pytorch/pytorch",
            ),
        )


@rule(
    "GD-HOST-061",
    area="host",
    severity=Severity.WARNING,
    title="Docker is installed but the NVIDIA Container Toolkit is not: docker run --gpus "
    "fails here",
    why="Docker gives a container the GPU (`docker run --gpus all`, compose's `capabilities: "
    "[gpu]`) through the NVIDIA Container Toolkit: dockerd registers its `gpu` device driver "
    "only when the toolkit's `nvidia-container-runtime-hook` is on its PATH as it starts, and "
    'without it every such container is refused with *could not select device driver "" '
    "with capabilities: [[gpu]]* (compose's `driver: nvidia`: *could not select device driver "
    '"nvidia"*). On a Linux host (not in a container, not WSL) with an '
    "NVIDIA GPU and Docker (the `docker` command, or `/etc/docker`), check looks for the "
    "toolkit without running docker (a daemon that does not answer cannot hang it): its "
    "programs (`nvidia-container-runtime-hook`, `nvidia-ctk`, `nvidia-container-runtime`, "
    "`nvidia-container-toolkit`, `nvidia-container-cli`) on PATH or in the system's bin "
    "folders, an NVIDIA runtime in `/etc/docker/daemon.json`, a CDI specification in "
    "`/etc/cdi` or `/var/run/cdi`. With none of them it is a warning: the GPU works on the "
    "host, no GPU container starts. The install commands are those of NVIDIA's guide, apt or "
    "dnf by the distribution; the toolkit takes effect once Docker restarts.",
    fix="Install nvidia-container-toolkit from NVIDIA's repository, then `sudo nvidia-ctk "
    "runtime configure --runtime=docker` and `sudo systemctl restart docker`.",
    sources=(
        "https://docs.nvidia.com/datacenter/cloud-native/container-toolkit/latest/"
        "install-guide.html (apt and dnf repositories, nvidia-ctk runtime configure "
        "--runtime=docker, restart docker; read 2026-12-08)",
        "moby/moby daemon/nvidia_linux.go (the nvidia device driver, capability gpu, is "
        "registered only if nvidia-container-runtime-hook is found on PATH; read 2026-12-08)",
        'NVIDIA/nvidia-docker#1034 (could not select device driver "" with capabilities: [[gpu]])',
    ),
)
def container_toolkit_missing(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    toolkit = report.site.container_toolkit if report.site else None
    if toolkit is None or toolkit.present or report.host.container or not is_linux_host(report):
        return
    traces = nvidia_traces(report)
    if not traces:
        return  # no GPU to give a container
    evidence = [f"Docker: {toolkit.docker}", f"NVIDIA GPU: {traces[0]}"]
    evidence.append(
        "none of the toolkit's programs (nvidia-container-runtime-hook, nvidia-ctk, "
        "nvidia-container-runtime, nvidia-container-toolkit, nvidia-container-cli) on PATH "
        "or in the system's bin folders"
    )
    evidence.append(
        "no NVIDIA runtime in /etc/docker/daemon.json and no NVIDIA CDI specification in "
        "/etc/cdi or /var/run/cdi"
    )
    evidence += [f"{e.field}: {e.message}" for e in toolkit.errors]
    yield Hit(
        evidence=tuple(evidence),
        fix=(
            *install_container_toolkit(report),
            "$ sudo nvidia-ctk runtime configure --runtime=docker",
            "$ sudo systemctl restart docker",
            "$ docker run --rm --gpus all ubuntu nvidia-smi   # the GPU, from a container",
        ),
    )


def _under(folder: str, rest: str) -> str:
    """``folder/rest`` for a shell: ``folder`` from the report in single quotes where it
    needs them, ``rest`` (``$USER/...``) left for the shell to expand."""
    return f"{shell.word(folder, 'FOLDER') if folder else ''}/{rest}"
