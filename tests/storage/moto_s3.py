"""A real S3 server on loopback for the storage tests: moto's server mode, dummy credentials, nothing that
can reach a real cloud (the endpoint is asserted to be 127.0.0.1; AWS config files are pointed away)."""
from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
import uuid
from urllib.parse import urlparse

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(os.path.dirname(os.path.dirname(HERE)), "src")
DRIVER = os.path.join(HERE, "s3_driver.py")


class S3Server:
    """moto's ThreadedMotoServer on 127.0.0.1 (a free port), with the AWS environment that points at it.

    moto's backend lives in this process, so a server stopped and started again on the same port still has
    its buckets and objects: storage that goes down mid-run and comes back."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one log line per request otherwise
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        host, self.port = self._server.get_host_and_port()
        assert host == "127.0.0.1"
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.up = True

    @property
    def env(self) -> dict[str, str]:
        """The standard AWS environment for a client of this server (and nothing else)."""
        return {"AWS_ENDPOINT_URL": self.endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": os.devnull,
                "AWS_SHARED_CREDENTIALS_FILE": os.devnull}

    def stop(self) -> None:
        self._server.stop()
        self.up = False

    def restart(self) -> None:
        """The server again on the same port (the backend kept every object)."""
        from moto.server import ThreadedMotoServer

        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()
        self.up = True

    def client(self):  # a boto3 client
        import boto3

        assert urlparse(self.endpoint).hostname == "127.0.0.1"  # never a real cloud
        return boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id="testing",
                            aws_secret_access_key="testing", region_name="us-east-1")

    def new_bucket(self) -> str:
        name = f"tl-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name

    # -- reading back ------------------------------------------------------------------------------
    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        paginator = self.client().get_paginator("list_objects_v2")
        return sorted(o["Key"] for page in paginator.paginate(Bucket=bucket, Prefix=prefix)
                      for o in page.get("Contents", []))

    def read(self, bucket: str, key: str) -> str:
        return self.client().get_object(Bucket=bucket, Key=key)["Body"].read().decode()

    def results(self, bucket: str, prefix: str) -> dict[str, list[dict]]:
        """Each trial folder's result.json in storage, parsed: {trial folder: [result, ...]}."""
        out = {}
        for key in self.keys(bucket, prefix):
            if key.endswith("/result.json"):
                out[key.rsplit("/", 2)[-2]] = [json.loads(line) for line in self.read(bucket, key).splitlines()]
        return out

    def journal(self, bucket: str, experiment: str) -> list[dict]:
        """The experiment's journal in storage (empty when it is not there yet)."""
        try:
            text = self.read(bucket, f"{experiment}/.tunelab/journal.jsonl")
        except Exception:
            return []
        events = []
        for line in text.splitlines():
            try:
                events.append(json.loads(line))
            except ValueError:
                pass
        return events


def checkpointed_trials(events: list[dict]) -> dict[str, int]:
    """trial_id -> the highest checkpoint iteration journaled (from the checkpoint folder's name)."""
    found: dict[str, int] = {}
    for event in events:
        if event.get("event") == "checkpoint":
            iteration = int(event["path"].rstrip("/").rsplit("_", 1)[1])
            found[event["trial_id"]] = max(found.get(event["trial_id"], 0), iteration)
    return found


def added_trials(events: list[dict]) -> set[str]:
    return {e["trial_id"] for e in events if e.get("event") == "trial_added"}


def driver_env(server: S3Server, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(server.env, PYTHONPATH=SRC, TUNELAB_SYNC_PERIOD_S="0.3", PYTHONUNBUFFERED="1")
    env.update(extra)
    assert urlparse(env["AWS_ENDPOINT_URL"]).hostname == "127.0.0.1"
    return env


def start_driver(env: dict[str, str], log: str, *args: str) -> subprocess.Popen:
    """The driver script (`s3_driver.py`) with `args`, its stdout and stderr to the file `log`."""
    out = open(log, "w")  # noqa: SIM115 - closed with the process by the caller's wait()
    return subprocess.Popen([sys.executable, DRIVER, *args], env=env, stdout=out, stderr=subprocess.STDOUT, text=True)


def wait_for(condition, timeout_s: float, what: str, proc: subprocess.Popen | None = None, log: str = ""):
    """Poll `condition()` until it returns something truthy; fail (with the driver's log) after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the driver exited ({proc.returncode}) before {what}:\n{_tail(log)}")
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}:\n{_tail(log)}")


def read_log(log: str) -> str:
    with open(log) as f:
        return f.read()


def _tail(log: str) -> str:
    if not log or not os.path.exists(log):
        return ""
    with open(log) as f:
        return f.read()[-4000:]


def last_json_line(log: str) -> dict:
    with open(log) as f:
        lines = [line for line in f.read().splitlines() if line.startswith("{")]
    assert lines, _tail(log)
    return json.loads(lines[-1])
