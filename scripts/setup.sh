#!/usr/bin/env bash
# Set up massage-coach on Debian, Ubuntu or Raspberry Pi OS: system packages where missing, then a
# virtual environment in .venv with the project installed. Safe to run again; quick when nothing is missing.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"

# Debian package -> a file that shows it is installed (checked first, so a set-up machine needs no apt).
declare -A wanted=(
  [espeak-ng]=/usr/bin/espeak-ng
  [libespeak-ng1]=/usr/lib/*/libespeak-ng.so.1
  [libportaudio2]=/usr/lib/*/libportaudio.so.2
  [libatomic1]=/usr/lib/*/libatomic.so.1
  # a PulseAudio server: pulseaudio or PipeWire's pipewire-pulse (Raspberry Pi OS desktop); never both
  [pulseaudio]=/usr/lib/systemd/user/*pulse*.socket
  [pulseaudio-utils]=/usr/bin/pactl
  [libasound2-plugins]=/usr/lib/*/alsa-lib/libasound_module_pcm_pulse.so
  [alsa-utils]=/usr/bin/aplay
  [python3-venv]=/usr/lib/python3*/ensurepip/__init__.py
)
missing=()
for pkg in "${!wanted[@]}"; do
  # shellcheck disable=SC2086
  if ! ls ${wanted[$pkg]} >/dev/null 2>&1; then missing+=("$pkg"); fi
done
py=${PYTHON:-python3}
if ! command -v "$py" >/dev/null 2>&1; then missing+=(python3); fi
# A pyenv or self-built Python brings its own venv module: do not ask apt for Debian's.
if "$py" -c 'import venv, ensurepip' >/dev/null 2>&1; then
  missing=("${missing[@]/python3-venv}")
fi
missing=($(printf '%s\n' "${missing[@]}" | grep -v '^$' || true))
if ((${#missing[@]})); then
  echo "setup: installing system packages: ${missing[*]}" >&2
  sudo_cmd=()
  if [ "$(id -u)" != 0 ]; then sudo_cmd=(sudo); fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

stamp=.venv/.installed
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv" >&2
  "$py" -m venv .venv
fi
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "setup: installing Python packages into .venv" >&2
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null
  .venv/bin/python -m pip install -q -e ".[test]"
  touch "$stamp"
fi
