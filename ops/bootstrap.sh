#!/usr/bin/env bash
# Create both Python environments from the committed lock files.
# The bot needs Python 3.10 (Rasa 3.6); the CRM 3.11 or newer. Each is found through
# pyenv, then PATH, and otherwise installed by uv.
set -euo pipefail
cd "$(dirname "$0")/.."

find_uv() {
  if command -v uv >/dev/null 2>&1; then command -v uv; return; fi
  if [ -x "$HOME/.local/bin/uv" ]; then echo "$HOME/.local/bin/uv"; return; fi
  echo "uv not found: installing it with pip (user site)" >&2
  python3 -m pip install --quiet --user uv >&2
  echo "$HOME/.local/bin/uv"
}

find_python() {  # $1 = version like 3.10
  local version=$1 candidate
  if command -v pyenv >/dev/null 2>&1; then
    candidate=$(pyenv prefix "$(pyenv versions --bare | grep -E "^${version//./\\.}(\.[0-9]+)?$" | tail -n 1)" 2>/dev/null || true)
    if [ -n "$candidate" ] && [ -x "$candidate/bin/python$version" ]; then echo "$candidate/bin/python$version"; return; fi
  fi
  if command -v "python$version" >/dev/null 2>&1 && "python$version" -c '' 2>/dev/null; then command -v "python$version"; return; fi
  "$UV" python install "$version" >&2
  "$UV" python find "$version"
}

UV=$(find_uv)
export UV_PYTHON_DOWNLOADS=automatic
BOT_PYTHON=$(find_python 3.10)
CRM_PYTHON=$(find_python 3.11)

echo "bot environment (.venv, $("$BOT_PYTHON" --version))"
"$UV" sync --frozen --quiet --python "$BOT_PYTHON"
echo "CRM environment (crm_backend/.venv, $("$CRM_PYTHON" --version))"
(cd crm_backend && "$UV" sync --frozen --quiet --python "$CRM_PYTHON")
