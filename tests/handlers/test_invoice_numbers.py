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
    # Then every create succeeded with a unique number
    assert [s for s, _ in results] == [201] * 50, [b for s, b in results if s != 201][:3]
    numbers = [b["number"] for _, b in results]
    assert len(set(numbers)) == 50
    # and the generated ones are 1..50 but for the hand-taken ones: no gap (N1)
    sequence = sorted(int(re.fullmatch(r"INV-(\d{6})", n).group(1)) for n in numbers)
    assert sequence == list(range(1, 51)), sequence
