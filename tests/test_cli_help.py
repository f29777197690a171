"""Every command's help is Swedish, with examples and exit codes; argparse's own words too."""

from __future__ import annotations

import pytest

from ingestion.cli import EXIT_CODES, main

ENGLISH = ("usage:", "show this help message", "options:", "positional arguments", "required:", "error:")


def _help(capsys, *argv) -> str:
    with pytest.raises(SystemExit) as stopped:
        main([*argv, "--help"])
    assert stopped.value.code == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("command", sorted(EXIT_CODES))
def test_each_command_helps_in_swedish_with_examples_and_exit_codes(capsys, command):
    text = _help(capsys, command)
    assert text.startswith("användning: finsam " + command)
    assert "exempel:\n  finsam " + command in text and "slutkoder: 0 " in text
    assert not [word for word in ENGLISH if word in text], text
    assert "visa den här hjälpen och avsluta" in text


def test_the_top_level_help_and_errors_are_swedish(capsys):
    text = _help(capsys)
    assert "kommandon:" in text and not [word for word in ENGLISH if word in text]
    with pytest.raises(SystemExit) as stopped:
        main(["validate"])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert "finsam validate: fel: följande argument krävs: file" in err
