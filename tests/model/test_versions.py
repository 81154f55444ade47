"""Version parsing: each malformed version is refused with an example of its own kind."""

from __future__ import annotations

import pytest

from gpudoctor.errors import BadInputError
from gpudoctor.model.versions import cuda_key, is_exact, python_key, release_key


@pytest.mark.parametrize(
    ("parse", "text", "message"),
    [
        (python_key, "abc", "Python version 'abc' is not like 3.12"),
        (python_key, "3", "Python version '3' is not like 3.12"),
        (cuda_key, "twelve", "CUDA version 'twelve' is not like 12.6"),
        (release_key, "two", "version 'two' is not like 2.9 or 2.9.1"),
        (release_key, "2", "like 2.9 or 2.9.1"),
    ],
)
def test_messages_give_an_example_of_the_right_kind(parse: object, text: str, message: str) -> None:
    with pytest.raises(BadInputError) as info:
        parse(text)  # type: ignore[operator]
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_python_error_does_not_show_a_cuda_example() -> None:
    with pytest.raises(BadInputError) as info:
        python_key("abc")
    assert "12.6" not in str(info.value)


@pytest.mark.parametrize(
    ("text", "series", "exact"),
    [
        ("2.9", (2, 9), False),
        ("2.9.1", (2, 9), True),
        ("2.9.1+cu126", (2, 9), True),
        ("2.15.0.post1", (2, 15), True),
        ("2.10", (2, 10), False),
    ],
)
def test_series_and_exact(text: str, series: tuple[int, int], exact: bool) -> None:
    assert release_key(text) == series
    assert is_exact(text) is exact
