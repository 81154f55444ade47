"""The data files themselves: every row sourced and dated, versions parse, ranges do not overlap."""

from __future__ import annotations

import itertools
import re
import shutil
from pathlib import Path

import pytest

from gpudoctor.errors import KnowledgeBaseError
from gpudoctor.kb import KnowledgeBase, load
from gpudoctor.kb.arch import parse_entry
from gpudoctor.kb.loader import DATA_DIR, load_dir
from gpudoctor.model.versions import cuda_key, parse_cc, parse_driver, python_key
from tests.conftest import Cli


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return load()


def test_moving_rows_are_marked(kb: KnowledgeBase) -> None:
    # the reference marks CUDA 13.x on Windows, PyTorch 2.12-2.14 and TF 2.21 as moving; the
    # PyTorch and TF rows were confirmed at their sources on 2026-11-30, the 13.x toolkits not
    assert kb.torch_release("2.14").verified  # type: ignore[union-attr]
    assert kb.torch_release("2.12").verified  # type: ignore[union-attr]
    assert kb.torch_release("2.9").verified  # type: ignore[union-attr]
    assert all(not t.verified for t in kb.toolkits if t.cuda.startswith("13."))


def test_versions_parse(kb: KnowledgeBase) -> None:
    for t in kb.toolkits:
        parse_driver(t.linux_driver or "")
        cuda_key(t.cuda)
    for release in kb.release_rows:
        assert python_key(release.python_min) <= python_key(release.python_max)
        for variant in release.variants:
            if variant.cuda is not None:
                cuda_key(variant.cuda)
            for entries in variant.arch.values():
                for entry in entries:
                    assert parse_entry(entry), (release.version, variant.tag, entry)
    for arch in kb.architectures:
        parse_cc(arch.cc)


def test_cuda_target_ranges_do_not_overlap(kb: KnowledgeBase) -> None:
    spans = sorted((cuda_key(t.cuda_min), cuda_key(t.cuda_max)) for t in kb.targets)
    keys = [(tuple(map(int, lo.split("."))), tuple(map(int, hi.split(".")))) for lo, hi in spans]
    keys.sort()
    for (_, prev_hi), (lo, _) in itertools.pairwise(keys):
        assert lo > prev_hi


def test_every_gpu_variant_runs_somewhere(kb: KnowledgeBase) -> None:
    # a CUDA variant must exist for at least one platform and be reachable by some driver
    for release in kb.release_rows:
        for variant in release.variants:
            assert variant.platforms, (release.version, variant.tag)
            if variant.cuda is not None:
                assert kb.min_driver(variant.cuda, "linux") is not None, variant.tag


def test_pip_torch_tags_match_cuda(kb: KnowledgeBase) -> None:
    for release in kb.releases("torch"):
        for variant in release.variants:
            if variant.cuda:
                assert variant.tag == "cu" + variant.cuda.replace(".", "")
                assert variant.index_url == f"https://download.pytorch.org/whl/{variant.tag}"


def test_every_pip_release_lists_its_patches(kb: KnowledgeBase) -> None:
    for release in kb.release_rows:
        if release.channel == "pip":
            assert release.patches is not None, (release.framework, release.version)
            if release.latest:
                assert release.has_version(release.latest), release.version


def test_every_discrete_gpu_from_turing_on_has_a_driver_floor(kb: KnowledgeBase) -> None:
    for arch in kb.architectures:
        if not arch.igpu and parse_cc(arch.cc) >= (7, 5):
            assert kb.min_driver_for_cc(arch.cc, "linux") is not None, arch.cc
    # and no floor lies below the toolkit table: every floor driver runs some CUDA
    for row in kb.arch_drivers:
        assert kb.max_cuda_for_driver(f"{row.driver}.999", "linux") is not None, row.cc


def _copy(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    shutil.copytree(DATA_DIR, folder)
    return folder


def test_copy_loads(tmp_path: Path) -> None:
    assert load_dir(_copy(tmp_path)).max_cuda_for_driver("535.104.05", "linux") == "12.2"


@pytest.mark.parametrize(
    ("file", "old", "new", "message"),
    [
        ("torch.toml", 'version = "2.9"\n', 'version = "2.10"\n', "duplicate release"),
        ("cuda_drivers.toml", 'linux_driver = "535.104.05"', 'linux_driver = "535.1x"', "driver"),
        ("cuda_drivers.toml", 'linux_driver = "560.28.03"', 'linux_driver = "400.1"', "below"),
        ("cuda_arch.toml", 'cuda_max = "12.6"', 'cuda_max = "12.8"', "overlap"),
        ("torch.toml", 'list = "3.7;5.0;6.0;7.0;7.5;8.0;8.6"', 'list = "3.7;five"', "no arch"),
        ("tensorflow.toml", 'python_max = "3.13"', 'python_max = "3.1"', "python_min"),
        (
            "torch.toml",
            "as_of = 2026-09-01\n\n[[release.variant]]",
            "\n[[release.variant]]",
            "as_of",
        ),
        ("conda_forge.toml", 'tag = "cuda128"', 'tag = "cpu"', "twice"),
        ("cuda_arch.toml", 'igpu_ccs = ["5.3", "6.2", "7.2", "8.7"]', 'igpu_ccs = ["5.3"]', "igpu"),
        (
            "cuda_arch.toml",
            'cc = "8.6"\nname = "Ampere"',
            'cc = "8.6"\nname = "Ampere"\nplatforms = ["linux-ppc64le"]',
            "platforms",
        ),
        (
            "cuda_arch.toml",
            'cc = "8.6"\nname = "Ampere"',
            'cc = "8.6"\nname = "Ampere"\nplatforms = []',
            "platforms",
        ),
        (
            "cuda_arch.toml",
            'igpu = true\nplatforms = ["linux-aarch64"]\n',
            "igpu = true\n",
            "igpu row needs its platforms",
        ),
        ("torch.toml", "[[release]]\n", "[[release]]\nbogus = 1\n", "unknown key"),
        ("torch.toml", '"2.9" = ["2.9.0", "2.9.1"]', '"2.9" = ["2.9.0"]', "not in \\[patches\\]"),
        ("torch.toml", '"2.9" = ["2.9.0", "2.9.1"]', '"2.9" = ["2.8.0"]', "another series"),
        (
            "torch.toml",
            '"1.12" = ["1.12.0", "1.12.1"]',
            '"1.12" = ["1.12.0", "1.12.1"]\n"1.11" = ["1.11.0"]',
            "no release 1.11",
        ),
        ("torch.toml", 'versions = "<2.3"', 'versions = "below 2.3"', "numpy_max"),
        ("cuda_arch.toml", 'cc = "12.0"\ndriver = "570"', 'cc = "12.0"\ndriver = "560"', "branch"),
        ("cuda_arch.toml", 'cc = "8.6"\ndriver = "455"', 'cc = "8.7"\ndriver = "455"', "discrete"),
        ("conda_forge.toml", 'tag = "cuda130"', 'tag = "cuda130"\ntegra = "yes"', "tegra"),
        ("conda_forge.toml", 'glibc = "2.28"', 'glibc = "new"', "glibc version 'new'"),
        (
            "cuda_arch.toml",
            'versions = ">=9.0,<9.11"\nlowest_cc = "5.0"',
            'versions = "nine"\nlowest_cc = "5.0"',
            "cudnn",
        ),
        (
            "cuda_arch.toml",
            'versions = ">=9.0,<9.11"\nlowest_cc = "5.0"',
            'versions = ">=9.0,<9.11"\nlowest_cc = "five"',
            "cudnn",
        ),
    ],
)
def test_broken_data_is_refused(
    tmp_path: Path, file: str, old: str, new: str, message: str
) -> None:
    folder = _copy(tmp_path)
    path = folder / file
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(KnowledgeBaseError, match=message):
        load_dir(folder)


def test_source_missing_is_refused(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    path = folder / "cuda_drivers.toml"
    lines = path.read_text(encoding="utf-8").splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("source = "))
    lines[first] = 'source = ""'
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(KnowledgeBaseError, match="source"):
        load_dir(folder)


def test_load_is_cached() -> None:
    assert load() is load()


def _line_of(path: Path, text: str, nth: int = 0) -> int:
    """The 1-based line of the ``nth`` line of ``path`` that is exactly ``text``."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [n for n, line in enumerate(lines, start=1) if line == text][nth]


@pytest.mark.parametrize(
    ("file", "old", "new", "header", "nth", "problem"),
    [
        # a version TOML reads as a float: was "internal error: AttributeError: 'float' object
        # has no attribute 'strip'", naming neither file nor row
        (
            "cuda_drivers.toml",
            'cuda = "13.4"',
            "cuda = 13.4",
            "[[toolkit]]",
            0,
            r"\(toolkit\[0\]\): cuda = 13\.4 is not quoted",
        ),
        # was "internal error: ValueError: invalid literal for int() with base 10: 'R615'"
        (
            "cuda_drivers.toml",
            "branch = 615",
            'branch = "R615"',
            "[[branch]]",
            -1,
            r"\(branch\[\d+\]\): branch must be a whole number, not 'R615'",
        ),
        (
            "python.toml",
            'version = "3.8"',
            "version = 3.8",
            "[[python]]",
            0,
            r"\(python\[0\]\): version = 3\.8 is not quoted",
        ),
        # a string where a list of platforms belongs: it loaded, each letter a "platform"
        (
            "torch.toml",
            'platforms = ["linux-64", "linux-aarch64", "win-64"]',
            'platforms = "linux-64"',
            "[cpu]",
            0,
            r"\(cpu\): platforms must be a list like \[\"linux-64\"\], not 'linux-64'",
        ),
        # a row nested in another: the line of its own header
        (
            "torch.toml",
            'tag = "cu130"\ncuda = "13.0"',
            'tag = "cu130"\ncuda = 13.0',
            "[[release.variant]]",
            0,
            r"\(release\[0\] \(2\.15\) variant\[0\]\): ",
        ),
    ],
)
def test_malformed_row_names_file_line_and_problem(
    tmp_path: Path, file: str, old: str, new: str, header: str, nth: int, problem: str
) -> None:
    folder = _copy(tmp_path)
    path = folder / file
    line = _line_of(path, header, nth)
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(KnowledgeBaseError) as caught:
        load_dir(folder)
    assert str(caught.value).startswith(f"data file {path}, line {line} ("), caught.value
    assert re.search(problem, str(caught.value)), caught.value


def test_unparsable_file_names_file_and_line(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    path = folder / "cuda_drivers.toml"
    line = _line_of(path, 'cuda = "13.4"')
    path.write_text(
        path.read_text(encoding="utf-8").replace('cuda = "13.4"', 'cuda = "13.4', 1),
        encoding="utf-8",
    )
    with pytest.raises(
        KnowledgeBaseError, match=rf"^data file {re.escape(str(path))}: .*line {line}"
    ):
        load_dir(folder)


def test_table_where_rows_belong_names_the_table_and_line(tmp_path: Path) -> None:
    # a table where a list of tables belongs: was 'a malformed value (AttributeError: ...)',
    # naming the file alone
    folder = _copy(tmp_path)
    path = folder / "tensorflow.toml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("[[numpy_max]]", "[numpy_max]", 1), encoding="utf-8")
    line = _line_of(path, "[numpy_max]")
    with pytest.raises(
        KnowledgeBaseError,
        match=rf"^data file {re.escape(str(path))}, line {line} \(numpy_max\): numpy_max must "
        r"be an array of tables",
    ):
        load_dir(folder)


def test_unknown_table_is_refused(tmp_path: Path) -> None:
    # '[[toolkits]]' for '[[toolkit]]': its rows were never read, and nothing said so
    folder = _copy(tmp_path)
    path = folder / "cuda_drivers.toml"
    line = _line_of(path, "[[toolkit]]", -1)
    text = path.read_text(encoding="utf-8")
    head, _, tail = text.rpartition("[[toolkit]]\n")
    path.write_text(f"{head}[[toolkits]]\n{tail}", encoding="utf-8")
    with pytest.raises(KnowledgeBaseError) as caught:
        load_dir(folder)
    assert str(caught.value) == (
        f"data file {path}, line {line} (toolkits[0]): unknown table toolkits "
        "(did you mean toolkit?)"
    )


def test_cli_says_which_shipped_file_is_broken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Cli
) -> None:
    from gpudoctor.kb import loader

    folder = _copy(tmp_path)
    path = folder / "cuda_drivers.toml"
    line = _line_of(path, "[[toolkit]]")
    path.write_text(
        path.read_text(encoding="utf-8").replace('cuda = "13.4"', "cuda = 13.4", 1),
        encoding="utf-8",
    )
    monkeypatch.setattr(loader, "DATA_DIR", folder)
    load.cache_clear()
    try:
        result = cli("make-env", "--driver", "580.65.06", "--cc", "8.6", "--stdout")
    finally:
        load.cache_clear()
    assert result.exit_code == 3, result
    assert result.stdout == ""
    assert result.stderr == (
        f"gpudoctor: error: data file {path}, line {line} (toolkit[0]): cuda = 13.4 is not quoted "
        '(a version is a string, like "12.6")\n'
    ), result
