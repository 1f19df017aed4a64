"""`--help` of every command says what it does, its signals, its exit codes and an example;
README.md's "Commands" section says the same."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from hlsd.cli import _parser, main

README = Path(__file__).resolve().parents[1] / "README.md"
# The exit codes each command's --help lists, as design.md's table has them.
EXIT_CODES = {"": {0, 1, 2}, "run": {0, 1, 2}, "check": {0, 2}, "demo": {0, 1, 2}}


def help_text(command: str, capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as done:
        main([command, "--help"] if command else ["--help"])
    assert done.value.code == 0
    return capsys.readouterr().out


def exit_codes(text: str) -> dict[int, str]:
    """The "exit codes:" block of a help text: code -> meaning."""
    block = text.split("\nexit codes:\n", 1)[1].split("\n\n", 1)[0]
    return {int(m[1]): m[2] for m in re.finditer(r"^  (\d)  (.+)$", block, re.M)}


@pytest.mark.parametrize("command", list(EXIT_CODES))
def test_help_lists_exit_codes_and_an_example(command: str,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    text = help_text(command, capsys)
    assert set(exit_codes(text)) == EXIT_CODES[command]
    assert re.search(r"\nexamples?:\n  hlsd ", text)


def test_run_help_says_what_it_does_and_its_signals(
        capsys: pytest.CaptureFixture[str]) -> None:
    text = help_text("run", capsys)
    assert text.split("\n\n")[1].startswith("Runs the daemon in the foreground")
    assert "#EXT-X-ENDLIST" in text
    signals = text.split("\nsignals:\n", 1)[1].split("\n\n", 1)[0]
    assert re.search(r"^  SIGHUP +reload the config", signals, re.M)
    assert re.search(r"^  SIGTERM, SIGINT +stop gracefully", signals, re.M)
    assert re.search(r"^  second SIGINT +stop at once", signals, re.M)
    codes = exit_codes(text)
    assert "invalid config" in codes[2] and "runtime" in codes[1]


def test_check_and_demo_help_say_what_they_do(capsys: pytest.CaptureFixture[str]) -> None:
    check = help_text("check", capsys)
    assert "Validates CONFIG and prints the effective settings" in check
    assert "Starts\nnothing, writes nothing" in check
    demo = help_text("demo", capsys)
    assert "test pattern" in demo and "player page" in demo
    for option in ("--dir", "--port", "--listen", "--hls-js-url", "--hls-js-path"):
        assert option in demo


def readme_commands() -> dict[str, tuple[str, str]]:
    """README's Commands table: command -> (its cell, the exit cell)."""
    section = README.read_text(encoding="utf-8").split("\n## Commands\n", 1)[1]
    section = section.split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        if m := re.match(r"^\| `hlsd (\w+)[^`]*` \|.*\| ([^|]+) \|$", line):
            rows[m[1]] = (line.split(" | ")[0], m[2])
    return rows


def test_readme_commands_table_matches_help(capsys: pytest.CaptureFixture[str]) -> None:
    rows = readme_commands()
    assert {"run", "check", "demo"} <= set(rows)
    for command in ("run", "check", "demo"):
        exits = rows[command][1]
        documented = {int(c) for c in re.findall(r"(?:^|, )(\d) ", exits)}
        assert documented == EXIT_CODES[command], (command, exits)
    # every option of every command is in its row
    (commands,) = [a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction)]
    for command, parser in commands.choices.items():
        for action in parser._actions:
            for option in action.option_strings:
                if option not in ("-h", "--help"):
                    assert option in rows[command][0], (command, option)
    # and the README says what --help says about signals
    section = README.read_text(encoding="utf-8").split("\n## Commands\n", 1)[1]
    assert "**SIGHUP** reloads the config" in section
    assert "a second SIGINT stops at once" in section
    assert "`hlsd --help` and each command's `--help`" in section
