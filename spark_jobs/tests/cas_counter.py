"""One Python writer of the cross-language compare-and-swap test (test/lake-cas.test.ts): waits for
`<dir>/go`, then does `cycles` read-increment-conditional-write cycles on the counter record, retrying on
LedgerConflict, and prints how many writes succeeded. Its TypeScript twin is test/support/cas-counter.ts."""
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from card_features import conditional  # noqa: E402
from card_features.failures import LedgerConflict  # noqa: E402


def main(folder: str, uri: str, cycles: int, name: str) -> None:
    open(os.path.join(folder, f"ready.{name}"), "w").close()
    while not os.path.exists(os.path.join(folder, "go")):
        time.sleep(0.005)
    written = 0
    while written < cycles:
        text, etag = conditional.read_text_with_etag(uri)
        try:
            conditional.write_text_if(uri, json.dumps({"n": json.loads(text)["n"] + 1}), if_match=etag)
            written += 1
        except LedgerConflict:
            pass
    print(written)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4])
