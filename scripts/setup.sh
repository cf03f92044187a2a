# shellcheck shell=bash
# Set-up shared by ./run and ./test (sourced, not executed). Idempotent:
#   1. installs the Debian packages tcpscope uses when one is missing (apt-get; sudo
#      only when not root; `apt-get update` only when something is missing);
#   2. creates .venv with python3.11 (or python3 when it is 3.11 or newer);
#   3. runs `pip install -e '.[test]'` when pyproject.toml changed since the last install;
#   4. puts .venv/bin first on PATH.
# Set TCPSCOPE_SKIP_APT=1 to skip step 1 (e.g. on a machine without apt-get).

TCPSCOPE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export TCPSCOPE_ROOT

TCPSCOPE_DEBIAN_PACKAGES=(
    tshark tcpdump tcptrace chromium iproute2 nftables openssl ethtool time
    python3 python3-venv python3-pip
)

_tcpscope_log() { printf 'setup: %s\n' "$*" >&2; }

_tcpscope_apt() {
    if [[ "${TCPSCOPE_SKIP_APT:-0}" == 1 ]]; then
        return 0
    fi
    if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
        _tcpscope_log "no dpkg/apt-get: install these yourself: ${TCPSCOPE_DEBIAN_PACKAGES[*]}"
        return 0
    fi
    local missing=() pkg
    for pkg in "${TCPSCOPE_DEBIAN_PACKAGES[@]}"; do
        if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
            missing+=("$pkg")
        fi
    done
    if [[ ${#missing[@]} -eq 0 ]]; then
        return 0
    fi
    local sudo=()
    if [[ "$(id -u)" -ne 0 ]]; then
        if ! command -v sudo >/dev/null 2>&1; then
            _tcpscope_log "missing packages ${missing[*]} and no sudo: run as root"
            return 1
        fi
        sudo=(sudo)
    fi
    _tcpscope_log "installing ${missing[*]}"
    # tshark asks whether non-root users may capture: answer no, without a prompt.
    echo "wireshark-common wireshark-common/install-setuid boolean false" \
        | "${sudo[@]}" debconf-set-selections || true
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q || return 1
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        --no-install-recommends "${missing[@]}" </dev/null || return 1
}

_tcpscope_python() {
    local py
    for py in python3.11 python3; do
        if command -v "$py" >/dev/null 2>&1 \
            && "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            command -v "$py"
            return 0
        fi
    done
    _tcpscope_log "need Python 3.11 or newer (python3.11 or python3)"
    return 1
}

_tcpscope_venv() {
    local venv="$TCPSCOPE_ROOT/.venv" py stamp want have
    if [[ ! -x "$venv/bin/python" ]]; then
        py="$(_tcpscope_python)" || return 1
        _tcpscope_log "creating .venv with $py"
        "$py" -m venv "$venv" || return 1
    fi
    stamp="$venv/.tcpscope-installed"
    want="$(sha256sum "$TCPSCOPE_ROOT/pyproject.toml" | cut -d' ' -f1)"
    have="$(cat "$stamp" 2>/dev/null || true)"
    if [[ "$want" != "$have" ]]; then
        _tcpscope_log "pip install -e '.[test]' (pyproject.toml changed)"
        "$venv/bin/python" -m pip install -q --disable-pip-version-check \
            -e "$TCPSCOPE_ROOT[test]" </dev/null || return 1
        echo "$want" >"$stamp"
    fi
}

_tcpscope_setup() {
    _tcpscope_apt || { _tcpscope_log "installing Debian packages failed"; return 1; }
    _tcpscope_venv || { _tcpscope_log "creating the Python environment failed"; return 1; }
    export PATH="$TCPSCOPE_ROOT/.venv/bin:$PATH"
    export VIRTUAL_ENV="$TCPSCOPE_ROOT/.venv"
    # Kaleido (PNG figures) drives a Chromium; tell it where Debian's is.
    if [[ -z "${BROWSER_PATH:-}" ]] && command -v chromium >/dev/null 2>&1; then
        BROWSER_PATH="$(command -v chromium)"
        export BROWSER_PATH
    fi
}

_tcpscope_setup
