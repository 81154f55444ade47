"""What the framework children record about a failed import: chained errors, what it printed,
its warnings, the Requires-Dist lines; the CPU's flags; the convolution in the torch child."""

from __future__ import annotations

import os
import sys
import warnings

import pytest

from gpudoctor import kb
from gpudoctor.probe.base import ProbeContext
from gpudoctor.probe.children import _shared, torch_probe
from gpudoctor.probe.frameworks import probe_framework
from gpudoctor.probe.host import CPU_FLAGS, parse_cpu_flags

# NumPy 2's banner as https://github.com/pytorch/pytorch/issues/135013 quotes it (torch 2.4.0,
# NumPy 2.1.0), printed to stderr before the import fails on _ARRAY_API
BANNER = (
    "\nA module that was compiled using NumPy 1.x cannot be run in\n"
    "NumPy 2.1.0 as it may crash. To support both 1.x and 2.x\n"
    "versions of NumPy, modules must be compiled with NumPy 2.0.\n"
    "Some module may need to rebuild instead e.g. with 'pybind11>=2.12'.\n\n"
    "If you are a user of the module, the easiest solution will be to\n"
    "downgrade to 'numpy<2' or try to upgrade the affected module.\n"
    "We expect that some modules will need time to support NumPy 2.\n\n"
    'Traceback (most recent call last):  File "<string>", line 1, in <module>\n'
    '  File "/x/torch/__init__.py", line 2120, in <module>\n'
    "    from torch._higher_order_ops import cond\n"
    "AttributeError: _ARRAY_API not found\n"
)


def test_the_import_log_keeps_the_banner_the_chain_and_the_warnings(capsys):
    with _shared.ImportLog() as log:
        sys.stderr.write(BANNER)
        warnings.warn("Failed to initialize NumPy: _ARRAY_API not found", UserWarning, 1)
        warnings.warn("old API", DeprecationWarning, 1)
        try:
            try:
                raise AttributeError("_ARRAY_API not found")
            except AttributeError as inner:
                raise ImportError("numpy.core.multiarray failed to import") from inner
        except ImportError as exc:
            failure = exc
    notes = log.notes(failure)
    assert notes[0] == "AttributeError: _ARRAY_API not found"  # the first raised comes first
    assert notes[1] == "ImportError: numpy.core.multiarray failed to import"
    assert notes[2].startswith(
        "A module that was compiled using NumPy 1.x cannot be run in NumPy 2.1.0 as it may crash."
    )
    assert "UserWarning: Failed to initialize NumPy: _ARRAY_API not found" in notes
    assert not any("DeprecationWarning" in n or "File " in n for n in notes)
    assert len(notes) <= _shared.NOTES_MAX and all(len(n) <= _shared.NOTE_CHARS for n in notes)
    assert sys.stderr is not log  # restored
    assert "compiled using NumPy 1.x" in capsys.readouterr().err  # still passed on


def test_the_import_notes_are_bounded():
    with _shared.ImportLog() as log:
        for i in range(40):
            sys.stderr.write(f"line {i} " + "x" * 1000 + "\n\n")
    notes = log.notes()
    assert len(notes) == _shared.NOTES_MAX
    assert all(len(n) == _shared.NOTE_CHARS for n in notes)


def test_requires_are_read_from_metadata_without_importing():
    assert _shared.nvidia_requires("no-such-distribution-here") == []
    # pytest is installed and requires no nvidia-* wheel: the list is read, and empty
    assert _shared.nvidia_requires("no-such-distribution-here", "pytest") == []


def test_a_stand_in_torch_that_fails_like_numpy_2_is_recorded_and_classified(tmp_path):
    package = tmp_path / "fakes" / "torch"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(
        f"import sys\nsys.stderr.write({BANNER!r})\nraise AttributeError('_ARRAY_API not found')\n"
    )
    env = {**os.environ, "PYTHONPATH": str(package.parent)}
    info = probe_framework(ProbeContext(env=env, timeout_s=60), "torch")
    assert info.status == "import_error"
    assert info.message == "import torch failed: _ARRAY_API not found"
    assert any(
        n.startswith("A module that was compiled using NumPy 1.x") for n in info.import_messages
    )
    causes = {m.cause for n in info.import_messages if (m := kb.load().message_cause(n))}
    assert causes == {"numpy_abi"}


CPUINFO_WESTMERE = (
    "processor\t: 0\nmodel name\t: Intel(R) Xeon(R) CPU           E5620  @ 2.40GHz\n"
    "flags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 "
    "clflush dts acpi mmx fxsr sse sse2 ss ht tm pbe syscall nx rdtscp lm constant_tsc "
    "pni pclmulqdq ssse3 cx16 sse4_1 sse4_2 popcnt aes lahf_lm\n"
)


def test_cpu_flags_are_the_checked_ones_the_cpu_lists():
    assert parse_cpu_flags(CPUINFO_WESTMERE) == ("sse4_1", "sse4_2")
    modern = CPUINFO_WESTMERE.replace("aes", "aes avx avx2 fma f16c avx512f")
    assert parse_cpu_flags(modern) == ("sse4_1", "sse4_2", "avx", "avx2", "fma", "f16c", "avx512f")
    assert parse_cpu_flags("Features\t: fp asimd evtstrm aes sve sve2\n") == (
        "asimd",
        "sve",
        "sve2",
    )
    assert parse_cpu_flags("processor : 0\n") is None
    assert parse_cpu_flags(None) is None
    assert len(CPU_FLAGS) < 20  # a bounded list, not the CPU's hundred flags


def test_the_torch_convolution_matches_the_cpu_and_reports_a_failure():
    torch = pytest.importorskip("torch")
    assert torch_probe.conv(torch, "cpu") == {"conv_ok": True}
    failed = torch_probe.conv(torch, "no-such-device:0")
    assert failed["conv_ok"] is False and failed["conv_error"]


def test_a_stand_in_tensorflow_that_aborts_for_want_of_avx_is_classified(tmp_path):
    # tensorflow/tensorflow#6896: cpu_feature_guard prints its F-line, then the process aborts
    package = tmp_path / "fakes" / "tensorflow"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(
        "import os, sys\n"
        "sys.stderr.write('2018-01-17 08:21:49.120154: F tensorflow/core/platform/"
        "cpu_feature_guard.cc:35] The TensorFlow library was compiled to use AVX2 instructions, "
        "but these aren\\'t available on your machine.\\n')\n"
        "sys.stderr.flush()\n"
        "os.abort()\n"
    )
    env = {**os.environ, "PYTHONPATH": str(package.parent)}
    info = probe_framework(ProbeContext(env=env, timeout_s=60), "tensorflow")
    assert info.status == "crashed"
    match = kb.load().message_cause(info.message)
    assert match is not None and match.cause == "cpu_isa" and match.groups["isa"] == "AVX2"
