"""`make bench`: prints every figure; asserts nothing."""

from bench import coldstart, host, hot_invoice, requests, sweep, webhook

if __name__ == "__main__":
    for section in (coldstart.main, host.main, requests.main, webhook.main, hot_invoice.main, sweep.main):
        print("\n".join(section()), end="\n\n", flush=True)
