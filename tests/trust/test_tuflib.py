"""core.trust.tuflib loads python-tuf without boto3 (0.3-0.5 s of every start), and leaves
boto3 importable for the publisher's object storage."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]


def _run(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_the_command_and_the_engine_start_without_boto3_which_stays_importable() -> None:
    out = _run(
        "import sys\n"
        "import core.cli.commands, core.update.engine, core.publish.signing\n"
        "print('boto3' in sys.modules)\n"
        "import boto3\n"
        "print(boto3.__name__)\n"
    )
    assert out.splitlines() == ["False", "boto3"]


def test_tuf_loaded_after_boto3_sees_it() -> None:
    out = _run(
        "import boto3\n"
        "from core.trust import tuflib\n"
        "from securesystemslib.signer import _aws_signer\n"
        "print(_aws_signer.AWS_IMPORT_ERROR, tuflib.Root.type)\n"
    )
    assert out == "None root"


def test_no_module_imports_tuf_but_through_tuflib() -> None:
    found = [
        str(path.relative_to(PROJECT))
        for base in ("core", "gui")
        for path in (PROJECT / base).rglob("*.py")
        if path.name != "tuflib.py"
        for line in path.read_text().splitlines()
        if line.lstrip().startswith(
            ("import tuf", "from tuf", "from securesystemslib", "import securesystemslib")
        )
    ]
    assert found == []
