"""Checks across units and rules, on what the schema let through.

Errors (the mapping is refused): a duplicate unit code or rule id, a rule or
co_opd naming a unit that does not exist, a missing or unknown `default`,
a rule shadowed by an earlier one.

Warnings (shown by `mappings check`, the mapping still works): a topic id
that is not in the synced LAPOR! topic tree, a kecamatan that no kecamatan
office serves, a unit without liaison, a co_opd repeating the rule's opd.
A missing topic id is a warning, not an error, because the tree belongs to
the national platform: it may drop or renumber a topic at any time, and
that must not stop the regency's sync; the rule keeps working for its other
values, and `mappings status` lists topics that no rule names.

Shadowing is decided soundly (never a false error): rule B is shadowed by an
earlier rule A when, for every dimension A looks at, B looks at it too and
each of B's values is covered by A's: a topic by itself or an ancestor, a
keyword phrase by an A keyword contained in it as whole words, other values
by being equal. Then every report B matches is matched by A first.
"""

from __future__ import annotations

from collections.abc import Callable

from lapor_bridge.mapping.model import MappingIssue, Rule, Unit
from lapor_bridge.mapping.schema import did_you_mean
from lapor_bridge.mapping.text import contains_phrase, place_name
from lapor_bridge.mapping.topics import topic_path

Add = Callable[[MappingIssue], None]


def check_units(
    units: list[Unit], default: str | None, default_line: int, file: str, add: Add
) -> None:
    first: dict[str, Unit] = {}
    for unit in units:
        if unit.code in first:
            add(
                MappingIssue(
                    unit.file,
                    unit.line,
                    "error",
                    f"unit code `{unit.code}` is used twice (first at line {first[unit.code].line})",
                    "give each unit its own code, or delete one of the two",
                )
            )
            continue
        first[unit.code] = unit
        if not unit.liaison:
            add(
                MappingIssue(
                    unit.file,
                    unit.line,
                    "warning",
                    f"unit `{unit.code}` has no liaison contact",
                    "add `liaison:` with a name and phone or email",
                )
            )
    if default is not None and default not in first:
        hint = did_you_mean(default, list(first))
        add(
            MappingIssue(
                file,
                default_line,
                "error",
                f"the default unit `{default}` is not defined in this file",
                f"did you mean `{hint}`?"
                if hint
                else "name the coordinator's unit code, e.g. `default: KOORDINATOR`",
            )
        )


def check_notify_urls(units: list[Unit], add: Add) -> None:
    """Each `notify:`/`notify_head:` URL: a scheme apprise knows (error), its
    `${NAME}` placeholders set in this environment (warning: messages wait)."""
    from lapor_bridge.notify.channels import url_problem

    for unit in units:
        for url, line in (*unit.notify, *unit.notify_head):
            problem = url_problem(url)
            if problem is not None:
                severity, message, fix = problem
                add(MappingIssue(unit.file, line, severity, message, fix))  # type: ignore[arg-type]


def check_rule_references(rules: list[Rule], units: list[Unit], add: Add) -> None:
    codes = [unit.code for unit in units]
    known = set(codes)
    served = {
        place_name(unit.kecamatan, kind="kecamatan"): unit.kecamatan
        for unit in units
        if unit.kecamatan
    }
    for rule in rules:
        if rule.opd not in known:
            add(_unknown_code(rule, "opd", rule.opd, rule.lines.get("opd", rule.line), codes))
        for code, line in rule.sources.get("co_opd", ()):
            if code not in known:
                add(_unknown_code(rule, "co_opd", code, line, codes))
            elif code == rule.opd:
                add(
                    MappingIssue(
                        rule.file,
                        line,
                        "warning",
                        f"rule `{rule.id}` lists its own opd `{code}` in co_opd",
                        "remove it from co_opd",
                    )
                )
        if not served:
            continue
        for written, line in rule.sources.get("kecamatan", ()):
            if place_name(written, kind="kecamatan") not in served:
                hint = did_you_mean(written, sorted(v for v in served.values() if v))
                add(
                    MappingIssue(
                        rule.file,
                        line,
                        "warning",
                        f"no kecamatan office serves kecamatan `{written}`, so reports may never name it",
                        f"did you mean `{hint}`?"
                        if hint
                        else "check the spelling against units.yaml",
                    )
                )


def _unknown_code(rule: Rule, key: str, code: str, line: int, codes: list[str]) -> MappingIssue:
    hint = did_you_mean(code, codes)
    fix = f"did you mean `{hint}`?" if hint else "use a code defined in units.yaml"
    return MappingIssue(
        rule.file,
        line,
        "error",
        f"rule `{rule.id}`: {key} `{code}` is not a unit in units.yaml",
        fix,
    )


def check_rules(rules: list[Rule], topics: dict[int, int] | None, add: Add) -> None:
    seen: dict[str, Rule] = {}
    for rule in rules:
        if rule.id in seen:
            add(
                MappingIssue(
                    rule.file,
                    rule.lines.get("id", rule.line),
                    "error",
                    f"rule id `{rule.id}` is used twice (first at line {seen[rule.id].line})",
                    "give each rule its own id: it is recorded in every assignment it makes",
                )
            )
        else:
            seen[rule.id] = rule
        if topics is not None:
            for topic, line in rule.sources.get("topic", ()):
                if topic not in topics:
                    add(
                        MappingIssue(
                            rule.file,
                            line,
                            "warning",
                            f"rule `{rule.id}`: topic {topic} is not in the synced LAPOR! topic tree",
                            "check the id (it may have been removed upstream); this value never matches",
                        )
                    )
    for index, rule in enumerate(rules):
        earlier = next((e for e in rules[:index] if covers(e, rule, topics)), None)
        if earlier is not None:
            add(
                MappingIssue(
                    rule.file,
                    rule.line,
                    "error",
                    f"rule `{rule.id}` can never match: rule `{earlier.id}` (line {earlier.line}) "
                    f"comes first and matches every report it matches",
                    f"move `{rule.id}` above `{earlier.id}`, narrow `{earlier.id}`, or delete `{rule.id}`",
                )
            )


def covers(first: Rule, later: Rule, topics: dict[int, int] | None) -> bool:
    """Whether every report `later` matches is matched by `first` (sound, not complete)."""
    tree = topics or {}
    for dimension in ("topic", "kecamatan", "desa", "channel", "classification", "keyword"):
        wide = getattr(first, dimension)
        narrow = getattr(later, dimension)
        if not wide:
            continue
        if not narrow:
            return False
        if dimension == "topic":
            if not all(not wide.isdisjoint(topic_path(tree, topic)) for topic in narrow):
                return False
        elif dimension == "keyword":
            padded = [f" {phrase} " for phrase in narrow]
            if not all(any(contains_phrase(p, w) for w in wide) for p in padded):
                return False
        elif not narrow <= wide:
            return False
    return True
