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


@pytest.mark.parametrize("argv, want", [
    (["build", "m.onnx", "-o", "m.engine", "--opt-level", "9"],
     "trtlab build: error: argument --opt-level: invalid choice: 9 (choose from 0, 1, 2, 3, 4, 5)"),
    (["build", "m.onnx"], "trtlab build: error: the following arguments are required: -o/--output"),
    (["env", "--bogus"], "trtlab env: error: unrecognized arguments: --bogus"),
    (["lab", "--port", "abc"], "trtlab lab: error: argument --port: invalid int value: 'abc'"),
])
def test_usage_errors_are_one_line(argv, want, capsys):
    """argparse printed the usage block first (five lines for build); now one line, as for every other error."""
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    err = capsys.readouterr().err
    assert exc.value.code == 2
    assert err.strip() == f"{want} (see trtlab {argv[0]} --help)", err
