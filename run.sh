#!/usr/bin/env bash
# massage-coach in one command on a fresh Debian, Ubuntu or Raspberry Pi OS machine.
#   ./run.sh            set up, then a live session (microphone) or, with none, the demo
#   ./run.sh demo       set up, then the scripted demo (no microphone or speaker needed)
#   ./run.sh test       set up, then lint and the whole test suite
#   ./run.sh bench      set up, then the benchmarks (writes bench/RESULTS.md)
#   ./run.sh -- ARGS    set up, then massage-coach ARGS
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
bash scripts/setup.sh
bin=.venv/bin
case "${1:-auto}" in
  test)
    shift
    "$bin/ruff" check skill intents audio tests bench
    exec "$bin/python" -m pytest -q -p no:cacheprovider "$@"
    ;;
  bench) shift; exec "$bin/python" -m bench "$@" ;;
  demo) shift; exec "$bin/massage-coach" demo "$@" ;;
  auto) exec "$bin/massage-coach" session --demo-if-no-microphone ;;
  --) shift; exec "$bin/massage-coach" "$@" ;;
  *) exec "$bin/massage-coach" "$@" ;;
esac
