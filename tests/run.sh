#!/usr/bin/env bash
# Run the whole classchat test suite on a fresh Debian machine with Python 3.11+.
#
#   bash tests/run.sh            (extra arguments go to pytest, e.g. -k server)
#
# It makes .venv with requirements.txt, and, when run as root on Debian, installs the system packages the
# tests drive and that are missing: xvfb and xdotool (GUI tests on a virtual display), irssi, ngircd and
# weechat-headless with weechat-plugins (interoperability with real IRC software; the FIFO plugin the test
# drives WeeChat through is in weechat-plugins, which weechat-headless only recommends), tmux (the CLI in a
# terminal), openssl (test certificates for TLS). Each package is checked by the file a test uses from it,
# because packages are installed with --no-install-recommends, as on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
  echo "tests/run.sh: Python 3.11 or newer is needed (found $("$python" --version 2>&1))" >&2; exit 1; }

# package:what-a-test-uses (a command on PATH, or a path pattern)
debian_packages=(xvfb:Xvfb xdotool:xdotool irssi:irssi ngircd:ngircd weechat-headless:weechat-headless
                 'weechat-plugins:/usr/lib/*/weechat/plugins/fifo.so' tmux:tmux openssl:openssl)
present() {
  case "$1" in
    /*) compgen -G "$1" >/dev/null ;;
    *) command -v "$1" >/dev/null 2>&1 ;;
  esac
}
missing=()
for entry in "${debian_packages[@]}"; do
  present "${entry#*:}" || missing+=("${entry%%:*}")
done
"$python" -c 'import tkinter' 2>/dev/null || missing+=(python3-tk)
"$python" -m venv --help >/dev/null 2>&1 || missing+=(python3-venv)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "tests/run.sh: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "tests/run.sh: not root, so not installing ${missing[*]}; tests that need them will be skipped" >&2
  fi
fi

if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt

# The whole suite, unless the arguments name test files or folders themselves (bash tests/run.sh tests/test_cli.py).
where=(tests)
for argument in "$@"; do
  case "$argument" in
    -*) ;;
    *) [ -e "${argument%%::*}" ] && where=() ;;
  esac
done
# --durations: the slowest tests are listed at the end, so that a run creeping toward CI's 15 minutes shows where.
exec .venv/bin/python -m pytest "${where[@]}" -p no:cacheprovider --durations=15 "$@"
