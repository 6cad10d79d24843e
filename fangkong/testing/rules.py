"""Pure rules for samples and results: pooled sampling (混采) and what a result means for the people in the tube.

A pooled tube holds swabs of up to N people (10-in-1 by default, as mass testing was done). Its result decides:
- negative → every member's due test is fulfilled by this sample;
- positive → every member (exactly the members, no one else) gets an individual re-test due at once, and the
  prevention office is alerted;
- invalid → the whole pool must be re-sampled: every member gets a pooled re-test due at once.
An individual tube's positive result alerts the office and proposes a case.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from fangkong.core.rule_errors import RuleError, gettext_noop

DEFAULT_POOL_SIZE = 10
MAX_POOL_SIZE = 20
RESULTS = ("negative", "positive", "invalid")


@dataclass(frozen=True)
class Outcome:
    fulfil: tuple[int, ...]  # person ids whose due test this sample fulfils
    retest_individually: tuple[int, ...]  # person ids who need a single-tube test now
    resample_pool: tuple[int, ...]  # person ids who need to be pooled and sampled again
    alert: bool  # tell the prevention office now
    propose_case: tuple[int, ...]  # person ids for whom a case is proposed


def check_pool(members: Sequence[int], pool_size: int = DEFAULT_POOL_SIZE) -> None:
    """Raise RuleError (a ValueError) when a pool's membership is not acceptable."""
    if not members:
        raise RuleError(gettext_noop("混采管至少需要 1 人"))
    if len(set(members)) != len(members):
        raise RuleError(gettext_noop("同一人不能在一个混采管中出现两次"))
    limit = min(pool_size, MAX_POOL_SIZE)
    if len(members) > limit:
        raise RuleError(gettext_noop("混采管最多 %(limit)d 人，实为 %(n)d 人"), limit=limit, n=len(members))


def outcome(result: str, members: Sequence[int], *, pooled: bool) -> Outcome:
    if result not in RESULTS:
        raise RuleError(gettext_noop("未知的检测结果“%(result)s”，可选：negative、positive、invalid"), result=result)
    people = tuple(dict.fromkeys(members))
    if result == "negative":
        return Outcome(people, (), (), False, ())
    if result == "invalid":
        return Outcome((), (), people, False, ()) if pooled else Outcome((), people, (), False, ())
    if pooled:
        return Outcome((), people, (), True, ())
    return Outcome((), (), (), True, people)


def split_into_pools(person_ids: Sequence[int], pool_size: int = DEFAULT_POOL_SIZE) -> list[tuple[int, ...]]:
    """Consecutive pools of at most `pool_size`, in the given order (the order people queue at the sampling point)."""
    if pool_size < 1:
        raise RuleError(gettext_noop("每管人数至少为 1"))
    ids = list(dict.fromkeys(person_ids))
    return [tuple(ids[i : i + pool_size]) for i in range(0, len(ids), pool_size)]


def batches_by_day(person_ids: Sequence[int], per_day: int) -> list[tuple[int, ...]]:
    """分批检测: a group tested in batches of `per_day` people across consecutive days."""
    if per_day < 1:
        raise RuleError(gettext_noop("每日检测人数至少为 1"))
    ids = list(dict.fromkeys(person_ids))
    return [tuple(ids[i : i + per_day]) for i in range(0, len(ids), per_day)]


# ----- programmes ---------------------------------------------------------------------------------------------------


def every_n_days_due(*, start: date, interval: int, day: date, end: date | None = None) -> bool:
    """Seed 003: high-risk posts tested every `interval` days, counted from the programme's first day."""
    if interval < 1:
        raise RuleError(gettext_noop("间隔天数至少为 1"))
    if day < start or (end is not None and day > end):
        return False
    return (day - start).days % interval == 0


def batch_of_day(person_ids: Sequence[int], per_day: int, *, start: date, day: date) -> tuple[int, ...]:
    """The people whose turn it is on `day` when a group is tested in batches of `per_day` from `start` on."""
    if day < start:
        return ()
    batches = batches_by_day(person_ids, per_day)
    index = (day - start).days
    return batches[index] if index < len(batches) else ()


# ----- vaccination --------------------------------------------------------------------------------------------------

VACCINATION_STATUSES = ("none", "partial", "complete", "booster")


def vaccination_status(doses: int, *, complete_doses: int = 2) -> str:
    """none / partial / complete / booster. `complete_doses` is 2 for the usual inactivated vaccines (a setting)."""
    if complete_doses < 1:
        raise RuleError(gettext_noop("全程接种剂次至少为 1"))
    if doses <= 0:
        return "none"
    if doses < complete_doses:
        return "partial"
    if doses == complete_doses:
        return "complete"
    return "booster"


def check_dose(existing: Iterable[int], dose_number: int) -> None:
    """Doses are recorded in order: dose n needs doses 1..n-1 and is recorded once."""
    have = set(existing)
    if dose_number < 1:
        raise RuleError(gettext_noop("剂次必须从 1 开始，实为 %(dose)s"), dose=dose_number)
    if dose_number in have:
        raise RuleError(gettext_noop("第 %(dose)s 剂已有记录，不能重复登记"), dose=dose_number)
    missing = [n for n in range(1, dose_number) if n not in have]
    if missing:
        raise RuleError(gettext_noop("第 %(dose)s 剂之前缺少第 %(missing)s 剂记录，请按顺序登记"), dose=dose_number,
                        missing=missing)


def vaccinated_for_post(doses: int, *, complete_doses: int = 2) -> bool:
    """Seed 003: someone who has not completed vaccination may not work at a cold-chain or fever-clinic post."""
    return doses >= complete_doses


RESTRICTED_POSTS = ("cold_chain", "fever_clinic")
