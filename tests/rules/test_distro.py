"""Distribution families and the package-manager commands chosen for them."""

from __future__ import annotations

import pytest

from gpudoctor.rules import distro
from tests.rules.builders import healthy, with_host


@pytest.mark.parametrize(
    ("pretty", "family"),
    [
        ("Ubuntu 22.04.5 LTS", "ubuntu"),
        ("Linux Mint 21.3", "ubuntu"),
        ("Debian GNU/Linux 12 (bookworm)", "debian"),
        ("Fedora Linux 44 (Cloud Edition)", "fedora"),
        ("Red Hat Enterprise Linux 9.4 (Plow)", "rhel"),
        ("Rocky Linux 9.4 (Blue Onyx)", "rhel"),
        ("AlmaLinux 9.4 (Seafoam Ocelot)", "rhel"),
        ("CentOS Stream 9", "rhel"),
        ("Arch Linux", "unknown"),
        ("openSUSE Tumbleweed", "unknown"),
        (None, "unknown"),
    ],
)
def test_family_of_an_os_release_name(pretty, family):
    assert distro.family(pretty) == family


def on(pretty, **host):
    return with_host(healthy(), os_release=pretty, **host)


def commands(lines):
    return " ".join(lines)


def test_each_family_gets_its_own_package_manager():
    ubuntu, fedora = on("Ubuntu 24.04.1 LTS"), on("Fedora Linux 44 (Workstation Edition)")
    rocky = on("Rocky Linux 9.4 (Blue Onyx)")
    assert "ubuntu-drivers" in commands(distro.install_driver(ubuntu))
    assert "akmod-nvidia" in commands(distro.install_driver(fedora))
    assert "dnf" in commands(distro.install_driver(rocky))
    assert "apt-mark hold" in commands(distro.hold_driver(ubuntu))
    assert "dnf versionlock add" in commands(distro.hold_driver(fedora))
    assert "dnf versionlock add" in commands(distro.hold_driver(rocky))
    assert "linux-headers" in commands(distro.rebuild_module(ubuntu))
    assert "kernel-devel" in commands(distro.rebuild_module(fedora))
    assert "akmods" in commands(distro.rebuild_module(fedora))
    assert "libnvidia-compute-590" in commands(distro.install_compute_libraries(ubuntu, "590"))
    assert "dnf" in commands(distro.install_compute_libraries(fedora, "590"))
    assert "dracut" in commands(distro.rebuild_initramfs(fedora))
    for report in (fedora, rocky):
        every = [
            distro.install_driver(report),
            distro.reinstall_libraries(report, "590"),
            distro.install_compute_libraries(report, "590"),
            distro.rebuild_module(report),
            distro.hold_driver(report),
        ]
        assert not any("apt" in line for lines in every for line in lines)


def test_debian_is_not_given_ubuntu_only_tools():
    debian = on("Debian GNU/Linux 12 (bookworm)")
    assert "ubuntu-drivers" not in commands(distro.install_driver(debian))
    assert "apt-get install nvidia-driver" in commands(distro.install_driver(debian))


@pytest.mark.parametrize("host", [{"os_release": "Arch Linux"}, {"container": "docker"}])
def test_an_unknown_distribution_gets_words_and_the_labelled_ubuntu_command(host):
    report = with_host(healthy(), **host)
    (line,) = distro.install_driver(report)
    assert "with your distribution's package manager" in line
    assert line.endswith("Ubuntu: $ sudo ubuntu-drivers install")
    (line,) = distro.rebuild_module(report)
    assert "Debian/Ubuntu: $ sudo apt-get install linux-headers" in line


def test_a_compiler_is_installed_with_the_containers_own_package_manager():
    # torch.compile runs in the container: a Fedora image gets dnf, not the labelled apt line
    # that a driver fix (run on the unknown host) gets.
    fedora_image = on("Fedora Linux 44 (KDE Plasma Desktop Edition)", container="docker")
    assert distro.install_compiler(fedora_image) == (
        "$ dnf install -y gcc gcc-c++   # as a RUN line of the image's Dockerfile "
        "(it runs as root)",
    )
    assert "with your distribution's package manager" in distro.install_driver(fedora_image)[0]
    unknown_image = on("Alpine Linux v3.20", container="docker")
    (line,) = distro.install_compiler(unknown_image)
    assert line == (
        "Install gcc and g++ with the image's package manager, as a RUN line of the image's "
        "Dockerfile (it runs as root); Debian/Ubuntu: $ apt-get update && apt-get install -y "
        "build-essential"
    )


def test_a_compiler_in_a_container_goes_in_the_image_without_sudo():
    # One is root in a Dockerfile's RUN and Apptainer's %post, and images seldom have sudo.
    ubuntu_image = on("Ubuntu 22.04.5 LTS", container="podman")
    assert distro.install_compiler(ubuntu_image) == (
        "$ apt-get update && apt-get install -y build-essential   # as a RUN line of the "
        "image's Dockerfile (it runs as root)",
    )
    sif = on("Ubuntu 22.04.5 LTS", container="apptainer")
    assert distro.install_compiler(sif) == (
        "$ apt-get update && apt-get install -y build-essential   # in %post of the image's "
        "definition file (it runs as root)",
    )
    for report in (ubuntu_image, sif):
        assert "sudo" not in distro.install_compiler(report)[0]
    assert distro.install_compiler(on("Ubuntu 22.04.5 LTS")) == (
        "$ sudo apt-get install -y build-essential",
    )


@pytest.mark.parametrize(
    ("pretty", "major"),
    [
        ("Rocky Linux 9.4 (Blue Onyx)", 9),
        ("Red Hat Enterprise Linux 10.0 (Coughlan)", 10),
        ("AlmaLinux 8.10 (Cerulean Leopard)", 8),
        ("CentOS Stream 9", 9),
        ("Red Hat Enterprise Linux", None),
        ("Ubuntu 24.04.1 LTS", None),
        (None, None),
    ],
)
def test_the_rhel_release_is_read_from_the_pretty_name(pretty, major):
    assert distro.rhel_major(pretty) == major


def test_debian_legacy_branches_name_packages_debian_has():
    # Debian's archive (bookworm, trixie, sid; contrib and non-free, apt-cache 2026-12-07):
    # nvidia-tesla-470-driver, nvidia-legacy-390xx-driver, nvidia-legacy-340xx-driver, and no
    # nvidia-tesla-580-driver; its own nvidia-driver (535, 550) still drives Pascal.
    debian = on("Debian GNU/Linux 13 (trixie)")
    (kepler,) = distro.install_legacy_branch(debian, 470)
    assert kepler == "$ sudo apt-get install nvidia-tesla-470-driver && sudo reboot"
    (fermi,) = distro.install_legacy_branch(debian, 390)
    assert "nvidia-legacy-390xx-driver" in fermi
    (pascal,) = distro.install_legacy_branch(debian, 580)
    assert "nvidia-tesla-580" not in pascal
    assert pascal.startswith("$ sudo apt-get install nvidia-driver && sudo reboot")


def test_rhel_8_and_9_switch_the_module_stream_rhel_10_has_none():
    # NVIDIA Driver Installation Guide, Advanced Options: `module install` of another stream
    # is refused while one is enabled; RHEL 10 has no modularity at all.
    nine, ten = on("Rocky Linux 9.4 (Blue Onyx)"), on("Red Hat Enterprise Linux 10.0 (Coughlan)")
    assert distro.switch_module_flavour(nine, "open", "580")[0] == (
        "$ sudo dnf -y module switch-to nvidia-driver:580-open --allowerasing && sudo reboot"
    )
    assert distro.switch_module_flavour(nine, "proprietary", "580")[0] == (
        "$ sudo dnf -y module switch-to nvidia-driver:580-dkms --allowerasing && sudo reboot"
    )
    assert "nvidia-driver:open-dkms" in distro.switch_module_flavour(nine, "open", "<branch>")[0]
    assert distro.switch_module_flavour(ten, "open", "580")[0] == (
        "$ sudo dnf install --allowerasing nvidia-open && sudo reboot"
    )
    assert distro.switch_module_flavour(ten, "proprietary", "580")[0] == (
        "$ sudo dnf install --allowerasing cuda-drivers && sudo reboot"
    )
    (legacy,) = distro.install_legacy_branch(ten, 580)
    assert "module" not in legacy and "versionlock add '*nvidia*580*'" in legacy
    for report in (nine, ten):
        for lines in (
            distro.switch_module_flavour(report, "open", "580"),
            distro.install_legacy_branch(report, 470),
        ):
            assert not any("module install" in line for line in lines)


def test_a_rhel_of_unknown_release_gets_both_commands_labelled():
    report = on("Red Hat Enterprise Linux")
    eight_nine, ten = distro.install_legacy_branch(report, 580)
    assert eight_nine.startswith("$ sudo dnf -y module switch-to nvidia-driver:580-dkms")
    assert eight_nine.endswith("# RHEL 8/9") and ten.endswith("# RHEL 10")


@pytest.mark.parametrize("branch", [470, 580])
def test_fedora_legacy_branch_replaces_rpm_fusions_current_driver(branch):
    # RPM Fusion packages a legacy branch as akmod-nvidia-<branch>xx (its nvidia-<branch>xx-kmod
    # spec) with xorg-x11-drv-nvidia-<branch>xx-cuda beside it; the current
    # xorg-x11-drv-nvidia (595 and later) Conflicts with both, so a plain `dnf install
    # akmod-nvidia-580xx` beside it is refused, and the -cuda package is what brings
    # nvidia-smi and libcuda (rpmfusion/xorg-x11-drv-nvidia, rpmfusion/nvidia-580xx-kmod,
    # read 2026-12-07).
    fedora = on("Fedora Linux 44 (Workstation Edition)")
    (line,) = distro.install_legacy_branch(fedora, branch)
    remove, install, reboot = line.split(" && ")
    assert remove == "$ sudo dnf remove akmod-nvidia 'kmod-nvidia*' 'xorg-x11-drv-nvidia*'"
    assert install == (
        f"sudo dnf install --allowerasing akmod-nvidia-{branch}xx "
        f"xorg-x11-drv-nvidia-{branch}xx-cuda"
    )
    assert reboot == "sudo reboot"
