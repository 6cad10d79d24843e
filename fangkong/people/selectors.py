from __future__ import annotations

from typing import Any

from django.db.models import Q

from fangkong.core import crypto
from fangkong.people.models import Person


def person_list(
    *, user: Any, organization_id: int | None = None, q: str = "", unit_id: int | None = None, kind: str = "",
    include_archived: bool = False,
) -> Any:
    """People the user may see, filtered the way the ledger page and the API filter them."""
    qs = Person.objects.visible_to(user).select_related("unit", "organization")
    if organization_id:
        qs = qs.filter(organization_id=organization_id)
    if not include_archived:
        qs = qs.filter(is_active=True)
    if unit_id:
        from fangkong.tenancy.models import Unit

        unit = Unit.objects.filter(pk=unit_id).first()
        qs = qs.filter(unit__path__startswith=unit.path) if unit else qs.none()
    if kind:
        qs = qs.filter(kind=kind)
    q = q.strip()
    if q:
        # Exact ID or phone numbers are found through their HMAC; names by substring or pinyin.
        hashed = crypto.lookup_hash(q)
        qs = qs.filter(
            Q(name__contains=q) | Q(name_sort__startswith=q.lower()) | Q(id_number_hash=hashed) | Q(phone_hash=hashed)
        )
    return qs


def person_get(*, user: Any, person_id: int, perm: str = "people.view") -> Person | None:
    return Person.objects.visible_to(user, perm).select_related("unit", "organization").filter(pk=person_id).first()
