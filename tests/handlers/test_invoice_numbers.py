"""Gap-free invoice numbers under concurrency (issue 19, finding 5).

Invariant N1: generated numbers are unique per partner and consecutive, skipping only the numbers taken by
hand; a lost race on the partner's counter is re-read, never read as "number taken".
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

from tests.handlers.conftest import NO_KEY, admin, create_org


def test_fifty_concurrent_creates_with_hand_taken_numbers_leave_no_gap(lambdas, partner):
    # Given an organization, and numbers 3, 10 and 25 to be taken by hand among the creates
    org = create_org(lambdas, partner)
    hand = {3, 10, 25}
    bodies = [{"org_id": org["id"], "type": "standard", "amount": 1_000, "currency": "SGD",
               "issued_date": "2026-11-01"} for _ in range(47)]
    bodies[5:5] = [{**bodies[0], "number": f"INV-{n:06d}"} for n in sorted(hand)]

    def create(body):
        return lambdas.allocation("create_invoice", body=body, headers=NO_KEY, **admin(partner))

    # When 50 creates run at once (8 execution environments)
    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(create, bodies))
    # Then every generated create succeeded; a hand-taken number may have been generated first (409)
    generated = [r for r, b in zip(results, bodies, strict=True) if "number" not in b]
    by_hand = [r for r, b in zip(results, bodies, strict=True) if "number" in b]
    assert [s for s, _ in generated] == [201] * 47, [b for s, b in generated if s != 201][:3]
    assert all(s == 201 or (s, b["error"]["code"]) == (409, "invoice_number_taken") for s, b in by_hand)
    numbers = [b["number"] for s, b in results if s == 201]
    assert len(set(numbers)) == len(numbers)  # unique per partner
    # and the numbers in use are 1..N with no gap: generated ones skip only those taken by hand (N1)
    sequence = sorted(int(re.fullmatch(r"INV-(\d{6})", n).group(1)) for n in numbers)
    assert sequence == list(range(1, len(sequence) + 1)), sequence
    assert len(sequence) >= 47
