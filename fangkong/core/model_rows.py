"""Model instances from column values without `Model.__init__`, for hot paths that build a thousand per request.

A gate's batch upload builds a `Scan` for each of up to 1,000 items and a `Person` for each person it names.
`Model.__init__` sends `pre_init` and `post_init` and sets every field through its descriptor: about 12 µs an
instance here, a tenth of a batch's Python (bench/README.md). With nothing listening to those signals, an instance
whose `__dict__` holds the same values is the same instance: that is all `__init__` leaves behind for attnames
(`venue_id`, not `venue`) and plain values. Fields left out are deferred, as `Model.from_db` leaves them: reading
one loads it from the database.

When anything listens to `pre_init` or `post_init` (a library, a test), the normal constructor runs instead, so
such a receiver never misses an instance.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from django.db.models import Model
from django.db.models.base import ModelState
from django.db.models.signals import post_init, pre_init

M = TypeVar("M", bound=Model)


def instance(model: type[M], values: Mapping[str, Any], *, db: str | None = None) -> M:
    """An instance of `model` with these attname → value pairs.

    `db=None`: a new instance, to be saved (as `model(**values)`); the caller supplies every field, defaults
    included. `db="default"`: a row read from that database (as `Model.from_db`); `values` then name the fields in
    the model's order, and the fields not named are deferred.
    """
    if pre_init.receivers or post_init.receivers:
        return _constructed(model, values, db)
    obj = model.__new__(model)
    obj.__dict__.update(values)
    state = ModelState()
    if db is not None:
        state.adding = False
        state.db = db
    obj._state = state
    return obj


def _constructed(model: type[M], values: Mapping[str, Any], db: str | None) -> M:
    if db is not None:
        return model.from_db(db, list(values), list(values.values()))
    return model(**values)
