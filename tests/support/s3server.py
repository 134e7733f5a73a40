"""A real S3-compatible server for the object storage tests: moto's server mode
(``moto_server``, installed by ``scripts/setup.sh --dev``) as a separate process on
127.0.0.1, port 0, with one bucket whose objects anyone may GET, as a public bucket
behind a CDN would be. Nothing runs inside the test process but the clients.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

START_DEADLINE = 30.0  # seconds moto gets to listen: a hang guard, not a check
KEY_ID, SECRET = "slipstream-test", "slipstream-test-secret"


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    """``http://127.0.0.1:PORT``, the S3 API and the public HTTP endpoint alike."""
    bucket: str

    def env(self) -> dict[str, str]:
        """The environment s3fs reads: credentials, region and endpoint."""
        return {
            "AWS_ACCESS_KEY_ID": KEY_ID,
            "AWS_SECRET_ACCESS_KEY": SECRET,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": self.endpoint,
        }

    def client(self) -> Any:
        """A boto3 S3 client, for the tests' own looks at the bucket."""
        import boto3  # type: ignore[import-untyped]  # no type information

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=KEY_ID,
            aws_secret_access_key=SECRET,
            region_name="us-east-1",
        )

    def keys(self, prefix: str = "", field: str = "LastModified") -> dict[str, Any]:
        """Every key under ``prefix`` → its LastModified (or another listing ``field``,
        such as ``ETag``: LastModified counts whole seconds)."""
        found: dict[str, Any] = {}
        pages = self.client().get_paginator("list_objects_v2")
        for page in pages.paginate(Bucket=self.bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                found[item["Key"]] = item[field]
        return found


def _binary() -> str:
    found = shutil.which("moto_server", path=str(Path(sys.executable).parent)) or shutil.which(
        "moto_server"
    )
    if found is None:
        pytest.fail("moto_server is not installed: run scripts/setup.sh --dev (moto[server])")
    return found


@contextmanager
def running_s3(log_dir: Path, bucket: str = "games") -> Iterator[S3Server]:
    """Start ``moto_server`` on 127.0.0.1 (port 0: it prints the one it chose), make
    ``bucket`` readable by anyone, and stop the process on the way out."""
    log = log_dir / "moto.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [_binary(), "-H", "127.0.0.1", "-p", "0"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "MOTO_CALL_RESET_API": "false"},
        )
    try:
        deadline = time.monotonic() + START_DEADLINE
        port = None
        while port is None:
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"moto_server did not start: {log.read_text(errors='replace')}")
            found = re.search(r"Running on http://127\.0\.0\.1:(\d+)", log.read_text("utf-8"))
            if found:
                port = int(found.group(1))
            else:
                time.sleep(0.05)
        server = S3Server(f"http://127.0.0.1:{port}", bucket)
        s3 = server.client()
        s3.create_bucket(Bucket=bucket)
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "s3:GetObject",
                    "Resource": f"arn:aws:s3:::{bucket}/*",
                }
            ],
        }
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
        s3.put_object(Bucket=bucket, Key="probe", Body=b"ok")
        if requests.get(f"{server.endpoint}/{bucket}/probe", timeout=10).content != b"ok":
            pytest.fail("moto_server does not serve anonymous GETs of a public bucket")
        s3.delete_object(Bucket=bucket, Key="probe")
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
