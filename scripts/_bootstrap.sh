# Sourced by scripts/start and scripts/test: a fresh machine has Python 3.12 (pyenv)
# and pip, nothing else; this brings uv and the locked environment.
export UV_PYTHON_DOWNLOADS=never
if ! command -v uv >/dev/null 2>&1 || ! uv --version >/dev/null 2>&1; then
  python3 -m pip install --quiet --disable-pip-version-check uv
  hash -r
fi
uv sync --frozen --quiet

ensure_system_packages() {
  # Debian's Chromium for browser tests, gettext's msgfmt for the translation check.
  local missing=()
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  command -v msgfmt >/dev/null 2>&1 || missing+=(gettext)
  [ ${#missing[@]} -eq 0 ] && return
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}
