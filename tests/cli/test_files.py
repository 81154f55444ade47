"""Writing user files: refusal without --force, atomic replacement, ordinary permissions."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pytest

from gpudoctor.cli.files import write_output
from gpudoctor.errors import BadInputError, OutputExistsError
from tests.conftest import DATA


def test_refuses_to_overwrite_without_force(tmp_path):
    target = tmp_path / "env.yml"
    target.write_text("mine")
    with pytest.raises(OutputExistsError, match="--force"):
        write_output(target, "new", force=False)
    assert target.read_text() == "mine"


def test_force_replaces_and_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "env.yml"
    target.write_text("mine")
    write_output(target, "new", force=True)
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["env.yml"]


def test_mode_follows_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        write_output(tmp_path / "r.json", b"{}", force=False)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "r.json").stat().st_mode) == 0o644


def test_missing_folder_is_bad_input(tmp_path):
    with pytest.raises(BadInputError, match="no such directory"):
        write_output(tmp_path / "absent" / "r.json", "x", force=False)


def test_an_unwritable_place_is_bad_input_not_a_crash(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        if os.access(folder, os.W_OK):  # root ignores permissions: use a place no one can write
            target = Path("/proc/gpudoctor-test.json")
        else:
            target = folder / "r.json"
        with pytest.raises(BadInputError, match="cannot write there"):
            write_output(target, "x", force=False)
    finally:
        folder.chmod(0o700)


def test_force_keeps_the_permissions_of_the_replaced_file(tmp_path):
    target = tmp_path / "report.json"
    target.write_text("old")
    target.chmod(0o600)
    write_output(target, "new", force=True)
    assert target.read_text() == "new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_force_through_a_symlink_replaces_its_target_and_keeps_the_link(tmp_path):
    real = tmp_path / "shared" / "env.yml"
    real.parent.mkdir()
    real.write_text("old")
    link = tmp_path / "env.yml"
    link.symlink_to(real)
    with pytest.raises(OutputExistsError):
        write_output(link, "new", force=False)
    write_output(link, "new", force=True)
    assert link.is_symlink()
    assert real.read_text() == "new"
    assert sorted(p.name for p in real.parent.iterdir()) == ["env.yml"]


def test_dash_means_standard_output(tmp_path, monkeypatch, capfdbinary):
    monkeypatch.chdir(tmp_path)
    write_output(Path("-"), "to stdout\n", force=False)
    assert capfdbinary.readouterr().out == b"to stdout\n"
    assert list(tmp_path.iterdir()) == []


def test_a_device_or_fifo_is_written_in_place_not_replaced(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    import threading

    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    for _ in range(100):  # until the reader thread has the FIFO open
        try:
            write_output(fifo, "through the pipe", force=False)
            break
        except BadInputError as exc:
            assert "no program is reading" in str(exc)
            time.sleep(0.05)
    reader.join(timeout=10)
    assert got == [b"through the pipe"]
    assert stat.S_ISFIFO(fifo.stat().st_mode)


def test_dev_null_needs_no_force_and_stays_a_device():
    write_output(Path(os.devnull), "discarded", force=False)
    assert stat.S_ISCHR(Path(os.devnull).stat().st_mode)


def test_a_dangling_link_into_a_missing_folder_is_refused_up_front(tmp_path):
    from gpudoctor.cli.files import check_output

    link = tmp_path / "r.json"
    link.symlink_to(tmp_path / "gone" / "r.json")
    with pytest.raises(BadInputError, match="no such directory"):
        check_output(link, force=False)


def test_a_link_loop_is_bad_input_not_a_crash(tmp_path):
    from gpudoctor.cli.files import check_output

    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    with pytest.raises(BadInputError, match="cannot follow the link"):
        check_output(loop, force=True)


def test_an_empty_output_name_is_bad_input():
    with pytest.raises(BadInputError, match="needs a file name"):
        write_output(Path(""), "x", force=True)


def test_a_link_to_the_file_standard_output_is_names_standard_output(tmp_path, monkeypatch):
    """``-o /dev/stdout`` is ``-o -``: /dev/stdout is the kernel's link to descriptor 1, here
    stood in for by /proc/self/fd/N of the file sys.stdout writes to."""
    import sys

    from gpudoctor.cli.files import is_stdout

    with (tmp_path / "out").open("w") as out, (tmp_path / "other").open("w") as other:
        monkeypatch.setattr(sys, "stdout", out)
        assert is_stdout(Path("-"))
        assert is_stdout(Path(f"/proc/self/fd/{out.fileno()}"))
        assert not is_stdout(Path(f"/proc/self/fd/{other.fileno()}"))
        assert not is_stdout(tmp_path / "out")  # the file itself, by name: a file to write
        assert not is_stdout(None)


@pytest.mark.parametrize(
    "args",
    [
        ("check", "--from-report", "{report}"),
        ("diff", "{report}", "{report}"),
        ("make-env", "--from-report", "{report}"),
        ("history",),
    ],
    ids=["check", "diff", "make-env", "history"],
)
def test_dev_stdout_is_exactly_dash(cli, monkeypatch, args, _private_history):
    """The same bytes on stdout as ``-o -`` (check's text unredacted, make-env's create line
    naming its default file), and no ``wrote /dev/stdout`` on stderr."""
    from gpudoctor.cli import files
    from tests.conftest import DATA

    report = str(DATA / "reports" / "linux-x86_64__nvidia-h200__590.48.01__idle.json")
    argv = [a.replace("{report}", report) for a in args]
    # The runner's stdout has no descriptor for /dev/stdout to lead to: stand in for the link.
    monkeypatch.setattr(files, "_names_stdout", lambda path: str(path) == "/dev/stdout")
    dash = cli(*argv, "-o", "-")
    dev = cli(*argv, "-o", "/dev/stdout")
    assert dev.exit_code == dash.exit_code, dev
    assert dev.stdout == dash.stdout and dev.stdout
    assert "wrote" not in dev.stderr
    assert "<redacted>" not in dev.stdout and "/dev/stdout" not in dev.stdout


def test_the_wrote_line_shows_control_characters_of_the_name_as_escapes(cli, tmp_path, monkeypatch):
    # `-o $'\e]0;pwned\a.json'` printed "wrote " and the raw OSC sequence on stderr: on a
    # terminal it retitled the window (every other stderr line is made inert)
    monkeypatch.chdir(tmp_path)
    name = "\x1b]0;pwned\x07\u202e.json"
    report = str(DATA / "reports" / "failure__no_driver.json")
    result = cli("check", "--from-report", report, "-o", name)
    assert result.exit_code == 1, result
    assert (tmp_path / name).is_file()
    assert result.stderr == "wrote \\x1b]0;pwned\\x07\\u202e.json\n", result


def test_the_history_info_line_shows_control_characters_as_escapes(cli, tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("")
    where = blocked / "\x1b[2J"
    result = cli(
        "check",
        "--no-frameworks",
        "--timeout",
        "5",
        "--history-dir",
        str(where),
        env={"GPUDOCTOR_NO_HISTORY": None},
    )
    assert "\x1b" not in result.stderr, result
    assert "report not kept in the history" in result.stderr and "\\x1b[2J" in result.stderr
