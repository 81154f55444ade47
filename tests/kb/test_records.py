"""Release records: which exact versions of a series exist."""

from __future__ import annotations

import pytest

from gpudoctor.kb import KnowledgeBase, load


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return load()


@pytest.mark.parametrize(
    ("framework", "version", "exists"),
    [
        ("torch", "2.9.0", True),
        ("torch", "2.9.1", True),
        ("torch", "2.9.1+cu126", True),  # the local label of the PyTorch indexes
        ("torch", "2.9.7", False),
        ("torch", "2.14.5", False),
        ("torch", "2.9.0rc1", False),
        ("tensorflow", "2.20.9", False),
        ("tensorflow", "2.16.0", False),  # 2.16 started at 2.16.1 on PyPI
        ("tensorflow", "2.16.1", True),
        ("tensorflow", "2.15.0.post1", True),
    ],
)
def test_pip_versions_come_from_the_patch_list(
    kb: KnowledgeBase, framework: str, version: str, exists: bool
) -> None:
    release = kb.release(framework, version)
    assert release is not None and release.patches is not None
    assert release.has_version(version) is exists


def test_without_a_patch_list_latest_bounds_the_series(kb: KnowledgeBase) -> None:
    tf = kb.conda_forge_release("tensorflow", "2.19")
    assert tf is not None and tf.patches is None and tf.latest == "2.19.1"
    assert tf.has_version("2.19.0") is True
    assert tf.has_version("2.19.1") is True
    assert tf.has_version("2.19.2") is False
    assert tf.has_version("2.19.1rc0") is False
