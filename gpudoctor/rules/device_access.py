"""Device-access rules: GPUs present but refused (device cgroup, security module, vGPU licence,
a passthrough driver)."""

from __future__ import annotations

from collections.abc import Iterator

from gpudoctor.model import shell
from gpudoctor.model.derived import a_container, is_gpu_function, set_aside_for_vm
from gpudoctor.model.findings import Severity
from gpudoctor.model.report import DeviceNode, PciFunction, Report
from gpudoctor.rules.facts import docker_run, gpu_label, gpus, is_linux_host
from gpudoctor.rules.registry import Hit, KnowledgeBase, rule

CTL = "/dev/nvidiactl"


def _ctl(report: Report) -> DeviceNode | None:
    access = report.device_access
    if access is None:
        return None
    return next((n for n in access.nodes if n.path == CTL), None)


def _errno(node: DeviceNode | None) -> str | None:
    """``EPERM`` from ``EPERM: Operation not permitted``; None when it opened or was not tried."""
    if node is None or node.opened is not False or not node.open_error:
        return None
    return node.open_error.split(":", 1)[0].strip()


def _others_may_rw(node: DeviceNode) -> bool:
    """True when the file's mode lets any user read and write it (``crw-rw-rw-``)."""
    mode = node.mode or ""
    return len(mode) == 10 and mode[7:9] == "rw"


def cgroup_denies(report: Report) -> bool:
    """True when opening /dev/nvidiactl failed with EPERM: a device cgroup (v1's devices.list,
    v2's eBPF filter) refuses the device; file modes and security modules answer EACCES."""
    return _errno(_ctl(report)) == "EPERM"


def security_module_denies(report: Report) -> bool:
    """True when /dev/nvidiactl is open to every user by its mode, yet opening it failed with
    EACCES while SELinux enforces or AppArmor is on: the security module refused it."""
    node, access = _ctl(report), report.device_access
    if node is None or access is None or _errno(node) != "EACCES" or not _others_may_rw(node):
        return False
    return access.selinux == "enforcing" or bool(access.apparmor)


def device_access_explains(report: Report) -> bool:
    """True when a device-access finding names why NVML could not open the GPU."""
    return cgroup_denies(report) or security_module_denies(report)


def blocked_cuinit(report: Report) -> Hit | None:
    """The CUDA finding when cuInit failed because this process may not open the device files:
    it names that cause and points at the NVML line's finding instead of a driver fix (reloading
    nvidia_uvm or rebooting the host does not give a container its devices back)."""
    result = report.cuda.cu_init_result
    if result in (None, 0) or not device_access_explains(report):
        return None
    node = _ctl(report)
    rule_id = (
        "GD-NVML-013"
        if security_module_denies(report)
        else ("GD-NVML-011" if report.host.container else "GD-NVML-012")
    )
    return Hit(
        title=f"cuInit fails ({report.cuda.cu_init_error or result}): this process may not "
        "open the NVIDIA device files",
        evidence=(
            f"cuInit returned {result} ({report.cuda.cu_init_error or 'unnamed'})",
            *((_node_line(node),) if node is not None else ()),
        ),
        fix=(f"Give the process its devices back first: see {rule_id} on the NVML line.",),
    )


def refused_nodes(report: Report) -> tuple[str, ...]:
    """The device files this process could not open, with mode, group and error, in words."""
    access = report.device_access
    if access is None:
        return ()
    return tuple(
        f"{n.path} ({n.mode or 'mode unknown'}, group {n.gid}) could not be opened: {n.open_error}"
        for n in access.nodes
        if n.opened is False
    )


def _nvml_said(report: Report) -> str:
    nvml = report.nvml
    return f"NVML: {nvml.message}" if nvml.message else f"NVML: {nvml.status}"


def _node_line(node: DeviceNode) -> str:
    return f"{node.path} ({node.mode or 'mode unknown'}) could not be opened: {node.open_error}"


def _cgroup_lines(report: Report) -> list[str]:
    access = report.device_access
    if access is None:
        return []
    if access.cgroup_version == "v2":
        # Outside a container it is a systemd unit's cgroup (DeviceAllow=), not a container's.
        whose = "the container's" if report.host.container else "this process's"
        return [
            f"cgroup v2: the device filter is an eBPF program attached to {whose} cgroup "
            "(nothing lists it)"
        ]
    lines = [ln for ln in access.devices_list if " 195:" in ln or ln.startswith("a ")]
    if access.devices_list:
        return [f"cgroup v1 devices.list for NVIDIA's major 195: {'; '.join(lines) or 'none'}"]
    return []


@rule(
    "GD-NVML-011",
    area="nvml",
    severity=Severity.ERROR,
    title="The container lost access to its GPUs: its device cgroup no longer allows them",
    why="The container was started with the GPUs, but the kernel now refuses to open "
    "`/dev/nvidiactl` with *Operation not permitted* (EPERM), the answer of a device cgroup; "
    "NVML then fails with *Unknown Error*. When systemd manages the container's cgroup "
    "(Docker or containerd with the systemd cgroup driver, the default under cgroup v2), a "
    "`systemctl daemon-reload` or any unit reload rewrites the cgroup's device rules from "
    "systemd's own view, which lacks NVIDIA's device files because they have no "
    "`/dev/char` links: running containers are cut off from their GPUs. gpudoctor opens "
    "`/dev/nvidiactl` (bounded, in a child process) and reads the cgroup version and, "
    "under v1, `devices.list`. Without this check the failure reads as NVML's generic "
    "*Unknown Error* (GD-NVML-007).",
    fix="Recreate the container or pod (a new container gets the device rules again). On the "
    "host, create the `/dev/char` links once and at every boot with `sudo nvidia-ctk system "
    "create-dev-char-symlinks --create-all` (NVIDIA Container Toolkit 1.12 or newer) and "
    "the udev rule NVIDIA publishes; or let Docker manage cgroups itself "
    '(`"exec-opts": ["native.cgroupdriver=cgroupfs"]` in `/etc/docker/daemon.json`).',
    sources=(
        "https://github.com/NVIDIA/nvidia-container-toolkit/issues/48 (NVIDIA's notice, "
        "cause and workarounds)",
        "https://github.com/NVIDIA/nvidia-docker/issues/1671 (the nvidia-ctk and udev workaround)",
        "https://github.com/NVIDIA/nvidia-container-toolkit/issues/1227",
        "https://github.com/NVIDIA/nvidia-container-toolkit/issues/251 (devices.list: c 195:* m)",
        "https://github.com/opencontainers/runc/issues/3708",
    ),
)
def container_cgroup_revoked(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    if not report.host.container or not cgroup_denies(report):
        return
    node = _ctl(report)
    if node is None:
        return
    evidence = [
        _nvml_said(report),
        f"running in {a_container(report.host.container)}",
        _node_line(node),
        "EPERM is a device cgroup's answer: the container's cgroup no longer allows the GPU",
        *_cgroup_lines(report),
    ]
    yield Hit(
        evidence=tuple(evidence),
        fix=(
            # NVIDIA's notice (nvidia-docker#1730): the container must be deleted; rm -f also
            # kills what runs in it and drops what it wrote outside its volumes
            "Recreate the container (Kubernetes: delete the pod); this stops what runs in it and "
            "deletes what it wrote outside its volumes, so copy that out first "
            "(`docker cp NAME:PATH .`):",
            f"$ docker rm -f NAME && {docker_run(kb)}",
            "On the host, so that a `systemctl daemon-reload` no longer detaches containers:",
            "$ sudo nvidia-ctk system create-dev-char-symlinks --create-all",
            "and at every boot, with a udev rule:",
            # One command, so that the terminal keeps it on one line: a rule line that
            # wrapped (it is 110 characters) would be pasted into the file broken.
            """$ echo 'ACTION=="add", DEVPATH=="/bus/pci/drivers/nvidia", """
            """RUN+="/usr/bin/nvidia-ctk system create-dev-char-symlinks --create-all"' """
            "| sudo tee /lib/udev/rules.d/71-nvidia-dev-char.rules",
            'or in /etc/docker/daemon.json: "exec-opts": ["native.cgroupdriver=cgroupfs"], '
            "then $ sudo systemctl restart docker",
        ),
    )


@rule(
    "GD-NVML-012",
    area="nvml",
    severity=Severity.ERROR,
    title="A device cgroup denies this process the NVIDIA device files",
    why="Outside a container, opening `/dev/nvidiactl` failed with *Operation not permitted* "
    "(EPERM): the process runs in a cgroup whose device policy leaves the GPU out. A "
    "systemd service with `PrivateDevices=yes` or `DevicePolicy=closed`/`strict` without a "
    "`DeviceAllow=` for the NVIDIA devices is the usual cause (a hardened service unit); "
    "the file's own mode and group are not the problem. NVML fails with *Unknown Error* or "
    "*Insufficient Permissions*.",
    fix="Allow the devices in the unit (`sudo systemctl edit UNIT`: `DeviceAllow=/dev/nvidiactl "
    "rw`, `DeviceAllow=/dev/nvidia-uvm rw`, `DeviceAllow=char-nvidia* rw` for the GPUs, whose "
    "group in `/proc/devices` is `nvidia` from R545 on and `nvidia-frontend` before; or drop "
    "`PrivateDevices=`), then restart the service.",
    sources=(
        "https://www.freedesktop.org/software/systemd/man/latest/systemd.resource-control.html "
        "(DeviceAllow=, DevicePolicy=; char- groups match as globs)",
        'NVIDIA/open-gpu-kernel-modules kernel-open/nvidia/nv.c (chrdev "nvidia" from '
        '545.23.06; nv-frontend.c\'s "nvidia-frontend" up to 535)',
        "https://github.com/NixOS/nixpkgs/issues/331069 (a hardened service loses the GPU)",
        "https://github.com/NixOS/nixpkgs/issues/363357 (resolution: the device in DeviceAllow=)",
    ),
)
def host_cgroup_denies(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    if report.host.container or not is_linux_host(report) or not cgroup_denies(report):
        return
    node = _ctl(report)
    if node is None:
        return
    context = report.device_access.security_context if report.device_access else None
    yield Hit(
        evidence=(
            _nvml_said(report),
            _node_line(node),
            "EPERM is a device cgroup's answer, not the file's mode",
            *_cgroup_lines(report),
            *((f"process label: {context}",) if context else ()),
        ),
        fix=(
            "$ systemctl status $$ | head -n 5   # the unit this shell runs in",
            "$ sudo systemctl edit UNIT   # add, under [Service]:",
            "DeviceAllow=/dev/nvidiactl rw",
            "DeviceAllow=/dev/nvidia-uvm rw",
            "DeviceAllow=char-nvidia* rw   # the GPUs: group nvidia (nvidia-frontend before R545)",
            "$ sudo systemctl restart UNIT",
        ),
    )


@rule(
    "GD-NVML-013",
    area="nvml",
    severity=Severity.ERROR,
    title="SELinux or AppArmor refuses the NVIDIA device files",
    why="`/dev/nvidiactl` is readable and writable by every user (`crw-rw-rw-`), yet opening "
    "it failed with *Permission denied* (EACCES) while SELinux enforces or AppArmor is on: "
    "the security module, not the file's mode, refused it. On Fedora and the RHEL family a "
    "container runs as `container_t`, and the NVIDIA devices are labelled "
    "`xserver_misc_device_t`, which the policy lets containers use only with the "
    "`container_use_devices` boolean. NVML fails with *Insufficient Permissions*; the "
    "generic advice of GD-NVML-004 (groups, modes) does not help.",
    fix="SELinux: `sudo setsebool -P container_use_devices on`, or start the container with "
    "`--security-opt label=disable`; read the denials with `sudo ausearch -m avc -ts recent`. "
    "AppArmor: find the profile's denial in `sudo dmesg | grep DENIED` and allow the "
    "NVIDIA devices in it.",
    sources=(
        "https://github.com/fedora-selinux/selinux-policy/issues/1695 (container_t denied "
        "/dev/nvidia0, xserver_misc_device_t)",
        "https://github.com/NVIDIA/nvidia-container-toolkit/issues/33 (Insufficient "
        "Permissions under SELinux)",
        "https://github.com/NVIDIA/nvidia-docker/issues/676",
    ),
)
def security_module(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    if not security_module_denies(report):
        return
    access, node = report.device_access, _ctl(report)
    if access is None or node is None:
        return
    evidence = [_nvml_said(report), _node_line(node)]
    if access.selinux == "enforcing":
        evidence.append("SELinux: enforcing")
    if access.apparmor:
        evidence.append("AppArmor: enabled")
    if access.security_context:
        evidence.append(f"process label: {access.security_context}")
    selinux = access.selinux == "enforcing"
    fix = (
        (
            "$ sudo ausearch -m avc -ts recent | grep nvidia   # the denial",
            "$ sudo setsebool -P container_use_devices on",
            "or start the container with --security-opt label=disable",
        )
        if selinux
        else (
            "$ sudo dmesg | grep -i 'apparmor=\"DENIED\"' | grep nvidia   # the denial",
            "Allow /dev/nvidia* rw in that profile, or (to confirm the cause) run the "
            "container with --security-opt apparmor=unconfined",
        )
    )
    yield Hit(
        title="SELinux refuses the NVIDIA device files"
        if selinux
        else "AppArmor refuses the NVIDIA device files",
        evidence=tuple(evidence),
        fix=fix,
    )


@rule(
    "GD-GPU-016",
    area="gpu",
    severity=Severity.ERROR,
    title="The vGPU holds no licence: CUDA is restricted",
    why="In a virtual machine with an NVIDIA vGPU (NVML's virtualization mode `vgpu`), the "
    "guest driver must obtain a licence from the licence server (a passthrough GPU, as in "
    "cloud GPU instances, needs none for CUDA and is not checked). Unlicensed, the driver "
    "runs unrestricted only for a short grace period, then "
    "restricts the GPU: CUDA no longer starts (*all CUDA-capable devices are busy or "
    "unavailable*) while `nvidia-smi` still lists the GPU as idle. gpudoctor reads "
    "`nvmlDeviceGetGridLicensableFeatures`: no feature licensed. An error, because CUDA "
    "stops working once the grace period ends, whatever the moment of the check.",
    fix="License the guest: copy the client configuration token from the licence server "
    "into `/etc/nvidia/ClientConfigToken/`, set `FeatureType` in `/etc/nvidia/gridd.conf`, "
    "restart `nvidia-gridd`, and confirm with `nvidia-smi -q | grep -i -A2 license`.",
    sources=(
        "https://docs.nvidia.com/vgpu/latest/grid-licensing-user-guide/ (licensing a client, "
        "behaviour when unlicensed)",
        "https://docs.nvidia.com/deploy/nvml-api/ (nvmlDeviceGetGridLicensableFeatures, "
        "nvmlDeviceGetVirtualizationMode)",
        "https://github.com/DDMAL/Rodan/issues/1332 (CUDA fails on an unlicensed vGPU)",
    ),
)
def vgpu_unlicensed(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    for gpu in gpus(report):
        if gpu.vgpu_licensed is not False or gpu.virtualization_mode != "vgpu":
            continue  # passthrough GPUs compute without a licence
        yield Hit(
            title=f"{gpu_label(gpu)} is a vGPU without a licence: CUDA is restricted",
            evidence=(
                f"{gpu_label(gpu)}: virtualization mode {gpu.virtualization_mode}",
                "no licensable feature is licensed (nvmlDeviceGetGridLicensableFeatures)",
            ),
            fix=(
                "$ nvidia-smi -q | grep -i -A2 license",
                "$ sudo cp client_configuration_token_*.tok /etc/nvidia/ClientConfigToken/",
                "$ sudo sed -i 's/^#\\?FeatureType=.*/FeatureType=1/' /etc/nvidia/gridd.conf",
                "$ sudo systemctl restart nvidia-gridd && "
                "sudo journalctl -u nvidia-gridd -b | tail",
            ),
        )


def all_set_aside(report: Report) -> bool:
    """True on a Linux host whose every NVIDIA GPU is bound to a passthrough driver."""
    if not is_linux_host(report):
        return False
    functions = [fn for fn in report.driver.pci_functions if is_gpu_function(fn)]
    return bool(functions) and all(set_aside_for_vm(fn.driver) for fn in functions)


def _rebind(fn: PciFunction) -> str:
    """Unbind ``fn`` from its driver and bind it to nvidia's, by its sysfs paths; BUS_ID and
    DRIVER, the words to replace, where the report's address or driver is no such name."""
    address = shell.matching(fn.address, shell.PCI_ADDRESS, "BUS_ID")
    driver = shell.matching(fn.driver, shell.PACKAGE, "DRIVER")
    return (
        f"$ echo {address} | sudo tee /sys/bus/pci/drivers/{driver}/unbind && "
        f"echo nvidia | sudo tee /sys/bus/pci/devices/{address}/driver_override && "
        f"echo {address} | sudo tee /sys/bus/pci/drivers/nvidia/bind"
    )


def _reserved_by(functions: list[PciFunction]) -> str:
    """grep's pattern for the boot settings: `` vfio``, and ``pci.stub`` too for GPUs held by
    pci-stub (its ``pci-stub.ids=`` holds the IDs there, which a grep for vfio misses)."""
    if any(fn.driver == "pci-stub" for fn in functions):
        return "E 'vfio|pci.stub'"
    return " vfio"


def _ids_settings(functions: list[PciFunction]) -> str:
    said = "vfio-pci.ids= and from 'options vfio-pci ids='"
    if any(fn.driver == "pci-stub" for fn in functions):
        said += ", and from pci-stub.ids= and 'options pci-stub ids='"
    return said


@rule(
    "GD-DRV-011",
    area="driver",
    severity=Severity.ERROR,
    title="Every NVIDIA GPU is bound to a passthrough driver: none is left for this host",
    why="Each NVIDIA GPU on the PCI bus is held by `vfio-pci`, `pci-stub` or another "
    "passthrough driver, so the nvidia module takes none (`NVRM: GPU ... is already bound "
    "to vfio-pci`), NVML lists no GPU or cannot reach the driver, and CUDA finds no device. "
    "On a hypervisor that hands the GPUs to virtual machines this is intended; on a machine "
    "meant to train, a `vfio-pci.ids=` on the kernel command line or an `options vfio-pci "
    "ids=` line in `/etc/modprobe.d` left from a passthrough setup is the cause (for "
    "`pci-stub`, its `pci-stub.ids=`). Rebuilding "
    "or reloading the nvidia module (GD-DRV-003's usual fix) does not help. When some GPUs "
    "remain with the nvidia driver, GD-DRV-004 reports each reserved one as information.",
    fix="Remove the GPU's ID from `vfio-pci.ids=` (or `pci-stub.ids=`; kernel command line) "
    "and from `/etc/modprobe.d`, rebuild the initramfs and reboot; or hand one GPU back at once by "
    "unbinding it from the passthrough driver and binding it to `nvidia`.",
    sources=(
        "https://docs.kernel.org/driver-api/vfio.html (binding a device to vfio-pci)",
        "https://github.com/jurkovic-nikola/OpenLinkHub/pull/174 (NVRM: GPU ... is already "
        "bound to vfio-pci)",
        "https://github.com/NVIDIA/kubevirt-gpu-device-plugin/issues/45 (options vfio-pci "
        "ids=10de:...)",
        "https://github.com/torvalds/linux/blob/master/drivers/pci/pci-stub.c (module "
        "parameter ids: 'Initial PCI IDs to add to the stub driver')",
    ),
)
def all_gpus_passed_through(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    if not all_set_aside(report):
        return
    functions = [fn for fn in report.driver.pci_functions if is_gpu_function(fn)]
    ids = sorted({fn.device_id.lower().removeprefix("0x") for fn in functions})
    yield Hit(
        evidence=tuple(
            f"PCI {fn.address} (10de:{fn.device_id.lower().removeprefix('0x')}): "
            f"bound to {fn.driver}"
            for fn in functions
        ),
        fix=(
            "$ lspci -nnk -d 10de:   # 'Kernel driver in use'",
            f"$ grep -rn{_reserved_by(functions)} /etc/modprobe.d /etc/default/grub /proc/cmdline",
            f"Remove 10de:{', 10de:'.join(ids)} from {_ids_settings(functions)}, rebuild the "
            "initramfs and reboot; or at once:",
            *(_rebind(fn) for fn in functions),
        ),
    )
