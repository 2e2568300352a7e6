"""Matching a report against the rules: pure functions, no I/O.

A report is reduced once to its `RoutingFacts` (folded words, normalised
place names, the topic with its ancestors); then the rules are tried in
order and the first that matches decides (`route`). `check_rule` gives the
same answer with the reasons, for `explain` and the history's "why".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from lapor_bridge.mapping.channel import strip_keyword
from lapor_bridge.mapping.model import DEFAULT, DIMENSIONS, Mapping, Rule
from lapor_bridge.mapping.text import phrase, place_name, searchable
from lapor_bridge.mapping.topics import TopicTree, topic_path


class RoutingFacts:
    """What the rules look at in one report. The words of title and content
    are prepared on first use: most reports are routed by topic or place
    before any keyword rule is reached."""

    __slots__ = (
        "_content", "_text", "_title", "_words", "channel", "classification", "desa",
        "kecamatan", "masbupsiaga", "secret", "topic_id", "topic_path", "tracking_id",
    )  # fmt: skip

    def __init__(
        self,
        *,
        tracking_id: int,
        topic_id: int | None,
        topic_path: tuple[int, ...],
        kecamatan: str,
        desa: str,
        channel: str,
        classification: str,
        masbupsiaga: bool,
        title: str,
        content: str,
        secret: bool,
    ) -> None:
        self.tracking_id = tracking_id
        self.topic_id = topic_id
        self.topic_path = topic_path  # the topic and its ancestors, nearest first
        self.kecamatan = kecamatan  # folded, "" when unknown
        self.desa = desa
        self.channel = channel  # upper case; "MASBUPSIAGA" matches through `masbupsiaga`
        self.classification = classification
        self.masbupsiaga = masbupsiaga
        self.secret = secret  # RAHASIA: a reason never names a word of its text
        self._title = title
        self._content = content
        self._text: str | None = None
        self._words: frozenset[str] | None = None

    @property
    def text(self) -> str:
        """Title and content prepared by text.searchable."""
        if self._text is None:
            self._text = searchable(self._title, self._content)
        return self._text

    @property
    def words(self) -> frozenset[str]:
        if self._words is None:
            self._words = frozenset(self.text.split())
        return self._words

    def __repr__(self) -> str:
        return (
            f"RoutingFacts({self.tracking_id}, topic={self.topic_path}, kecamatan={self.kecamatan!r}, "
            f"desa={self.desa!r}, channel={self.channel}, classification={self.classification}, "
            f"masbupsiaga={self.masbupsiaga}, text={self.text!r})"
        )


def report_facts(
    tree: TopicTree,
    *,
    tracking_id: int,
    title: str,
    content: str,
    topic_id: int | None,
    kecamatan: str | None,
    desa: str | None,
    channel: str,
    classification: str,
    masbupsiaga: bool,
    privacy: str,
    path: tuple[int, ...] | None = None,
) -> RoutingFacts:
    """Facts of a report; an SMS loses its leading `masbupsiaga` keyword first.
    `path` may pass the topic's path when the caller has it cached."""
    channel = str(channel).upper()
    if channel == "SMS":
        content = strip_keyword(content or "")
    if path is None:
        path = topic_path(tree, topic_id) if topic_id is not None else ()
    return RoutingFacts(
        tracking_id=tracking_id,
        topic_id=topic_id,
        topic_path=path,
        kecamatan=place_name(kecamatan, kind="kecamatan"),
        desa=place_name(desa, kind="desa"),
        channel=channel,
        classification=str(classification).upper(),
        masbupsiaga=bool(masbupsiaga),
        title=title or "",
        content=content or "",
        secret=privacy == "RAHASIA",
    )


@dataclass(frozen=True, slots=True)
class Route:
    """Where the rules send a report."""

    opd: str
    co_opd: tuple[str, ...]
    complex: bool
    mapped_by: str  # "rule:<id>" or "default"
    rule: Rule | None


def rule_matches(rule: Rule, facts: RoutingFacts) -> bool:
    """Whether every dimension the rule looks at holds for the report."""
    if rule.topic and rule.topic.isdisjoint(facts.topic_path):
        return False
    if rule.kecamatan and facts.kecamatan not in rule.kecamatan:
        return False
    if rule.desa and facts.desa not in rule.desa:
        return False
    if rule.channel and not _channel_hit(rule, facts):
        return False
    if rule.classification and facts.classification not in rule.classification:
        return False
    return not rule.keyword or _keyword_hit(rule, facts) is not None


def _channel_hit(rule: Rule, facts: RoutingFacts) -> str | None:
    if facts.channel in rule.channel:
        return facts.channel
    if facts.masbupsiaga and "MASBUPSIAGA" in rule.channel:
        return "MASBUPSIAGA"
    return None


def _keyword_hit(rule: Rule, facts: RoutingFacts) -> str | None:
    """The first keyword of the rule found in the report, as folded."""
    for word in rule.keyword_words:
        if word in facts.words:
            return word
    for folded in rule.keyword_phrases:
        if f" {folded} " in facts.text:
            return folded
    return None


def route(mapping: Mapping, facts: RoutingFacts) -> Route:
    """The first matching rule's unit, or the default unit (mapped_by "default")."""
    for rule in mapping.rules:
        if rule_matches(rule, facts):
            return Route(
                rule.opd, _unique(rule.co_opd, rule.opd), rule.complex, rule.mapped_by, rule
            )
    return Route(mapping.default, (), False, DEFAULT, None)


def _unique(codes: tuple[str, ...], opd: str) -> tuple[str, ...]:
    return tuple(code for code in dict.fromkeys(codes) if code != opd)


class Router:
    """`route` for many reports at once, with the same answers: the rules that
    can match a topic are worked out once per topic, each rule's Route once,
    and topic paths and reasons are cached."""

    def __init__(self, mapping: Mapping, tree: TopicTree) -> None:
        self.mapping = mapping
        self.tree = tree
        self._routes = {
            rule.id: Route(
                rule.opd, _unique(rule.co_opd, rule.opd), rule.complex, rule.mapped_by, rule
            )
            for rule in mapping.rules
        }
        self._default = Route(mapping.default, (), False, DEFAULT, None)
        self._paths: dict[int | None, tuple[int, ...]] = {None: ()}
        self._candidates: dict[int | None, tuple[Rule, ...]] = {}
        self._reasons: dict[tuple[object, ...], str] = {}

    def path(self, topic_id: int | None) -> tuple[int, ...]:
        path = self._paths.get(topic_id)
        if path is None:
            path = self._paths[topic_id] = topic_path(self.tree, topic_id)  # type: ignore[arg-type]
        return path

    def route(self, facts: RoutingFacts) -> Route:
        candidates = self._candidates.get(facts.topic_id)
        if candidates is None:
            candidates = self._candidates[facts.topic_id] = tuple(
                rule for rule in self.mapping.rules
                if not rule.topic or not rule.topic.isdisjoint(facts.topic_path)
            )  # fmt: skip
        for rule in candidates:
            if rule_matches(rule, facts):
                return self._routes[rule.id]
        return self._default

    def why(self, answer: Route, facts: RoutingFacts) -> str:
        """The reason recorded for a rule-made assignment (cached by what it says)."""
        rule = answer.rule
        if rule is None:
            return NO_RULE
        key = (
            rule.id,
            facts.topic_id if rule.topic else None,
            facts.kecamatan if rule.kecamatan else None,
            facts.desa if rule.desa else None,
            (facts.channel, facts.masbupsiaga) if rule.channel else None,
            facts.classification if rule.classification else None,
            _keyword_hit(rule, facts) if rule.keyword else None,
        )  # the reason names only what the rule looks at
        reason = self._reasons.get(key)
        if reason is None:
            reason = self._reasons[key] = why(answer, facts)
        return reason


NO_RULE = "no rule matched: the default unit's triage queue"
SECRET_KEYWORD = "in a RAHASIA text: not named"
_NAMED_KEYWORD = re.compile(r"keyword '[^']*'")
_NAMED_MISS = re.compile(r"none of the keywords .*? in title or content")


def withhold_keywords(reason: str) -> str:
    """A stored reason of a RAHASIA report as it may be shown: written before the
    reasons withheld the words (or copied from elsewhere), it names none of them."""
    reason = _NAMED_KEYWORD.sub(f"a keyword of the rule ({SECRET_KEYWORD})", reason)
    return _NAMED_MISS.sub(f"none of the keywords of the rule ({SECRET_KEYWORD})", reason)


def why(answer: Route, facts: RoutingFacts) -> str:
    """The reason recorded for an assignment made by the rules."""
    if answer.rule is None:
        return NO_RULE
    return (
        f"rule {answer.rule.id} ({answer.rule.where}): {check_rule(answer.rule, facts).summary()}"
    )


# --- reasons ---------------------------------------------------------------------


@dataclass(frozen=True)
class DimensionCheck:
    dimension: str
    matched: bool
    detail: str  # "topic 101 (via 100)", "no keyword of banjir, longsor in title or content"


@dataclass(frozen=True)
class RuleCheck:
    rule: Rule
    matched: bool
    checks: tuple[DimensionCheck, ...]

    @property
    def hits(self) -> tuple[DimensionCheck, ...]:
        return tuple(c for c in self.checks if c.matched)

    @property
    def misses(self) -> tuple[DimensionCheck, ...]:
        return tuple(c for c in self.checks if not c.matched)

    def summary(self) -> str:
        """One line: "topic 101, keyword 'banjir'" or why it failed."""
        shown = self.hits if self.matched else self.misses
        return "; ".join(c.detail for c in shown)


def check_rule(rule: Rule, facts: RoutingFacts) -> RuleCheck:
    """Every dimension the rule looks at, whether it held and on what."""
    checks = tuple(_check(rule, facts, dim) for dim in DIMENSIONS if getattr(rule, dim))
    return RuleCheck(rule, all(c.matched for c in checks), checks)


def check_key(rule: Rule, facts: RoutingFacts) -> tuple[Any, ...]:
    """What `check_rule(rule, facts)` depends on: two reports with the same key
    get the same RuleCheck (a report's keyword stands in for its text), so many
    reports' explanations can share one check per rule."""
    key: list[Any] = [rule.id]
    for dim in DIMENSIONS:
        if not getattr(rule, dim):
            continue
        if dim == "topic":
            key.append((facts.topic_id, facts.topic_path))
        elif dim == "channel":
            key.append((facts.channel, facts.masbupsiaga))
        elif dim == "keyword":
            key.append((_keyword_hit(rule, facts), facts.secret))
        else:
            key.append(getattr(facts, dim))
    return tuple(key)


def _check(rule: Rule, facts: RoutingFacts, dimension: str) -> DimensionCheck:
    # what the rule asks for, as written: only a miss names it
    if dimension == "topic":
        hit = next((t for t in facts.topic_path if t in rule.topic), None)
        if hit is None:
            have = "no topic" if facts.topic_id is None else f"topic {facts.topic_id}"
            return DimensionCheck(
                dimension, False, f"{have}, not under topic {_written(rule, dimension)}"
            )
        via = "" if hit == facts.topic_id else f" (under topic {hit})"
        return DimensionCheck(dimension, True, f"topic {facts.topic_id}{via}")
    if dimension in ("kecamatan", "desa"):
        have = getattr(facts, dimension)
        if have in getattr(rule, dimension):
            return DimensionCheck(dimension, True, f"{dimension} {_shown(rule, dimension, have)}")
        return DimensionCheck(
            dimension, False, f"{dimension} {have or 'unknown'}, not {_written(rule, dimension)}"
        )
    if dimension == "channel":
        hit = _channel_hit(rule, facts)
        if hit is not None:
            return DimensionCheck(dimension, True, f"channel {hit}")
        programme = " (Mas Bup Siaga)" if facts.masbupsiaga else ""
        return DimensionCheck(
            dimension, False, f"channel {facts.channel}{programme}, not {_written(rule, dimension)}"
        )
    if dimension == "classification":
        if facts.classification in rule.classification:
            return DimensionCheck(dimension, True, f"classification {facts.classification}")
        return DimensionCheck(
            dimension,
            False,
            f"classification {facts.classification}, not {_written(rule, dimension)}",
        )
    hit_keyword = _keyword_hit(rule, facts)
    if facts.secret:  # which of the rule's words a RAHASIA text holds, or lacks, stays secret
        found = "a keyword" if hit_keyword is not None else "none of the keywords"
        return DimensionCheck(
            dimension, hit_keyword is not None, f"{found} of the rule ({SECRET_KEYWORD})"
        )
    if hit_keyword is not None:
        return DimensionCheck(dimension, True, f"keyword '{_shown(rule, 'keyword', hit_keyword)}'")
    return DimensionCheck(
        dimension, False, f"none of the keywords {_written(rule, dimension)} in title or content"
    )


def _written(rule: Rule, dimension: str) -> str:
    values: list[Any] = [value for value, _line in rule.sources.get(dimension, ())]
    if not values:
        values = list(rule.conditions().get(dimension, ()))
    return ", ".join(str(v) for v in values)


def _shown(rule: Rule, dimension: str, folded: str) -> str:
    """A normalised value as the admin wrote it in the rule."""
    for value, _line in rule.sources.get(dimension, ()):
        if dimension == "keyword" and phrase(value) == folded:
            return str(value)
        if dimension in ("kecamatan", "desa") and place_name(value, kind=dimension) == folded:
            return str(value)
    return folded
