"""The GOG account and adopt commands of ``slipstream``: login, logout, adopt."""

from __future__ import annotations

import argparse
import os
import sys
import webbrowser
from pathlib import Path
from typing import Any

from core.errors import UsageError
from core.progress import CancelToken, ProgressSink

COMMANDS = ("login", "logout", "adopt")


def add_parsers(sub: Any, engine_options: Any, common_options: Any) -> None:
    p = sub.add_parser("login", help="log in to GOG (the tokens go to the system keyring)")
    p.add_argument(
        "--code",
        default=None,
        metavar="CODE_OR_REDIRECT_URL",
        help="the code, or the whole address the browser ended on after logging in",
    )
    p.add_argument("--no-browser", action="store_true", help="only print the login address")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("logout", help="forget the GOG login")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("adopt", help="take over a game GOG installed (goggame-*.info)")
    p.add_argument("dir", type=Path, metavar="DIR")
    engine_options(p)
    common_options(p)


def _has_browser() -> bool:
    """Open a browser only on a desktop: a text browser would take over the terminal."""
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _login(args: argparse.Namespace) -> tuple[Any, str]:
    from core.gog import auth

    code = args.code
    if code is None:
        url = auth.login_url()
        print(f"Log in to GOG at:\n  {url}", file=sys.stderr)
        if not args.no_browser and _has_browser():
            webbrowser.open(url)
        if not sys.stdin.isatty():
            raise UsageError(
                "After logging in, run slipstream login --code with the address the "
                "browser ended on (it contains code=)."
            )
        try:
            code = input("Paste the address the browser ended on (or the code): ")
        except EOFError:
            raise UsageError(
                "No code was entered. Run slipstream login again, or pass the address the "
                "browser ended on with --code."
            ) from None
    tokens = auth.login(code)
    doc = {"logged_in": True, "user": tokens.display_name, "user_id": tokens.user_id}
    return doc, f"Logged in to GOG as {tokens.display_name}."


def _logout() -> tuple[Any, str]:
    from core.gog import auth

    removed = auth.delete_tokens()
    text = "Logged out of GOG." if removed else "Not logged in to GOG."
    return {"logged_in": False, "removed": removed}, text


def run(
    args: argparse.Namespace, options: Any, sink: ProgressSink, cancel: CancelToken
) -> tuple[Any, Any]:
    """Run login, logout or adopt; for adopt, the report (the caller describes it)."""
    if args.command == "login":
        return _login(args)
    if args.command == "logout":
        return _logout()
    from core.update.adopt import adopt

    report = adopt(args.dir, options=options, progress=sink, cancel=cancel)
    return report, None
