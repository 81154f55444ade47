"""import_errors.toml: every row sourced, each matches the message of its own thread first, and
a bad row is refused on load."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gpudoctor.errors import KnowledgeBaseError
from gpudoctor.kb import load
from gpudoctor.kb.loader import DATA_DIR, load_dir
from gpudoctor.kb.messages import MAX_MESSAGE, message_patterns

# The message each row was written for, as its source thread quotes it.
EXAMPLES = {
    "numpy2-abi-banner": "A module that was compiled using NumPy 1.x cannot be run in\n"
    "NumPy 2.1.0 as it may crash. To support both 1.x and 2.x",  # pytorch/pytorch#135013
    "numpy2-array-api": "AttributeError: _ARRAY_API not found",  # xaviermouy/FishSound_Finder#3
    "numpy-multiarray-failed": "ImportError: numpy.core._multiarray_umath failed to import",
    "cudnn-sublibrary-mismatch": "RuntimeError: CUDNN_STATUS_SUBLIBRARY_VERSION_MISMATCH",
    "cudnn-sublibrary-undefined-symbol": (  # pytorch/pytorch#119989
        "Could not load library libcudnn_cnn_train.so.8. Error: /usr/local/cuda-12.3/lib64/"
        "libcudnn_cnn_train.so.8: undefined symbol: _ZN5cudnn3cnn34layerNormFwd_execute_internal"
        "_implERKNS_7backend11VariantPackEP11CUstream_st, version libcudnn_cnn_infer.so.8"
    ),
    "glibc-version-not-found": (  # KumaTea/pytorch-aarch64#16
        "ImportError: /lib/aarch64-linux-gnu/libc.so.6: version `GLIBC_2.28' not found "
        "(required by /www/miniconda3/envs/vits/lib/python3.7/site-packages/torch/lib/"
        "libtorch_python.so)"
    ),
    "glibcxx-not-found-conda": (  # tensorflow/tensorflow#56562
        "ImportError: /home/aimluser/miniconda3/envs/application_env/bin/../lib/libstdc++.so.6: "
        "version `GLIBCXX_3.4.30' not found (required by /home/aimluser/miniconda3/envs/"
        "application_env/lib/python3.8/site-packages/tensorflow/python/"
        "_pywrap_tensorflow_internal.so)"
    ),
    "glibcxx-not-found": (  # vietanhdev/anylabeling#110
        "ImportError: /lib/x86_64-linux-gnu/libstdc++.so.6: version `GLIBCXX_3.4.29' not found "
        "(required by /home/zk/conda/envs/anylabeling/lib/python3.8/site-packages/matplotlib/"
        "_path.cpython-38-x86_64-linux-gnu.so)"
    ),
    "tensorflow-cpu-feature-guard": (  # tensorflow/tensorflow#6896
        "2018-01-17 08:21:49.120154: F tensorflow/core/platform/cpu_feature_guard.cc:35] The "
        "TensorFlow library was compiled to use AVX2 instructions, but these aren't available on "
        "your machine."
    ),
    "illegal-instruction": "Program received signal SIGILL, Illegal instruction.",
    "elf-page-alignment": (  # pytorch/pytorch#53597
        "OSError: /venv/lib64/python3.6/site-packages/torch/lib/libtorch_global_deps.so: ELF "
        "load command alignment not page-aligned"
    ),
    "x86-64-library-on-another-cpu": (  # OHF-Voice/pymicro-wakeword#13
        "OSError: Error loading shared library ld-linux-x86-64.so.2: No such file or directory"
    ),
    "undefined-symbol": (  # pytorch/pytorch#119932
        "ImportError: /home/user/.local/lib/python3.10/site-packages/torch/lib/libtorch_cuda.so: "
        "undefined symbol: ncclCommRegister"
    ),
}


def test_every_row_has_an_example_that_it_matches_first() -> None:
    kb = load()
    assert {row.id for row in kb.message_patterns} == set(EXAMPLES)
    for row_id, message in EXAMPLES.items():
        match = kb.message_cause(message)
        assert match is not None and match.row.id == row_id, row_id


def test_every_row_cites_a_public_thread() -> None:
    for row in load().message_patterns:
        assert row.source.startswith("https://github.com/"), row.id
        assert row.fix and row.title


def test_groups_fill_the_templates() -> None:
    match = load().message_cause(EXAMPLES["glibc-version-not-found"])
    assert match is not None
    assert match.groups["wanted"] == "2.28"
    assert match.title == "libtorch_python.so needs glibc 2.28 or newer"  # a path by its name
    assert match.fix[0].startswith("Run it on an OS (or in a container image) whose glibc is 2.28")
    assert match.matched.startswith("/lib/aarch64-linux-gnu/libc.so.6: version")


def test_an_unknown_message_matches_nothing() -> None:
    assert load().message_cause("import torch failed: No module named 'torch._C'") is None
    assert load().message_cause("") is None


def test_only_the_opening_of_a_huge_message_is_searched() -> None:
    huge = "x" * MAX_MESSAGE + "_ARRAY_API not found"
    assert load().message_cause(huge) is None


def _copy(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    shutil.copytree(DATA_DIR, folder)
    return folder


GOOD = """
[[message]]
id = "x"
pattern = 'undefined symbol: (?P<symbol>\\w+)'
cause = "undefined_symbol"
title = "lacks {symbol}"
fix = ["remove it"]
source = "https://github.com/pytorch/pytorch/issues/119932"
as_of = 2026-12-07
"""


def test_a_good_row_loads(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    (folder / "import_errors.toml").write_text(GOOD)
    (row,) = load_dir(folder).message_patterns
    assert row.cause == "undefined_symbol" and row.fix == ("remove it",)


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (("pattern = 'undefined symbol: (?P<symbol>\\w+)'", "pattern = '(unclosed'"), "compile"),
        (('cause = "undefined_symbol"', 'cause = "bad_luck"'), "cause must be one of"),
        (('title = "lacks {symbol}"', 'title = "lacks {library}"'), "library is not a group"),
        (('fix = ["remove it"]', "fix = []"), "fix must be a non-empty list"),
        (('id = "x"', 'id = "Not An Id"'), "id must be"),
        (('source = "https://github.com/pytorch/pytorch/issues/119932"', 'source = ""'), "source"),
        (("as_of = 2026-12-07", 'as_of = "soon"'), "as_of"),
        (('fix = ["remove it"]', 'fix = ["remove it"]\nextra = 1'), "unknown key extra"),
    ],
)
def test_a_bad_row_is_refused(tmp_path: Path, change: tuple[str, str], error: str) -> None:
    folder = _copy(tmp_path)
    assert change[0] in GOOD
    (folder / "import_errors.toml").write_text(GOOD.replace(*change))
    with pytest.raises(KnowledgeBaseError, match=error):
        load_dir(folder)


def test_a_duplicate_id_is_refused() -> None:
    row = {
        "id": "x",
        "pattern": "a",
        "cause": "glibc",
        "title": "t",
        "fix": ["f"],
        "source": "https://github.com/a/b/issues/1",
        "as_of": __import__("datetime").date(2026, 12, 7),
    }
    with pytest.raises(KnowledgeBaseError, match="duplicate id x"):
        message_patterns({"message": [row, dict(row)]}, "import_errors.toml")
