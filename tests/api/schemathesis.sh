#!/usr/bin/env bash
# Property-based conformance of the HTTP API: schemathesis runs all its checks
# (no 5xx, answers and statuses as documented, valid data accepted, invalid data
# refused, problem+json everywhere) against the OpenAPI document a real `crisisd
# serve` publishes, on a fresh store, for a bounded time. Any failure fails the suite.
#
#   tests/api/schemathesis.sh [crisisd binary]     (default: target/debug/crisisd)
#   SCHEMATHESIS_MAX_TIME=600 for a longer hunt; SCHEMATHESIS_SEED to replay one.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin="${1:-target/debug/crisisd}"
if ! command -v schemathesis >/dev/null; then
    echo "schemathesis not found: install it with 'python3 -m pip install schemathesis'" >&2
    exit 2
fi
[ -x "$bin" ] || { echo "no crisisd binary at $bin: run 'cargo build' first" >&2; exit 2; }

work="$(mktemp -d)"
pid=""
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
token="$("$bin" --data-dir "$work/data" token add --role admin --actor schemathesis 2>/dev/null | tail -n 1)"
"$bin" --data-dir "$work/data" serve --http-addr "127.0.0.1:$port" >"$work/serve.log" 2>&1 &
pid=$!
for _ in $(seq 1 300); do
    curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
    kill -0 "$pid" 2>/dev/null || { cat "$work/serve.log" >&2; echo "crisisd serve exited" >&2; exit 1; }
    sleep 0.1
done

seed_args=()
[ -n "${SCHEMATHESIS_SEED:-}" ] && seed_args=(--seed "$SCHEMATHESIS_SEED")
status=0
SCHEMATHESIS_HOOKS=tests/api/hooks.py schemathesis --config-file tests/api/schemathesis.toml run \
    "http://127.0.0.1:$port/openapi.json" \
    --header "Authorization: Bearer $token" \
    --checks all \
    --max-time "${SCHEMATHESIS_MAX_TIME:-150}" \
    --max-examples 30 \
    --workers 2 \
    --continue-on-failure \
    --suppress-health-check all \
    "${seed_args[@]}" || status=$?
if ! kill -0 "$pid" 2>/dev/null; then
    echo "crisisd serve died during the run:" >&2
    tail -n 50 "$work/serve.log" >&2
    exit 1
fi
exit "$status"
