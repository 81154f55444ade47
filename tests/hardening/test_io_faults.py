"""Output traps and hostile inputs from the file system: FIFOs, devices, links, odd names."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from gpudoctor.cli.files import check_output, read_capped, write_output
from gpudoctor.errors import BadInputError, OutputExistsError
from gpudoctor.model.serialize import MAX_REPORT_BYTES, report_to_json
from gpudoctor.userfiles.read import load_report
from tests.conftest import Cli
from tests.hardening.conftest import child_env
from tests.rules.builders import healthy

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX files")


def one_line(result, status: int = 2) -> str:
    assert result.exit_code == status, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gpudoctor: error: "), result
    assert "Traceback" not in result.stderr
    return lines[0]


@pytest.fixture
def report(tmp_path: Path) -> Path:
    path = tmp_path / "report.json"
    path.write_text(report_to_json(healthy()), encoding="utf-8")
    return path


def _timed(fn, *args, **kwargs):
    """Run ``fn`` in a thread; fail (instead of hanging the suite) if it blocks."""
    box: list[object] = []
    thread = threading.Thread(target=lambda: box.append(_catch(fn, *args, **kwargs)), daemon=True)
    thread.start()
    thread.join(timeout=10)
    assert not thread.is_alive(), f"{fn.__name__} blocked"
    return box[0]


def _catch(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except Exception as exc:
        return exc


# --- reading -------------------------------------------------------------------------------


def test_dev_zero_is_refused_before_a_byte_is_read(cli: Cli):
    line = one_line(cli("check", "--from-report", "/dev/zero"))
    assert "character device, not a report file" in line


def test_a_fifo_without_a_writer_is_refused_not_waited_on(cli: Cli, tmp_path: Path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    result = _timed(cli, "check", "--from-report", str(fifo))
    assert "named pipe, not a report file" in one_line(result)


def test_read_capped_refuses_a_fifo_with_the_limit_unread(tmp_path: Path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    error = _timed(read_capped, fifo, limit=10, what="report")
    assert isinstance(error, BadInputError) and "named pipe" in str(error)


def test_a_file_over_the_limit_is_refused_with_the_limit_in_the_message(tmp_path: Path):
    big = tmp_path / "big.json"
    with big.open("wb") as fh:  # sparse: costs no disk
        fh.truncate(MAX_REPORT_BYTES + 1)
    with pytest.raises(BadInputError, match="larger than 16 MiB, the most a report may be"):
        load_report(big)


def test_read_capped_stops_at_the_limit_even_when_size_says_zero(tmp_path: Path):
    """/proc files say size 0 and may be endless; the cap holds while reading, too."""
    with pytest.raises(BadInputError, match="larger than 1 KiB"):
        read_capped(Path("/proc/self/maps"), limit=1024, what="file")


def test_standard_input_from_dev_zero_stops_at_the_limit():
    with open("/dev/zero", "rb") as zero:
        proc = subprocess.run(
            [sys.executable, "-m", "gpudoctor", "check", "--from-report", "-"],
            stdin=zero,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip() == (
        "gpudoctor: error: standard input is larger than 16 MiB, the most a report may be"
    )


def test_dev_stdin_reads_standard_input(tmp_path: Path, report: Path):
    with report.open("rb") as fh:
        proc = subprocess.run(
            [sys.executable, "-m", "gpudoctor", "check", "--from-report", "/dev/stdin"],
            stdin=fh,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert proc.returncode == 0, proc.stderr
    assert "0 errors" in proc.stdout


def test_a_directory_as_report_is_refused(cli: Cli, tmp_path: Path):
    line = one_line(cli("check", "--from-report", str(tmp_path)))
    assert "is a directory" in line


# --- writing -------------------------------------------------------------------------------


@pytest.mark.parametrize("force", [False, True])
def test_output_onto_a_fifo_without_a_reader_is_refused_not_waited_on(
    cli: Cli, tmp_path: Path, report: Path, force: bool
):
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    args = ["check", "--from-report", str(report), "-o", str(fifo)] + (["--force"] if force else [])
    result = _timed(cli, *args)
    assert "no program is reading" in one_line(result)


def test_a_dangling_link_is_not_followed_without_force(tmp_path: Path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    link = tmp_path / "report.json"
    link.symlink_to(elsewhere / "created.json")
    with pytest.raises(BadInputError, match="which does not exist; use --force"):
        write_output(link, "x", force=False)
    assert list(elsewhere.iterdir()) == []
    write_output(link, "x", force=True)  # --force says so: the link's target is created
    assert (elsewhere / "created.json").read_text() == "x" and link.is_symlink()


@pytest.mark.parametrize("name", ["newdir/", "newdir/.", "newdir/..", "./"])
def test_a_trailing_slash_names_a_directory(cli: Cli, tmp_path: Path, report: Path, name):
    target = f"{tmp_path}/{name}" if name != "./" else name
    line = one_line(cli("check", "--from-report", str(report), "-o", target))
    assert "names a directory; give a file name" in line
    assert not (tmp_path / "newdir").exists()


def test_an_over_long_output_name_is_bad_input(cli: Cli, tmp_path: Path, report: Path):
    line = one_line(cli("check", "--from-report", str(report), "-o", str(tmp_path / ("a" * 300))))
    assert "File name too long" in line


def test_a_file_in_place_of_a_folder_is_bad_input(tmp_path: Path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(BadInputError):
        check_output(tmp_path / "file" / "r.json", force=False)


def test_a_socket_is_refused(tmp_path: Path):
    import socket

    path = tmp_path / "s"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(path))
        with pytest.raises(BadInputError, match="a socket"):
            check_output(path, force=True)


def test_a_name_that_fits_but_whose_temporary_would_not_is_written(tmp_path: Path):
    target = tmp_path / ("r" * 250)
    write_output(target, "x", force=False)
    assert target.read_text() == "x"


def test_an_existing_file_is_still_refused(tmp_path: Path):
    (tmp_path / "r.json").write_text("mine")
    with pytest.raises(OutputExistsError):
        check_output(tmp_path / "r.json", force=False)


def _run(*args: str, **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gpudoctor", *args],
        capture_output=kwargs.pop("capture_output", True),
        text=True,
        timeout=60,
        check=False,
        **kwargs,
    )


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_full_device_as_output_is_one_line(report: Path):
    proc = _run("check", "--from-report", str(report), "-o", "/dev/full")
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip() == (
        "gpudoctor: error: /dev/full: cannot write there (No space left on device)"
    )


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_standard_output_on_dev_full_is_one_line(report: Path):
    with open("/dev/full", "w") as full:
        proc = subprocess.run(
            [sys.executable, "-m", "gpudoctor", "check", "--from-report", str(report)],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip() == (
        "gpudoctor: error: cannot write the output: No space left on device"
    )


def test_a_closed_standard_output_is_one_line(report: Path):
    code = "import os, sys; os.close(1); sys.stdout = None; from gpudoctor.cli import main; main()"
    proc = subprocess.run(
        [sys.executable, "-c", code, "check", "--from-report", str(report)],
        stderr=subprocess.PIPE,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert (
        proc.stderr.strip()
        == "gpudoctor: error: cannot write the output: standard output is closed"
    )


def test_a_closed_standard_output_does_not_stop_an_output_file(report: Path, tmp_path: Path):
    out = tmp_path / "out.md"
    code = "import os, sys; os.close(1); sys.stdout = None; from gpudoctor.cli import main; main()"
    proc = subprocess.run(
        [sys.executable, "-c", code, "check", "--from-report", str(report), "-o", str(out)],
        stderr=subprocess.PIPE,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert out.read_text().startswith("## gpudoctor check")


def test_dev_stdout_is_standard_output_through_a_pipe(report: Path):
    proc = _run("check", "--from-report", str(report), "-o", "/dev/stdout", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["verdict"] == "ok"


def test_a_terminal_sees_no_escape_sequence_from_a_report(tmp_path: Path):
    """Through a real pseudo-terminal: colour codes yes, the report's OSC and clear-screen no."""
    import pty

    from tests.hardening.test_values import hostile_report

    path = tmp_path / "hostile.json"
    path.write_text(report_to_json(hostile_report("\x1b]0;pwned\x07\x1b[2J\x9b31m\u202e")))
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gpudoctor", "check", "--from-report", str(path), "-v"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=child_env(),
    )
    os.close(slave)
    chunks = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    proc.wait(timeout=60)
    os.close(master)
    shown = b"".join(chunks).decode("utf-8", "replace")
    assert "\x1b[" in shown, "a terminal gets colour"
    assert "\x1b]" not in shown and "\x1b[2J" not in shown and "\x07" not in shown
    assert "\x9b" not in shown and "\u202e" not in shown
    assert "\\x1b]0;pwned\\x07\\x1b[2J" in shown


def test_standard_output_lets_colour_through_and_nothing_else() -> None:
    import io

    from gpudoctor.cli import InertStdout

    raw = io.StringIO()
    out = InertStdout(raw)  # type: ignore[arg-type]
    out.write("\x1b[1;31mred\x1b[0m \x1b]0;title\x07\x1b[2J\r\u202e ok\n")
    assert raw.getvalue() == "\x1b[1;31mred\x1b[0m \\x1b]0;title\\x07\\x1b[2J\\x0d\\u202e ok\n"


def test_an_error_line_quoting_the_input_is_inert_and_one_line(tmp_path: Path) -> None:
    doc = json.loads(report_to_json(healthy()))
    doc["host"]["env"] = {"\x1b]0;pwned\x07\nX": 5}
    path = tmp_path / "r.json"
    path.write_text(json.dumps(doc))
    proc = _run("check", "--from-report", str(path))
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and "\x1b" not in proc.stderr and "\x07" not in proc.stderr
    assert "\\x1b]0;pwned\\x07\\nX: expected str" in proc.stderr


def _through_a_terminal(code: str) -> str:
    """What a pseudo-terminal shows when ``code`` runs with it as standard output."""
    import pty

    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=slave, stderr=slave)
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    proc.wait(timeout=60)
    os.close(master)
    return b"".join(chunks).decode("utf-8", "replace")


def test_output_dash_on_a_terminal_is_inert_and_exact_through_a_pipe(tmp_path: Path) -> None:
    code = (
        "from pathlib import Path; from gpudoctor.cli.files import write_output;"
        "write_output(Path('-'), '\\x1b[31mred\\x1b[0m \\x1b]0;x\\x07\\n', force=False)"
    )
    shown = _through_a_terminal(code)
    assert "\x1b[31mred\x1b[0m" in shown and "\\x1b]0;x\\x07" in shown and "\x07" not in shown
    piped = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, timeout=60, check=True
    ).stdout
    assert piped == b"\x1b[31mred\x1b[0m \x1b]0;x\x07\n"


def test_a_file_that_appears_after_the_check_is_not_replaced(tmp_path: Path, monkeypatch) -> None:
    from gpudoctor.cli import files

    target = tmp_path / "r.json"
    real_check = files.check_output

    def check_then_race(path: Path, *, force: bool) -> Path:
        folder = real_check(path, force=force)
        target.write_text("someone else's")  # created between the check and the write
        return folder

    monkeypatch.setattr(files, "check_output", check_then_race)
    with pytest.raises(OutputExistsError):
        files.write_output(target, "ours", force=False)
    assert target.read_text() == "someone else's"
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]  # no temporary file left


@pytest.mark.parametrize("command", ["check", "make-env"])
def test_a_closed_standard_input_is_one_line(command: str) -> None:
    code = "import os, sys; os.close(0); sys.stdin = None; from gpudoctor.cli import main; main()"
    proc = subprocess.run(
        [sys.executable, "-c", code, command, "--from-report", "-"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip() == "gpudoctor: error: standard input: cannot read (closed)"


def test_a_fifo_without_a_reader_fails_before_the_work(tmp_path: Path) -> None:
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    error = _timed(check_output, fifo, force=False)
    assert isinstance(error, BadInputError) and "no program is reading" in str(error)


def test_a_fifo_with_a_reader_is_held_open_from_the_check_to_the_write(tmp_path: Path) -> None:
    from gpudoctor.cli import files

    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    for _ in range(100):
        try:
            check_output(fifo, force=False)
            break
        except BadInputError:
            time.sleep(0.05)
    time.sleep(0.2)
    assert reader.is_alive() and got == []  # no end of data after the check
    write_output(fifo, "after the work", force=False)
    reader.join(timeout=10)
    assert got == [b"after the work"] and files._held == {}


def test_dev_stdin_on_a_terminal_is_refused_not_waited_on(tmp_path: Path) -> None:
    import pty

    master, slave = pty.openpty()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "gpudoctor", "check", "--from-report", "/dev/stdin"],
            stdin=slave,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        os.close(slave)
        os.close(master)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip() == (
        "gpudoctor: error: standard input is a terminal: pipe the report in, or name the file"
    )
