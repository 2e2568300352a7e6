"""Channels: apprise URLs as written in the YAML, expanded only when sending.

A URL may hold `${NAME}` placeholders (bot tokens, SMTP passwords); they are
read from the environment at send time and never stored, logged or printed.
What the store keeps of a channel is its fingerprint (a hash of the URL as
written) and a label with every secret masked. Any text that may carry an
expanded URL (an apprise error) goes through `scrub` first.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping as EnvMapping
from dataclasses import dataclass
from functools import cache

PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


class ChannelError(Exception):
    """A channel that cannot be used now (unknown scheme, placeholder unset)."""


@dataclass(frozen=True)
class Channel:
    """One apprise URL of a recipient, as written (placeholders unexpanded)."""

    url: str

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(self.url.encode()).hexdigest()[:16]

    @property
    def placeholders(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(PLACEHOLDER.findall(self.url)))

    @property
    def label(self) -> str:
        """The URL for people: scheme, host and path, secrets masked, no query."""
        return mask_url(self.url)

    def expand(self, env: EnvMapping[str, str] | None = None) -> str:
        """The URL with its placeholders filled from the environment (send time only)."""
        env = os.environ if env is None else env
        missing = [name for name in self.placeholders if not env.get(name)]
        if missing:
            raise ChannelError(
                f"environment variable {', '.join(missing)} is not set for channel {self.label}: "
                "set it where cron runs lapor-bridge"
            )
        return PLACEHOLDER.sub(lambda m: env[m.group(1)], self.url)

    def secrets(self, env: EnvMapping[str, str] | None = None) -> list[str]:
        """The values the placeholders expand to (to scrub them from any text)."""
        env = os.environ if env is None else env
        return [env[name] for name in self.placeholders if env.get(name)]


def scheme_of(url: str) -> str | None:
    match = _SCHEME.match(url.strip())
    return match.group(1).lower() if match else None


@cache
def known_schemes() -> frozenset[str]:
    from apprise.manager_plugins import NotificationManager

    return frozenset(str(s).lower() for s in NotificationManager().schemas())


def url_problem(url: str, env: EnvMapping[str, str] | None = None) -> tuple[str, str, str] | None:
    """(severity, message, fix) of what is wrong with a URL as written, or None.

    An unknown scheme is an error (a typo no environment can fix); an unset
    placeholder is a warning (the messages wait; sync goes on).
    """
    scheme = scheme_of(url)
    if scheme is None:
        return (
            "error",
            f"notify URL `{mask_url(url)}` has no scheme",
            "write an apprise URL such as `mailtos://user:${SMTP_PASS}@host?to=a@b.go.id` "
            "or `tgram://${TG_TOKEN}/CHAT_ID`",
        )
    if scheme not in known_schemes():
        from lapor_bridge.mapping.schema import did_you_mean

        hint = did_you_mean(scheme, sorted(known_schemes()))
        return (
            "error",
            f"notify URL scheme `{scheme}://` is not known to apprise",
            f"did you mean `{hint}://`?" if hint else "see https://github.com/caronc/apprise/wiki",
        )
    env = os.environ if env is None else env
    missing = [name for name in Channel(url).placeholders if not env.get(name)]
    if missing:
        return (
            "warning",
            f"notify URL `{mask_url(url)}` uses ${{{missing[0]}}}, which is not set here",
            f"set {', '.join(missing)} in the environment lapor-bridge runs in "
            "(messages to this channel wait until it is)",
        )
    return None


_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)([^/@?#]*@)")


def mask_url(url: str) -> str:
    """`mailtos://user:***@host/path` without the query; placeholders stay as written,
    anything in a password position or a long token-like path segment is masked."""
    text = url.split("?", 1)[0].split("#", 1)[0]
    match = _USERINFO.match(text)
    if match:
        user = match.group(2)[:-1]
        name = user.split(":", 1)[0]
        shown = name if ":" in user else ("***" if not PLACEHOLDER.fullmatch(user) else user)
        text = (
            match.group(1) + (f"{shown}:***@" if ":" in user else f"{shown}@") + text[match.end() :]
        )
    scheme, _, rest = text.partition("://")
    parts = rest.split("/")
    masked = [
        p if PLACEHOLDER.search(p) or len(p) < 20 or "@" in p else p[:2] + "***" for p in parts
    ]
    return f"{scheme}://{'/'.join(masked)}" if _ else text


def scrub(text: str, secrets: list[str]) -> str:
    """`text` with every secret value (and any URL's user:password) masked."""
    for secret in sorted(set(secrets), key=len, reverse=True):
        if secret:
            text = text.replace(secret, "***")
    return re.sub(r"(://[^/\s:@]*:)[^@\s/]+@", r"\1***@", text)
