"""The mutation check's list stays honest (tests/mutants.py, docs/reliability.md):
every mutant's old text is still found exactly once in today's code, and the tests
it names first exist.  The check itself runs the whole suite per mutant, so it is
not part of the default run: `python3 tests/mutants.py`."""

import os

import pytest

import mutants


@pytest.mark.parametrize("item", mutants.MUTANTS, ids=lambda item: item.name)
def test_every_mutant_still_applies(item: mutants.Mutant) -> None:
    mutants.check_applies(item)
    assert item.first, "a mutant names the tests expected to catch it"
    for test in item.first:
        assert os.path.exists(os.path.join(mutants.ROOT, test)), test


def test_mutant_names_are_unique_and_the_issue_list_is_there() -> None:
    names = [item.name for item in mutants.MUTANTS]
    assert len(names) == len(set(names))
    assert len(names) >= 34


def test_a_mutant_whose_text_is_gone_fails_loudly() -> None:
    gone = mutants.mutant("gone", "CPU", "edits text that is not there", "plugins/cpu/alu.py",
                          "no such line\n", "", "tests/test_cpu_fuzz.py")
    with pytest.raises(mutants.Failure, match="mutant gone no longer applies"):
        mutants.check_applies(gone)
