"""Rules of issue 21 against one-change variants of the healthy report: each fires only on its
own evidence, and the generic NVML findings step aside only when one names the cause."""

from __future__ import annotations

from dataclasses import replace

from gpudoctor.model.findings import Severity
from gpudoctor.model.report import (
    Compiler,
    DeviceAccessInfo,
    DeviceNode,
    FrameworkDevice,
    PciFunction,
    ToolchainInfo,
)
from gpudoctor.rules.severity_reasons import reason
from tests.rules.builders import (
    FakeKb,
    broken_nvml,
    findings,
    h100,
    healthy,
    with_driver,
    with_env,
    with_framework,
    with_host,
    with_nvml,
)


def denied(error: str, *, mode: str = "crw-rw-rw-", **access: object) -> DeviceAccessInfo:
    node = DeviceNode(path="/dev/nvidiactl", mode=mode, open_error=error, opened=False)
    return DeviceAccessInfo(nodes=(node,), **access)  # type: ignore[arg-type]


def test_eperm_outside_a_container_is_a_host_device_cgroup():
    report = replace(
        broken_nvml(healthy(), "unknown_error", "nvmlInit failed: Unknown Error"),
        device_access=denied("EPERM: Operation not permitted", cgroup_version="v2"),
    )
    (found,) = findings(report, "GD-NVML-012")
    assert found.severity == Severity.ERROR
    assert "DeviceAllow=/dev/nvidiactl rw" in found.fix
    # /proc/devices names the GPUs' group "nvidia" from R545 (open-gpu-kernel-modules nv.c),
    # "nvidia-frontend" before: a glob covers both, char-nvidia-frontend alone misses R545+.
    assert not any(line.startswith("DeviceAllow=char-nvidia-frontend") for line in found.fix)
    assert any(line.startswith("DeviceAllow=char-nvidia* rw") for line in found.fix)
    assert findings(report, "GD-NVML-011") == []  # not a container
    assert findings(report, "GD-NVML-007") == []  # the cause is named
    # no "container's cgroup" on a machine that runs no container (a service's cgroup)
    assert not any("container" in line for line in found.evidence)
    assert (
        "cgroup v2: the device filter is an eBPF program attached to this process's cgroup "
        "(nothing lists it)"
    ) in found.evidence


def test_eperm_in_a_v1_container_quotes_devices_list():
    report = replace(
        with_host(broken_nvml(healthy(), "unknown_error"), container="docker"),
        device_access=denied(
            "EPERM: Operation not permitted",
            cgroup_version="v1",
            devices_list=("c 1:5 rwm", "c 195:* m", "c 136:* rwm"),
        ),
    )
    (found,) = findings(report, "GD-NVML-011")
    assert "cgroup v1 devices.list for NVIDIA's major 195: c 195:* m" in found.evidence
    # The udev rule is one command that writes the file, so the terminal never wraps the rule
    # line (110 characters) in two, which pasted into the file would break it.
    # docker rm -f kills the job and drops the container's own files: said before, not after
    assert found.fix[0] == (
        "Recreate the container (Kubernetes: delete the pod); this stops what runs in it and "
        "deletes what it wrote outside its volumes, so copy that out first "
        "(`docker cp NAME:PATH .`):"
    )
    assert found.fix[1] == "$ docker rm -f NAME && docker run --gpus all ..."
    (udev,) = [step for step in found.fix if "71-nvidia-dev-char.rules" in step]
    assert udev.startswith("""$ echo 'ACTION=="add", DEVPATH=="/bus/pci/drivers/nvidia", """)
    assert udev.endswith("' | sudo tee /lib/udev/rules.d/71-nvidia-dev-char.rules")


def test_eacces_on_a_restrictive_mode_is_left_to_the_permission_finding():
    report = replace(
        broken_nvml(healthy(), "no_permission", "nvmlInit failed: Insufficient Permissions"),
        device_access=denied("EACCES: Permission denied", mode="crw-rw----", selinux="enforcing"),
    )
    assert findings(report, "GD-NVML-013") == []
    assert len(findings(report, "GD-NVML-004")) == 1


def test_apparmor_denial_names_apparmor():
    report = replace(
        broken_nvml(healthy(), "no_permission"),
        device_access=denied("EACCES: Permission denied", selinux="disabled", apparmor=True),
    )
    (found,) = findings(report, "GD-NVML-013")
    assert found.title.startswith("AppArmor")


def test_an_opened_device_or_an_old_report_gives_nothing():
    ok = DeviceAccessInfo(nodes=(DeviceNode(path="/dev/nvidiactl", opened=True),))
    for report in (replace(healthy(), device_access=ok), healthy()):
        for rule_id in ("GD-NVML-011", "GD-NVML-012", "GD-NVML-013"):
            assert findings(report, rule_id) == []


def test_an_unlicensed_vgpu_reads_the_licensing_log_with_sudo():
    unlicensed = h100(virtualization_mode="vgpu", vgpu_licensed=False)
    (found,) = findings(with_nvml(healthy(), gpus=(unlicensed,)), "GD-GPU-016")
    # journalctl shows a system unit's lines only to root and the systemd-journal, adm and
    # wheel groups (journalctl(1)): without sudo, the licensing errors read as no lines at all
    assert found.fix[-1] == (
        "$ sudo systemctl restart nvidia-gridd && sudo journalctl -u nvidia-gridd -b | tail"
    )


def test_licensed_or_bare_metal_gpus_are_not_flagged():
    licensed = with_nvml(healthy(), gpus=(h100(virtualization_mode="vgpu", vgpu_licensed=True),))
    assert findings(licensed, "GD-GPU-016") == []
    passthrough = h100(virtualization_mode="passthrough", vgpu_licensed=False)
    assert findings(with_nvml(healthy(), gpus=(passthrough,)), "GD-GPU-016") == []
    assert findings(healthy(), "GD-GPU-016") == []


def test_one_gpu_left_with_nvidia_keeps_the_information():
    vfio = PciFunction(
        address="0000:02:00.0", device_id="0x2330", class_code="0x030200", driver="vfio-pci"
    )
    report = with_driver(healthy(), pci_functions=(*healthy().driver.pci_functions, vfio))
    assert findings(report, "GD-DRV-011") == []
    (info,) = findings(report, "GD-DRV-004")
    assert info.severity == Severity.INFO


def _toolchain(**changes: object) -> ToolchainInfo:
    base = ToolchainInfo(
        nvcc="/usr/local/cuda/bin/nvcc",
        nvcc_version="12.4",
        cuda_home="/usr/local/cuda",
        cuda_home_from="CUDA_HOME",
        ldconfig_read=True,
        libcuda_cache=("libcuda.so.1 => /usr/lib/x86_64-linux-gnu/libcuda.so.1",),
        compilers=(Compiler(name="gcc", path="/usr/bin/gcc"),),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_nvcc_of_the_same_major_builds():
    # torch 2.9.1+cu128 with nvcc 12.4: PyTorch only warns about the minor
    assert findings(replace(healthy(), toolchain=_toolchain()), "GD-CUDA-012") == []
    (found,) = findings(
        replace(healthy(), toolchain=_toolchain(nvcc_version="13.0")), "GD-CUDA-012"
    )
    assert (
        "(13.0) mismatches the version that was used to compile PyTorch (12.8)"
        in (found.evidence[2])
    )
    assert "(the toolkit from CUDA_HOME: /usr/local/cuda)" in found.evidence[0]


def test_a_toolkit_found_at_its_default_path_is_named_once():
    # it read "(the toolkit from /usr/local/cuda: /usr/local/cuda)"
    toolchain = _toolchain(nvcc_version="13.0", cuda_home_from="/usr/local/cuda")
    (found,) = findings(replace(healthy(), toolchain=toolchain), "GD-CUDA-012")
    assert found.evidence[0].endswith("CUDA 13.0 (the toolkit from /usr/local/cuda)")


def test_a_cpu_torch_needs_no_toolchain():
    cpu = with_framework(healthy(), "torch", cuda_build=False)
    bare = _toolchain(nvcc_version="11.8", compilers=(), libcuda_cache=())
    for rule_id in ("GD-CUDA-012", "GD-CUDA-013", "GD-CUDA-014"):
        assert findings(replace(cpu, toolchain=bare), rule_id) == []


def test_triton_finds_libcuda_through_its_variable_or_ld_library_path():
    uncached = replace(healthy(), toolchain=_toolchain(libcuda_cache=()))
    assert len(findings(uncached, "GD-CUDA-013")) == 1
    folder = "/usr/lib/x86_64-linux-gnu"
    assert findings(with_env(uncached, TRITON_LIBCUDA_PATH=folder), "GD-CUDA-013") == []
    assert findings(with_env(uncached, LD_LIBRARY_PATH=f"{folder}/"), "GD-CUDA-013") == []


def test_cc_variable_counts_as_a_compiler():
    none = replace(healthy(), toolchain=_toolchain(compilers=()))
    assert len(findings(none, "GD-CUDA-014")) == 1
    assert findings(with_env(none, CC="/opt/gcc/bin/gcc"), "GD-CUDA-014") == []
    cxx_only = replace(healthy(), toolchain=_toolchain(compilers=(Compiler(name="g++", path="x"),)))
    assert len(findings(cxx_only, "GD-CUDA-014")) == 1


def _mixed():
    other = h100(1, name="NVIDIA GeForce RTX 2080 SUPER", pci_bus_id="00000000:41:00.0")
    return with_nvml(healthy(), gpus=(h100(), other))


def test_mixed_gpus_without_selection_stay_information():
    (found,) = findings(_mixed(), "GD-HOST-003")
    assert found.severity == Severity.INFO
    assert findings(with_env(_mixed(), CUDA_VISIBLE_DEVICES="GPU-8f3e2a4b"), "GD-HOST-003")[
        0
    ].severity == (Severity.INFO)


def test_mixed_gpus_selected_by_index_warn_and_pci_bus_id_silences():
    chosen = with_env(_mixed(), CUDA_VISIBLE_DEVICES="1")
    (found,) = findings(chosen, "GD-HOST-003")
    assert found.severity == Severity.WARNING
    assert "CUDA_VISIBLE_DEVICES=1" in found.title
    # PyTorch's one device is the H100 (fastest first), not nvidia-smi's GPU 1, the 2080
    assert any(
        e.startswith("torch: cuda:0 is the NVIDIA H100 80GB HBM3, but nvidia-smi's GPU 1")
        for e in found.evidence
    )
    assert findings(with_env(chosen, CUDA_DEVICE_ORDER="PCI_BUS_ID"), "GD-HOST-003") == []


def test_mixed_gpus_selected_by_index_are_given_the_uuids_meant():
    # It said "or select by UUID: $ nvidia-smi -L, then CUDA_VISIBLE_DEVICES=GPU-...": the
    # whole rest of the step is the command a terminal user copies, prose and all.
    chosen = with_env(_mixed(), CUDA_VISIBLE_DEVICES="1")
    (found,) = findings(chosen, "GD-HOST-003")
    meant = next(g for g in chosen.nvml.gpus if g.index == 1)
    assert found.fix[1] == (
        "or select by UUID, which both orders agree on (`nvidia-smi -L` lists them): "
        f"$ export CUDA_VISIBLE_DEVICES={meant.uuid}"
    )


def test_a_ptx_jit_that_fails_is_an_error():
    kb = FakeKb(coverage="ptx_jit")
    works = findings(healthy(), "GD-TORCH-006", kb)
    assert [f.severity for f in works] == [Severity.WARNING]
    failing = with_framework(
        healthy(),
        "torch",
        devices=(
            FrameworkDevice(
                index=0,
                compute_capability="9.0",
                smoke_ok=False,
                smoke_error="CUDA error: the provided PTX was compiled with an unsupported "
                "toolchain.",
            ),
        ),
    )
    (found,) = findings(failing, "GD-TORCH-006", kb)
    assert found.severity == Severity.ERROR
    assert "its PTX JIT fails" in found.title
    assert any("unsupported toolchain" in e for e in found.evidence)


def test_every_finding_records_why_it_has_its_severity():
    from gpudoctor.rules import REGISTRY

    missing = [r.id for r in REGISTRY if not reason(r.id)]
    assert missing == []


def test_ptx_jit_under_minor_version_compatibility_is_an_error():
    # the driver runs the build's CUDA only through minor-version compatibility, which cannot
    # JIT newer PTX (https://github.com/yerfor/GeneFacePlusPlus/issues/192: fixed by a newer
    # driver)
    kb = FakeKb(coverage="ptx_jit", support="minor_compat")
    (found,) = findings(healthy(), "GD-TORCH-006", kb)
    assert found.severity == Severity.ERROR
    assert any("minor-version compatibility" in e for e in found.evidence)
    assert found.fix[0].startswith("Update the NVIDIA driver to 999.0 or newer")


def test_a_restrictive_mode_is_shown_in_the_permission_finding():
    node = DeviceNode(
        path="/dev/nvidiactl",
        mode="crw-rw----",
        gid=44,
        open_error="EACCES: Permission denied",
        opened=False,
    )
    report = replace(
        broken_nvml(healthy(), "no_permission"), device_access=DeviceAccessInfo(nodes=(node,))
    )
    (found,) = findings(report, "GD-NVML-004")
    assert (
        "/dev/nvidiactl (crw-rw----, group 44) could not be opened: EACCES: Permission denied"
        in found.evidence
    )
