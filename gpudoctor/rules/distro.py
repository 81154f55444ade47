"""The package-manager commands of the driver fixes, chosen from the report's Linux distribution."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Literal

from gpudoctor.model import shell
from gpudoctor.model.report import Report

Family = Literal["ubuntu", "debian", "fedora", "rhel", "unknown"]

# Matched against the start of os-release's PRETTY_NAME, lower-cased. Ubuntu derivatives use
# Ubuntu's driver packages; Fedora's come from RPM Fusion, the RHEL family's from NVIDIA's
# CUDA repository, so their package names differ.
_PREFIXES: tuple[tuple[str, Family], ...] = (
    ("ubuntu", "ubuntu"),
    ("linux mint", "ubuntu"),
    ("pop!_os", "ubuntu"),
    ("debian", "debian"),
    ("fedora", "fedora"),
    ("red hat enterprise linux", "rhel"),
    ("rocky linux", "rhel"),
    ("almalinux", "rhel"),
    ("centos", "rhel"),
    ("oracle linux", "rhel"),
)

PACKAGE_MANAGER = "with your distribution's package manager"


def family(os_release: str | None) -> Family:
    """The distribution family of an os-release pretty name (``unknown`` when not recognised)."""
    name = (os_release or "").strip().lower()
    for prefix, found in _PREFIXES:
        if name.startswith(prefix):
            return found
    return "unknown"


def rhel_major(os_release: str | None) -> int | None:
    """The major release of a RHEL-family pretty name ("Rocky Linux 9.3" is 9), else None."""
    if family(os_release) != "rhel":
        return None
    found = re.search(r"(?<![\w.])(\d{1,2})(?:\.\d+)*(?![\w.])", os_release or "")
    return int(found.group(1)) if found else None


def _rhel(report: Report, modules: str, rhel10: str) -> tuple[str, ...]:
    """The RHEL 8/9 command (dnf module streams) or RHEL 10's (no modularity), by release.

    NVIDIA's repository gives RHEL 8 and 9 the driver as module streams and RHEL 10 as plain
    packages held on a branch with versionlock (NVIDIA Driver Installation Guide, "Kernel
    Modules" and "Advanced Options"); where the release is unknown both are given, labelled.
    """
    major = rhel_major(report.host.os_release)
    if major is not None and major < 10:
        return (modules,)
    if major is not None:
        return (rhel10,)
    return (f"{modules}   # RHEL 8/9", f"{rhel10}   # RHEL 10")


def report_family(report: Report, *, on_host: bool = True) -> Family:
    """The family whose commands fit this report's machine.

    Inside a container a driver fix runs on the host, whose distribution the report does not
    know; what is installed into the container itself (``on_host=False``: a compiler) follows
    the container's own os-release, which is the one the report records.
    """
    if report.host.os != "linux" or (report.host.container and on_host):
        return "unknown"
    return family(report.host.os_release)


def _choose(
    report: Report,
    commands: dict[Family, tuple[str, ...]],
    what: str,
    how: str = PACKAGE_MANAGER,
) -> tuple[str, ...]:
    """The family's commands; for an unknown one, what to do plus Ubuntu's command, labelled."""
    found = report_family(report)
    if found != "unknown":
        return commands[found]
    label = "Debian/Ubuntu" if commands["ubuntu"] == commands["debian"] else "Ubuntu"
    command = commands["ubuntu"][0].removeprefix("$ ").split("   #")[0]
    return (f"{what} {how}; {label}: $ {command}",)


def install_driver(report: Report) -> tuple[str, ...]:
    """Install the NVIDIA driver (kernel module and libraries)."""
    return _choose(
        report,
        {
            "ubuntu": ("$ sudo ubuntu-drivers install",),
            "debian": ("$ sudo apt-get install nvidia-driver   # from the non-free component",),
            "fedora": (
                "$ sudo dnf install akmod-nvidia xorg-x11-drv-nvidia-cuda   # from RPM Fusion",
            ),
            # the open flavour: the default since R560, the only one Blackwell runs, and what
            # NVIDIA's guide installs for "the latest" (Kernel Modules); cuda-drivers is the
            # proprietary flavour on RHEL 10 (Advanced Options)
            "rhel": _rhel(
                report,
                "$ sudo dnf module enable nvidia-driver:open-dkms && sudo dnf install nvidia-open",
                "$ sudo dnf install nvidia-open",
            ),
        },
        "Install the NVIDIA driver",
    )


def reinstall_libraries(report: Report, branch: str) -> tuple[str, ...]:
    """Reinstall the driver's user-space libraries (NVML, libcuda) of driver branch ``branch``."""
    return _choose(
        report,
        {
            "ubuntu": (
                f"$ sudo apt-get install --reinstall libnvidia-compute-{branch} "
                f"nvidia-utils-{branch}",
            ),
            "debian": ("$ sudo apt-get install --reinstall libnvidia-ml1 libcuda1 nvidia-smi",),
            "fedora": ("$ sudo dnf reinstall 'xorg-x11-drv-nvidia*'",),
            "rhel": ("$ sudo dnf reinstall 'nvidia-driver*'",),
        },
        f"Reinstall the user-space packages of driver {branch}",
    )


RPMFUSION_LEGACY = (470, 580)
"""The branches RPM Fusion packages as a legacy series beside its current driver, each under
its own names: ``akmod-nvidia-580xx``, ``xorg-x11-drv-nvidia-580xx`` with its ``-cuda`` and
``-cuda-libs`` (rpmfusion/xorg-x11-drv-nvidia-580xx and xorg-x11-drv-nvidia-470xx specs:
``Name: xorg-x11-drv-%{_nvidia_serie}``, ``%package cuda-libs``; read 2026-12-07). Its 340xx
series is retired; 390xx is not read."""


def _rpmfusion(branch: str, legacy: bool | None, command: Callable[[str], str]) -> tuple[str, ...]:
    """RPM Fusion's command for driver branch ``branch``, built by ``command`` from a package
    stem: ``nvidia`` (the current driver) or ``nvidia-580xx`` (a legacy series). ``legacy``:
    True where the machine runs the legacy series, False where it runs the current driver,
    None where the report cannot tell (both, labelled; ``rpm -q`` tells)."""
    series = f"nvidia-{branch}xx"
    if legacy is True:
        return (command(series),)
    if legacy is False or not branch.isdigit() or int(branch) not in RPMFUSION_LEGACY:
        return (command("nvidia"),)
    return (
        f"RPM Fusion's current driver or its {branch}xx legacy series, whichever is installed "
        f"(`rpm -q akmod-nvidia akmod-{series}` says which):",
        f"{command('nvidia')}   # akmod-nvidia",
        f"{command(series)}   # akmod-{series}",
    )


def install_compute_libraries(
    report: Report, branch: str, *, legacy: bool | None = False
) -> tuple[str, ...]:
    """Install the package that provides libcuda.so.1 for driver branch ``branch`` (``legacy``:
    whether that branch is one of RPM Fusion's legacy series here, see ``_rpmfusion``)."""
    return _choose(
        report,
        {
            "ubuntu": (f"$ sudo apt-get install libnvidia-compute-{branch}",),
            "debian": ("$ sudo apt-get install libcuda1",),
            "fedora": _rpmfusion(
                branch, legacy, lambda stem: f"$ sudo dnf install xorg-x11-drv-{stem}-cuda-libs"
            ),
            "rhel": ("$ sudo dnf install nvidia-driver-cuda-libs",),
        },
        f"Install the CUDA driver library (libcuda.so.1) of driver {branch}",
    )


def rebuild_module(report: Report) -> tuple[str, ...]:
    """Build the nvidia module for the running kernel (its headers, then DKMS or akmods)."""
    return _choose(
        report,
        {
            "ubuntu": (
                "$ sudo apt-get install linux-headers-$(uname -r) && sudo dkms autoinstall",
            ),
            "debian": (
                "$ sudo apt-get install linux-headers-$(uname -r) && sudo dkms autoinstall",
            ),
            "fedora": ("$ sudo dnf install kernel-devel-$(uname -r) && sudo akmods --force",),
            "rhel": (
                "$ sudo dnf install kernel-devel-$(uname -r) kernel-headers-$(uname -r) "
                "&& sudo dkms autoinstall",
            ),
        },
        "Install the headers of the running kernel and rebuild the module",
    )


def hold_driver(
    report: Report, branch: str = "", *, legacy: bool | None = False
) -> tuple[str, ...]:
    """Stop unattended upgrades from replacing the driver (of ``branch``; ``legacy`` as for
    ``install_compute_libraries``) under a running system."""
    return _choose(
        report,
        {
            "ubuntu": ("$ sudo apt-mark hold 'nvidia-*' 'libnvidia-*'",),
            "debian": ("$ sudo apt-mark hold 'nvidia-*' 'libnvidia-*' libcuda1",),
            "fedora": _rpmfusion(
                branch,
                legacy,
                lambda stem: f"$ sudo dnf versionlock add akmod-{stem} 'xorg-x11-drv-{stem}*'",
            ),
            "rhel": (
                "$ sudo dnf install python3-dnf-plugin-versionlock && "
                "sudo dnf versionlock add 'nvidia-*' 'kmod-nvidia*'",
            ),
        },
        "Hold the driver packages",
    )


def rebuild_initramfs(report: Report) -> tuple[str, ...]:
    """Regenerate the initramfs (after blacklisting a module)."""
    return _choose(
        report,
        {
            "ubuntu": ("$ sudo update-initramfs -u",),
            "debian": ("$ sudo update-initramfs -u",),
            "fedora": ("$ sudo dracut --force",),
            "rhel": ("$ sudo dracut --force",),
        },
        "Rebuild the initramfs",
        "with your distribution's tool",
    )


# Boot-loader families beyond the package families: their GRUB is named grub2 (openSUSE and
# SLES) or is configured with grub-mkconfig directly (Arch); matched like _PREFIXES.
_BOOT_PREFIXES: tuple[tuple[str, str], ...] = (
    ("opensuse", "suse"),
    ("suse linux enterprise", "suse"),
    ("sles", "suse"),
    ("arch linux", "arch"),
)


def boot_family(report: Report) -> str:
    """Whose boot-loader commands fit this report's host: ``debian`` (Debian, Ubuntu),
    ``redhat`` (Fedora, RHEL), ``suse`` (openSUSE, SLES), ``arch``, or ``unknown`` (another
    distribution, or a container: the host's is not known)."""
    found = report_family(report)
    if found in ("ubuntu", "debian"):
        return "debian"
    if found in ("fedora", "rhel"):
        return "redhat"
    if report.host.os != "linux" or report.host.container:
        return "unknown"
    name = (report.host.os_release or "").strip().lower()
    return next((boot for prefix, boot in _BOOT_PREFIXES if name.startswith(prefix)), "unknown")


def add_kernel_args(report: Report, args: str) -> tuple[str, ...]:
    """Put ``args`` on the kernel command line for good, then reboot, with the host's own tool.

    GRUB_CMDLINE_LINUX in /etc/default/grub, then: update-grub on Debian/Ubuntu;
    ``grub2-mkconfig -o /boot/grub2/grub.cfg`` on openSUSE and SLES (SUSE's Administration
    Guide, "The boot loader GRUB 2"); ``grub-mkconfig -o /boot/grub/grub.cfg`` on Arch
    (ArchWiki, "Kernel parameters", which also covers systemd-boot's entries); grubby on
    Fedora/RHEL, whose boot entries (BLS) carry the arguments. For an unknown distribution,
    the file and GRUB's own command, and grubby for Fedora/RHEL, labelled.
    """
    edit = f"Add {args} to GRUB_CMDLINE_LINUX in /etc/default/grub, then: "
    redhat = f'$ sudo grubby --update-kernel=ALL --args="{args}" && sudo reboot'
    found = boot_family(report)
    if found == "debian":
        return (edit + "$ sudo update-grub && sudo reboot",)
    if found == "redhat":
        return (redhat,)
    if found == "suse":
        return (edit + "$ sudo grub2-mkconfig -o /boot/grub2/grub.cfg && sudo reboot",)
    if found == "arch":
        return (
            edit + "$ sudo grub-mkconfig -o /boot/grub/grub.cfg && sudo reboot "
            "(with systemd-boot instead of GRUB: add it to the options line of each entry in "
            "loader/entries/ on the EFI system partition)",
        )
    return (
        edit + "regenerate GRUB's configuration with the host's command, e.g. "
        "$ sudo grub-mkconfig -o /boot/grub/grub.cfg && sudo reboot (update-grub on "
        "Debian/Ubuntu; grub2-mkconfig -o /boot/grub2/grub.cfg where GRUB is installed as "
        "grub2, as on openSUSE/SLES)",
        f"Fedora/RHEL: {redhat}",
    )


UNKNOWN_BRANCH = (
    "   # BRANCH: the NNN of the nvidia-driver-NNN that dpkg -l 'nvidia-driver-*' lists"
)
"""What BRANCH stands for in a command where the report names no driver version."""


def switch_module_flavour(report: Report, flavour: str, branch: str) -> tuple[str, ...]:
    """Replace the nvidia kernel module by its ``open`` or ``proprietary`` flavour, same branch.

    Package names: Ubuntu's ``nvidia-driver-<branch>[-open]``, Debian's
    ``nvidia-open-kernel-dkms``/``nvidia-kernel-dkms``, RPM Fusion's ``_with_kmod_nvidia_open``
    macro; on RHEL 8/9 a ``module switch-to`` between the ``<branch>-open`` and
    ``<branch>-dkms`` streams (``module install`` of the other stream is refused while one is
    enabled), on RHEL 10 the ``nvidia-open`` or ``cuda-drivers`` package with --allowerasing.
    """
    known = branch.isdigit()
    # an unknown branch is a word to replace, never '<branch>': pasted, that is a redirection
    branch, which = (branch, "") if known else ("BRANCH", UNKNOWN_BRANCH)
    if flavour == "open":
        stream = f"{branch}-open" if known else "open-dkms"
        commands: dict[Family, tuple[str, ...]] = {
            "ubuntu": (
                f"$ sudo apt-get install nvidia-driver-{branch}-open && sudo reboot{which}",
            ),
            "debian": ("$ sudo apt-get install nvidia-open-kernel-dkms && sudo reboot",),
            "fedora": (
                "$ echo '%_with_kmod_nvidia_open 1' | sudo tee /etc/rpm/macros.nvidia-kmod "
                "&& sudo akmods --kernels $(uname -r) --rebuild && sudo reboot",
            ),
            "rhel": _rhel(
                report,
                f"$ sudo dnf -y module switch-to nvidia-driver:{stream} --allowerasing "
                "&& sudo reboot",
                "$ sudo dnf install --allowerasing nvidia-open && sudo reboot",
            ),
        }
        what = "Install the open kernel modules of the same driver"
    else:
        stream = f"{branch}-dkms" if known else "latest-dkms"
        commands = {
            "ubuntu": (f"$ sudo apt-get install nvidia-driver-{branch} && sudo reboot{which}",),
            "debian": ("$ sudo apt-get install nvidia-kernel-dkms && sudo reboot",),
            "fedora": (
                "$ sudo rm -f /etc/rpm/macros.nvidia-kmod && sudo akmods --kernels $(uname -r) "
                "--rebuild && sudo reboot",
            ),
            "rhel": _rhel(
                report,
                f"$ sudo dnf -y module switch-to nvidia-driver:{stream} --allowerasing "
                "&& sudo reboot",
                "$ sudo dnf install --allowerasing cuda-drivers && sudo reboot",
            ),
        }
        what = "Install the proprietary kernel module of the same driver"
    tree = "kernel-open" if flavour == "open" else "kernel"
    return (
        *_choose(report, commands, what),
        # as anyone but root the installer stops: 'ERROR: nvidia-installer must be run as root'
        f"With NVIDIA's .run: $ sudo sh NVIDIA-Linux-*.run -m={tree}",
    )


# Debian's package of each legacy branch (Debian archive, contrib and non-free of bookworm,
# trixie and sid, read with apt-cache 2026-12-07): there is no nvidia-tesla-580-driver, and
# R340/R390 are "legacy", not "tesla", packages.
_DEBIAN_LEGACY = {
    340: "nvidia-legacy-340xx-driver",
    390: "nvidia-legacy-390xx-driver",
    470: "nvidia-tesla-470-driver",
}


def _debian_legacy(branch: int) -> str:
    """Debian's command for a legacy branch. Debian packages no R580: its own driver (R535 in
    12, R550 in 13) still drives the GPUs R580 is the last for; NVIDIA's CUDA repository's
    package of the same name is the newer branch that refuses them."""
    package = _DEBIAN_LEGACY.get(branch)
    if package is not None:
        return f"$ sudo apt-get install {package} && sudo reboot"
    return (
        "$ sudo apt-get install nvidia-driver && sudo reboot   # Debian's own (R535 in 12, "
        f"R550 in 13) drives this GPU; Debian has no R{branch} package, and NVIDIA's CUDA "
        "repository's nvidia-driver is the newer branch"
    )


def _fedora_legacy(branch: int, *, replacing: bool = True) -> str:
    """RPM Fusion's command for a legacy branch: its ``nvidia-<branch>xx-kmod`` builds
    ``akmod-nvidia-<branch>xx``, its ``xorg-x11-drv-nvidia-<branch>xx-cuda`` brings nvidia-smi
    and libcuda. The current ``xorg-x11-drv-nvidia`` (and its ``-cuda``) Conflicts with both
    (rpmfusion/xorg-x11-drv-nvidia and rpmfusion/nvidia-580xx-kmod, nvidia-470xx-kmod specs,
    read 2026-12-07; re-read 2026-12-08 at xorg-x11-drv-nvidia 46fcdbf, 595.71.05, which still
    Conflicts with xorg-x11-drv-nvidia-580xx and -580xx-cuda, and nvidia-580xx-kmod 3fb297c,
    580.173.02, with f42-f44 and el8-el10 branches), so the current driver goes first;
    --allowerasing takes whatever else still conflicts. RPM Fusion retired its 340xx
    packages in 2024 (dead.package on its f41 and master branches, 2024-10-04: "Not compatible
    with new xorg version"); no rule asks for R340 (a PCI ID does not tell Tesla from Kepler)."""
    packages = f"akmod-nvidia-{branch}xx xorg-x11-drv-nvidia-{branch}xx-cuda"
    if not replacing:
        return f"$ sudo dnf install {packages} && sudo reboot"
    return (
        "$ sudo dnf remove akmod-nvidia 'kmod-nvidia*' 'xorg-x11-drv-nvidia*' && sudo dnf "
        f"install --allowerasing {packages} && sudo reboot"
    )


RUNFILE_ONLY = frozenset({367})
"""Last branches no distribution release in support packages, so that the package names the
commands below build (``nvidia-driver-367``, ``akmod-nvidia-367xx``, the ``367-dkms`` module
stream) do not exist: R367, the last branch of GRID K340, K1 and K2 (NVIDIA's
supported-gpus.json, legacybranch 367.xx; knowledge base driver_branches.toml). Ubuntu, Debian
and RPM Fusion package legacy series 470 and 580 (Debian 390 and 340 too, _DEBIAN_LEGACY),
none of them 367; NVIDIA's own archive still holds its ``.run`` installers."""

DRIVER_ARCHIVE = "https://download.nvidia.com/XFree86/Linux-x86_64/"
"""NVIDIA's archive of every Linux x86_64 driver release, each with its ``.run`` installer."""


_DRIVER_VERSION = re.compile(r"^\d{3}(?:\.\d{1,3}){1,2}$")


def _installed_packages(installed: str | None) -> str:
    """The glob of the installed driver's packages on RHEL 10: ``'*nvidia*590.48.01*'``.

    NVIDIA's Driver Installation Guide ("Version locking", DNF 4, read 2026-12-08) holds a
    branch with ``dnf versionlock \\*nvidia\\*575\\*`` and lists what that glob takes: the
    driver's own packages of that version (kmod-nvidia-open-dkms, nvidia-kmod-common,
    nvidia-driver, nvidia-driver-cuda-libs, libnvidia-ml, nvidia-modprobe, ...). dnf
    matches a remove's globs as it matches a lock's (name-version-release), so the same glob
    of the installed version removes the driver and leaves what only shares the prefix:
    ``dnf remove 'nvidia-*'`` took nvidia-container-toolkit and every other ``nvidia-``
    package with it. A Fabric Manager of that version goes too: it must equal the driver's
    version anyway. VERSION where the version is unknown or not of that form."""
    if installed is None or not _DRIVER_VERSION.match(installed):
        return "'*nvidia*VERSION*'"
    return f"'*nvidia*{installed}*'"


def install_legacy_branch(
    report: Report, branch: int, *, replacing: bool = True, installed: str | None = None
) -> tuple[str, ...]:
    """Install the last driver branch that still drives an old GPU (R470, R580).

    ``replacing``: a newer branch is installed, so Fedora removes it first, RHEL 8/9 switch
    the module stream to the branch's proprietary one (these GPUs predate the open modules) and
    RHEL 10 removes the driver (the packages of ``installed``, the driver version now there:
    :func:`_installed_packages`), holds the branch with versionlock and installs it again. On a
    machine with no driver the branch is installed as it is: RHEL 8/9 ``module install`` of
    the ``<branch>-dkms`` stream, RHEL 10 the lock first. ``module install
    nvidia-driver:XXX-dkms`` is what NVIDIA's packaging guide gives to "lock the driver updates
    to the specified driver branch (non-precompiled)" (NVIDIA/yum-packaging-nvidia-driver
    docs/guide-rhel8.md, "Select an installation branch"); the current Driver Installation Guide
    (r620, "Kernel Modules", Table 5) locks the open flavour as ``module enable
    nvidia-driver:580-open`` then ``dnf install nvidia-open`` and RHEL 10 as ``dnf versionlock
    *nvidia*580*`` (read 2026-12-08; its proprietary table was not read).
    """
    if branch in RUNFILE_ONLY:
        return _runfile_only(branch, replacing=replacing)
    versionlock = (
        f"sudo dnf install python3-dnf-plugin-versionlock && sudo dnf versionlock add "
        f"'*nvidia*{branch}*' && sudo dnf install cuda-drivers && sudo reboot"
    )
    if replacing:
        rhel = _rhel(
            report,
            f"$ sudo dnf -y module switch-to nvidia-driver:{branch}-dkms --allowerasing "
            "&& sudo reboot",
            f"$ sudo dnf remove {_installed_packages(installed)} && {versionlock}",
        )
    else:
        rhel = _rhel(
            report,
            f"$ sudo dnf module install nvidia-driver:{branch}-dkms && sudo reboot",
            f"$ {versionlock}",
        )
    return _choose(
        report,
        {
            "ubuntu": (f"$ sudo apt-get install nvidia-driver-{branch} && sudo reboot",),
            "debian": (_debian_legacy(branch),),
            "fedora": (_fedora_legacy(branch, replacing=replacing),),
            "rhel": rhel,
        },
        f"Install the R{branch} driver branch (the last one for this GPU)",
    )


def _runfile_only(branch: int, *, replacing: bool) -> tuple[str, ...]:
    """The honest fix where no distribution packages the GPU's last branch: NVIDIA's ``.run``
    installer of that branch, or another GPU. No package command is given: every one of them
    would name a package that does not exist."""
    gone = "Remove the installed driver's packages first. " if replacing else ""
    return (
        f"R{branch} is the last driver branch for this GPU, and no distribution release in "
        f"support packages it (there is no nvidia-driver-{branch} or akmod-nvidia-{branch}xx).",
        f"{gone}Install the last {branch}.xx release with NVIDIA's .run installer from its "
        f"driver archive ({DRIVER_ARCHIVE}, the {branch}.* folders); a module that old may "
        "not build against a current kernel. Otherwise replace the GPU: no newer branch "
        "drives it.",
    )


def package_owning(report: Report, path: str) -> str:
    """The command that names the system package holding ``path``: dpkg on Debian and Ubuntu,
    rpm on Fedora and the RHEL family, both in turn where the distribution is unknown.

    The file is on the machine the report describes (inside a container: the container's own
    distribution, which the report records), so the container is no reason to hedge.
    """
    found = report_family(report, on_host=False)
    path = shell.word(path, "PATH")
    if found in ("ubuntu", "debian"):
        return f"$ dpkg -S {path}"
    if found in ("fedora", "rhel"):
        return f"$ rpm -qf {path}"
    return f"$ dpkg -S {path} || rpm -qf {path}"


_COMPILER: dict[Family, str] = {
    "ubuntu": "apt-get install -y build-essential",
    "debian": "apt-get install -y build-essential",
    "fedora": "dnf install -y gcc gcc-c++",
    "rhel": "dnf install -y gcc gcc-c++",
}
_APT_UPDATE = "apt-get update && "
"""An image's package lists are usually empty (Docker's images delete them), so a build installs
after ``apt-get update`` in the same step."""


def _image_recipe(container: str) -> str:
    """Where a container's packages are installed for good: its image's build recipe."""
    if container == "apptainer":
        return "in %post of the image's definition file (it runs as root)"
    return "as a RUN line of the image's Dockerfile (it runs as root)"


def install_compiler(report: Report) -> tuple[str, ...]:
    """Install a C and C++ compiler (Triton builds its launcher with one, extensions need both).

    Inside a container the install belongs in the image's recipe, with no sudo (a Dockerfile's
    RUN and Apptainer's %post run as root, and images seldom have sudo); one installed in a
    running container goes when it is recreated.
    """
    container = report.host.container
    if container is None or report.host.os != "linux":
        return _choose(
            report,
            {found: (f"$ sudo {command}",) for found, command in _COMPILER.items()},
            "Install gcc and g++",
        )
    found = report_family(report, on_host=False)  # the container's own os-release
    recipe = _image_recipe(container)
    if found != "unknown":
        update = _APT_UPDATE if found in ("ubuntu", "debian") else ""
        return (f"$ {update}{_COMPILER[found]}   # {recipe}",)
    return (
        f"Install gcc and g++ with the image's package manager, {recipe}; "
        f"Debian/Ubuntu: $ {_APT_UPDATE}{_COMPILER['debian']}",
    )


TOOLKIT_APT = (
    "$ curl -fsSL https://nvidia.github.io/libnvidia-container/gpgkey | sudo gpg --dearmor -o "
    "/usr/share/keyrings/nvidia-container-toolkit-keyring.gpg && curl -s -L "
    "https://nvidia.github.io/libnvidia-container/stable/deb/nvidia-container-toolkit.list | "
    "sed 's#deb https://#deb [signed-by=/usr/share/keyrings/nvidia-container-toolkit-keyring.gpg] "
    "https://#g' | sudo tee /etc/apt/sources.list.d/nvidia-container-toolkit.list",
    "$ sudo apt-get update && sudo apt-get install -y nvidia-container-toolkit",
)
TOOLKIT_DNF = (
    "$ curl -s -L https://nvidia.github.io/libnvidia-container/stable/rpm/"
    "nvidia-container-toolkit.repo | sudo tee /etc/yum.repos.d/nvidia-container-toolkit.repo",
    "$ sudo dnf install -y nvidia-container-toolkit",
)
"""NVIDIA's repository and package, as its Container Toolkit install guide gives them."""


def install_container_toolkit(report: Report) -> tuple[str, ...]:
    """Install the NVIDIA Container Toolkit from NVIDIA's repository (apt or dnf)."""
    found = report_family(report)
    if found in ("ubuntu", "debian"):
        return TOOLKIT_APT
    if found in ("fedora", "rhel"):
        return TOOLKIT_DNF
    return (
        f"Install nvidia-container-toolkit from NVIDIA's repository {PACKAGE_MANAGER}; "
        "Debian/Ubuntu:",
        *TOOLKIT_APT,
        "RHEL/Fedora:",
        *TOOLKIT_DNF,
    )
