"""Units by their full names ('一车间/甲班'), for lists and counts that put units of one organisation side by side.

A unit's own name is often only its last part (甲班, 乙班 under each workshop), so three rows reading 甲班 could not
be told apart. The names come from the materialised path (ancestors first), in at most two queries for any number
of units; the people import reads and writes units the same way ("部门" column: '一车间/甲班').
"""

from __future__ import annotations

from collections.abc import Iterable

from fangkong.tenancy.models import Unit


def unit_full_names(unit_ids: Iterable[int | None]) -> dict[int, str]:
    """{unit id: '一车间/甲班'} for the given ids (None and unknown ids are left out)."""
    wanted = {i for i in unit_ids if i}
    if not wanted:
        return {}
    rows = list(Unit.objects.filter(pk__in=wanted).values_list("pk", "path", "name"))
    names = {pk: name for pk, _path, name in rows}
    chains = {pk: [int(p) for p in path.strip("/").split("/") if p] or [pk] for pk, path, _name in rows}
    missing = {a for chain in chains.values() for a in chain} - names.keys()
    if missing:
        names.update(Unit.objects.filter(pk__in=missing).values_list("pk", "name"))
    return {pk: "/".join(names[a] for a in chain if a in names) for pk, chain in chains.items()}
