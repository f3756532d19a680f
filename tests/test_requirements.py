"""No silent skips (docs/reliability.md): under PCMACHINE_STRICT=1, which
tests/run.sh and so CI set, a missing requirement fails the test that needs it
and says how to get it; elsewhere it skips with that reason."""

import pytest

import requirements


def test_a_missing_requirement_fails_under_strict(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(requirements, "STRICT", True)
    with pytest.raises(pytest.fail.Exception, match="nasm is missing: apt-get install nasm .*required"):
        requirements.missing("nasm", "apt-get install nasm")


def test_a_missing_requirement_skips_with_its_reason_otherwise(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(requirements, "STRICT", False)
    with pytest.raises(pytest.skip.Exception, match="nasm is missing: apt-get install nasm"):
        requirements.missing("nasm", "apt-get install nasm")


def test_a_missing_shared_folder_is_a_requirement(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("PCMACHINE_SHARED", str(tmp_path / "nowhere"))
    monkeypatch.setattr(requirements, "STRICT", True)
    with pytest.raises(pytest.fail.Exception, match="set PCMACHINE_SHARED"):
        requirements.require_shared("cputests")
