"""Forms of the organisation pages. They only parse input; the services validate and write."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.utils.translation import gettext_lazy as _

from fangkong.geo.models import Region
from fangkong.tenancy.models import Authority, Jurisdiction, Organization, Taskforce, TaskforceMember, Unit
from fangkong.tenancy.roles import Role
from fangkong.tenancy.taskforce_templates import TEMPLATES


def _model_choice(form: forms.Form, name: str) -> forms.ModelChoiceField:
    return cast(forms.ModelChoiceField, form.fields[name])


def _choice(form: forms.Form, name: str) -> forms.ChoiceField:
    return cast(forms.ChoiceField, form.fields[name])


class RegionChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.code} {obj.full_name}"


class UserChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj} ({obj.username})"


class UnitChoiceField(forms.ModelChoiceField):
    """Units indented by depth, so the select reads like the tree."""

    def label_from_instance(self, obj: Any) -> str:
        return "— " * obj.depth + obj.name


class StyledForm(forms.Form):
    """Tabler classes on every widget, so templates render fields without per-field markup."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            widget = field.widget
            css = "form-select" if isinstance(widget, forms.Select) else "form-control"
            widget.attrs["class"] = (widget.attrs.get("class", "") + " " + css).strip()

    def full_clean(self) -> None:
        super().full_clean()
        for name in self.errors:
            if name in self.fields:
                self.fields[name].widget.attrs["class"] += " is-invalid"


class OrganizationEditForm(StyledForm):
    """Edit an organisation. A field left out of the submission keeps its stored value (as a ModelForm keeps a
    model default for an omitted field) instead of being blanked; a required one left out is an error.

    The industry bureau is shown read-only to whoever may not change it (`may_govern`: only the prevention office
    over the organisation or a platform administrator may); a forged value is refused by the service.
    """

    name = forms.CharField(label=_("名称"), max_length=100)
    industry = forms.CharField(label=_("行业"), max_length=64, required=False)
    address = forms.CharField(label=_("地址"), max_length=200, required=False)
    contact_phone = forms.CharField(label=_("联系电话"), max_length=32, required=False)
    authority = forms.ModelChoiceField(label=_("行业主管部门"), queryset=Authority.objects.none(), required=False,
                                       empty_label=_("（无）"))

    def __init__(self, *args: Any, organization: Organization, may_govern: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Bureaus of the organisation's jurisdiction and of the jurisdictions above it (a city bureau may lead).
        path = organization.jurisdiction.path
        ancestors = [int(p) for p in path.strip("/").split("/") if p]
        _model_choice(self, "authority").queryset = Authority.objects.filter(
            jurisdiction_id__in=ancestors
        ).select_related("jurisdiction")
        if not may_govern:
            # Read-only in the page: a browser does not submit a disabled select, so the stored bureau is kept.
            self.fields["authority"].widget.attrs["disabled"] = "disabled"
            self.fields["authority"].help_text = _("行业主管部门由属地防控办调整")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for name, field in self.fields.items():
            if field.required or name in self.errors:
                continue  # a required field left out has already been reported as missing
            if field.widget.value_omitted_from_data(self.data, self.files, self.add_prefix(name)):
                cleaned[name] = self.get_initial_for_field(field, name)
        return cleaned


class OrganizationCreateForm(StyledForm):
    name = forms.CharField(label=_("名称"), max_length=100)
    kind = forms.ChoiceField(label=_("类型"), choices=Organization.Kind.choices)
    jurisdiction = forms.ModelChoiceField(label=_("属地防控办"), queryset=Jurisdiction.objects.none())
    region = RegionChoiceField(label=_("所在区划"), queryset=Region.objects.none())
    authority = forms.ModelChoiceField(label=_("行业主管部门"), queryset=Authority.objects.none(), required=False,
                                       empty_label=_("（无）"))
    industry = forms.CharField(label=_("行业"), max_length=64, required=False)
    address = forms.CharField(label=_("地址"), max_length=200, required=False)
    contact_phone = forms.CharField(label=_("联系电话"), max_length=32, required=False)
    taskforce_template = forms.ChoiceField(
        label=_("领导小组模板"), required=False,
        help_text=_("按模板建立领导小组和工作组（企业依据 004 号方案，医院依据 001 号方案），之后可修改。"),
    )

    def __init__(self, *args: Any, jurisdictions: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        jurisdictions = list(jurisdictions)
        _model_choice(self, "jurisdiction").queryset = Jurisdiction.objects.filter(pk__in=[j.pk for j in jurisdictions])
        region_q = Region.objects.none()
        for j in jurisdictions:
            region_q = region_q | Region.objects.filter(code__startswith=j.region_id)
        _model_choice(self, "region").queryset = region_q.order_by("code")
        _model_choice(self, "authority").queryset = Authority.objects.filter(
            jurisdiction__in=[j.pk for j in jurisdictions]
        ).select_related("jurisdiction")
        _choice(self, "taskforce_template").choices = [("", _("不建立"))] + [(t.key, t.label) for t in TEMPLATES.values()]
        if len(jurisdictions) == 1:
            # A county officer has one office: preselect it and its own region.
            self.fields["jurisdiction"].initial = jurisdictions[0].pk
            self.fields["region"].initial = jurisdictions[0].region_id


# The usual kind of a child unit, so adding a team under a workshop or a class under a grade needs no choice.
CHILD_KIND: dict[str, str] = {
    Unit.Kind.WORKSHOP: Unit.Kind.TEAM, Unit.Kind.TEAM: Unit.Kind.POST, Unit.Kind.GRADE: Unit.Kind.CLASS,
    Unit.Kind.WARD: Unit.Kind.POST, Unit.Kind.DEPARTMENT: Unit.Kind.DEPARTMENT,
}


class UnitForm(StyledForm):
    name = forms.CharField(label=_("名称"), max_length=100, widget=forms.TextInput(attrs={"placeholder": _("名称")}))
    kind = forms.ChoiceField(label=_("类型"), choices=Unit.Kind.choices)

    def __init__(self, *args: Any, parent: Unit | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if parent is not None:
            self.fields["kind"].initial = CHILD_KIND.get(parent.kind, Unit.Kind.OTHER)


class UnitRenameForm(StyledForm):
    name = forms.CharField(label=_("名称"), max_length=100, widget=forms.TextInput(attrs={"placeholder": _("名称")}))


class GridLeaderForm(StyledForm):
    grid_leader = UserChoiceField(
        label=_("网格员"), queryset=Unit.objects.none(), required=False, empty_label=_("（无）"),
    )  # the organisation's users, set in __init__

    def __init__(self, *args: Any, users: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _model_choice(self, "grid_leader").queryset = users


class TaskforceForm(StyledForm):
    name = forms.CharField(label=_("名称"), max_length=100)
    duty_phone = forms.CharField(label=_("值班电话"), max_length=32, required=False)
    duties = forms.CharField(label=_("职责"), widget=forms.Textarea(attrs={"rows": 4}), required=False)


class TaskforceMemberForm(StyledForm):
    role = forms.ChoiceField(label=_("职务"), choices=TaskforceMember.Role.choices,
                             initial=TaskforceMember.Role.MEMBER)
    name = forms.CharField(label=_("姓名"), max_length=64)
    title = forms.CharField(label=_("职务/岗位"), max_length=100, required=False)
    phone = forms.CharField(label=_("电话"), max_length=32, required=False)


class ApplyTemplateForm(StyledForm):
    template = forms.ChoiceField(label=_("模板"), choices=[])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _choice(self, "template").choices = [(t.key, t.label) for t in TEMPLATES.values()]


ORG_ROLE_CHOICES = [(r.value, r.label) for r in (Role.ORG_ADMIN, Role.UNIT_LEADER, Role.GATEKEEPER, Role.MEMBER)]


class MembershipGrantForm(StyledForm):
    username = forms.CharField(label=_("用户名"), max_length=150)
    role = forms.ChoiceField(label=_("角色"), choices=ORG_ROLE_CHOICES)
    unit = UnitChoiceField(label=_("部门"), queryset=Unit.objects.none(), required=False,
                                  empty_label=_("（全单位）"), help_text=_("部门负责人必须指定部门；成员、门岗可选。"))
    display_name = forms.CharField(label=_("姓名"), max_length=64, required=False,
                                   help_text=_("仅新用户需要填写。"))
    phone = forms.CharField(label=_("手机号"), max_length=20, required=False)
    password = forms.CharField(label=_("初始密码"), required=False, widget=forms.PasswordInput(render_value=False),
                               help_text=_("仅新用户需要填写，至少 8 位。"))

    def __init__(self, *args: Any, organization: Organization, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _model_choice(self, "unit").queryset = Unit.objects.filter(organization=organization).order_by("path")


def taskforce_initial(taskforce: Taskforce) -> dict[str, Any]:
    return {"name": taskforce.name, "duty_phone": taskforce.duty_phone, "duties": taskforce.duties}
