"""`make mutation`'s figures, from the last `mutmut run` (mutants/): total, killed, survived, no tests,
timeouts, and the kill ratio over the mutants that are not equivalent (docs/benchmarks.md, issue 18).

Exits 1 when that ratio is below 95%. A survivor not listed in EQUIVALENT counts against the ratio; a
listed mutant that no longer survives (the code moved and mutmut renumbered) is reported, not excluded.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter

THRESHOLD = 0.95

# Survivors that behave exactly like the code they mutate, each with the reason.
EQUIVALENT = {
    "shared.domain.settings.x_default_settings__mutmut_6":
        "drops method='cheque_or_tt', which is PaymentSettings' default",
    "shared.domain.settings.x_default_settings__mutmut_7": "drops trigger_amount=0, which is the default",
    "shared.domain.settings.x_default_settings__mutmut_8": "drops limit_threshold=0, which is the default",
    "shared.domain.settings.x_default_settings__mutmut_9": "drops auto_trigger=False, which is the default",
    "shared.domain.wallet.x_post__mutmut_14":
        "posting.amount <= 0 for < 0: a zero posting raised ValueError just above, so no integer tells them apart",
    "shared.domain.wallet.x_post__mutmut_15":
        "posting.amount < 1 for < 0: a zero posting raised ValueError just above, so no integer tells them apart",
    "shared.domain.reconciling.x_next_look__mutmut_21":
        "the exponent capped at 9 for 8: 15 min x 2**8 is already beyond MAX_GAP (6 h), which min() keeps",
    "shared.domain.money_back.x_bounce__mutmut_25":
        "code=None for code='validation_error': None keeps Unprocessable's own code, validation_error",
    "shared.domain.money_back.x_bounce__mutmut_28":
        "drops code='validation_error', which is Unprocessable's own code",
}


def statuses() -> dict[str, str]:
    out = subprocess.run([sys.executable, "-m", "mutmut", "results", "--all", "true"], check=True,
                         capture_output=True, text=True).stdout
    pairs = (line.strip().rsplit(": ", 1) for line in out.splitlines() if ": " in line)
    return dict(pair for pair in pairs if len(pair) == 2)


def main() -> int:
    by_mutant = statuses()
    if not by_mutant:
        print("no mutation results: run `mutmut run` first")
        return 1
    counts = Counter(by_mutant.values())
    survivors = sorted(m for m, s in by_mutant.items() if s == "survived")
    equivalent = [m for m in survivors if m in EQUIVALENT]
    stale = sorted(m for m in EQUIVALENT if by_mutant.get(m) != "survived")
    total, killed = len(by_mutant), counts["killed"]
    ratio = killed / (total - len(equivalent)) if total > len(equivalent) else 0.0
    print(f"mutants {total}: killed {killed}, survived {counts['survived']} ({len(equivalent)} equivalent), "
          f"no tests {counts['no tests']}, timeout {counts['timeout']}, suspicious {counts['suspicious']}")
    print(f"kill ratio over the non-equivalent: {killed}/{total - len(equivalent)} = {ratio:.1%} "
          f"(threshold {THRESHOLD:.0%}; all mutants: {killed / total:.1%})")
    for mutant in survivors:
        print(f"  survived {mutant}: {EQUIVALENT.get(mutant, 'NOT EQUIVALENT: kill it or explain it')}")
    for mutant in stale:
        print(f"  listed as equivalent but {by_mutant.get(mutant, 'absent')}: {mutant} (renumbered? re-check the list)")
    return 0 if ratio >= THRESHOLD else 1


if __name__ == "__main__":
    sys.exit(main())
