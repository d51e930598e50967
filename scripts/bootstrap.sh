# Shared set-up for scripts/serve and scripts/test (sourced, not run).
# Installs the Debian packages the service needs (when root and missing), creates .venv,
# and installs the project into it (again only when pyproject.toml changed).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV="$ROOT/.venv"

apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
    echo "bootstrap: please install: ${missing[*]}" >&2
    return 0
  fi
  echo "bootstrap: apt-get install ${missing[*]}" >&2
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

venv_install() {
  local extra=$1
  if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
  fi
  local stamp="$VENV/.installed-$extra"
  local want
  want=$(sha256sum "$ROOT/pyproject.toml" | cut -d' ' -f1)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "bootstrap: installing the project into .venv ($extra)" >&2
    local log="$VENV/install.log"
    if ! { "$VENV/bin/python" -m pip install -q --upgrade pip \
           && "$VENV/bin/python" -m pip install -q -e "$ROOT[$extra]"; } >"$log" 2>&1; then
      grep -v "^WARNING: Location" "$log" | tail -40 >&2
      echo "bootstrap: installation failed (full log: $log)" >&2
      exit 1
    fi
    echo "$want" > "$stamp"
  fi
}

# Models: an explicit VOICE_INTAKE_MODEL_DIR wins; else ../shared/models when it is there.
if [ -z "${VOICE_INTAKE_MODEL_DIR:-}" ] && [ -d "$ROOT/../shared/models" ]; then
  export VOICE_INTAKE_MODEL_DIR="$(cd "$ROOT/../shared/models" && pwd)"
fi
