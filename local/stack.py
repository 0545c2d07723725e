"""`make run`: the whole local stack of the contract on loopback, in the foreground until Ctrl-C.

  HTTP API            127.0.0.1:$API_PORT (3000)     routed from template.yaml's HttpApi events
  Lambda Invoke API   127.0.0.1:$LAMBDA_PORT (3001)  as `sam local start-lambda` serves it
  Functions           each execution environment its own process (Lambda's runtime interface client),
                      one request at a time, started on demand (local/lambdas.py)
  DynamoDB            127.0.0.1:$DYNAMODB_PORT (8000) DynamoDB Local (Amazon's emulator), the template's table;
                      or an existing DynamoDB: $DYNAMODB_ENDPOINT, its table $TABLE_NAME in $AWS_REGION (a DynamoDB
                      Local already running, the fault drill's proxy, or an AWS account for a staging check)
  SQS, EventBridge    127.0.0.1:$SQS_PORT (9324), $EVENTS_PORT (9325): the template's queues (the sweep's, to the
                      worker; the webhook deliveries', to the notice delivery function; as the SQS event source
                      would) and the domain-event bus
  DynamoDB Streams    the table's stream, delivered to the invoice-history and notices functions as their event
                      source mappings would (local/streams.py)
  Stripe              127.0.0.1:$STRIPE_PORT (8420)  localstripe, completed (local/stripe.py); its signed
                      webhooks go to the HTTP API's POST /webhooks/stripe

The HTTP API throttles each route as the template's stage does (DefaultRouteSettings); API_THROTTLE_OFF=1
lifts it (benchmarks and load tests). A port already in use stops the start, naming the variable that moves
it. docs/local-stack.md: what the local HTTP API answers itself, and why.
"""

from __future__ import annotations

import argparse
import errno
import os
import signal
import socket
import sys
import threading
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from typing import Any

from local.auth import DEFAULT_SECRET
from local.aws import EVENT_BUS, LOCAL_CREDENTIALS_ENV, TABLE_NAME, LocalAws
from local.dynamodb import ExistingDynamoDB
from local.lambdas import FunctionHost
from local.queues import QueueDelivery
from local.servers import HttpApiServer, InvokeApiServer, StageThrottle
from local.streams import StreamDelivery
from local.stripe import DEFAULT_API_KEY, DEFAULT_WEBHOOK_SECRET, LocalStripe
from local.stripe import overrides as stripe_overrides
from local.template import Template

# Powertools warns on every request of a route that publishes no metric.
warnings.filterwarnings("ignore", message="No application metrics to publish")


@dataclass
class Stack:
    aws: LocalAws
    host: FunctionHost
    api: HttpApiServer
    invoke: InvokeApiServer
    delivery: QueueDelivery
    stripe: LocalStripe
    streams: StreamDelivery

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api.server_address[1]}"

    @property
    def lambda_url(self) -> str:
        return f"http://127.0.0.1:{self.invoke.server_address[1]}"

    def stop(self) -> None:
        """Everything, by pid where it is a process: servers first (no new request), then the functions'
        environments, then the queue and stream pollers, Stripe, DynamoDB Local, SQS and EventBridge. Steps that do not
        depend on each other run at once: each server's shutdown waits out its own poll interval (up to
        0.5 s); one after another, this stop took 1.0-1.9 s, at once 0.9-1.0 s."""
        _at_once(self.api.shutdown, self.invoke.shutdown)
        for server in (self.api, self.invoke):
            server.server_close()
        self.delivery.stopped.set()
        self.streams.stopped.set()
        self.host.stop()
        _at_once(self.delivery.stop, self.streams.stop, self.stripe.stop, self.aws.dynamodb.stop, self.aws.sqs.stop,
                 self.aws.events.stop)


def _at_once(*steps: Callable[[], object]) -> None:
    """Run `steps` in threads of their own and wait for all of them (an error is raised once all ended)."""
    with ThreadPoolExecutor(len(steps)) as pool:
        for future in [pool.submit(step) for step in steps]:
            future.result()


# Each port of the stack, the variable that sets it and its default; DynamoDB Local listens on every interface.
PORTS = {"API_PORT": 3000, "LAMBDA_PORT": 3001, "DYNAMODB_PORT": 8000, "SQS_PORT": 9324, "EVENTS_PORT": 9325,
         "STRIPE_PORT": 8420}
ALL_INTERFACES = {"DYNAMODB_PORT"}


class PortInUse(RuntimeError):
    """A port of the stack is taken; the message names the variable that moves it."""

    def __init__(self, variable: str, port: int):
        self.variable, self.port = variable, port
        super().__init__(f"Port {port} ({variable}) is in use by another program: stop that program, or start the "
                         f"stack on another port, e.g. {variable}={_suggest(port)} make run")


def _suggest(port: int) -> int:
    return port + 10_000 if port < 55_000 else port - 10_000


def check_ports(ports: dict[str, int]) -> None:
    """Raise PortInUse for the first of `ports` (variable -> port; 0 = any free port) that cannot be bound."""
    for variable, port in ports.items():
        if not port:
            continue
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers bind (TIME_WAIT is free)
            try:
                probe.bind(("0.0.0.0" if variable in ALL_INTERFACES else "127.0.0.1", port))
            except OSError as error:
                if error.errno == errno.EADDRINUSE:
                    raise PortInUse(variable, port) from error
                raise


def ports_from_environment() -> dict[str, int]:
    """Every port of the stack, from its variable or its default."""
    out = {}
    for variable, default in PORTS.items():
        raw = os.environ.get(variable, str(default))
        try:
            out[variable] = int(raw)
        except ValueError:
            raise SystemExit(f"{variable}={raw!r} is not a port number") from None
    return out


# What the functions need of the environment to reach DynamoDB in an AWS account (DYNAMODB_ENDPOINT not on this
# machine): the caller's own credentials, handed through as they are (never read or printed here).
AWS_CREDENTIALS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                   "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE")


def function_overrides(local: dict[str, str], dynamodb: object) -> dict[str, str]:
    """The functions' `local` values (LocalAws.overrides); with DynamoDB in an AWS account, its region and the
    environment's credentials instead of the local ones (the local SQS and EventBridge take any)."""
    overrides = dict(local)
    existing = dynamodb if isinstance(dynamodb, ExistingDynamoDB) else None
    if existing is not None and existing.remote:
        for name in LOCAL_CREDENTIALS_ENV:
            overrides.pop(name, None)
        overrides.update({k: os.environ[k] for k in AWS_CREDENTIALS if k in os.environ})
        overrides["AWS_REGION"] = overrides["AWS_DEFAULT_REGION"] = existing.region
    return overrides


def _serve(server: ThreadingHTTPServer, name: str) -> None:
    threading.Thread(target=server.serve_forever, name=name, daemon=True).start()


def start(api_port: int, lambda_port: int, dynamodb_port: int, log_level: str = "WARNING",
          verbose: bool = False, sqs_port: int = 0, events_port: int = 0, stripe_port: int = 0,
          seed: Callable[[str], Any] | None = None) -> tuple[Stack, Any]:
    """Start the stack; `seed(api_url)` runs against a private port first, so the public ports answer only
    once the seed is written. Returns the stack and what `seed` returned. Raises PortInUse (naming the port's
    variable) before starting anything when a port is taken. With DYNAMODB_ENDPOINT set, DynamoDB is that one
    (DYNAMODB_PORT unused): its table TABLE_NAME is created from the template unless it exists."""
    existing = ExistingDynamoDB.from_environment(TABLE_NAME)
    check_ports({"API_PORT": api_port, "LAMBDA_PORT": lambda_port, "DYNAMODB_PORT": 0 if existing else dynamodb_port,
                 "SQS_PORT": sqs_port, "EVENTS_PORT": events_port, "STRIPE_PORT": stripe_port})
    template = Template.load()
    aws = LocalAws.start(dynamodb_port, sqs_port, events_port, existing=existing).provision(template)
    stripe = LocalStripe(stripe_port, webhook_secret=os.environ.get("STRIPE_WEBHOOK_SECRET",
                                                                    DEFAULT_WEBHOOK_SECRET)).start()
    api_key = os.environ.get("STRIPE_API_KEY", DEFAULT_API_KEY)
    overrides = function_overrides(aws.overrides(log_level), aws.dynamodb)
    host = FunctionHost(template, {**overrides, **stripe_overrides(stripe, api_key)})
    seeded = None
    if seed is not None:
        private = HttpApiServer(0, host, template, verbose=verbose)
        _serve(private, "http-api-seed")
        try:
            seeded = seed(f"http://127.0.0.1:{private.server_address[1]}")
        finally:
            private.shutdown()
            private.server_close()
    api = HttpApiServer(api_port, host, template, verbose=verbose, throttle=StageThrottle.from_template(template),
                        stripe_endpoint=stripe.endpoint)
    stripe.deliver_to(f"http://127.0.0.1:{api.server_address[1]}/webhooks/stripe")
    invoke = InvokeApiServer(lambda_port, host, verbose=verbose)
    _serve(api, "http-api")
    _serve(invoke, "lambda-invoke")
    return Stack(aws, host, api, invoke, QueueDelivery(aws, host, template).start(), stripe,
                 StreamDelivery(aws, host, template, table=aws.table_name).start()), seeded


def _throttle_line(throttle: StageThrottle | None) -> str:
    if throttle is None:
        return "off (API_THROTTLE_OFF is set)"
    return f"{throttle.rate:g} requests/s, burst {throttle.burst}, per route (template.yaml; API_THROTTLE_OFF=1 lifts)"


def banner(stack: Stack, seeded: dict[str, Any] | None) -> str:
    lines = [
        "Payments service: local stack is up (Ctrl-C stops it)",
        f"  HTTP API           {stack.api_url}",
        f"  Lambda Invoke API  {stack.lambda_url}   (FunctionName = a template logical id)",
        f"  DynamoDB           {stack.aws.dynamodb.endpoint}   table {stack.aws.table_name}"
        f"{'   (DYNAMODB_ENDPOINT: not started here)' if isinstance(stack.aws.dynamodb, ExistingDynamoDB) else ''}",
        f"  SQS                {stack.aws.sqs.endpoint}   {', '.join(stack.aws.queue_urls)} (each to its function)",
        f"  EventBridge        {stack.aws.events.endpoint}   bus {EVENT_BUS}",
        f"  DynamoDB Streams   the table's stream -> {', '.join(r.mapping.function for r in stack.streams.readers)}",
        f"  Functions          {', '.join(stack.host.functions)}",
        f"  Finance console    {stack.api_url}/console/   (sign in with partner ptn_demo)",
        f"  API description    {stack.api_url}/docs (Swagger UI), {stack.api_url}/openapi.json (no token)",
        f"  Throttle           {_throttle_line(stack.api.throttle)}",
        "",
        f"Mint a token (HS256, LOCAL_JWT_SECRET={os.environ.get('LOCAL_JWT_SECRET', DEFAULT_SECRET)!r}):",
        "  TOKEN=$(.venv/bin/python -m local.auth --partner ptn_demo --groups finance-admin)",
        f"  curl -s -H \"Authorization: Bearer $TOKEN\" {stack.api_url}/organizations",
        f"  Stripe             {stack.stripe.endpoint}   localstripe; signed webhooks -> {stack.stripe.webhook_url}",
        f"Stripe webhook secret (STRIPE_WEBHOOK_SECRET): {stack.stripe.webhook_secret}",
        f"Stripe test API key (STRIPE_API_KEY): {os.environ.get('STRIPE_API_KEY', DEFAULT_API_KEY)}",
    ]
    if seeded:
        lines += ["", f"Demo data for partner {seeded['partner_id']}: {len(seeded['organizations'])} organizations,"
                  f" {len(seeded['payments'])} payments.",
                  "A customer's own staff sign in to the console with Role org-admin or org-viewer and one of:",
                  *(f"  {o['id']}  {o['name']}" for o in seeded["organizations"])]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-seed", action="store_true", help="start with an empty table")
    parser.add_argument("--verbose", action="store_true", help="log every request and INFO logs")
    args = parser.parse_args()
    seed: Callable[[str], Any] | None = None
    if not args.no_seed:
        from local.seed import seed as demo_seed

        seed = demo_seed
    ports = ports_from_environment()
    try:
        stack, seeded = start(ports["API_PORT"], ports["LAMBDA_PORT"], ports["DYNAMODB_PORT"],
                              "INFO" if args.verbose else "WARNING", args.verbose, ports["SQS_PORT"],
                              ports["EVENTS_PORT"], ports["STRIPE_PORT"], seed)
    except PortInUse as error:
        print(error, file=sys.stderr, flush=True)
        raise SystemExit(1) from None
    print(banner(stack, seeded), flush=True)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):  # Ctrl-C or SIGTERM: the whole stack, at once
        signal.signal(signum, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    finally:
        t = time.monotonic()
        stack.stop()
        print(f"stopped in {time.monotonic() - t:.1f} s", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
