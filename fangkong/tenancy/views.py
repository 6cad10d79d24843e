"""Organisation pages: overview and edit, the officer's list of organisations, units, taskforces, memberships.

Every object is looked up through `visible_to(user, perm)` with the permission the action needs, so an object of
another tenant (or one outside a unit leader's subtree) is a 404 and a POST to it changes nothing.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from fangkong.core.access import requires
from fangkong.core.errors import ServiceError
from fangkong.tenancy import forms, selectors, services
from fangkong.tenancy.models import Jurisdiction, Membership, Organization, Taskforce, TaskforceMember, Unit
from fangkong.tenancy.scope import may_govern
from fangkong.tenancy.taskforce_templates import DEFAULT_FOR_KIND


def _org(request: HttpRequest, pk: int, perm: str = "org.view") -> Organization:
    qs = Organization.objects.visible_to(request.user, perm).select_related("jurisdiction", "authority", "region")
    return get_object_or_404(qs, pk=pk)


def _may(request: HttpRequest, perm: str, organization: Organization) -> bool:
    """May the user do `perm` at this organisation? (A role elsewhere that grants it does not count.)"""
    return Organization.objects.visible_to(request.user, perm).filter(pk=organization.pk).exists()


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def _apply_errors(form: Any, error: ServiceError) -> None:
    """Show a service's refusal on the form: on the named fields when the form has them, otherwise on top."""
    placed = False
    for field, msgs in error.field_errors.items():
        if field in form.fields:
            for msg in msgs:
                form.add_error(field, msg)
            placed = True
    shown = {msg for msgs in error.field_errors.values() for msg in msgs}
    if not placed or error.message not in shown:
        form.add_error(None, error.message)


def _org_context(request: HttpRequest, org: Organization, tab: str) -> dict[str, Any]:
    return {
        "org": org,
        "tab": tab,
        "can_change": _may(request, "org.change", org),
        "can_units": _may(request, "units.change", org),
        "can_taskforce": _may(request, "taskforce.change", org),
        "can_members": _may(request, "memberships.change", org),
    }


# --- organisations -------------------------------------------------------------------------------------------------


@requires("org.view")
def org_home(request: HttpRequest) -> HttpResponse:
    """'我的组织': the organisation of the active membership; officers (no organisation) go to their list."""
    membership = getattr(request, "membership", None)
    org_id = membership.organization_id if membership else None  # a lazy object: test truth, not identity
    if org_id and Organization.objects.visible_to(request.user).filter(pk=org_id).exists():
        return redirect("tenancy:org_detail", pk=org_id)
    return redirect("tenancy:org_list")


@requires("org.view")
def org_list(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "").strip()
    kind = request.GET.get("kind", "").strip()
    if kind not in Organization.Kind.values:
        kind = ""
    qs = selectors.organization_list(user=request.user, q=q, kind=kind)
    page = Paginator(qs, 25).get_page(request.GET.get("page"))
    can_create = Jurisdiction.objects.visible_to(request.user, "org.create").exists()
    return render(request, "tenancy/org_list.html", {
        "page": page, "q": q, "kind": kind, "kinds": Organization.Kind.choices, "can_create": can_create,
    })


@requires("org.create")
def org_create(request: HttpRequest) -> HttpResponse:
    jurisdictions = Jurisdiction.objects.visible_to(request.user, "org.create").select_related("region")
    if not jurisdictions.exists():
        messages.error(request, _("只有属地防控办人员可以新建单位"))
        return redirect("tenancy:org_list")
    form = forms.OrganizationCreateForm(request.POST or None, jurisdictions=jurisdictions,
                                        initial={"taskforce_template": DEFAULT_FOR_KIND["enterprise"]})
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            org = services.organization_create(
                name=d["name"].strip(), kind=d["kind"], region_code=d["region"].code, jurisdiction=d["jurisdiction"],
                authority=d["authority"], industry=d["industry"], address=d["address"],
                contact_phone=d["contact_phone"], taskforce_template=d["taskforce_template"] or None,
                actor=request.user,
            )
        except ServiceError as e:
            _apply_errors(form, e)
        else:
            messages.success(request, _("已新建单位：%(name)s") % {"name": org.name})
            return redirect("tenancy:org_detail", pk=org.pk)
    return render(request, "tenancy/org_create.html", {"form": form, "template_for_kind": DEFAULT_FOR_KIND})


@requires("org.view")
def org_detail(request: HttpRequest, pk: int) -> HttpResponse:
    org = _org(request, pk)
    leading, working = selectors.taskforces_of(org)
    return render(request, "tenancy/org_detail.html", {
        **_org_context(request, org, "overview"),
        "figures": selectors.organization_figures(org),
        "leading": leading,
        "working": working,
    })


@requires("org.change")
def org_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Fields left out of the POST keep their stored values (see the form); the bureau is the office's to change."""
    org = _org(request, pk, "org.change")
    initial = {f: getattr(org, f) for f in ("name", "industry", "address", "contact_phone", "authority")}
    form = forms.OrganizationEditForm(request.POST if request.method == "POST" else None, organization=org,
                                      initial=initial, may_govern=may_govern(request.user, org))
    status = 200
    if request.method == "POST" and form.is_valid():
        changed = {k: v for k, v in form.cleaned_data.items() if v != initial[k]}
        try:
            if changed:
                services.organization_update(organization=org, actor=request.user, **changed)
        except ServiceError as e:
            org.refresh_from_db()  # the refused values were set on the object; show the saved ones in the header
            _apply_errors(form, e)
            status = 403 if e.status == 403 else 200
        else:
            messages.success(request, _("单位信息已保存") if changed else _("没有需要保存的修改"))
            return redirect("tenancy:org_detail", pk=org.pk)
    return render(request, "tenancy/org_edit.html", {**_org_context(request, org, "overview"), "form": form},
                  status=status)


# --- units ---------------------------------------------------------------------------------------------------------


def _unit_tree_context(request: HttpRequest, org: Organization) -> dict[str, Any]:
    return {
        **_org_context(request, org, "units"),
        "units": selectors.unit_tree(user=request.user, organization=org),
        "add_form": forms.UnitForm(),
    }


@requires("org.view")
def unit_tree(request: HttpRequest, pk: int) -> HttpResponse:
    org = _org(request, pk)
    ctx = _unit_tree_context(request, org)
    if _is_htmx(request):
        return render(request, "tenancy/_unit_tree.html", ctx)
    return render(request, "tenancy/unit_tree.html", ctx)


def _unit_done(request: HttpRequest, org: Organization, message: str) -> HttpResponse:
    """After a unit change: HTMX gets the refreshed tree, a plain form post is redirected to the tree page."""
    if _is_htmx(request):
        ctx = _unit_tree_context(request, org)
        ctx["notice"] = message
        return render(request, "tenancy/_unit_tree.html", ctx)
    messages.success(request, message)
    return redirect("tenancy:unit_tree", pk=org.pk)


def _unit_form_page(request: HttpRequest, ctx: dict[str, Any], status: int = 200) -> HttpResponse:
    """The small unit forms: inline (HTMX) into the tree row, or as a page of their own without JavaScript."""
    if _is_htmx(request):
        response = render(request, "tenancy/_unit_form.html", ctx, status=200)
        if request.method == "POST":
            # A refused form goes back into its slot instead of replacing the tree.
            response["HX-Retarget"] = f"#unit-slot-{ctx['slot']}"
            response["HX-Reswap"] = "innerHTML"
        return response
    return render(request, "tenancy/unit_form.html", ctx, status=status)


@requires("units.change")
def unit_add(request: HttpRequest, pk: int) -> HttpResponse:
    """Add a unit at the top of the organisation (?parent= or POST parent: below that unit)."""
    org = _org(request, pk, "units.change")
    parent_id = request.POST.get("parent") or request.GET.get("parent")
    parent = None
    if parent_id:
        parent = get_object_or_404(Unit.objects.visible_to(request.user, "units.change"), pk=parent_id,
                                   organization=org)
    form = forms.UnitForm(request.POST or None, parent=parent)
    if request.method == "POST" and form.is_valid():
        try:
            unit = services.unit_create(organization=org, parent=parent, name=form.cleaned_data["name"].strip(),
                                        kind=form.cleaned_data["kind"], actor=request.user)
        except ServiceError as e:
            _apply_errors(form, e)
        else:
            return _unit_done(request, org, _("已添加：%(name)s") % {"name": unit.name})
    ctx = {
        **_org_context(request, org, "units"), "form": form, "parent": parent, "mode": "add",
        "action": reverse("tenancy:unit_add", args=[org.pk]), "slot": parent.pk if parent else "root",
        "heading": _("在“%(p)s”下添加") % {"p": parent.name} if parent else _("添加顶层部门"),
    }
    return _unit_form_page(request, ctx)


@requires("units.change")
def unit_rename(request: HttpRequest, pk: int) -> HttpResponse:
    unit = get_object_or_404(Unit.objects.visible_to(request.user, "units.change").select_related("organization"),
                             pk=pk)
    org = unit.organization
    form = forms.UnitRenameForm(request.POST or None, initial={"name": unit.name})
    if request.method == "POST" and form.is_valid():
        old = unit.name
        try:
            services.unit_update(unit=unit, name=form.cleaned_data["name"], actor=request.user)
        except ServiceError as e:
            _apply_errors(form, e)
        else:
            return _unit_done(request, org, _("已将“%(old)s”改名为“%(new)s”") % {"old": old, "new": unit.name})
    ctx = {
        **_org_context(request, org, "units"), "form": form, "unit": unit, "mode": "rename",
        "action": reverse("tenancy:unit_rename", args=[unit.pk]), "slot": unit.pk,
        "heading": _("重命名“%(name)s”") % {"name": unit.name},
    }
    return _unit_form_page(request, ctx)


@requires("units.change")
def unit_leader(request: HttpRequest, pk: int) -> HttpResponse:
    unit = get_object_or_404(Unit.objects.visible_to(request.user, "units.change").select_related("organization"),
                             pk=pk)
    org = unit.organization
    form = forms.GridLeaderForm(request.POST or None, users=services.organization_users(org),
                                initial={"grid_leader": unit.grid_leader_id})
    if request.method == "POST" and form.is_valid():
        leader = form.cleaned_data["grid_leader"]
        try:
            services.unit_update(unit=unit, grid_leader=leader, actor=request.user)
        except ServiceError as e:
            _apply_errors(form, e)
        else:
            msg = (_("%(unit)s 的网格员：%(user)s") % {"unit": unit.name, "user": leader}) if leader else (
                _("已取消 %(unit)s 的网格员") % {"unit": unit.name})
            return _unit_done(request, org, msg)
    ctx = {
        **_org_context(request, org, "units"), "form": form, "unit": unit, "mode": "leader",
        "action": reverse("tenancy:unit_leader", args=[unit.pk]), "slot": unit.pk,
        "heading": _("设置“%(name)s”的网格员") % {"name": unit.name},
    }
    return _unit_form_page(request, ctx)


# --- taskforces ----------------------------------------------------------------------------------------------------


def _taskforce(request: HttpRequest, pk: int) -> Taskforce:
    orgs = Organization.objects.visible_to(request.user, "taskforce.change")
    return get_object_or_404(Taskforce.objects.filter(organization__in=orgs).select_related("organization"), pk=pk)


def _taskforce_member(request: HttpRequest, pk: int) -> TaskforceMember:
    orgs = Organization.objects.visible_to(request.user, "taskforce.change")
    qs = TaskforceMember.objects.filter(taskforce__organization__in=orgs).select_related("taskforce__organization")
    return get_object_or_404(qs, pk=pk)


@requires("org.view")
def taskforce_list(request: HttpRequest, pk: int) -> HttpResponse:
    org = _org(request, pk)
    leading, working = selectors.taskforces_of(org)
    return render(request, "tenancy/taskforces.html", {
        **_org_context(request, org, "taskforces"),
        "leading": leading, "working": working, "member_roles": TaskforceMember.Role.choices,
        "template_form": forms.ApplyTemplateForm(initial={"template": DEFAULT_FOR_KIND.get(org.kind, "enterprise")}),
    })


@require_POST
@requires("taskforce.change")
def taskforce_apply_template(request: HttpRequest, pk: int) -> HttpResponse:
    org = _org(request, pk, "taskforce.change")
    form = forms.ApplyTemplateForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("请选择模板"))
    else:
        try:
            services.taskforce_apply_template(organization=org, template_key=form.cleaned_data["template"],
                                              actor=request.user)
        except ServiceError as e:
            messages.error(request, e.message)
        else:
            messages.success(request, _("已按模板建立领导小组和工作组，请补充成员"))
    return redirect("tenancy:taskforce_list", pk=org.pk)


@requires("taskforce.change")
def taskforce_edit(request: HttpRequest, pk: int) -> HttpResponse:
    tf = _taskforce(request, pk)
    org = tf.organization
    assert org is not None  # _taskforce only finds organisations' groups
    form = forms.TaskforceForm(request.POST or None, initial=forms.taskforce_initial(tf))
    if request.method == "POST" and form.is_valid():
        try:
            services.taskforce_update(taskforce=tf, actor=request.user, **form.cleaned_data)
        except ServiceError as e:
            _apply_errors(form, e)
        else:
            messages.success(request, _("已保存：%(name)s") % {"name": tf.name})
            return redirect(reverse("tenancy:taskforce_list", args=[org.pk]) + f"#tf-{tf.pk}")
    return render(request, "tenancy/taskforce_edit.html", {
        **_org_context(request, org, "taskforces"), "form": form, "taskforce": tf,
    })


@requires("taskforce.change")
def taskforce_member_add(request: HttpRequest, pk: int) -> HttpResponse:
    tf = _taskforce(request, pk)
    org = tf.organization
    assert org is not None
    form = forms.TaskforceMemberForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            services.taskforce_member_add(taskforce=tf, name=d["name"].strip(), role=d["role"], title=d["title"],
                                          phone=d["phone"], actor=request.user)
        except ServiceError as e:
            _apply_errors(form, e)
        else:
            messages.success(request, _("已将 %(name)s 加入 %(tf)s") % {"name": d["name"], "tf": tf.name})
            return redirect(reverse("tenancy:taskforce_list", args=[org.pk]) + f"#tf-{tf.pk}")
    return render(request, "tenancy/taskforce_member_form.html", {
        **_org_context(request, org, "taskforces"), "form": form, "taskforce": tf, "member": None,
    })


@requires("taskforce.change")
def taskforce_member_edit(request: HttpRequest, pk: int) -> HttpResponse:
    member = _taskforce_member(request, pk)
    tf = member.taskforce
    org = tf.organization
    assert org is not None
    initial = {"role": member.role, "name": member.name, "title": member.title, "phone": member.phone}
    form = forms.TaskforceMemberForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        changed = {k: v for k, v in form.cleaned_data.items() if v != initial[k]}
        try:
            if changed:
                services.taskforce_member_update(member=member, actor=request.user, **changed)
        except ServiceError as e:
            _apply_errors(form, e)
        else:
            messages.success(request, _("已保存：%(name)s") % {"name": member.name})
            return redirect(reverse("tenancy:taskforce_list", args=[org.pk]) + f"#tf-{tf.pk}")
    return render(request, "tenancy/taskforce_member_form.html", {
        **_org_context(request, org, "taskforces"), "form": form, "taskforce": tf, "member": member,
    })


@require_POST
@requires("taskforce.change")
def taskforce_member_remove(request: HttpRequest, pk: int) -> HttpResponse:
    member = _taskforce_member(request, pk)
    tf = member.taskforce
    name = member.name
    services.taskforce_member_remove(member=member, actor=request.user)
    messages.success(request, _("已将 %(name)s 移出 %(tf)s") % {"name": name, "tf": tf.name})
    return redirect(reverse("tenancy:taskforce_list", args=[tf.organization_id]) + f"#tf-{tf.pk}")


# --- memberships ---------------------------------------------------------------------------------------------------


@requires("memberships.change")
def membership_list(request: HttpRequest, pk: int) -> HttpResponse:
    org = _org(request, pk, "memberships.change")
    form = forms.MembershipGrantForm(request.POST or None, organization=org)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            m = services.membership_grant_at_organization(
                organization=org, username=d["username"], role=d["role"], unit=d["unit"],
                display_name=d["display_name"], phone=d["phone"], password=d["password"], actor=request.user,
            )
        except ServiceError as e:
            _apply_errors(form, e)
        else:
            messages.success(request, _("已授予 %(user)s：%(role)s") % {"user": m.user, "role": m.get_role_display()})
            return redirect("tenancy:membership_list", pk=org.pk)
    q = request.GET.get("q", "").strip()
    page = Paginator(selectors.memberships_at(org, q), 50).get_page(request.GET.get("page"))
    return render(request, "tenancy/memberships.html", {
        **_org_context(request, org, "members"), "page": page, "q": q, "form": form,
    })


@require_POST
@requires("memberships.change")
def membership_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    orgs = Organization.objects.visible_to(request.user, "memberships.change")
    m = get_object_or_404(Membership.objects.filter(organization__in=orgs).select_related("user", "organization"),
                          pk=pk)
    org_id = m.organization_id
    if m.user_id == request.user.pk:
        messages.error(request, _("不能撤销自己的角色，请由其他管理员操作"))
    else:
        label = _("已撤销 %(user)s 的角色：%(role)s") % {"user": m.user, "role": m.get_role_display()}
        services.membership_revoke(membership=m, actor=request.user)
        messages.success(request, label)
    return redirect("tenancy:membership_list", pk=org_id)
