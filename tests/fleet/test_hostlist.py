"""Hostlists: python-hostlist's expansion, capped with a running count; one node's name."""

from __future__ import annotations

import time

import hostlist as pyhostlist
import pytest

from gpudoctor.errors import BadInputError
from gpudoctor.fleet import hostlist


@pytest.mark.parametrize(
    "text", ["n[1-3],gpu-7", "a[1-2]b[3-4],c,c", "n[01-10],n05", ",x,", "x[1-2],,y", "n[1-100000]"]
)
def test_expansion_is_python_hostlists(text):
    assert hostlist.expand(text) == tuple(pyhostlist.expand_hostlist(text))


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("n[1-", "unbalanced brackets"),
        ("n]", "unbalanced brackets"),
        ("n[[1]]", "nested brackets"),
        ("n[3-1]", "start > stop"),
        ("n[a]", "bad range"),
        (",", "names no node"),
    ],
)
def test_a_malformed_list_is_bad_input(text, why):
    with pytest.raises(BadInputError, match=why):
        hostlist.expand(text, "--nodelist")


@pytest.mark.parametrize(
    ("text", "why"),
    [
        # python-hostlist recursed until Python's limit ('the input is nested too deeply')
        ("x[1-2][3\n-4]", r"holds a control character \('\\n'\)"),
        ("n[1\n]", "control character"),  # else the name 'n1\n', past its ^[0-9]+$
        ("n[1-2]\x1b[2J", "control character"),
        # int() of more than 4,300 digits: an internal error, exit 3
        ("n[1-" + "9" * 5000 + "]", "a range's number is too long"),
    ],
)
def test_a_hostile_list_is_one_line_of_bad_input(text, why):
    with pytest.raises(BadInputError, match=why) as caught:
        hostlist.expand(text, "--nodelist")
    assert "\n" not in str(caught.value) and len(str(caught.value)) < 250


def test_compress_lists_a_name_with_a_huge_number_as_it_is():
    # python-hostlist's int() refused the 5,000 digits: a fleet-run.json naming such a node in
    # its runs made fleet report stop with an internal error (exit 3)
    huge = "n" + "9" * 5000
    assert hostlist.compress(["n2", huge, "n1", "n3"]) == f"n[1-3],{huge}"
    assert hostlist.compress([huge]) == huge
    assert hostlist.compress([]) == ""
    assert hostlist.compress(["gpu-001", "gpu-002", "gpu-004"]) == "gpu-[001-002,004]"


def test_many_huge_ranges_are_refused_without_expanding_them_all():
    # 30 ranges of 100,000 names once took 3.6 GiB and 47 s before sinfo even ran.
    text = ",".join(f"r{i}-[1-100000]" for i in range(30))
    start = time.monotonic()
    with pytest.raises(BadInputError) as caught:
        hostlist.expand(text, "--nodelist")
    assert time.monotonic() - start < 10  # two parts expanded (about 0.3 s), not thirty
    message = str(caught.value)
    assert "names more than 100,000 nodes" in message
    assert "\n" not in message and len(message) < 250  # the list itself is cut short
    assert len(hostlist.expand("a[1-50000],b[1-50000],a1")) == hostlist.MAX_NODES


def test_the_cap_counts_distinct_names(monkeypatch):
    monkeypatch.setattr(hostlist, "MAX_NODES", 3)
    assert hostlist.expand("n[1-3],n[1-3],n2") == ("n1", "n2", "n3")
    with pytest.raises(BadInputError, match="more than 3 nodes"):
        hostlist.expand("n[1-3],m1")


@pytest.mark.parametrize("name", ["n1", "gpu-001", "node_7.rack2", "A" * 253])
def test_one_nodes_name(name):
    assert hostlist.check_node_name(name) == name


@pytest.mark.parametrize(
    "name", ["", "n1\n", "n 1", "n[1-2]", "n1,n2", "a=b", ".n", "../x", "A" * 254]
)
def test_not_one_nodes_name(name):
    with pytest.raises(BadInputError, match="is not one node's name"):
        hostlist.check_node_name(name, "--node")
