"""Health-code colours from a provider interface (issue 4: "entered by the gatekeeper, or from a provider interface
with a manual default").

Like Django's mail backends, the provider is a dotted path in settings:

    FANGKONG_HEALTH_CODE_PROVIDER = "fangkong.access.healthcodes.HttpJsonProvider"   # default: ManualProvider
    FANGKONG_HEALTH_CODE_OPTIONS = {"url": "https://hc.example.gov.cn/lookup", "timeout": 2, "token": "…"}

A provider has one method, `lookup(person, at) -> HealthCodeReading | None`: a reading (colour, source, when it was
observed), or None when it knows no colour for the person ("ask the gatekeeper"). It raises `ProviderUnavailable`
(or anything else) when it cannot answer. Callers never call a provider directly: `consult()` reads the
organisation's choice (`AccessSetting.health_code_provider`), answers from Django's cache for a few minutes (a gate
does not call the provider on every scan), and turns any failure into "no colour, provider down" — logged, counted,
and not retried for a short back-off, so a dead provider costs one timeout per back-off, not one per scan.

Only the HMAC of the ID number (`Person.id_number_hash`) ever leaves the system, never the number itself.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from django.conf import settings
from django.core.cache import cache
from django.core.signals import setting_changed
from django.db import transaction
from django.dispatch import receiver
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from fangkong.access.models import AccessSetting
from fangkong.core.audit import audit_record
from fangkong.core.errors import ServiceError

logger = logging.getLogger(__name__)

DEFAULT_PROVIDER = "fangkong.access.healthcodes.ManualProvider"
COLOURS = ("green", "yellow", "red")
CACHE_SECONDS = 300  # FANGKONG_HEALTH_CODE_CACHE_SECONDS
BACKOFF_SECONDS = 30  # FANGKONG_HEALTH_CODE_BACKOFF_SECONDS: after a failure, don't call again for this long
CACHE_PREFIX = "fangkong:healthcode"

# Per-process counters (calls, cache hits, answers, failures): what an operator reads from a shell or a probe.
stats: Counter[str] = Counter()


@dataclass(frozen=True)
class HealthCodeReading:
    colour: str  # green | yellow | red
    source: str  # who said so, shown to the gatekeeper ("粤康码接口", "演示数据")
    observed_at: datetime


class HealthCodeProvider(Protocol):
    def lookup(self, person: Any, at: datetime) -> HealthCodeReading | None: ...


class ProviderUnavailable(Exception):
    """The provider could not answer (timeout, network, HTTP error, unreadable answer). The text is shown to the
    gatekeeper, so it is short and Chinese."""


class ManualProvider:
    """The default: no interface, the gatekeeper checks the code on the person's phone and enters the colour."""

    manual = True
    label = gettext_lazy("门岗人工录入")

    def __init__(self, **_: Any) -> None:
        pass

    def lookup(self, person: Any, at: datetime) -> HealthCodeReading | None:
        return None


class FakeProvider:
    """For tests and the demo: colours by person id or ID-number hash (`colours={12: "red", "<hash>": "yellow"}`),
    else `default` (None: no colour). `fail="…"` makes every lookup raise ProviderUnavailable with that text."""

    manual = False

    def __init__(self, *, colours: dict[Any, str] | None = None, default: str | None = None, fail: str = "",
                 source: str = "演示健康码接口", **_: Any) -> None:
        self.colours = {str(k): v for k, v in (colours or {}).items()}
        self.default = default
        self.fail = fail
        self.label = self.source = source
        self.calls = 0

    def lookup(self, person: Any, at: datetime) -> HealthCodeReading | None:
        self.calls += 1
        if self.fail:
            raise ProviderUnavailable(self.fail)
        colour = self.colours.get(str(person.pk)) or self.colours.get(person.id_number_hash or "") or self.default
        return HealthCodeReading(colour, self.source, at) if colour else None


class DemoProvider(FakeProvider):
    """For demonstrations (`FANGKONG_HEALTH_CODE_PROVIDER=fangkong.access.healthcodes.DemoProvider`): a colour for
    everyone, derived from the ID-number hash so it stays the same: about 1 in 25 yellow, 1 in 100 red, else
    green. Configured `colours` still win."""

    def __init__(self, *, source: str = "演示健康码接口（模拟数据）", **options: Any) -> None:
        super().__init__(source=source, **options)

    def lookup(self, person: Any, at: datetime) -> HealthCodeReading | None:
        reading = super().lookup(person, at)
        if reading is not None:
            return reading
        bucket = int(hashlib.sha256((person.id_number_hash or str(person.pk)).encode()).hexdigest()[:8], 16) % 100
        return HealthCodeReading("red" if bucket == 0 else "yellow" if bucket <= 4 else "green", self.source, at)


class HttpJsonProvider:
    """POST {"id_number_hash": "<hex HMAC>", "at": "<ISO time>"} to `url` (bearer `token` if given) and read
    {"colour": "green|yellow|red" (or "color"), "observed_at": "<ISO time>"?, "source": "…"?}.

    A 404 or a null colour means "no colour known" (None). A timeout (default 2 s: a gate cannot wait longer),
    a network or HTTP error, or an answer that is not such JSON raises ProviderUnavailable.
    """

    manual = False

    def __init__(self, *, url: str, timeout: float = 2.0, token: str = "", source: str = "健康码接口",
                 **_: Any) -> None:
        if not url:
            raise ValueError("FANGKONG_HEALTH_CODE_OPTIONS['url'] is required for HttpJsonProvider")
        self.url, self.timeout, self.token = url, float(timeout), token
        self.label = self.source = source

    def _post(self, payload: dict[str, Any]) -> tuple[int, bytes]:
        """The transport, one method so tests can replace it. Returns (status, body)."""
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(self.url, data=json.dumps(payload).encode(), headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return response.status, response.read(65536)
        except urllib.error.HTTPError as exc:
            return exc.code, b""

    def lookup(self, person: Any, at: datetime) -> HealthCodeReading | None:
        id_hash = getattr(person, "id_number_hash", "")
        if not id_hash:
            return None
        try:
            status, body = self._post({"id_number_hash": id_hash, "at": at.isoformat()})
        except TimeoutError:
            raise ProviderUnavailable(_("查询超时")) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            if isinstance(reason, TimeoutError):
                raise ProviderUnavailable(_("查询超时")) from None
            raise ProviderUnavailable(_("无法连接")) from None
        if status == 404:
            return None
        if status != 200:
            raise ProviderUnavailable(_("接口返回错误 %(status)s") % {"status": status})
        try:
            data = json.loads(body)
            colour = data.get("colour", data.get("color"))
            observed = parse_datetime(data["observed_at"]) if data.get("observed_at") else None
        except (ValueError, TypeError, AttributeError):
            raise ProviderUnavailable(_("接口返回内容无法识别")) from None
        if colour is None:
            return None
        colour = str(colour).strip().lower()
        if colour not in COLOURS:
            raise ProviderUnavailable(_("接口返回内容无法识别"))
        if observed is None:
            observed = at
        elif timezone.is_naive(observed):
            observed = timezone.make_aware(observed)
        return HealthCodeReading(colour, str(data.get("source") or self.source)[:40], observed)


# --- loading the configured provider --------------------------------------------------------------------------------

_providers: dict[str, Any] = {}
_providers_lock = threading.Lock()


def _configured() -> tuple[str, dict[str, Any]]:
    path = getattr(settings, "FANGKONG_HEALTH_CODE_PROVIDER", "") or DEFAULT_PROVIDER
    options = dict(getattr(settings, "FANGKONG_HEALTH_CODE_OPTIONS", None) or {})
    return path, options


def _key() -> str:
    """Names the provider and its options in cache keys: switching providers never serves the old one's answers."""
    path, options = _configured()
    raw = json.dumps([path, options], sort_keys=True, default=str)
    return hashlib.sha256(raw.encode()).hexdigest()[:12]


def get_provider() -> Any:
    """The configured provider, built once per process (and again when the settings change, as in tests)."""
    key = _key()
    provider = _providers.get(key)
    if provider is None:
        with _providers_lock:
            provider = _providers.get(key)
            if provider is None:
                path, options = _configured()
                provider = _providers[key] = import_string(path)(**options)
    return provider


@receiver(setting_changed)
def _settings_changed(setting: str, **kwargs: Any) -> None:
    if setting.startswith("FANGKONG_HEALTH_CODE"):
        _providers.clear()


def is_manual() -> bool:
    """True when no interface is configured: the organisation's choice then changes nothing."""
    return bool(getattr(get_provider(), "manual", False))


def provider_label() -> str:
    return str(getattr(get_provider(), "label", "") or type(get_provider()).__name__)


# --- consulting it --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Consultation:
    """What the gate console shows: `status` is
    off (the organisation enters codes by hand, or no interface is configured), ok (a reading), none (the
    interface knows no colour for the person), unavailable (down or timed out: enter the colour by hand)."""

    status: str
    reading: HealthCodeReading | None = None
    reason: str = ""

    @property
    def colour(self) -> str:
        return self.reading.colour if self.reading else ""

    @property
    def message(self) -> str:
        if self.status == "ok" and self.reading is not None:
            return _("健康码接口：%(colour)s（来源：%(source)s，%(time)s）") % {
                "colour": colour_label(self.reading.colour), "source": self.reading.source,
                "time": timezone.localtime(self.reading.observed_at).strftime("%m-%d %H:%M")}
        if self.status == "none":
            return _("健康码接口查不到此人的健康码，请人工查验后选择颜色")
        if self.status == "unavailable":
            return _("健康码接口暂时无法使用（%(reason)s），请人工查验健康码后选择颜色") % {
                "reason": self.reason or _("无响应")}
        return ""


OFF = Consultation("off")


def colour_label(colour: str) -> str:
    return {"green": _("绿码"), "yellow": _("黄码"), "red": _("红码")}.get(colour, colour)


def uses_provider(organization_id: int) -> bool:
    from fangkong.access.services import setting_for

    return setting_for(organization_id).health_code_provider == AccessSetting.Provider.INTERFACE


def consult(person: Any, at: datetime | None = None, *, enabled: bool | None = None) -> Consultation:
    """The provider's colour for `person` at `at`, if the person's organisation consults the provider.

    Never raises and never waits longer than the provider's timeout: answers (also "no colour") are cached for
    FANGKONG_HEALTH_CODE_CACHE_SECONDS (300) per person; a failure is logged, counted, and makes every lookup answer
    "unavailable" without calling for FANGKONG_HEALTH_CODE_BACKOFF_SECONDS (30). `enabled` overrides the
    organisation's setting (tests, callers that already read it).
    """
    at = at or timezone.now()
    if enabled is None:
        enabled = uses_provider(person.organization_id)
    if not enabled or is_manual():
        return OFF
    key = _key()
    who = getattr(person, "id_number_hash", "") or f"pk{person.pk}"
    cache_key, down_key = f"{CACHE_PREFIX}:{key}:{who}", f"{CACHE_PREFIX}:{key}:down"
    stats["calls"] += 1
    try:
        hit = cache.get_many([cache_key, down_key])
    except Exception:  # a cache outage must not stop the gate
        hit = {}
    if cache_key in hit:
        stats["cache_hits"] += 1
        return _from_cached(hit[cache_key])
    if down_key in hit:
        stats["skipped_down"] += 1
        return Consultation("unavailable", reason=str(hit[down_key]))
    try:
        reading = get_provider().lookup(person, at)
        if reading is not None and reading.colour not in COLOURS:
            raise ProviderUnavailable(_("接口返回内容无法识别"))
    except Exception as exc:
        reason = str(exc) if isinstance(exc, ProviderUnavailable) else _("接口出错")
        stats["failures"] += 1
        logger.warning("health-code provider %s failed for person %s: %s", type(get_provider()).__name__,
                       person.pk, exc, exc_info=not isinstance(exc, ProviderUnavailable))
        _safe(lambda: cache.set(down_key, reason, _seconds("BACKOFF", BACKOFF_SECONDS)))
        _safe(lambda: _incr(f"{CACHE_PREFIX}:failures"))
        return Consultation("unavailable", reason=reason)
    stats["answers"] += 1
    value = None if reading is None else [reading.colour, reading.source, reading.observed_at.isoformat()]
    _safe(lambda: cache.set(cache_key, value, _seconds("CACHE", CACHE_SECONDS)))
    return Consultation("ok", reading) if reading else Consultation("none")


def health_code_for(person: Any, at: datetime | None = None) -> HealthCodeReading | None:
    """The protocol's answer with the manual default: the provider's reading, or None (ask the gatekeeper) when the
    organisation does not consult it, it knows no colour, or it is down."""
    return consult(person, at).reading


def failures_total() -> int:
    """Failures counted across processes (shared cache; per process with the default LocMemCache)."""
    try:
        return int(cache.get(f"{CACHE_PREFIX}:failures") or 0)
    except Exception:
        return stats["failures"]


def _from_cached(value: Any) -> Consultation:
    if value is None:
        return Consultation("none")
    colour, source, observed = value
    observed_at = parse_datetime(observed) or timezone.now()
    return Consultation("ok", HealthCodeReading(colour, source, observed_at))


def _seconds(name: str, default: int) -> int:
    return int(getattr(settings, f"FANGKONG_HEALTH_CODE_{name}_SECONDS", default))


def _incr(key: str) -> None:
    try:
        cache.incr(key)
    except ValueError:
        cache.set(key, 1, None)


def _safe(fn: Any) -> None:
    try:
        fn()
    except Exception:  # pragma: no cover - the cache is an optimisation here
        logger.exception("health-code cache write failed")


# --- the organisation's choice ----------------------------------------------------------------------------------------


@transaction.atomic
def setting_provider_update(*, organization: Any, actor: Any, health_code_provider: str) -> AccessSetting:
    """Choose whether the organisation's gate consults the health-code interface (else: entered by hand)."""
    if health_code_provider not in AccessSetting.Provider.values:
        message = _("健康码来源无效：%(value)s") % {"value": health_code_provider}
        raise ServiceError(message, {"health_code_provider": [message]})
    setting, _created = AccessSetting.objects.get_or_create(organization=organization)
    old = setting.health_code_provider
    if old != health_code_provider:
        setting.health_code_provider = health_code_provider
        setting.save(update_fields=["health_code_provider"])
        audit_record(actor=actor, action="access.settings", obj=setting, organization_id=organization.pk,
                     changes={"health_code_provider": [old, health_code_provider]})
    from fangkong.access import services

    # The scan path keeps settings for 30 s per process (services.setting_for): drop ours now and after commit.
    services._SETTINGS_CACHE.pop(organization.pk, None)
    transaction.on_commit(lambda: services._SETTINGS_CACHE.pop(organization.pk, None))
    return setting
