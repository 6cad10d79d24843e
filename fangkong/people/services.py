"""Writes to the person ledger. Every change is audited with personal values masked."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext, gettext_lazy

from fangkong.core import crypto
from fangkong.core.audit import audit_record, diff
from fangkong.core.errors import ServiceError
from fangkong.core.rule_errors import worded
from fangkong.geo.models import Region
from fangkong.people import rules
from fangkong.people.models import Person
from fangkong.tenancy.models import Organization, Unit

EDITABLE = (
    "name", "gender", "id_type", "id_number", "phone", "kind", "unit", "residence_region", "address", "dormitory",
    "no_home_conditions", "post_category", "past_case", "discharged_on", "arrived_from_abroad_released", "user",
)
_LABELS = {
    "name": gettext_lazy("姓名"), "id_number": gettext_lazy("证件号码"), "phone": gettext_lazy("手机号"),
    "unit": gettext_lazy("部门"), "residence_region": gettext_lazy("居住地区划"), "kind": gettext_lazy("人员类别"),
    "gender": gettext_lazy("性别"), "id_type": gettext_lazy("证件类型"),
}


# Checks that apps above people register for a change of post category (testing: seed 003, only vaccinated people on
# cold-chain and fever-clinic posts). A registry keeps the dependency pointing one way: people never imports testing.
POST_ASSIGNMENT_CHECKS: list[Callable[[Person, str | None], None]] = []


def _fail(field: str, message: str) -> ServiceError:
    return ServiceError(gettext("%(field)s：%(error)s") % {"field": _LABELS.get(field, field), "error": message},
                        {field: [message]})


def clean_person_values(organization: Organization, values: Mapping[str, Any]) -> dict[str, Any]:
    """Validate and normalise the editable values; derived columns (hashes, masks, birth date) are added."""
    out: dict[str, Any] = {}
    unknown = set(values) - set(EDITABLE)
    if unknown:
        raise ServiceError(gettext("未知字段：%(fields)s") % {"fields": ", ".join(sorted(unknown))},
                           {k: [gettext("未知字段")] for k in unknown})
    if "name" in values:
        try:
            out["name"] = rules.check_name(values["name"])
        except ValueError as e:
            raise _fail("name", worded(e)) from None
        out["name_sort"] = rules.name_sort_key(out["name"])
    if "kind" in values and values["kind"] not in Person.Kind.values:
        raise _fail("kind", gettext("未知的人员类别“%(kind)s”，可选：%(choices)s")
                    % {"kind": values["kind"], "choices": ", ".join(Person.Kind.values)})
    if "gender" in values and values["gender"] not in Person.Gender.values:
        raise _fail("gender", gettext("性别应为 male、female 或 unknown"))
    if "post_category" in values and values["post_category"] not in (None, "", *Person.PostCategory.values):
        raise _fail("post_category", gettext("可选：%(choices)s") % {"choices": ", ".join(Person.PostCategory.values)})
    id_type = values.get("id_type", Person.IdType.RESIDENT_ID)
    if id_type not in Person.IdType.values:
        raise _fail("id_type", gettext("未知的证件类型“%(id_type)s”") % {"id_type": id_type})
    if "id_number" in values:
        try:
            info = rules.check_id_number(id_type, values["id_number"])
        except ValueError as e:
            raise _fail("id_number", worded(e)) from None
        out.update(
            id_number=info.number,
            id_number_hash=crypto.lookup_hash(info.number),
            id_number_masked=crypto.mask_id_number(info.number),
            birth_date=info.birth_date,
        )
        if info.gender and values.get("gender") in (None, "", Person.Gender.UNKNOWN):
            out["gender"] = info.gender
    if "phone" in values:
        try:
            phone = rules.check_phone(values["phone"])
        except ValueError as e:
            raise _fail("phone", worded(e)) from None
        out.update(
            phone=phone,
            phone_hash=crypto.lookup_hash(phone) if phone else "",
            phone_masked=crypto.mask_phone(phone) if phone else "",
        )
    if "unit" in values:
        unit = values["unit"]
        if isinstance(unit, int):
            unit = Unit.objects.filter(pk=unit, organization=organization).first()
            if unit is None:
                raise _fail("unit", gettext("部门不存在或不属于本单位"))
        if unit is not None and unit.organization_id != organization.pk:
            raise _fail("unit", gettext("部门不属于本单位"))
        out["unit"] = unit
    if "residence_region" in values:
        region = values["residence_region"]
        if isinstance(region, str) and region:
            region = Region.objects.filter(code=region).first()
            if region is None:
                raise _fail("residence_region", gettext("未知的行政区划代码：%(code)s") % {"code": values["residence_region"]})
        out["residence_region"] = region or None
    for key in ("gender", "kind", "id_type", "address", "dormitory", "no_home_conditions", "post_category",
                "past_case", "discharged_on", "arrived_from_abroad_released", "user"):
        if key in values and key not in out:
            out[key] = values[key] if values[key] != "" or key in ("address", "dormitory") else None
    return out


def _audit_scope(person: Person) -> dict[str, Any]:
    return {"organization_id": person.organization_id}


@transaction.atomic
def person_create(*, organization: Organization, actor: Any, **values: Any) -> Person:
    for required in ("name", "id_number"):
        if not values.get(required):
            raise _fail(required, gettext("必填"))
    cleaned = clean_person_values(organization, values)
    if Person.objects.filter(organization=organization, id_number_hash=cleaned["id_number_hash"]).exists():
        raise _fail("id_number", gettext("本单位已有相同证件号码的人员"))
    person = Person(organization=organization, **cleaned)
    try:
        with transaction.atomic():
            person.save()
    except IntegrityError:
        raise _fail("id_number", gettext("本单位已有相同证件号码的人员")) from None
    audit_record(
        actor=actor, action="person.create", obj=person, **_audit_scope(person),
        changes=diff({}, {k: v for k, v in cleaned.items() if k in EDITABLE}),
    )
    return person


@transaction.atomic
def person_update(*, person: Person, actor: Any, **values: Any) -> Person:
    if "id_number" in values and "id_type" not in values:
        values["id_type"] = person.id_type
    cleaned = clean_person_values(person.organization, values)
    if cleaned.get("post_category") and cleaned["post_category"] != person.post_category:
        for check in POST_ASSIGNMENT_CHECKS:
            check(person, cleaned["post_category"])
    if "id_number_hash" in cleaned and cleaned["id_number_hash"] != person.id_number_hash:
        clash = Person.objects.filter(organization_id=person.organization_id, id_number_hash=cleaned["id_number_hash"])
        if clash.exclude(pk=person.pk).exists():
            raise _fail("id_number", gettext("本单位已有相同证件号码的人员"))
    old = {k: getattr(person, k) for k in cleaned if k in EDITABLE}
    new = {k: v for k, v in cleaned.items() if k in EDITABLE}
    for key, value in cleaned.items():
        setattr(person, key, value)
    person.save()
    changes = diff(old, new)
    if changes:
        audit_record(actor=actor, action="person.update", obj=person, **_audit_scope(person), changes=changes)
    return person


@transaction.atomic
def person_archive(*, person: Person, actor: Any, reason: str = "") -> Person:
    """Take a person off the active ledger. Their history stays: records of people are never hard-deleted."""
    if not person.is_active:
        return person
    person.is_active = False
    person.save(update_fields=["is_active", "updated_at"])
    audit_record(
        actor=actor, action="person.archive", obj=person, **_audit_scope(person),
        changes={"is_active": [True, False], **({"reason": [None, reason]} if reason else {})},
    )
    return person


@transaction.atomic
def person_unmask(*, person: Person, actor: Any, field: str) -> str:
    """Return a personal value in clear and record who looked at it."""
    if field not in ("id_number", "phone"):
        raise ServiceError(gettext("不能查看字段：%(field)s") % {"field": field})
    audit_record(actor=actor, action=f"person.unmask.{field}", obj=person, **_audit_scope(person))
    return getattr(person, field)
