"""Background work for the ledger import: large files are parsed, checked and written outside the request."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone, translation
from django.utils.translation import gettext
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from fangkong.people import importing
from fangkong.people.models import ImportJob

log = logging.getLogger(__name__)


def _fail(job_id: int, message: str) -> None:
    ImportJob.objects.filter(pk=job_id).update(status=ImportJob.Status.FAILED, message=message)


# The job's message (why a file was refused) is worded in the language of whoever started the task, passed along as
# `language`: the worker has no request to take it from. The rows' problems are worded when read (ImportJob.errors).


@db_task()
def import_validate(job_id: int, language: str | None = None) -> None:
    job = ImportJob.objects.select_related("organization").filter(pk=job_id).first()
    if job is None or job.status != ImportJob.Status.PENDING:
        return
    with translation.override(language or translation.get_language()):
        try:
            importing.job_validate(job)
        except Exception:
            # The page shows the job as failed instead of polling forever; the traceback goes to the log.
            log.exception("people import %s: validation failed", job_id)
            _fail(job_id, gettext("校验时发生内部错误，未写入任何数据。请联系管理员。"))


@db_task()
def import_commit(job_id: int, actor_id: int | None, language: str | None = None) -> None:
    job = ImportJob.objects.select_related("organization").filter(pk=job_id).first()
    if job is None or job.status != ImportJob.Status.COMMITTING:
        return
    actor = get_user_model().objects.filter(pk=actor_id).first() if actor_id else None
    with translation.override(language or translation.get_language()):
        try:
            importing.job_commit(job, actor=actor)
        except Exception:
            # The commit is one transaction: a crash part-way leaves the ledger as it was.
            log.exception("people import %s: commit failed", job_id)
            _fail(job_id, gettext("导入时发生错误，已全部回滚，未写入任何数据。请重试或联系管理员。"))


STALE_AFTER = timedelta(hours=24)


def expire_stale_imports(now: datetime | None = None) -> int:
    """Uploads hold ID numbers and phones in clear: a preview nobody confirmed within a day is cancelled and its file
    deleted. Returns how many were expired."""
    cutoff = (now or timezone.now()) - STALE_AFTER
    stale = ImportJob.objects.filter(
        status__in=[ImportJob.Status.VALIDATED, ImportJob.Status.FAILED, ImportJob.Status.PENDING],
        updated_at__lt=cutoff,
    ).exclude(file="")
    count = 0
    for job in stale:
        job.file.delete(save=False)
        if job.status != ImportJob.Status.FAILED:
            job.status = ImportJob.Status.CANCELLED
            job.message = gettext("超过 24 小时未确认，已自动取消并删除上传的文件。")
        job.save(update_fields=["file", "status", "message", "updated_at"])
        count += 1
    return count


@db_periodic_task(crontab(minute="23"))
def expire_stale_imports_hourly() -> None:
    expire_stale_imports()
