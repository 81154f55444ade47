"""check_interpreter: Python 3 passes; text files, missing paths, Python 2 and hangs do not."""

from __future__ import annotations

import sys
import time

from gpudoctor.probe.interpreter import check_interpreter


def _executable(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    path.chmod(0o755)
    return str(path)


def test_this_interpreter_is_python_3():
    assert check_interpreter(sys.executable, 30) is None


def test_an_executable_text_file_is_not_an_interpreter(tmp_path):
    path = _executable(tmp_path, "notes.txt", "root:x:0:0:root:/root:/bin/bash\n")
    assert check_interpreter(path, 10) == "not a Python interpreter: exec format error"


def test_etc_passwd_is_not_an_interpreter():
    reason = check_interpreter("/etc/passwd", 10)
    assert reason is not None and reason.startswith("not a Python interpreter: ")


def test_a_missing_path(tmp_path):
    reason = check_interpreter(str(tmp_path / "no-python"), 10)
    assert reason == "not a Python interpreter: no such file or directory"


def test_a_program_that_is_not_python(tmp_path):
    path = _executable(tmp_path, "fake-python", "#!/bin/sh\necho hello\n")
    reason = check_interpreter(path, 10)
    assert reason is not None and "'hello'" in reason


def test_a_program_that_prints_nothing_is_said_to_print_nothing(tmp_path):
    # It read "it printed 'nothing'", as if the program had printed that word.
    path = _executable(tmp_path, "silent", "#!/bin/sh\nexit 0\n")
    reason = check_interpreter(path, 10)
    assert reason == "not a Python interpreter: asked for its version, it printed nothing"


def test_a_failing_program_names_its_last_words(tmp_path):
    path = _executable(tmp_path, "broken-python", "#!/bin/sh\necho 'cannot start' >&2\nexit 3\n")
    assert check_interpreter(path, 10) == (
        "not a Python interpreter: it exited with status 3: cannot start"
    )


def test_python_2_is_named(tmp_path):
    path = _executable(tmp_path, "python2", "#!/bin/sh\necho 'gpudoctor-python 2.7'\n")
    assert check_interpreter(path, 10) == "not a Python 3 interpreter: it is Python 2.7"


def test_an_interpreter_that_hangs_times_out(tmp_path):
    path = _executable(tmp_path, "slow-python", "#!/bin/sh\nsleep 30\n")
    start = time.monotonic()
    reason = check_interpreter(path, 0.5)
    assert time.monotonic() - start < 5
    assert reason is not None and reason.startswith("timed out")
