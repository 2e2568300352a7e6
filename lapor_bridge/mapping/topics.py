"""The LAPOR! topic tree as the rules use it: a topic matches its descendants."""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import Session

from lapor_bridge.store.tables import TopicRow

TopicTree = dict[int, int]  # topic id -> parent id (0 for a root)


def topic_path(tree: TopicTree, topic_id: int) -> tuple[int, ...]:
    """The topic and its ancestors, nearest first. Unknown ids stand alone;
    a cycle in the upstream data stops the walk instead of looping."""
    path = [topic_id]
    parent = tree.get(topic_id, 0)
    while parent and parent not in path:
        path.append(parent)
        parent = tree.get(parent, 0)
    return tuple(path)


def load_topic_tree(session: Session) -> TopicTree | None:
    """The synced topic tree from the `topic` table, or None when it is empty."""
    rows = session.execute(select(TopicRow.id, TopicRow.parent)).all()  # type: ignore[call-overload]
    return {int(tid): int(parent) for tid, parent in rows} or None


def topic_names(session: Session) -> dict[int, str]:
    rows = session.execute(select(TopicRow.id, TopicRow.name)).all()  # type: ignore[call-overload]
    return {int(tid): str(name) for tid, name in rows}
