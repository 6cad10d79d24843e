"""Notifications: the in-app inbox, e-mail, SMS (gateway interface) and organisation webhooks (generic JSON,
WeCom and DingTalk group robots), with per-user preferences and a delivery log.

Other apps call one function, inside the transaction of the change they report:

    from fangkong.notify.recipients import org_admins, unit_leaders
    from fangkong.notify.services import notify_send

    notify_send(
        recipients=[*unit_leaders(person.unit), *org_admins(person.organization)],
        title={"zh-hans": "健康异常：张三", "en": "Health alert: Zhang San"},
        body={"zh-hans": "...", "en": "..."},
        link="/health/flags/", level="alert", organization_id=person.organization_id,
        event="health.symptomatic", dedupe_key=f"health.flag:{flag.pk}",
    )

Inbox rows are written at once (a rollback removes them); everything that leaves the system is a Huey task queued
on commit, retried 3 times a minute apart, each attempt logged in `Delivery`.
"""
