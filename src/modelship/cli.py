"""The `modelship` command line: one sub-command per verb (DESIGN.md).

Each command lives in its own module exposing HELP, add_arguments(parser) and
run(args, config) -> Outcome; this module only parses, loads the config, and turns results and
errors into output, step outputs, a job summary and an exit code.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import sys
import traceback
from collections.abc import Sequence
from types import ModuleType

from modelship import __version__, config, console, ghactions
from modelship.errors import EXIT_INFRA, EXIT_USAGE, ModelshipError, UsageError
from modelship.outcome import Outcome

# command name -> module implementing it. Each is imported to declare its arguments, so the
# modules keep heavy libraries (numpy, sacrebleu, kubernetes) out of their import time.
COMMANDS: dict[str, str] = {
    "doctor": "modelship.doctor",
    "build": "modelship.image.command",
    "gate": "modelship.gate.command",
    "deploy": "modelship.release.cli.deploy",
    "promote": "modelship.release.cli.promote",
    "abort": "modelship.release.cli.abort",
    "rollback": "modelship.release.cli.rollback",
    "status": "modelship.release.cli.status",
    "version": "modelship.release.cli.version",
    "init": "modelship.workflows.command",
}


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors go through our error path (exit 2, one clear line)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        if "invalid choice" in message and "command" in message:
            message = (f"{message.split(' (choose')[0]}; valid commands: "
                       f"{', '.join(COMMANDS)}")
        raise UsageError(f"{self.prog}: {message}")


def _load(name: str) -> ModuleType:
    return importlib.import_module(COMMANDS[name])


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="modelship", description="Ship AI models from GitHub to production.")
    parser.add_argument("--version", action="version", version=f"modelship {__version__}")
    common = _Parser(add_help=False)
    common.add_argument("--config", metavar="FILE",
                        help=f"path to the config file (default: {config.DEFAULT_FILE})")
    common.add_argument("--json", action="store_true",
                        help="print the result as one JSON object on stdout")
    sub = parser.add_subparsers(dest="command", metavar="command", parser_class=_Parser)
    sub.required = True
    for name in COMMANDS:
        module = _load(name)
        # argparse %-formats `help` (not a plain description): "100%" must reach it as "100%%"
        cmd = sub.add_parser(name, parents=[common], help=module.HELP.replace("%", "%%"),
                             description=module.HELP)
        module.add_arguments(cmd)
    return parser


def _emit(outcome: Outcome, as_json: bool) -> None:
    for note in outcome.annotations:
        ghactions.annotate(note.level, note.message, title=note.title)
    # step outputs first: if they cannot be written, the error is the one thing printed
    ghactions.set_output("result", outcome.result)
    for key, value in outcome.outputs.items():
        ghactions.set_output(key, value)
    if outcome.summary:
        ghactions.append_summary(outcome.summary)
    if as_json:
        print(console.redact(json.dumps(outcome.result, indent=None, sort_keys=False)))
    elif outcome.text:
        print(console.redact(outcome.text))


def _fail(error: ModelshipError, command: str | None, as_json: bool) -> int:
    ghactions.error(str(error), title=f"modelship {command}" if command else "modelship")
    payload = {"error": error.message, "exit_code": error.exit_code}
    if error.hint:
        payload["hint"] = error.hint
    if as_json:
        print(console.redact(json.dumps(payload)))
    # best effort: the failure may be that these files cannot be written
    with contextlib.suppress(ModelshipError):
        ghactions.set_output("result", payload)
        ghactions.append_summary(f"### modelship {command or ''} failed\n\n{error}\n")
    return error.exit_code


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    as_json = "--json" in argv
    command = None
    try:
        args = build_parser().parse_args(argv)
        command = args.command
        cfg = config.load(args.config)
        outcome: Outcome = _load(command).run(args, cfg)
        _emit(outcome, as_json)
    except ModelshipError as e:
        return _fail(e, command, as_json)
    except KeyboardInterrupt:
        console.info("interrupted")
        return 130
    except Exception as e:  # a bug, not a user mistake: short line, traceback on request
        return _internal(e, command, as_json)
    if outcome.after is None:
        return outcome.exit_code
    sys.stdout.flush()  # the result is out before the wait
    try:
        outcome.after()
    except ModelshipError as e:  # the result is already printed: no second JSON object
        return _fail(e, command, as_json=False)
    except KeyboardInterrupt:
        console.info("interrupted")
        return 130
    except Exception as e:
        return _internal(e, command, as_json=False)
    return outcome.exit_code


def _internal(error: Exception, command: str | None, as_json: bool) -> int:
    if os.environ.get("MODELSHIP_DEBUG"):
        traceback.print_exc()
    return _fail(ModelshipError(f"internal error: {type(error).__name__}: {error}",
                                hint="rerun with MODELSHIP_DEBUG=1 for the traceback "
                                     "and report it"), command, as_json)


def entrypoint() -> None:
    try:
        code = main()
    except SystemExit as e:  # --help and --version exit through argparse
        code = e.code if isinstance(e.code, int) else (EXIT_USAGE if e.code else 0)
    sys.exit(code)


__all__ = ["COMMANDS", "EXIT_INFRA", "build_parser", "entrypoint", "main"]
