#!/usr/bin/python3
"""Adds up the meson test logs given as arguments and prints one closing line,
'N passed, N failed', so that a reader of the whole run sees its total."""

import json
import sys

passed = failed = skipped = 0
for path in sys.argv[1:]:
    with open(path, encoding="utf-8") as log:
        for line in log:
            result = json.loads(line)["result"]
            if result in ("OK", "EXPECTEDFAIL"):
                passed += 1
            elif result == "SKIP":
                skipped += 1
            else:
                failed += 1

# A skip stands in for nothing here: count it as a failure.
failed += skipped
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed or not passed else 0)
