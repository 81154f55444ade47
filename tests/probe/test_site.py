"""The where-am-I probes over recorded trees: SLURM job, Apptainer, modules, storage."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from gpudoctor.probe.base import ProbeContext
from gpudoctor.probe.host import detect_container
from gpudoctor.probe.modules import module_prefixes, probe_modules
from gpudoctor.probe.site import probe_site
from gpudoctor.probe.storage import mount_of, parse_mounts, walk_size
from tests.render.site_scenarios import PYTHON, TREES, fake_statvfs, site_of

GIB = 1 << 30


def test_a_job_without_gres_has_no_gpu_variables_and_the_driver_lists_the_node_gpus():
    site = site_of("job_without_gres", {"SLURM_JOB_ID": "7", "SLURM_JOB_PARTITION": "gpu"})
    assert site.slurm_job is not None
    assert (site.slurm_job.job_id, site.slurm_job.partition) == ("7", "gpu")
    assert site.slurm_job.gpu_variables == {}
    assert site.driver_gpus == ("0000:18:00.0", "0000:2a:00.0")


def test_a_job_with_gres_records_its_gpu_variables():
    site = site_of("job_without_gres", {"SLURM_JOB_ID": "7", "SLURM_JOB_GPUS": "0"})
    assert site.slurm_job is not None and site.slurm_job.gpu_variables == {"SLURM_JOB_GPUS": "0"}


def test_outside_a_job_there_is_no_job():
    assert site_of("login_node", {}).slurm_job is None


def test_apptainer_without_nv_is_recognised():
    ctx = ProbeContext(root=TREES / "apptainer_without_nv", env={"APPTAINER_NAME": "x.sif"})
    assert detect_container(ctx) == "apptainer"
    assert probe_site(ctx, fake_statvfs({}), storage=False).nv_libs is False


def test_apptainer_with_nv_has_libcuda_in_its_libs(tmp_path):
    (tmp_path / ".singularity.d/libs").mkdir(parents=True)
    (tmp_path / ".singularity.d/libs/libcuda.so.1").write_text("")
    ctx = ProbeContext(root=tmp_path, env={})
    assert detect_container(ctx) == "apptainer"
    assert probe_site(ctx, fake_statvfs({}), storage=False).nv_libs is True


def test_kubernetes_is_recognised_by_its_service_variable(tmp_path):
    ctx = ProbeContext(root=tmp_path, env={"KUBERNETES_SERVICE_HOST": "10.0.0.1"})
    assert detect_container(ctx) == "kubernetes"


def test_sinfo_is_looked_up_on_the_probed_path_only(tmp_path):
    ctx = ProbeContext(root=tmp_path, env={"PATH": str(tmp_path)})
    assert probe_site(ctx, fake_statvfs({}), storage=False).slurm_commands is False
    sinfo = tmp_path / "sinfo"
    sinfo.write_text("#!/bin/sh\n")
    sinfo.chmod(0o755)
    assert probe_site(ctx, fake_statvfs({}), storage=False).slurm_commands is True


def test_lua_and_tcl_modulefiles_give_their_install_prefixes():
    tree = TREES / "module_shadowing" / "sw" / "modulefiles"
    assert module_prefixes((tree / "cuda" / "12.4.lua").read_text()) == ("/sw/pkgs/cuda/12.4.1",)
    assert module_prefixes((tree / "cudnn" / "8.9").read_text()) == ("/sw/pkgs/cudnn/8.9.7-cuda12",)


def test_system_prefixes_are_not_taken_as_a_module_prefix():
    assert module_prefixes('prepend_path("PATH", "/usr/bin")\nsetenv("X", "/opt")') == ()


def test_paths_in_modulefile_comments_are_not_prefixes():
    lua = '-- Built in /sw/src, installed below it\nlocal base = "/sw/cuda/12.4" -- the toolkit\n'
    tcl = "#%Module1.0\n  # was /sw/old/nccl\nset root /sw/nccl/2.21\n"
    assert module_prefixes(lua) == ("/sw/cuda/12.4",)
    assert module_prefixes(tcl) == ("/sw/nccl/2.21",)


def test_loaded_modules_pair_names_with_files():
    ctx = ProbeContext(
        root=TREES / "module_shadowing",
        env={
            "LOADEDMODULES": "cuda/12.4:cudnn/8.9",
            "_LMFILES_": "/sw/modulefiles/cuda/12.4.lua:/sw/modulefiles/cudnn/8.9",
        },
    )
    modules, errors = probe_modules(ctx)
    assert errors == ()
    assert [(m.name, m.file) for m in modules] == [
        ("cuda/12.4", "/sw/modulefiles/cuda/12.4.lua"),
        ("cudnn/8.9", "/sw/modulefiles/cudnn/8.9"),
    ]
    assert modules[1].prefixes == ("/sw/pkgs/cudnn/8.9.7-cuda12",)


def test_mismatched_module_lists_keep_names_without_files():
    ctx = ProbeContext(env={"LOADEDMODULES": "a/1:b/2", "_LMFILES_": "/x/a/1"})
    modules, _ = probe_modules(ctx)
    assert [(m.name, m.file) for m in modules] == [("a/1", None), ("b/2", None)]


def test_a_modulefile_that_is_a_fifo_is_not_opened(tmp_path: Path):
    """`_LMFILES_` is the user's to set: opening a FIFO with no writer blocks forever."""
    os.mkfifo(tmp_path / "cuda.lua")
    (tmp_path / "cudnn.lua").write_text('prepend_path("LD_LIBRARY_PATH", "/sw/cudnn/9.1/lib")\n')
    ctx = ProbeContext(
        env={
            "LOADEDMODULES": "cuda/12.4:cudnn/9.1",
            "_LMFILES_": f"{tmp_path}/cuda.lua:{tmp_path}/cudnn.lua",
        }
    )
    modules, errors = probe_modules(ctx, timeout_s=5)
    assert errors == ()
    assert [m.prefixes for m in modules] == [(), ("/sw/cudnn/9.1",)]


def test_modulefiles_that_never_answer_are_a_timeout_not_a_hang(monkeypatch):
    """A modulefile on an NFS share whose server is gone: its read blocks in the kernel."""
    import gpudoctor.probe.modules as modules_probe

    gone = threading.Event()

    def hung_read(ctx: ProbeContext, path: str) -> str | None:
        gone.wait(30)
        return None

    monkeypatch.setattr(modules_probe, "_read_head", hung_read)
    ctx = ProbeContext(env={"LOADEDMODULES": "cuda/12.4", "_LMFILES_": "/sw/cuda/12.4.lua"})
    start = time.monotonic()
    try:
        modules, errors = probe_modules(ctx, timeout_s=0.3)
    finally:
        gone.set()
    assert time.monotonic() - start < 10  # a bound, not a speed target: it was 30 s
    assert [(m.name, m.file, m.prefixes) for m in modules] == [
        ("cuda/12.4", "/sw/cuda/12.4.lua", ())
    ]
    assert [(e.field, e.code) for e in errors] == [("site.modules", "timeout")]
    assert "could not be read in 0.3 s" in errors[0].message


def test_mounts_decide_the_file_system_of_a_path():
    mounts = parse_mounts((TREES / "login_node/proc/self/mounts").read_text())
    assert mount_of("/home/ada/.cache/pip", mounts).fs_type == "nfs4"
    assert mount_of("/homework", mounts).fs_type == "ext4"
    assert parse_mounts("/dev/x /mnt/my\\040disk ext4 rw 0 0")[0].point == "/mnt/my disk"


def test_a_mount_point_outside_ascii_is_read_as_written():
    # unicode_escape read the UTF-8 bytes as Latin-1: '/media/josÃ©', and /media/josé/data
    # was then placed on the root file system
    mounts = parse_mounts("/dev/x / ext4 rw 0 0\n/dev/sdb1 /media/jos\u00e9 xfs rw 0 0\n")
    assert mounts[1].point == "/media/jos\u00e9"
    assert mount_of("/media/jos\u00e9/data", mounts).fs_type == "xfs"
    assert parse_mounts("/dev/y /a\\134b\\011c ext4 rw 0 0")[0].point == "/a\\b\tc"


def test_storage_records_home_env_and_caches_on_their_file_systems():
    site = site_of("login_node", {}, {"/home/ada": (20 * GIB, GIB)})
    storage = site.storage
    assert storage is not None and storage.home is not None and storage.environment is not None
    assert (storage.home.fs_type, storage.home.total_bytes) == ("nfs4", 20 * GIB)
    assert storage.environment.path == "/home/ada/venvs/dl"
    caches = {c.name: c for c in storage.caches}
    assert caches["pip"].size_bytes and caches["pip"].complete
    assert caches["pip"].fs_type == "nfs4"
    assert caches["uv"].size_bytes is None  # not there
    assert caches["huggingface"].path == "/home/ada/.cache/huggingface"


def test_cache_variables_move_the_caches():
    site = site_of("login_node", {"PIP_CACHE_DIR": "/scratch/ada/pip", "HF_HOME": "/scratch/hf"})
    caches = {c.name: c.path for c in site.storage.caches}
    assert caches["pip"] == "/scratch/ada/pip" and caches["huggingface"] == "/scratch/hf"


def test_the_cache_walk_stops_at_its_entry_cap(tmp_path):
    for i in range(50):
        (tmp_path / f"f{i}").write_text("x" * 10)
    size, complete = walk_size(tmp_path, entries=10)
    assert not complete and size > 0
    assert walk_size(tmp_path)[1] is True


def test_the_cache_walk_stops_at_its_time_cap(tmp_path):
    for i in range(5):
        (tmp_path / f"d{i}").mkdir()
    start = time.monotonic()
    _, complete = walk_size(tmp_path, time_s=0.0)
    assert not complete and time.monotonic() - start < 0.5


def test_quota_is_read_through_run_with_its_bound(tmp_path):
    quota = tmp_path / "quota"
    quota.write_text("#!/bin/sh\n")
    quota.chmod(0o755)
    calls = []

    def run(argv, *, timeout_s):
        from gpudoctor.probe.runcmd import CmdResult

        calls.append((tuple(argv), timeout_s))
        return CmdResult(argv=tuple(argv), returncode=0, stdout="Disk quotas for user ada\n")

    ctx = ProbeContext(
        root=TREES / "login_node", env={"HOME": "/home/ada", "PATH": str(tmp_path)}, run=run
    )
    site = probe_site(ctx, fake_statvfs({}))
    assert calls == [(("quota", "-s"), 2.0)]
    assert site.storage.quota == ("Disk quotas for user ada",)


def test_the_real_machine_is_probed_without_error():
    site = probe_site(ProbeContext(env=dict(os.environ)))
    assert site.errors == () or all(e.code == "failed" for e in site.errors)
    assert Path("/dev/shm").exists() == (site.shm_bytes is not None)


def test_a_file_system_that_never_answers_is_a_timeout_not_a_hang():
    """statvfs on an NFS home whose server is gone blocks in the kernel, with no timeout."""
    from gpudoctor.probe.storage import probe_storage

    gone = threading.Event()

    def hung_statvfs(path: str) -> object:
        gone.wait(30)  # as long as the server stays away
        raise OSError("never reached")

    ctx = ProbeContext(root=TREES / "login_node", env={"HOME": "/home/ada"}, python=PYTHON)
    start = time.monotonic()
    try:
        storage, errors = probe_storage(ctx, hung_statvfs, timeout_s=0.3)
    finally:
        gone.set()
    assert time.monotonic() - start < 10  # a bound, not a speed target: it was 30 s
    assert storage is None
    assert [(e.field, e.code) for e in errors] == [("site.storage", "timeout")]
    assert "gave no answer in 0.3 s" in errors[0].message


def _toolkit_tree(root: Path, *files: str, daemon_json: str | None = None) -> ProbeContext:
    for name in files:
        path = root / name.lstrip("/")
        if name.endswith("/"):
            path.mkdir(parents=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("")
    if daemon_json is not None:
        (root / "etc/docker").mkdir(parents=True, exist_ok=True)
        (root / "etc/docker/daemon.json").write_text(daemon_json)
    return ProbeContext(root=root, env={"PATH": ""})


def test_docker_without_the_nvidia_container_toolkit_is_recorded(tmp_path: Path) -> None:
    from gpudoctor.probe.site import container_toolkit

    ctx = _toolkit_tree(tmp_path, "/usr/bin/docker")
    found = container_toolkit(ctx)
    assert found is not None and found.docker == "/usr/bin/docker"
    assert (found.binaries, found.runtimes, found.cdi_specs, found.present) == ((), (), (), False)
    assert probe_site(ctx, fake_statvfs({}), storage=False).container_toolkit == found


def test_each_part_of_the_toolkit_is_found_without_running_docker(tmp_path: Path) -> None:
    from gpudoctor.probe.site import container_toolkit

    hook = _toolkit_tree(
        tmp_path / "hook", "/etc/docker/", "/usr/bin/nvidia-container-runtime-hook"
    )
    found = container_toolkit(hook)
    assert found is not None and found.docker == "/etc/docker"
    assert found.binaries == ("/usr/bin/nvidia-container-runtime-hook",) and found.present
    runtime = '{"runtimes": {"nvidia": {"args": [], "path": "nvidia-container-runtime"}}}'
    configured = _toolkit_tree(tmp_path / "json", "/usr/bin/docker", daemon_json=runtime)
    found = container_toolkit(configured)
    assert found is not None and found.runtimes == ("nvidia",) and found.present
    cdi = _toolkit_tree(tmp_path / "cdi", "/usr/bin/docker", "/var/run/cdi/nvidia.yaml")
    found = container_toolkit(cdi)
    assert found is not None and found.cdi_specs == ("/var/run/cdi/nvidia.yaml",)
    broken = _toolkit_tree(tmp_path / "bad", "/usr/bin/docker", daemon_json="{not json")
    found = container_toolkit(broken)
    assert found is not None and not found.present
    assert found.errors[0].message.startswith("/etc/docker/daemon.json: ")


def test_no_docker_or_inside_a_container_records_nothing(tmp_path: Path) -> None:
    from gpudoctor.probe.site import container_toolkit

    assert container_toolkit(_toolkit_tree(tmp_path / "none", "/usr/bin/python3")) is None
    inside = _toolkit_tree(tmp_path / "in", "/usr/bin/docker", "/.dockerenv")
    assert container_toolkit(inside) is None
