"""Building the parts from the settings: the phrase catalogue and matcher, the speech engine and model,
the session, the speaker.

Engine choice: ``--engine vosk`` needs a Vosk model (``--model DIR``, ``VOSK_MODEL_PATH`` or Vosk's folders);
``--engine sphinx`` uses the pocketsphinx model bundled with the package; ``auto`` takes Vosk when a model is
found and pocketsphinx otherwise. Loading a model that takes over a second prints progress to stderr.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from audio.errors import ModelError
from audio.protocols import InstantSpeaker
from intents.errors import ConfigError
from skill.app.messages import msg
from skill.app.settings import Settings


@dataclass
class Language:
    """The phrase catalogue and the matcher built on it."""

    catalogue: Any
    matcher: Any

    def examples(self) -> dict[str, str]:
        """The canonical phrase of every intent (what the session quotes when it gives hints)."""
        out: dict[str, str] = {}
        for name in self.catalogue.intent_names:
            phrases = self.catalogue.examples(name)
            if phrases:
                out[name] = phrases[0]
        return out

    def grammar(self) -> list[str]:
        """The phrases the recognizer is constrained to, with ``[unk]``."""
        return list(self.catalogue.grammar())


def load_language() -> Language:
    """Load the English phrase catalogue and its matcher."""
    from intents.catalogue import load_catalogue
    from intents.matcher import Matcher

    catalogue = load_catalogue()
    return Language(catalogue, Matcher(catalogue))


@dataclass(frozen=True)
class EngineChoice:
    """Which recognizer to build: ``engine`` is ``vosk`` or ``sphinx``; ``model`` the Vosk model folder."""

    engine: str
    model: Path | None

    def describe(self) -> str:
        """E.g. ``vosk (vosk-model-small-en-us-0.15)`` or ``pocketsphinx (built-in model)``."""
        if self.engine == "vosk":
            return f"vosk ({self.model})"
        return "pocketsphinx (built-in en-us model)"


def choose_engine(settings: Settings) -> EngineChoice:
    """Pick the engine and model from the settings (ModelError: Vosk asked for and no model found)."""
    from audio.models import check_model, find_model

    if settings.engine == "sphinx":
        return EngineChoice("sphinx", None)
    if settings.model is not None:
        return EngineChoice("vosk", check_model(settings.model))
    found = find_model()
    if found is not None:
        return EngineChoice("vosk", found)
    if settings.engine == "vosk":
        raise ModelError("no Vosk model found: run 'massage-coach download-model', pass --model DIR "
                         "or set VOSK_MODEL_PATH")
    return EngineChoice("sphinx", None)


@contextmanager
def progress(start: str, done: Callable[[float], str], err: TextIO | None = None, after_s: float = 1.0,
             verbose: bool = False) -> Iterator[None]:
    """Print ``start`` to stderr if the block runs longer than ``after_s`` (or at once when verbose), then
    ``done(seconds taken)`` when it finishes."""
    stream = err if err is not None else sys.stderr
    shown = threading.Event()

    def show() -> None:
        shown.set()
        print(start, file=stream, flush=True)

    timer = threading.Timer(after_s, show)
    timer.daemon = True
    t0 = time.perf_counter()
    if verbose:
        show()
    else:
        timer.start()
    try:
        yield
    finally:
        timer.cancel()
        if shown.is_set():
            print(done(time.perf_counter() - t0), file=stream, flush=True)


_MODEL_CACHE: dict[Path, Any] = {}


def load_vosk_model(path: Path, verbose: bool = False, err: TextIO | None = None) -> Any:
    """Load (once per process) a Vosk model, with progress when it is slow."""
    from audio.models import load_model

    key = Path(path).resolve()
    if key not in _MODEL_CACHE:
        def done(seconds: float) -> str:
            return msg("loaded_model", model=path, seconds=seconds)

        with progress(msg("loading_model", model=path), done, err=err, verbose=verbose):
            _MODEL_CACHE[key] = load_model(path)
    return _MODEL_CACHE[key]


def build_recognizer(choice: EngineChoice, language: Language, verbose: bool = False,
                     err: TextIO | None = None) -> Any:
    """The streaming recognizer for ``choice``, constrained to the catalogue's grammar."""
    grammar = language.grammar()
    is_complete = getattr(language.matcher, "is_complete_command", None)
    if choice.engine == "vosk":
        from audio.vosk_engine import VoskRecognizer

        assert choice.model is not None
        model = load_vosk_model(choice.model, verbose=verbose, err=err)
        recognizer = VoskRecognizer(model, grammar, is_complete=is_complete)
        unknown = list(getattr(recognizer, "unknown_words", []))
        if unknown:
            shown = ", ".join(unknown[:10]) + (", ..." if len(unknown) > 10 else "")
            print(msg("unknown_words", count=len(unknown), model=choice.model.name, words=shown),
                  file=err if err is not None else sys.stderr, flush=True)
        return recognizer
    if choice.engine == "sphinx":
        from audio.sphinx_engine import SphinxRecognizer

        with progress(msg("loading_model", model="pocketsphinx"),
                      lambda s: msg("loaded_model", model="pocketsphinx", seconds=s),
                      err=err, verbose=verbose):
            return SphinxRecognizer(grammar, is_complete=is_complete)
    raise ConfigError(f"unknown engine {choice.engine!r}")


def build_session(settings: Settings, language: Language, clock: Any,
                  snapshot: Mapping[str, Any] | None = None) -> Any:
    """A new session (or one restored from ``snapshot``) on the English routine."""
    from skill.routine import load_routine
    from skill.session import Session

    routine = load_routine()
    examples = language.examples()
    if snapshot is not None:
        return Session.restore(routine, clock, examples, snapshot, auto_advance=settings.auto_advance,
                               rate=settings.rate, volume=settings.volume)
    return Session(routine, clock, examples, auto_advance=settings.auto_advance, rate=settings.rate,
                   volume=settings.volume)


def model_lines(settings: Settings) -> list[str]:
    """The ``models`` listing: every model found, in discovery order, and which one would be used."""
    from audio.models import list_models

    lines: list[str] = []
    found = list_models()
    for path, where in found:
        lines.append(f"{path}  (from {where})")
    if not found:
        lines.append(msg("models_none"))
    try:
        choice = choose_engine(settings)
    except ModelError as exc:
        lines.append(f"would use: nothing ({exc})")
        return lines
    if choice.engine == "vosk":
        lines.append(msg("models_use", choice=choice.model))
    elif settings.engine == "sphinx":
        lines.append(msg("models_use", choice="pocketsphinx (built in)"))
    else:
        lines.append(msg("models_fallback"))
    return lines


def download(name: str | None, dest: Path | None, err: TextIO | None = None) -> Path:
    """Download a Vosk model through ``audio.models.download_model`` with progress on stderr."""
    from audio.models import DEFAULT_MODEL, default_download_dir, download_model

    stream = err if err is not None else sys.stderr
    model = name or DEFAULT_MODEL
    print(msg("downloading", name=model, dest=dest or default_download_dir()), file=stream, flush=True)
    return download_model(model, dest, progress=True)


class SilentSpeaker(InstantSpeaker):
    """Says nothing: used when replies are printed anyway (typed mode without speech output)."""

    def say(self, text: str) -> None:
        """Nothing to do."""

    def set_voice(self, rate: int, volume: float) -> None:
        """Nothing to apply it to."""

    def close(self) -> None:
        """Nothing to release."""


@contextmanager
def echo_cancelling(settings: Any, enabled: bool = True, err: TextIO | None = None) -> Iterator[Any]:
    """Echo cancelling by the sound server for the session (``audio.echo_cancel.EchoCanceller``), undone
    when the block ends, also on Ctrl-C or an error. ``enabled=False`` (typed commands) leaves it off."""
    from audio.echo_cancel import EchoCanceller

    stream = err if err is not None else sys.stderr

    def fell_back(reason: str) -> None:
        print(msg("echo_cancel_lost", reason=reason), file=stream, flush=True)

    wanted = getattr(settings, "echo_cancel", "app") if enabled else "off"
    mode = "auto" if wanted in ("server", "auto") else "off"  # the app's own canceller: reference_canceller()
    chosen = getattr(settings, "device", None) not in (None, "", "pulse", "default")
    silent = getattr(settings, "speech", "auto") == "print" or getattr(settings, "speak_to", None) is not None
    echo = EchoCanceller("off" if chosen or silent else mode, on_fallback=fell_back)
    try:
        echo.start()
        if not enabled:
            echo.reason = "typed commands"
        elif silent:
            echo.reason = "the coach's speech is not played"
        elif wanted == "app":
            echo.reason = "the app cancels its own voice itself"
        elif mode == "off":
            pass
        elif chosen:
            echo.reason = "a microphone was chosen with --device"
        elif echo.active and not _has_pulse_device():
            echo.close()
            echo.reason = "PortAudio has no 'pulse' device (install libasound2-plugins)"
        yield echo
    finally:
        echo.close()


def reference_canceller(settings: Any, speaker: Any) -> Any:
    """The app's own echo canceller (``audio.aec``) fed with everything ``speaker`` plays, or None when
    ``--echo-cancel`` is not ``app`` or the speech is not played through the app's own output stream."""
    from audio.aec import ReferenceCanceller

    taps = getattr(getattr(speaker, "player", None), "taps", None)
    if getattr(settings, "echo_cancel", "app") != "app" or taps is None:
        return None
    canceller = ReferenceCanceller()
    taps.append(canceller.far)
    return canceller


def _has_pulse_device() -> bool:
    from audio.devices import list_devices
    from audio.echo_cancel import PULSE_DEVICE
    from audio.errors import DeviceError

    try:
        return any(d.name == PULSE_DEVICE for d in list_devices())
    except DeviceError:
        return False


def open_output(settings: Any, err: TextIO | None = None, echo: Any = None) -> tuple[Any, str]:
    """The speaker for the settings and a short description for the banner; printed replies (with the
    reason on stderr) when there is no speech output. With ``echo`` on, speech goes to its sink."""
    from audio.tts import PrintSpeaker, open_speaker

    stream = err if err is not None else sys.stderr
    device = echo.device("output", None) if echo is not None else None
    speaker, why = open_speaker(settings.speech, device=device, speak_to=settings.speak_to,
                                rate=settings.rate, volume=settings.volume, voice=settings.voice)
    if isinstance(speaker, PrintSpeaker):
        if why:
            reason = why.split("; printing replies instead")[0].rstrip(".")
            print(msg("no_speaker", reason=reason), file=stream, flush=True)
        return SilentSpeaker(), "printed"
    if settings.speak_to is not None:
        return speaker, f"written to {settings.speak_to}"
    renderer = getattr(speaker, "renderer", None)
    return speaker, str(getattr(renderer, "name", type(speaker).__name__))


def open_microphone(settings: Any, echo: Any = None) -> tuple[Any, str]:
    """The microphone source and its name (DeviceError when there is none); with ``echo`` on, it records
    the echo-cancelled source (set up again before every reopen)."""
    from audio.mic import MicrophoneSource

    if echo is not None and echo.active:
        from audio.echo_cancel import echo_cancelled_microphone

        source = echo_cancelled_microphone(echo, device=echo.device("input", settings.device))
    else:
        source = MicrophoneSource(device=settings.device)
    name = getattr(source, "device_name", None) or getattr(source, "name", None) or settings.device
    name = name or "default"
    return source, str(name)
