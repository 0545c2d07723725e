"""Rules of the domain, each pinned by a test that fails when the rule is broken (mutation testing)."""
