"""`make bench`: prints every figure; asserts nothing."""

from bench import (
    aged_receivables,
    auto_top_up_day,
    bounded_items,
    capacity,
    coldstart,
    console,
    host,
    hot_invoice,
    invoice_history,
    notices,
    requests,
    stripe_edges,
    sweep,
    throughput,
    webhook,
)

if __name__ == "__main__":
    for section in (coldstart.main, host.main, requests.main, webhook.main, stripe_edges.main, hot_invoice.main,
                    throughput.main, bounded_items.main, sweep.main, invoice_history.main, aged_receivables.main,
                    console.main, auto_top_up_day.main, notices.main, capacity.main):
        print("\n".join(section()), end="\n\n", flush=True)
