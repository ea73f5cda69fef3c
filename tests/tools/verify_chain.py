#!/usr/bin/env python3
"""Recomputes crisisd's hash chain from NDJSON envelopes, trusting nothing of crisisd.

Usage: verify_chain.py FILE [--first-prev-hash HEX]

Each line is one envelope. For every line, in order:
    hash == BLAKE3(bytes(prev_hash) || JCS(envelope without "hash" and "prev_hash"))
and each prev_hash is the hash of the line before (the first line's prev_hash is the
given one, or 64 zeros when the file starts at position 1).

JCS is RFC 8785 by the `rfc8785` package (Trail of Bits), BLAKE3 by the `blake3`
package (the reference implementation's Python binding): neither shares code with
crisisd. Prints "verified N" and exits 0, or names the first bad line and exits 1.
"""

import json
import sys

try:
    import blake3
    import rfc8785
except ImportError as err:  # pragma: no cover - the message is the point
    sys.exit(f"missing {err.name}: install with `python3 -m pip install rfc8785 blake3`")


def main() -> int:
    args = sys.argv[1:]
    if not args:
        sys.exit(__doc__)
    path = args[0]
    expected_prev = None
    if len(args) == 3 and args[1] == "--first-prev-hash":
        expected_prev = args[2]
    count = 0
    with open(path, "rb") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            envelope = json.loads(line)
            stored_hash = envelope.pop("hash")
            prev_hash = envelope.pop("prev_hash")
            if expected_prev is None and envelope.get("position") == 1:
                expected_prev = "0" * 64
            if expected_prev is not None and prev_hash != expected_prev:
                print(f"line {number} (position {envelope.get('position')}): prev_hash "
                      f"{prev_hash} does not link to {expected_prev}")
                return 1
            digest = blake3.blake3(bytes.fromhex(prev_hash) + rfc8785.dumps(envelope))
            if digest.hexdigest() != stored_hash:
                print(f"line {number} (position {envelope.get('position')}): hash "
                      f"{stored_hash} is not BLAKE3(prev_hash || JCS(envelope)) = "
                      f"{digest.hexdigest()}")
                return 1
            expected_prev = stored_hash
            count += 1
    print(f"verified {count}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
