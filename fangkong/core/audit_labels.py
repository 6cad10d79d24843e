"""What each audit action is called, for the audit log's readers (the prevention office, auditors).

The action codes stay the record (`AuditEvent.action`, searched by prefix such as "person."); the log shows the
name in the reader's language beside them. `core/tests/test_audit_labels.py` fails when code records an action that
has no name here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils.translation import pgettext_lazy

# Each name is in the "audit" context: the log says what happened ("Role granted"), where the same words elsewhere are
# a button ("Grant role").
ACTION_LABELS: Mapping[str, Any] = {
    # tenancy, accounts
    "jurisdiction.create": pgettext_lazy("audit", "新建属地防控办"),
    "authority.create": pgettext_lazy("audit", "新建行业主管部门"),
    "organization.create": pgettext_lazy("audit", "新建单位"),
    "organization.update": pgettext_lazy("audit", "修改单位"),
    "unit.create": pgettext_lazy("audit", "新建部门"),
    "unit.update": pgettext_lazy("audit", "修改部门"),
    "membership.grant": pgettext_lazy("audit", "授予角色"),
    "membership.revoke": pgettext_lazy("audit", "撤销角色"),
    "user.create": pgettext_lazy("audit", "新建账号"),
    "token.issue": pgettext_lazy("audit", "签发 API 令牌"),
    "token.revoke": pgettext_lazy("audit", "吊销 API 令牌"),
    "taskforce.apply_template": pgettext_lazy("audit", "按模板建立工作组"),
    "taskforce.update": pgettext_lazy("audit", "修改工作组"),
    "taskforce.member_add": pgettext_lazy("audit", "添加工作组成员"),
    "taskforce.member_update": pgettext_lazy("audit", "修改工作组成员"),
    "taskforce.member_remove": pgettext_lazy("audit", "移除工作组成员"),
    "demo.seed": pgettext_lazy("audit", "生成演示数据"),
    # people
    "person.create": pgettext_lazy("audit", "新增人员"),
    "person.update": pgettext_lazy("audit", "修改人员"),
    "person.archive": pgettext_lazy("audit", "人员停用"),
    "person.restore": pgettext_lazy("audit", "人员恢复"),
    "person.import": pgettext_lazy("audit", "导入台账"),
    "person.export": pgettext_lazy("audit", "导出台账"),
    "person.unmask.id_number": pgettext_lazy("audit", "查看完整身份证号"),
    "person.unmask.phone": pgettext_lazy("audit", "查看完整手机号"),
    "person.symptomatic": pgettext_lazy("audit", "标记有症状"),
    "person.symptomatic_clear": pgettext_lazy("audit", "解除症状标记"),
    "person.health_code": pgettext_lazy("audit", "记录健康码"),
    # health, obligations
    "checkin_setting.create": pgettext_lazy("audit", "新建打卡设置"),
    "checkin_setting.change": pgettext_lazy("audit", "修改打卡设置"),
    "absence.create": pgettext_lazy("audit", "登记因病缺勤"),
    "absence.follow_up": pgettext_lazy("audit", "缺勤随访"),
    "cluster.raise": pgettext_lazy("audit", "聚集性预警"),
    "cluster.report": pgettext_lazy("audit", "聚集性预警已上报"),
    "integrity.resolve": pgettext_lazy("audit", "核实打卡异常"),
    "obligation.waive": pgettext_lazy("audit", "免除任务"),
    # access
    "access.settings": pgettext_lazy("audit", "修改出入管理设置"),
    "venue.create": pgettext_lazy("audit", "新建场所"),
    "venue.update": pgettext_lazy("audit", "修改场所"),
    "venue.rotate_code": pgettext_lazy("audit", "更换场所码"),
    "scan.export": pgettext_lazy("audit", "导出出入记录"),
    "visit.book": pgettext_lazy("audit", "访客预约"),
    "visit.walk_in": pgettext_lazy("audit", "现场访客登记"),
    "visit.approve": pgettext_lazy("audit", "审批访客预约"),
    "visit.update": pgettext_lazy("audit", "修改访客预约"),
    "visit.cancel": pgettext_lazy("audit", "取消访客预约"),
    "visit.export": pgettext_lazy("audit", "导出访客记录"),
    "vehicle.create": pgettext_lazy("audit", "登记车辆"),
    "vehicle.update": pgettext_lazy("audit", "修改车辆登记"),
    "vehicle.delete": pgettext_lazy("audit", "删除车辆登记"),
    "vehicle.export": pgettext_lazy("audit", "导出车辆记录"),
    # policy
    "policy.install_pack": pgettext_lazy("audit", "安装防控政策"),
    "policy.activation": pgettext_lazy("audit", "启用或停用政策"),
    "policy.rule_enabled": pgettext_lazy("audit", "启用或停用条款"),
    "policy.reevaluate": pgettext_lazy("audit", "重新判定"),
    "riskarea.announce": pgettext_lazy("audit", "发布风险区域"),
    "riskarea.change_level": pgettext_lazy("audit", "调整风险等级"),
    "riskarea.close": pgettext_lazy("audit", "解除风险区域"),
    "riskarea.import": pgettext_lazy("audit", "导入风险区域"),
    "stay.add": pgettext_lazy("audit", "登记旅居史"),
    "arrival.record": pgettext_lazy("audit", "登记抵达"),
    "travel.request": pgettext_lazy("audit", "外出报备"),
    "travel.update": pgettext_lazy("audit", "修改外出报备"),
    "travel.withdraw": pgettext_lazy("audit", "撤回外出报备"),
    "travel.approved": pgettext_lazy("audit", "批准外出报备"),
    "travel.refused": pgettext_lazy("audit", "不批准外出报备"),
    "travel.return": pgettext_lazy("audit", "外出返回"),
    # measures
    "measure.propose": pgettext_lazy("audit", "提出管控措施"),
    "measure.confirm": pgettext_lazy("audit", "确认管控措施"),
    "measure.start": pgettext_lazy("audit", "开始执行措施"),
    "measure.ready": pgettext_lazy("audit", "标记待解除"),
    "measure.release": pgettext_lazy("audit", "解除管控措施"),
    "measure.escalate": pgettext_lazy("audit", "升级管控措施"),
    "measure.extend": pgettext_lazy("audit", "延长管控措施"),
    "measure.custodian_add": pgettext_lazy("audit", "添加包保人员"),
    "measure.custodian_remove": pgettext_lazy("audit", "移除包保人员"),
    "measure.export_list": pgettext_lazy("audit", "导出管控人员"),
    "measure.export_counts": pgettext_lazy("audit", "导出管控统计"),
    "measure.export_record": pgettext_lazy("audit", "导出逐日记录"),
    "measure.export_notice": pgettext_lazy("audit", "导出告知书"),
    "measure.export_certificate": pgettext_lazy("audit", "导出解除证明"),
    # testing
    "testprogram.create": pgettext_lazy("audit", "新建检测计划"),
    "testprogram.activate": pgettext_lazy("audit", "启用检测计划"),
    "sample.register": pgettext_lazy("audit", "登记采样"),
    "result.record": pgettext_lazy("audit", "登记检测结果"),
    "finding.status": pgettext_lazy("audit", "处理阳性发现"),
    "vaccination.record": pgettext_lazy("audit", "登记接种"),
    "vaccination.import": pgettext_lazy("audit", "导入接种记录"),
    "contraindication.record": pgettext_lazy("audit", "登记接种禁忌"),
    # tracing
    "case.create": pgettext_lazy("audit", "登记病例"),
    "case.update": pgettext_lazy("audit", "修改病例"),
    "case.status": pgettext_lazy("audit", "病例状态变更"),
    "case.finding_attached": pgettext_lazy("audit", "病例关联阳性发现"),
    "tracing.run": pgettext_lazy("audit", "追踪密接"),
    "tracing.contact_add": pgettext_lazy("audit", "人工添加接触者"),
    "tracing.household": pgettext_lazy("audit", "登记同住人员"),
    "tracing.meeting": pgettext_lazy("audit", "登记会议"),
    "tracing.task": pgettext_lazy("audit", "核查任务"),
    "assist.create": pgettext_lazy("audit", "发出协查"),
    "assist.import": pgettext_lazy("audit", "导入协查反馈"),
    "assist.export": pgettext_lazy("audit", "导出协查名单"),
    # notify
    "compliance.export": pgettext_lazy("audit", "导出打卡完成情况"),
    "notify.webhook_create": pgettext_lazy("audit", "新建群机器人"),
    "notify.webhook_update": pgettext_lazy("audit", "修改群机器人"),
    "notify.webhook_delete": pgettext_lazy("audit", "删除群机器人"),
    "notify.webhook_test": pgettext_lazy("audit", "群机器人测试消息"),
}


# Who acted when no person did. Services record these names as the actor (`AuditEvent.actor_repr`, a case's history);
# the log shows them in the reader's language. A user's name, or a name not listed here, is shown as recorded.
# `core/tests/test_audit_labels.py` fails when code records a name that is not listed.
ACTOR_LABELS: Mapping[str, Any] = {
    "system": pgettext_lazy("actor", "系统"),
    "system:positive-result": pgettext_lazy("actor", "系统（阳性检测结果）"),
    "seed_demo": pgettext_lazy("actor", "演示数据"),
    "访客自助登记": pgettext_lazy("actor", "访客自助登记"),
    "访客自助预约": pgettext_lazy("actor", "访客自助预约"),
}


def change_rows(object_type: str, changes: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """The changes as (field name, before, after) for reading: a field of the object's model is named by its label
    and a value from its choices by the choice's label; anything else is shown as recorded."""
    from django.apps import apps
    from django.core.exceptions import FieldDoesNotExist
    from django.db.models import DateTimeField

    try:
        model = apps.get_model(object_type) if "." in object_type else None
    except (LookupError, ValueError):
        model = None
    rows = []
    for key, values in (changes or {}).items():
        before, after = [*values, None, None][:2] if isinstance(values, list) else (None, values)
        label: Any = key
        before, after = readable(before), readable(after)
        if model is not None:
            try:
                field = model._meta.get_field(key)
            except FieldDoesNotExist:
                field = None
            if field is not None:
                label = getattr(field, "verbose_name", key)
                choices = dict(field.flatchoices) if getattr(field, "choices", None) else {}
                before, after = _choice(choices, before), _choice(choices, after)
                if isinstance(field, DateTimeField):
                    before, after = _local_time(before), _local_time(after)
        rows.append((str(label), before, after))
    return rows


def _local_time(value: Any) -> Any:
    """A recorded ISO timestamp (stored in UTC) as the local time people read elsewhere; anything else as it is."""
    from datetime import datetime

    from django.utils import timezone

    if not isinstance(value, str):
        return value
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    return f"{timezone.localtime(moment):%Y-%m-%d %H:%M:%S}" if timezone.is_aware(moment) else value


def _choice(choices: dict[Any, Any], value: Any) -> Any:
    """A recorded value by its choice's label; anything else made readable (`readable`)."""
    if isinstance(value, str | int) and not isinstance(value, bool) and value in choices:
        return choices[value]
    return readable(value)


def readable(value: Any) -> Any:
    """A recorded value as people read it: yes/no for booleans (False showed as empty), objects as "key: value"
    pairs and lists joined, instead of Python's repr ({'kind': 'contractor'}). None stays None (shown as ∅)."""
    from django.utils.translation import gettext

    from fangkong.core.rule_errors import enumeration

    if isinstance(value, bool):
        return gettext("是") if value else gettext("否")
    if isinstance(value, dict):
        return gettext("；").join(f"{k}{gettext('：')}{readable(v)}" for k, v in value.items()) or "{}"
    if isinstance(value, list | tuple):
        return enumeration(str(readable(v)) for v in value) or "[]"
    return value


def action_label(action: str) -> str:
    """The action's name in the active language; an action nobody named shows its code."""
    label = ACTION_LABELS.get(action)
    return str(label) if label is not None else action


def actor_label(actor_repr: str) -> str:
    """Who acted, in the active language: a named system actor by its name, anyone else as recorded."""
    label = ACTOR_LABELS.get(actor_repr)
    return str(label) if label is not None else actor_repr
