"""`make bench`: prints every figure; asserts nothing."""

from bench import coldstart, hot_invoice, requests

if __name__ == "__main__":
    for section in (coldstart.main, requests.main, hot_invoice.main):
        print("\n".join(section()), end="\n\n", flush=True)
