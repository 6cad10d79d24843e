"""Reads that feed the engine: the rules in force for a jurisdiction, the risk areas that count, a person's facts.

The engine (`rules.py`) is pure; everything here turns rows into its dataclasses, in bulk where re-evaluation needs it.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, timedelta
from typing import Any

from django.db.models import Q
from django.utils.translation import gettext

from fangkong.geo.models import Region
from fangkong.people.models import Person
from fangkong.policy import rules
from fangkong.policy.models import PolicyActivation, RiskArea, Rule, Stay, ancestor_paths
from fangkong.tenancy.models import Jurisdiction, Organization

# The longest look-back any condition uses (seed 001: risk areas within 21 days).
MAX_LOOKBACK_DAYS = 21


def rule_dict(rule: Rule) -> dict[str, Any]:
    """A Rule row as the engine's dict form (`rules.rule_from_dict`)."""
    return {
        "key": rule.key, "policy_number": rule.policy.number, "policy_title": rule.policy.title,
        "clause": rule.clause, "condition": rule.condition, "measure": rule.measure,
        "precedence": rule.precedence, "note": rule.note, "local_setting": rule.local_setting,
    }


def policies_in_force(jurisdiction: Jurisdiction, on: date) -> list[int]:
    """Policy ids in force: activated at this jurisdiction or above, the nearest activation deciding, effective on `on`.

    A county may switch off a city's pack for itself: its own (deeper) activation wins over the city's.
    """
    nearest: dict[int, tuple[int, bool]] = {}
    for policy_id, path, enabled in PolicyActivation.objects.filter(
        jurisdiction__path__in=ancestor_paths(jurisdiction.path),
        policy__effective_from__lte=on,
    ).filter(Q(policy__effective_until__isnull=True) | Q(policy__effective_until__gte=on)).values_list(
        "policy_id", "jurisdiction__path", "enabled"
    ):
        depth = path.count("/")
        if policy_id not in nearest or depth > nearest[policy_id][0]:
            nearest[policy_id] = (depth, enabled)
    return sorted(pid for pid, (_d, enabled) in nearest.items() if enabled)


def rules_in_force(jurisdiction: Jurisdiction, on: date) -> list[rules.RuleSpec]:
    qs = Rule.objects.filter(policy_id__in=policies_in_force(jurisdiction, on), enabled=True).select_related("policy")
    return [rules.rule_from_dict(rule_dict(r)) for r in qs.order_by("precedence", "id")]


def area_fact(area: RiskArea) -> rules.AreaFact:
    return rules.AreaFact(
        region_code=area.region_id, level=area.level, effective_from=area.effective_from,
        effective_until=area.effective_until, locality=area.locality,
        region_name=area.region.full_name if area.region_id else "", source=area.source,
    )


def areas_counting(jurisdiction: Jurisdiction, on: date) -> list[rules.AreaFact]:
    """Areas announced by this jurisdiction or one above, in force at some point of the look-back window.

    The engine picks the level in force on the evaluation date itself; rows of the window are passed so its
    explanation can cite the record.
    """
    start = on - timedelta(days=MAX_LOOKBACK_DAYS)
    qs = RiskArea.objects.counting_for(jurisdiction).filter(effective_from__lte=on).filter(
        Q(effective_until__isnull=True) | Q(effective_until__gte=start)
    ).select_related("region")
    return [area_fact(a) for a in qs]


def area_index(areas: Sequence[rules.AreaFact]) -> Any:
    index_cls = getattr(rules, "AreaIndex", None)
    return index_cls(areas) if index_cls is not None else list(areas)


# Whether people are vaccinated, from the app that records vaccinations (testing registers itself in its
# AppConfig.ready, so policy never imports it): person ids → {id: vaccinated}. No provider: unknown (None).
VACCINATION_LOOKUPS: list[Callable[[Sequence[int]], dict[int, bool]]] = []


def vaccinated_of(person_ids: Sequence[int]) -> dict[int, bool]:
    found: dict[int, bool] = {}
    for lookup in VACCINATION_LOOKUPS:
        found.update(lookup(person_ids))
    return found


def person_flags(person: Person, overrides: Mapping[str, Any] | None = None) -> rules.Flags:
    values: dict[str, Any] = {
        "vaccinated": vaccinated_of([person.pk]).get(person.pk) if person.pk else None,
        "no_home_conditions": person.no_home_conditions, "post_category": person.post_category or None,
        "past_case": person.past_case, "discharged_on": person.discharged_on,
        "arrived_from_abroad_released": person.arrived_from_abroad_released,
        "health_code": person.health_code or None,
        "symptoms": ("reported",) if person.symptomatic_since else (),
    }
    values.update(overrides or {})
    return rules.Flags(**values)


_DATE_FLAGS = ("discharged_on", "last_exposure_on", "diagnosed_on")


def flags_from_dict(data: Mapping[str, Any]) -> rules.Flags:
    """What-if flags: only the engine's own field names; unknown names are an error, not silently dropped."""
    from fangkong.core.errors import ServiceError

    known = set(rules.Flags.__dataclass_fields__)
    unknown = set(data) - known
    if unknown:
        raise ServiceError(gettext("未知的人员标记：%(names)s（可用：%(known)s）") % {
            "names": ", ".join(sorted(unknown)), "known": ", ".join(sorted(known))},
            {f"flags.{k}": [gettext("未知字段")] for k in unknown})
    values = {k: v for k, v in data.items() if v is not None}
    for name in _DATE_FLAGS:
        if isinstance(values.get(name), str):
            try:
                values[name] = date.fromisoformat(values[name])
            except ValueError:
                raise ServiceError(gettext("人员标记 %(name)s：日期格式应为 YYYY-MM-DD，收到“%(value)s”") % {
                    "name": name, "value": values[name]}, {f"flags.{name}": [gettext("日期格式应为 YYYY-MM-DD")]}) from None
    if "symptoms" in values:
        values["symptoms"] = tuple(values["symptoms"])
    if "temperature" in values:
        try:
            values["temperature"] = float(values["temperature"])
        except (TypeError, ValueError):
            raise ServiceError(gettext("人员标记 temperature：应为数字，收到“%(value)s”") % {"value": values["temperature"]},
                               {"flags.temperature": [gettext("应为数字")]}) from None
    return rules.Flags(**values)


def region_names(codes: Iterable[str]) -> dict[str, str]:
    """Full names of the stays' regions and their ancestors (the explanation names places, not codes)."""
    wanted: set[str] = set()
    for code in codes:
        wanted.add(code)
        wanted.update(code[:n] for n in (2, 4, 6, 9) if n < len(code))
    return dict(Region.objects.filter(code__in=wanted).values_list("code", "full_name"))


def stay_fact(s: Stay) -> rules.StayFact:
    return rules.StayFact(region_code=s.region_id, from_date=s.from_date, to_date=s.to_date, locality=s.locality)


def digest_of(facts: rules.PersonFacts, on: date) -> str:
    """A fingerprint of the facts a decision was made from, stored on the measure (what changed between two runs).

    The repr of plain tuples and the frozen Flags dataclass is deterministic and much cheaper than JSON for the
    thousands of people of a re-evaluation.
    """
    stays = sorted((s.region_code, s.locality, s.from_date.toordinal(), s.to_date.toordinal()) for s in facts.stays)
    payload = repr((on.toordinal(), facts.arrived_on, stays, facts.flags))
    return hashlib.sha256(payload.encode()).hexdigest()


def last_arrival_on(person: Person, on: date) -> date | None:
    from fangkong.policy.models import Arrival

    return Arrival.objects.filter(person=person, arrived_on__lte=on).order_by("-arrived_on").values_list(
        "arrived_on", flat=True).first()


def person_facts(person: Person, on: date, arrived_on: date | None = None) -> rules.PersonFacts:
    start = on - timedelta(days=MAX_LOOKBACK_DAYS)
    stays = tuple(stay_fact(s) for s in Stay.objects.filter(person=person, to_date__gte=start, from_date__lte=on))
    return rules.PersonFacts(
        stays=stays, arrived_on=arrived_on if arrived_on is not None else last_arrival_on(person, on),
        flags=person_flags(person), region_names=region_names(s.region_code for s in stays),
    )


def evaluate_person(*, person: Person, on: date, arrived_on: date | None = None) -> tuple[list[Any], str]:
    """Decisions for one person on a date with the policies and areas that count for their organisation."""
    jurisdiction = person.organization.jurisdiction
    facts = person_facts(person, on, arrived_on)
    decisions = rules.evaluate(facts, rules_in_force(jurisdiction, on), area_index(areas_counting(jurisdiction, on)),
                               on)
    return list(decisions), digest_of(facts, on)


def evaluate_what_if(*, jurisdiction: Jurisdiction, on: date, stays: Sequence[rules.StayFact],
                     flags: rules.Flags, arrived_on: date | None = None) -> list[Any]:
    """The tester: nothing is read about a person and nothing is stored."""
    facts = rules.PersonFacts(stays=tuple(stays), arrived_on=arrived_on, flags=flags,
                              region_names=region_names(s.region_code for s in stays))
    return list(rules.evaluate(facts, rules_in_force(jurisdiction, on), area_index(areas_counting(jurisdiction, on)),
                               on))


def affected_prefix(area: RiskArea) -> str:
    """The code prefix whose stays a change of this area can affect.

    Not only the area's own code: seed 003 also imposes "7+2" on the other regions of a city with a medium/high area
    (`stayed_near_area`), so a county or smaller area reaches its whole prefecture-level city (first 4 digits). Still
    one prefix, so still one range scan of the (region, to_date) index; the engine then decides who is affected.
    """
    return area.region_id[:4] if len(area.region_id) > 4 else area.region_id


def affected_person_ids(area: RiskArea, on: date) -> list[int]:
    """People with a stay under the area's prefix within the look-back whose organisation is under the announcing
    jurisdiction (the areas that count for them).

    Two steps on purpose: the stays alone are one range scan of the (region, to_date) index; joining people and
    organisations into that query lets PostgreSQL mis-estimate a code prefix (LIKE '1301%') and pick nested loops
    that took a minute on 5 million stays. The organisations under a jurisdiction are few, the people are filtered by
    primary key in chunks.
    """
    start = on - timedelta(days=MAX_LOOKBACK_DAYS)
    candidates = list(
        Stay.objects.filter(region__code__startswith=affected_prefix(area), to_date__gte=start, from_date__lte=on)
        .order_by().values_list("person_id", flat=True).distinct()
    )
    org_ids = list(Organization.objects.filter(jurisdiction__path__startswith=area.jurisdiction.path).values_list(
        "id", flat=True))
    out: list[int] = []
    for i in range(0, len(candidates), 10_000):
        out += Person.objects.filter(pk__in=candidates[i : i + 10_000], is_active=True,
                                     organization_id__in=org_ids).order_by().values_list("id", flat=True)
    return sorted(out)


def bulk_facts(person_ids: Sequence[int], on: date) -> tuple[dict[int, rules.PersonFacts], dict[int, int]]:
    """Facts for many people in four plain queries (people with flags, their stays in the window, their last arrival,
    their organisations' jurisdictions), read as tuples: no model objects for thousands of rows.

    Returns (facts by person id, jurisdiction id by person id).
    """
    from fangkong.measures import bulk
    from fangkong.policy.models import Arrival

    start = on - timedelta(days=MAX_LOOKBACK_DAYS)
    where, params = bulk.in_ids("id", person_ids)
    people = bulk.fetch(
        "SELECT id, organization_id, no_home_conditions, post_category, past_case, discharged_on, "
        "arrived_from_abroad_released, health_code, symptomatic_since "
        f"FROM {Person._meta.db_table} WHERE {where}", params)
    where, params = bulk.in_ids("person_id", person_ids)
    stays: dict[int, list[rules.StayFact]] = defaultdict(list)
    for pid, code, f, t, loc in bulk.fetch(
        f"SELECT person_id, region_id, from_date, to_date, locality FROM {Stay._meta.db_table} "
        f"WHERE {where} AND to_date >= %s AND from_date <= %s", [*params, start, on],
    ):
        stays[pid].append(rules.StayFact(region_code=code, from_date=f, to_date=t, locality=loc))
    arrivals = {pid: d if isinstance(d, date) else date.fromisoformat(d) for pid, d in bulk.fetch(
        f"SELECT person_id, MAX(arrived_on) FROM {Arrival._meta.db_table} WHERE {where} AND arrived_on <= %s "
        "GROUP BY person_id", [*params, on])}  # SQLite returns an aggregate's date as text
    org_jurisdiction = dict(Organization.objects.filter(pk__in={p[1] for p in people}).values_list(
        "id", "jurisdiction_id"))
    names = region_names({s.region_code for ss in stays.values() for s in ss})
    vaccinated = vaccinated_of(person_ids)
    facts: dict[int, rules.PersonFacts] = {}
    jurisdiction_of: dict[int, int] = {}
    for pid, org, no_home, post, past, discharged, abroad, code, symptomatic in people:
        flags = rules.Flags(
            vaccinated=vaccinated.get(pid),
            no_home_conditions=bool(no_home), post_category=post or None, past_case=bool(past),
            discharged_on=discharged, arrived_from_abroad_released=bool(abroad), health_code=code or None,
            symptoms=("reported",) if symptomatic else (),
        )
        facts[pid] = rules.PersonFacts(stays=tuple(stays.get(pid, ())), arrived_on=arrivals.get(pid), flags=flags,
                                       region_names=names)
        jurisdiction_of[pid] = org_jurisdiction[org]
    return facts, jurisdiction_of


def jurisdiction_for(user: Any, perm: str, jurisdiction_id: int | None = None,
                     membership: Any = None) -> Jurisdiction | None:
    """The jurisdiction the caller acts for with `perm`.

    An explicit id must be within the caller's jurisdictions (their own or below for officers; their organisation's
    for organisation staff). Otherwise the acting membership (UI), or the first membership granting `perm`.
    """
    from fangkong.tenancy.roles import role_grants
    from fangkong.tenancy.scope import memberships_of

    def of(m: Any) -> Jurisdiction | None:
        if m.jurisdiction is not None:
            return m.jurisdiction
        if m.organization is not None:
            return m.organization.jurisdiction
        if m.authority is not None:
            return m.authority.jurisdiction
        return None

    candidates: list[Jurisdiction] = []
    if membership and role_grants(membership.role, perm) and of(membership) is not None:
        candidates.append(of(membership))  # type: ignore[arg-type]
    candidates += [j for m in memberships_of(user) if role_grants(m.role, perm) and (j := of(m)) is not None]
    if jurisdiction_id is None:
        return candidates[0] if candidates else None
    target = Jurisdiction.objects.filter(pk=jurisdiction_id).first()
    if target is None:
        return None
    if getattr(user, "is_superuser", False) or any(target.path.startswith(j.path) for j in candidates):
        return target
    return None
