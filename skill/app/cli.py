"""The ``massage-coach`` command line (the only place argparse is used).

``massage-coach`` alone (or with only options) runs ``session``. Every ``CoachError`` becomes one line on
stderr, ``massage-coach: error: ...``, and its exit code; Ctrl-C ends cleanly with exit code 130.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from intents.errors import CoachError
from skill.app.settings import ECHO_CANCEL, ENGINES, SPEECH, Settings, default_config_file, load_settings

PROG = "massage-coach"
COMMANDS = ("session", "demo", "recognize", "phrases", "devices", "models", "download-model", "history")


def _common(top: bool = False) -> argparse.ArgumentParser:
    """Options every command takes, before or after the command name (only the top level sets defaults,
    so a subcommand does not overwrite what was given before it)."""
    default = None if top else argparse.SUPPRESS
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--config", metavar="FILE", type=Path, default=default,
                   help=f"settings file (TOML; default {default_config_file()}, optional)")
    p.add_argument("--verbose", "-v", action="store_true", default=default, help="log timings to stderr")
    return p


def _engine_opts() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--engine", choices=ENGINES, default=None,
                   help="speech recognizer: vosk, sphinx (pocketsphinx) or auto (vosk if a model is found)")
    p.add_argument("--model", metavar="DIR", default=None, help="Vosk model folder")
    return p


def _voice_opts() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--speech", choices=SPEECH, default=None,
                   help="speech output: pyttsx3, espeak (espeak-ng), print, or auto")
    p.add_argument("--voice", default=None, help="text-to-speech voice (id or part of its name)")
    p.add_argument("--rate", default=None, help="speaking rate, words a minute (80-320)")
    p.add_argument("--volume", default=None, help="speech volume, 0.0-1.0")
    return p


def build_parser() -> argparse.ArgumentParser:
    """The full parser with its subcommands."""
    common, engine, voice = _common(), _engine_opts(), _voice_opts()
    parser = argparse.ArgumentParser(
        prog=PROG, parents=[_common(top=True)],
        description="A hands-free, offline voice guide for giving a back massage.",
        epilog="Run 'massage-coach COMMAND --help' for a command's options. Without a command: session.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    s = sub.add_parser("session", parents=[common, engine, voice],
                       help="a hands-free session: microphone in, speech out (the default)")
    s.add_argument("--device", default=None, help="microphone: index or part of its name (see 'devices')")
    s.add_argument("--echo-cancel", choices=(*ECHO_CANCEL, "auto"), default=None,
                   help="take the coach's own voice out of the microphone, so you can talk over it: app "
                        "(default: the app subtracts what it plays), server (PulseAudio/PipeWire "
                        "module-echo-cancel; 'auto' is its old name) or off")
    s.add_argument("--speak-to", metavar="FILE.wav", default=None, help="write the coach's speech to a WAV")
    s.add_argument("--auto-advance", action="store_true", default=None,
                   help="move on to the next stroke by itself when a step's time is up")
    s.add_argument("--text", action="store_true", help="type commands instead of speaking")
    s.add_argument("--demo-if-no-microphone", action="store_true",
                   help="with no microphone, run the demo instead of typed commands")
    s.add_argument("--journal", metavar="DIR", default=None, help="folder of the session journal")
    s.add_argument("--resume", action="store_true", help="carry on the last unfinished session")

    d = sub.add_parser("demo", parents=[common, engine, voice],
                       help="the whole loop with a scripted partner (no microphone or speaker needed)")
    d.add_argument("--out", metavar="FILE.wav", type=Path, default=Path("massage-coach-demo.wav"),
                   help="where the conversation is written (default: %(default)s)")
    d.add_argument("--echo", type=float, default=0.0, metavar="GAIN",
                   help="let the recognizer hear the coach's voice at this gain (0-1), like a loudspeaker "
                        "next to the microphone, to show the echo guard at work")
    d.add_argument("--journal", metavar="DIR", default=None, help="folder of the session journal")

    r = sub.add_parser("recognize", parents=[common, engine],
                       help="decode WAV files through the session's recognizer and matcher")
    r.add_argument("files", nargs="+", metavar="FILE.wav")
    r.add_argument("--json", action="store_true", help="one JSON object per line per file")

    sub.add_parser("phrases", parents=[common], help="what you can say, grouped by intent")
    sub.add_parser("devices", parents=[common], help="list microphones and speakers")
    sub.add_parser("models", parents=[common, engine], help="list Vosk models found and which one is used")
    m = sub.add_parser("download-model", parents=[common], help="download a Vosk model (needs a network)")
    m.add_argument("--name", default=None, help="model name (default: vosk-model-small-en-us-0.15)")
    m.add_argument("--dest", metavar="DIR", type=Path, default=None,
                   help="install folder (default ~/.cache/vosk)")
    h = sub.add_parser("history", parents=[common], help="past sessions from the journal")
    h.add_argument("--journal", metavar="DIR", default=None, help="folder of the session journal")
    h.add_argument("--json", action="store_true", help="one JSON object per session")
    return parser


def _with_default_command(argv: list[str]) -> list[str]:
    """``massage-coach [options]`` means ``massage-coach session [options]``."""
    if any(a in COMMANDS or a in ("-h", "--help") for a in argv):
        return argv
    return ["session", *argv]


_SETTING_FLAGS = ("engine", "model", "device", "speech", "voice", "rate", "volume", "auto_advance", "journal",
                  "speak_to", "verbose", "echo_cancel")


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Merge the parsed flags with the environment and the config file."""
    flags = {key: getattr(args, key, None) for key in _SETTING_FLAGS}
    return load_settings(flags, config_file=args.config)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``massage-coach`` with ``argv`` (default: the process's arguments); returns the exit code."""
    args = build_parser().parse_args(_with_default_command(list(sys.argv[1:] if argv is None else argv)))
    command = args.command or "session"
    try:
        settings = settings_from_args(args)
        if settings.verbose:
            logging.basicConfig(level=logging.DEBUG, format="massage-coach: %(message)s", stream=sys.stderr)
        return int(_dispatch(command, args, settings) or 0)
    except CoachError as exc:
        print(f"{PROG}: error: {_one_line(exc)}", file=sys.stderr, flush=True)
        return exc.exit_code
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a bug: one line, the traceback only when asked for
        if getattr(args, "verbose", None):
            raise
        print(f"{PROG}: error: unexpected {type(exc).__name__}: {_one_line(exc)} "
              "(run with --verbose for details)", file=sys.stderr, flush=True)
        return 1


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def _dispatch(command: str, args: argparse.Namespace, settings: Settings) -> int:
    if command == "session":
        from skill.app.textmode import run_session_command

        return run_session_command(settings, text=args.text, resume=args.resume,
                                   demo_if_no_mic=args.demo_if_no_microphone)
    if command == "demo":
        from skill.app.demo import run_demo

        return run_demo(settings, out=args.out, echo=args.echo)
    if command == "recognize":
        from skill.app.recognize import run_recognize

        return run_recognize(settings, [Path(f) for f in args.files], as_json=args.json)
    if command == "phrases":
        return _phrases()
    if command == "devices":
        return _devices()
    if command == "models":
        from skill.app.engines import model_lines

        print("\n".join(model_lines(settings)))
        return 0
    if command == "download-model":
        from skill.app.engines import download
        from skill.app.messages import msg

        print(msg("downloaded", path=download(args.name, args.dest)))
        return 0
    if command == "history":
        return _history(settings, as_json=args.json)
    raise AssertionError(command)


def _phrases() -> int:
    from skill.app.engines import load_language
    from skill.app.messages import msg

    language = load_language()
    print(msg("phrases_header"))
    for name in language.catalogue.intent_names:
        phrases = language.catalogue.examples(name)
        print(f"\n{name.replace('_', ' ')}:")
        for phrase in phrases:
            print(f"  {phrase}")
    return 0


def _devices() -> int:
    from audio.devices import format_devices, list_devices

    devices = list_devices()
    print(format_devices(devices) if devices else "no audio devices found")
    return 0


def _history(settings: Settings, as_json: bool) -> int:
    from skill.app.history import format_summary, load_sessions
    from skill.app.messages import msg

    sessions = load_sessions(settings.journal)
    if not sessions and not as_json:
        print(msg("history_none", folder=settings.journal))
    for s in sessions:
        print(json.dumps(_summary_dict(s), default=str) if as_json else format_summary(s))
    return 0


def _summary_dict(summary: Any) -> dict[str, Any]:
    from dataclasses import asdict

    data = asdict(summary)
    data["path"] = str(data.get("path"))
    return data


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
