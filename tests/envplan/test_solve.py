"""--solve against a small local channel, fully offline."""

from __future__ import annotations

from pathlib import Path

import pytest

from gpudoctor.envplan.plan import Plan, Request, make_plan
from gpudoctor.envplan.solve import solve_plan, virtual_packages
from gpudoctor.envplan.target import target_from_args
from gpudoctor.errors import PlanError
from gpudoctor.kb import KnowledgeBase, load
from tests.envplan.channel import build_channel

pytest.importorskip("rattler")


@pytest.fixture(scope="module")
def channel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_channel(tmp_path_factory.mktemp("channel"))


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return load()


def _plan(kb: KnowledgeBase, driver: str, cc: str, **kw: object) -> Plan:
    return make_plan(kb, target_from_args(kb, driver=driver, cc=cc), Request(**kw))  # type: ignore[arg-type]


def test_virtual_packages(kb: KnowledgeBase) -> None:
    names = {n: v for n, v, _ in virtual_packages(kb, _plan(kb, "550.54.15", "8.6"))}
    assert names["__cuda"] == "12.4" and names["__cuda_arch"] == "8.6"
    assert names["__glibc"] == "2.28"


def test_conda_forge_plan_solves_to_the_pinned_cuda(kb: KnowledgeBase, channel: Path) -> None:
    plan = _plan(kb, "550.54.15", "8.6", source="conda-forge")
    result = solve_plan(kb, plan, [str(channel)])
    assert "cuda-version 12.9 h0_3" in result.records
    assert any(r.startswith("pytorch 2.13.0 cuda129_") for r in result.records)
    assert "__cuda=12.4" in result.virtual_packages


def test_unsolvable_is_reported(kb: KnowledgeBase, channel: Path) -> None:
    # the fixture channel has no cudatoolkit, which TensorFlow 2.11 takes from conda
    plan = _plan(kb, "550.54.15", "8.6", frameworks=("tensorflow",), tensorflow="2.11")
    with pytest.raises(PlanError, match=r"cannot be solved.*cudatoolkit"):
        solve_plan(kb, plan, [str(channel)])


def test_a_channel_that_takes_the_connection_and_never_answers_is_given_up_on(
    kb: KnowledgeBase,
) -> None:
    # rattler's own timeout bounds the solver only: make-env --solve waited, silent, for a
    # channel that accepted the connection and sent nothing (3 min 16 s until killed)
    import socket
    import threading

    from gpudoctor.errors import UnreachableError

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(64)  # the kernel takes the connections; nothing ever answers them
    channel = f"http://127.0.0.1:{silent.getsockname()[1]}/conda-forge"
    said: list[str] = []

    def solve() -> None:
        try:
            solve_plan(
                kb, _plan(kb, "535.104.05", "8.0", source="conda-forge"), [channel], timeout_s=1
            )
        except UnreachableError as exc:
            said.append(str(exc))

    try:
        solving = threading.Thread(target=solve, daemon=True)
        solving.start()
        solving.join(30)
    finally:
        silent.close()
    assert said, "solve_plan still waiting after 30 s"
    assert said[0].startswith(
        f"--solve: reading the channel {channel} and solving took more than 1 s (--solve-timeout); "
    )
    assert "no file was written" in said[0]
