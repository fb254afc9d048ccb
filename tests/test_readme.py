"""The README's Python example runs as written (its assertions included)."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_example_runs():
    text = README.read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert blocks, "README has no python example"
    for block in blocks:
        exec(compile(block, str(README), "exec"), {})


def test_readme_command_line_examples_run(tmp_path, monkeypatch):
    """Every `pymargin ...` line of the README's command-line examples, run in the repo."""
    from typer.testing import CliRunner

    from pymargin.cli.app import app

    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Command line") :]
    blocks = re.findall(r"```bash\n(.*?)```", section, re.S)
    lines = [
        line.split("#")[0].strip()
        for block in blocks
        for line in block.splitlines()
        if line.strip().startswith("pymargin ")
    ]
    assert len(lines) >= 8
    monkeypatch.chdir(README.parent)
    for line in lines:
        args = line.split()[1:]
        if args[0] == "serve":  # runs until stopped: tests/live/test_service.py serves it
            continue
        if "-o" in args:  # keep the repository clean
            i = args.index("-o") + 1
            args[i] = str(tmp_path / Path(args[i]).name)
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, (line, result.output)


def test_readme_quickstart_has_exactly_two_commands():
    text = README.read_text(encoding="utf-8")
    block = re.search(r"## Quickstart.*?```bash\n(.*?)```", text, re.S).group(1)
    commands = [line for line in block.splitlines() if line.strip()]
    assert len(commands) == 2
    assert "pymargin demo" in commands[0] and "pytest" in commands[1]
