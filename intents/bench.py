"""A tiny benchmark of the matcher: microseconds per call (printed, never asserted).

Run ``python -m intents.bench``; the project-wide benchmarks in ``bench/`` may import ``bench_matcher``.
"""

from __future__ import annotations

import time

from intents.catalogue import Catalogue, load_catalogue
from intents.matcher import Matcher

CASES: dict[str, tuple[str, list[float] | None]] = {
    "exact": ("hold for twenty seconds", None),
    "exact_with_confidences": ("hold for twenty seconds", [0.95, 0.9, 0.97, 0.99]),
    "messy": ("Um, next stroke please!", None),
    "unk": ("[unk] hold [unk]", None),
    "chatter": ("the next song on this album is really nice", None),
}


def bench_matcher(catalogue: Catalogue | None = None, repeats: int = 20000) -> dict[str, float]:
    """Microseconds per ``Matcher.match`` call for a few typical inputs, plus ``is_complete_command``."""
    matcher = Matcher(catalogue or load_catalogue())
    results: dict[str, float] = {}
    for name, (text, confs) in CASES.items():
        start = time.perf_counter()
        for _ in range(repeats):
            matcher.match(text, confs)
        results[name] = (time.perf_counter() - start) / repeats * 1e6
    start = time.perf_counter()
    for _ in range(repeats):
        matcher.is_complete_command("hold for twenty")
    results["is_complete_command"] = (time.perf_counter() - start) / repeats * 1e6
    return results


def main() -> None:
    """Print the benchmark as a small table."""
    catalogue = load_catalogue()
    print(f"{len(catalogue.grammar())} grammar entries")
    for name, micros in bench_matcher(catalogue).items():
        print(f"{name:>24}: {micros:6.2f} us/call")


if __name__ == "__main__":
    main()
