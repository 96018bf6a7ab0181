"""Print the kill rate of a mutmut run: killed / (total - listed equivalents).

Reads ``mutmut results --all true`` on stdin; the equivalent survivors are
the mutant names that open a list item (``- `name`: reason``) in the file
named as the only argument. Exits 1 below the target, when a listed mutant
was killed after all (so the list stays honest), or when some mutants were
not checked (a stopped run: the rate is then of the checked ones only).
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path

TARGET = 0.95
_RESULT = re.compile(r"^\s*(\S+__mutmut_\d+): (.+)$")
_LISTED = re.compile(r"^- `([^`]+__mutmut_\d+)`")
# A mutant that makes the tests hang changed what the code does: detected.
_DETECTED = ("killed", "timeout", "caught by type check")
# A run stopped part way leaves these; they are counted apart, not judged.
_UNCHECKED = ("not checked", "check was interrupted by user")


def main(equivalent_list: Path) -> int:
    status = {}
    for line in sys.stdin:
        match = _RESULT.match(line)
        if match:
            status[match.group(1)] = match.group(2).strip()
    listed = {
        m.group(1)
        for line in equivalent_list.read_text().splitlines()
        if (m := _LISTED.match(line))
    }
    unchecked = sum(1 for outcome in status.values() if outcome in _UNCHECKED)
    status = {n: o for n, o in status.items() if o not in _UNCHECKED}
    counts = Counter(status.values())
    detected = sum(counts[name] for name in _DETECTED)
    equivalent = {name for name in listed if status.get(name) == "survived"}
    stale = sorted(name for name in listed if status.get(name) in _DETECTED)
    left = sorted(
        name
        for name, outcome in status.items()
        if outcome not in _DETECTED and name not in equivalent
    )
    judged = len(status) - len(equivalent)
    rate = detected / judged if judged else 0.0
    for name in left:
        print(f"not killed: {name} ({status[name]})")
    for name in stale:
        print(f"listed as equivalent but killed, unlist it: {name}")
    print(
        f"mutants {len(status)}, killed {counts['killed']}, "
        f"timeout {counts['timeout']}, survived {counts['survived']}, "
        f"no tests {counts['no tests']}, other "
        f"{len(status) - detected - counts['survived'] - counts['no tests']}, "
        f"equivalent listed {len(equivalent)}"
        + (f"; NOT CHECKED {unchecked} (the run was stopped)" if unchecked else "")
    )
    print(
        f"kill rate {detected}/{judged} = {rate:.1%} of non-equivalent mutants "
        f"(target {TARGET:.0%})"
    )
    return 0 if rate >= TARGET and not stale and not unchecked else 1


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
