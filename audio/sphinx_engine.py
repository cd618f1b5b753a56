"""Fallback recognizer when no Vosk model is installed: pocketsphinx 5 with its bundled en-us model.

Constrained like Vosk: a JSGF grammar built from the phrase list (as a prefix tree, so phrases share their
beginnings: 758 flat alternatives decode about ten times slower). Grammar search maps *any* speech onto some
phrase, so the grammar also has a garbage branch: a loop over one pseudo-word per phone (``gbg_aa`` ...),
weighted by ``garbage_weight``. Speech that fits no phrase comes out as garbage words, reported as
``[unk]`` like Vosk does, and the matcher rejects it. Streaming uses pocketsphinx's VAD ``Endpointer``.

The garbage weight trades false accepts for misses (espeak-ng en-us, 25 commands clean + music, 93 chatter
lines, audio.evaluate): none 52 % commands / 40 % chatter accepted; 1e-15: 50 % / 23 %; 1e-12: 44 % / 12 %;
1e-10 (default): 40 % / 8 %, real-time factor 0.39 with ``maxhmmpf=1000``. pocketsphinx's model was trained
on people, not espeak-ng, hence the low command figures here.

Words missing from cmudict are tried with an apostrophe ("dont" -> "don't"); the rest leave their phrases
out of the grammar (``unknown_words``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

from audio.errors import ModelError
from audio.protocols import SAMPLE_RATE, Hypothesis, Word

UNK = "[unk]"
GARBAGE_PREFIX = "gbg_"
PHONES = (
    "AA", "AE", "AH", "AO", "AW", "AY", "B", "CH", "D", "DH", "EH", "ER", "EY", "F", "G", "HH", "IH", "IY",
    "JH", "K", "L", "M", "N", "NG", "OW", "OY", "P", "R", "S", "SH", "T", "TH", "UH", "UW", "V", "W", "Y",
    "Z", "ZH",
)
FRAME_RATE = 100  # pocketsphinx feature frames per second
_SKIP = {"<s>", "</s>", "<sil>", "(NULL)", "[NOISE]", "[SPEECH]", "++NOISE++", "+SPN+"}


def _trie(phrases: Sequence[str]) -> dict:
    root: dict = {}
    for p in phrases:
        node = root
        for w in p.split():
            node = node.setdefault(w, {})
        node[""] = {}
    return root


def _jsgf_expr(node: dict) -> str:
    alts = []
    for word, child in node.items():
        if word == "":
            continue
        rest = {k: v for k, v in child.items() if k != ""}
        if not rest:
            alts.append(word)
        elif "" in child:
            alts.append(f"{word} [ {_jsgf_expr(rest)} ]")
        else:
            alts.append(f"{word} ( {_jsgf_expr(rest)} )")
    return alts[0] if len(alts) == 1 else "( " + " | ".join(alts) + " )"


def build_jsgf(phrases: Sequence[str], garbage_weight: float | None) -> str:
    """A JSGF grammar of exactly ``phrases`` (prefix-shared), plus an optional phone-loop garbage branch."""
    body = _jsgf_expr(_trie(phrases))
    lines = ["#JSGF V1.0;", "grammar commands;", f"<cmd> = {body};"]
    if garbage_weight is None:
        lines.append("public <utt> = <cmd>;")
    else:
        lines.append("<phone> = " + " | ".join(GARBAGE_PREFIX + p.lower() for p in PHONES) + ";")
        lines.append(f"public <utt> = /1/ <cmd> | /{garbage_weight:g}/ <phone>+;")
    return "\n".join(lines) + "\n"


class SphinxRecognizer:
    """A ``Recognizer`` on pocketsphinx, constrained to ``grammar`` with a garbage loop for rejection.

    ``is_complete`` is accepted for the same signature as ``VoskRecognizer`` but unused: utterances end at
    the VAD endpointer (``window`` seconds of mostly non-speech).
    """

    def __init__(self, grammar: Sequence[str], is_complete: Callable[[str], bool] | None = None,
                 garbage_weight: float | None = 1e-10, window: float = 0.3, ratio: float = 0.9,
                 vad_mode: int = 2, name: str = "sphinx", **decoder_options: object):
        try:
            from pocketsphinx import Decoder, Endpointer, get_model_path
        except ImportError as exc:  # pragma: no cover - pocketsphinx is a dependency
            raise ModelError(f"the pocketsphinx package is not installed ({exc})") from None
        self.name = name
        self.is_complete = is_complete
        model_dir = os.path.join(get_model_path(), "en-us")
        options: dict[str, object] = dict(
            hmm=os.path.join(model_dir, "en-us"), dict=os.path.join(model_dir, "cmudict-en-us.dict"),
            samprate=SAMPLE_RATE, loglevel="FATAL", dither=True,
            beam=1e-30, wbeam=1e-20, pbeam=1e-30, maxhmmpf=1000,
        )
        options.update(decoder_options)
        try:
            self._decoder = Decoder(lm=None, **options)
        except Exception as exc:
            raise ModelError(f"pocketsphinx could not start with its bundled model ({exc})") from None
        self.unknown_words: list[str] = []
        self.grammar = self._usable_phrases(grammar)
        if garbage_weight is not None:
            for p in PHONES:
                self._decoder.add_word(GARBAGE_PREFIX + p.lower(), p, False)
            self._decoder.add_word(GARBAGE_PREFIX + "sil", "SIL", True)
        self.jsgf = build_jsgf(self.grammar, garbage_weight)
        self._decoder.add_jsgf_string("commands", self.jsgf)
        self._decoder.activate_search("commands")
        self._endpointer_args = (window, ratio, vad_mode, SAMPLE_RATE)
        self._Endpointer = Endpointer
        self._ep = Endpointer(*self._endpointer_args)
        self._ep_offset = 0.0  # stream seconds before the current endpointer (its clock starts at 0)
        self._buf = b""
        self._fed = 0
        self._in_utt = False
        self._utt_start = 0.0

    def _pronounce(self, word: str) -> str | None:
        pron = self._decoder.lookup_word(word)
        if pron:
            return pron
        for i in range(len(word) - 1, 0, -1):
            pron = self._decoder.lookup_word(word[:i] + "'" + word[i:])
            if pron:
                return pron
        return None

    def _usable_phrases(self, grammar: Sequence[str]) -> list[str]:
        phrases: list[str] = []
        for phrase in grammar:
            if phrase == UNK or phrase in phrases:
                continue
            missing = []
            for w in phrase.split():
                if self._decoder.lookup_word(w):
                    continue
                pron = self._pronounce(w)
                if pron:
                    self._decoder.add_word(w, pron, True)
                else:
                    missing.append(w)
            if missing:
                self.unknown_words.extend(w for w in missing if w not in self.unknown_words)
            else:
                phrases.append(phrase)
        if not phrases:
            raise ModelError("pocketsphinx: no phrase of the grammar can be pronounced with cmudict")
        return phrases

    @property
    def fed_s(self) -> float:
        """Seconds of audio fed so far."""
        return self._fed / SAMPLE_RATE

    def _finish(self) -> Hypothesis | None:
        self._decoder.end_utt()
        self._in_utt = False
        words: list[Word] = []
        for seg in self._decoder.seg() or ():
            w = seg.word
            if w in _SKIP or w.startswith("<") or w.startswith("++"):
                continue
            start = self._utt_start + seg.start_frame / FRAME_RATE
            end = self._utt_start + (seg.end_frame + 1) / FRAME_RATE
            if w.startswith(GARBAGE_PREFIX):
                if w == GARBAGE_PREFIX + "sil":
                    continue
                if words and words[-1].word == UNK:
                    words[-1] = Word(UNK, 1.0, words[-1].start, end)
                    continue
                w = UNK
            words.append(Word(w.split("(")[0], 1.0, start, end))
        if not words:
            return None
        return Hypothesis(" ".join(w.word for w in words), tuple(words), early=False, end_s=self.fed_s)

    def accept(self, pcm: bytes) -> Hypothesis | None:
        """Feed one chunk of s16le; a Hypothesis when the endpointer closes an utterance."""
        self._buf += pcm
        size = self._ep.frame_bytes
        result = None
        while len(self._buf) >= size:
            frame, self._buf = self._buf[:size], self._buf[size:]
            self._fed += size // 2
            was_in_speech = self._ep.in_speech
            speech = self._ep.process(frame)
            if speech is None:
                continue
            if not was_in_speech:
                self._decoder.start_utt()
                self._in_utt = True
                self._utt_start = self._ep_offset + float(self._ep.speech_start)
            self._decoder.process_raw(speech, False, False)
            if not self._ep.in_speech:
                hyp = self._finish()
                result = hyp or result
        return result

    def flush(self) -> Hypothesis | None:
        """End of stream: close the current utterance, if one is open."""
        hyp = None
        if self._ep.in_speech:
            # end_stream(b"") raises IndexError in pocketsphinx 5 when the stream ends on a frame boundary
            # in speech: always hand it one whole frame, the rest of the buffer padded with silence
            size = self._ep.frame_bytes
            rest = self._buf[:size]
            self._fed += len(rest) // 2
            try:
                speech = self._ep.end_stream(rest + b"\0" * (size - len(rest)))
            except (IndexError, ValueError, RuntimeError):  # never let the end of a stream crash a session
                speech = None
            if speech and self._in_utt:
                self._decoder.process_raw(speech, False, False)
        if self._in_utt:
            hyp = self._finish()
        self._buf = b""
        self._ep = self._Endpointer(*self._endpointer_args)
        self._ep_offset = self.fed_s
        return hyp

    def reset(self) -> None:
        """Drop the current utterance."""
        if self._in_utt:
            self._decoder.end_utt()
            self._in_utt = False
        self._buf = b""
        self._ep = self._Endpointer(*self._endpointer_args)
        self._ep_offset = self.fed_s
