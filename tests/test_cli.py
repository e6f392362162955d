"""`trtlab COMMAND --help` teaches: every command shows examples, and every example parses."""
from __future__ import annotations

import re
import shlex

import pytest

from trtlab import cli


@pytest.mark.parametrize("name", [c[0] for c in cli.COMMANDS])
def test_every_command_help_has_examples_that_parse(name, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main([name, "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    assert "\nexamples:\n" in text, text
    examples = re.findall(r"^  (trtlab \S.*?)(?: {2,}\S.*)?$", text.split("\nexamples:\n", 1)[1], re.M)
    assert examples, text
    for line in examples:
        argv = shlex.split(line.split("|")[0])[1:]
        assert argv[0] == name, line
        args = cli.parser().parse_args(argv)  # an option that does not exist would exit 2 here
        assert args.func.__name__ == f"cmd_{name}", line
