from __future__ import annotations

from datetime import date
from typing import Any, Literal

from django.http import Http404, HttpRequest
from django.utils.translation import gettext
from ninja import Router, Schema, Status
from ninja.errors import HttpError

from fangkong.core.access import api_permission, user_has_perm
from fangkong.core.api_support import paginate
from fangkong.people import services
from fangkong.people.models import Person
from fangkong.people.selectors import person_get, person_list
from fangkong.tenancy.models import Organization

router = Router(tags=["people"])

Kind = Literal["employee", "contractor", "student", "teacher", "escort", "patient", "visitor", "other"]
Gender = Literal["male", "female", "unknown"]
IdType = Literal["resident_id", "passport", "hk_macao_permit", "taiwan_permit", "foreign_permanent", "other"]
PostCategory = Literal["fever_clinic", "isolation_hotel", "cold_chain", "other_high_risk"]


class PersonOut(Schema):
    id: int
    name: str
    gender: str
    id_type: str
    id_number: str
    phone: str
    organization_id: int
    unit_id: int | None
    kind: str
    residence_region_code: str | None
    address: str
    dormitory: str
    birth_date: date | None
    is_active: bool
    no_home_conditions: bool
    post_category: str | None
    past_case: bool
    discharged_on: date | None
    arrived_from_abroad_released: bool


class PersonIn(Schema):
    organization_id: int | None = None
    name: str
    gender: Gender = "unknown"
    id_type: IdType = "resident_id"
    id_number: str
    phone: str = ""
    unit_id: int | None = None
    kind: Kind = "employee"
    residence_region_code: str | None = None
    address: str = ""
    dormitory: str = ""
    no_home_conditions: bool = False
    post_category: PostCategory | None = None
    past_case: bool = False
    discharged_on: date | None = None
    arrived_from_abroad_released: bool = False


class PersonPatch(Schema):
    name: str | None = None
    gender: Gender | None = None
    id_type: IdType | None = None
    id_number: str | None = None
    phone: str | None = None
    unit_id: int | None = None
    kind: Kind | None = None
    residence_region_code: str | None = None
    address: str | None = None
    dormitory: str | None = None
    no_home_conditions: bool | None = None
    post_category: PostCategory | None = None
    past_case: bool | None = None
    discharged_on: date | None = None
    arrived_from_abroad_released: bool | None = None


class PersonPage(Schema):
    count: int
    limit: int
    offset: int
    items: list[PersonOut]


def person_out(person: Person, *, unmasked: bool = False) -> dict[str, Any]:
    return {
        "id": person.pk, "name": person.name, "gender": person.gender, "id_type": person.id_type,
        "id_number": person.id_number if unmasked else person.id_number_masked,
        "phone": person.phone if unmasked else person.phone_masked,
        "organization_id": person.organization_id, "unit_id": person.unit_id, "kind": person.kind,
        "residence_region_code": person.residence_region_id, "address": person.address,
        "dormitory": person.dormitory, "birth_date": person.birth_date, "is_active": person.is_active,
        "no_home_conditions": person.no_home_conditions, "post_category": person.post_category,
        "past_case": person.past_case, "discharged_on": person.discharged_on,
        "arrived_from_abroad_released": person.arrived_from_abroad_released,
    }


def _values(data: dict[str, Any]) -> dict[str, Any]:
    values = dict(data)
    values.pop("organization_id", None)
    if "unit_id" in values:
        values["unit"] = values.pop("unit_id")
    if "residence_region_code" in values:
        values["residence_region"] = values.pop("residence_region_code") or None
    return values


@router.get("/people", response=PersonPage, summary="The person ledger in the caller's scope (masked)")
@api_permission("people.view")
def list_people(
    request: HttpRequest, q: str = "", organization_id: int | None = None, unit_id: int | None = None,
    kind: str = "", include_archived: bool = False, limit: int = 50, offset: int = 0,
) -> dict:
    qs = person_list(
        user=request.user, organization_id=organization_id, q=q, unit_id=unit_id, kind=kind,
        include_archived=include_archived,
    )
    items, page = paginate(qs, limit, offset)
    return {**page, "items": [person_out(p) for p in items]}


@router.post("/people", response={201: PersonOut}, summary="Add a person (full ID number and phone)")
@api_permission("people.change")
def create_person(request: HttpRequest, data: PersonIn) -> Status:
    orgs = Organization.objects.visible_to(request.user, "people.change")
    if data.organization_id is None:
        membership = getattr(request, "membership", None)
        org_id = membership.organization_id if membership else None
        if org_id is None and orgs.count() == 1:
            org_id = orgs.get().pk
        if org_id is None:
            raise HttpError(400, gettext("organization_id 必填"))
    else:
        org_id = data.organization_id
    org = orgs.filter(pk=org_id).first()
    if org is None:
        raise Http404
    person = services.person_create(organization=org, actor=request.user, **_values(data.dict()))
    return Status(201, person_out(person))


@router.get("/people/{person_id}", response=PersonOut, summary="One person; unmasked=true needs people.unmask")
@api_permission("people.view")
def get_person(request: HttpRequest, person_id: int, unmasked: bool = False) -> dict:
    person = person_get(user=request.user, person_id=person_id)
    if person is None:
        raise Http404
    if unmasked:
        if not Person.objects.visible_to(request.user, "people.unmask").filter(pk=person.pk).exists():
            raise HttpError(403, gettext("没有查看完整证件号码的权限"))
        services.person_unmask(person=person, actor=request.user, field="id_number")
        services.person_unmask(person=person, actor=request.user, field="phone")
    return person_out(person, unmasked=unmasked)


@router.patch("/people/{person_id}", response=PersonOut, summary="Change a person's fields and flags")
@api_permission("people.change")
def patch_person(request: HttpRequest, person_id: int, data: PersonPatch) -> dict:
    person = person_get(user=request.user, person_id=person_id, perm="people.change")
    if person is None:
        raise Http404
    values = _values(data.dict(exclude_unset=True))
    person = services.person_update(person=person, actor=request.user, **values)
    return person_out(person)


@router.delete("/people/{person_id}", response={204: None}, summary="Archive a person (history is kept)")
@api_permission("people.delete")
def delete_person(request: HttpRequest, person_id: int) -> Status:
    person = person_get(user=request.user, person_id=person_id, perm="people.delete")
    if person is None:
        raise Http404
    services.person_archive(person=person, actor=request.user)
    return Status(204, None)


def can_unmask(user: Any) -> bool:
    return user_has_perm(user, "people.unmask")
