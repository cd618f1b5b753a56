"""A speech model's vocabulary, so the catalogue can tell which of its words the model cannot hear."""

from __future__ import annotations

from pathlib import Path

from intents.errors import ConfigError

_NOT_WORDS = frozenset({"<eps>", "<s>", "</s>", "#0", "<unk>", "!sil", "<sil>"})


def load_vocabulary(model_dir: Path | str) -> set[str]:
    """The words a Kaldi/Vosk model knows, read from ``<model_dir>/graph/words.txt``.

    ``model_dir`` may also be the ``words.txt`` file itself. The set keeps ``[unk]`` and leaves out
    the graph's special symbols (``<eps>``, ``#0``, ...). Raises ``ConfigError`` (one line) when the
    file is missing or unreadable.
    """
    path = Path(model_dir)
    if path.is_dir():
        path = path / "graph" / "words.txt"
    try:
        with path.open(encoding="utf-8") as fh:
            words = {line.split(maxsplit=1)[0] for line in fh if line.strip()}
    except FileNotFoundError:
        raise ConfigError(f"{path}: no vocabulary file (a Vosk model has graph/words.txt)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the vocabulary ({exc})") from None
    return words - _NOT_WORDS
