"""core.problems.existing_position: a cited place is always one an editor can go to."""

from __future__ import annotations

import pytest

from vllmctl.core.problems import existing_position


@pytest.mark.parametrize(("text", "where", "expected"), [
    ("a: [x\n", (2, 1), (1, 6)),  # past the last line: the end of the last one
    ("a: [x", (2, 1), (1, 6)),
    ("a: 1\n\n\n", (3, 1), (3, 1)),  # an empty line that exists stays
    ("a: 1\nb: 2\n", (2, 40), (2, 5)),  # past the end of a line: its end
    ("", (3, 7), (1, 1)),
    ("a: 1\n", (1, 3), (1, 3)),
])
def test_positions_are_moved_onto_the_text(text, where, expected):
    assert existing_position(text, *where) == expected
