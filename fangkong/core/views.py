from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from fangkong.core.access import AUTHENTICATED, public, requires
from fangkong.core.forms import SignInForm
from fangkong.core.language import SignInView, set_language
from fangkong.core.models import ApiToken, AuditEvent
from fangkong.core.tokens import token_issue, token_revoke
from fangkong.tenancy.middleware import SESSION_KEY
from fangkong.tenancy.scope import memberships_of, user_scope


def _user(request: HttpRequest) -> Any:
    """The signed-in user (every caller is behind @requires, so never anonymous)."""
    return request.user


login_view = public(SignInView.as_view(template_name="core/login.html", authentication_form=SignInForm,
                                      redirect_authenticated_user=True))
# Anyone may choose the language of the pages; a signed-in user's choice is also kept on the account.
set_language_view = public(set_language)
logout_view = public(auth_views.LogoutView.as_view())


@requires(AUTHENTICATED)
def home(request: HttpRequest) -> HttpResponse:
    from fangkong.core.dashboard import dashboard_context

    return render(request, "core/home.html", dashboard_context(request))


@require_POST
@requires(AUTHENTICATED)
def switch_membership(request: HttpRequest) -> HttpResponse:
    wanted = request.POST.get("membership")
    for m in memberships_of(request.user):
        if str(m.pk) == wanted:
            request.session[SESSION_KEY] = m.pk
            messages.success(request, _("已切换到：%(node)s") % {"node": m.node_label})
            break
    else:
        messages.error(request, _("无法切换到该组织"))
    target = request.POST.get("next") or "/"
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = "/"
    return redirect(target)


@requires(AUTHENTICATED)
def tokens(request: HttpRequest) -> HttpResponse:
    new_token = None
    if request.method == "POST":
        name = (request.POST.get("name") or "").strip()
        if not name:
            messages.error(request, _("请填写令牌名称"))
        else:
            _token, new_token = token_issue(user=request.user, name=name)
            messages.success(request, _("令牌已生成，请立即复制，它只显示这一次。"))
    return render(request, "core/tokens.html", {
        "tokens": ApiToken.objects.filter(user=_user(request)), "new_token": new_token,
    })


@require_POST
@requires(AUTHENTICATED)
def token_revoke_view(request: HttpRequest, pk: int) -> HttpResponse:
    token = get_object_or_404(ApiToken, pk=pk, user=_user(request))
    token_revoke(token=token, actor=request.user)
    messages.success(request, _("令牌已吊销"))
    return redirect("tokens")


def audit_queryset(user: Any) -> QuerySet[AuditEvent]:
    """Audit events the user may read: their organisations' events, or everything under their jurisdiction."""
    from django.db.models import Q

    scope = user_scope(user, "audit.view")
    if scope.everything:
        return AuditEvent.objects.all()
    q = Q(pk__in=[])
    for path in scope.jurisdiction_paths:
        q |= Q(jurisdiction_path__startswith=path)
    if scope.jurisdiction_paths or scope.authority_ids:
        from fangkong.tenancy.models import Organization

        org_ids = Organization.objects.visible_to(user, "audit.view").values("id")
        q |= Q(organization_id__in=org_ids)
    if scope.organization_ids:
        q |= Q(organization_id__in=scope.organization_ids)
    return AuditEvent.objects.filter(q)


@requires("audit.view")
def audit_log(request: HttpRequest) -> HttpResponse:
    qs = audit_queryset(request.user)
    q = request.GET.get("q", "").strip()
    action = request.GET.get("action", "").strip()
    if q:
        from django.db.models import Q

        qs = qs.filter(Q(actor_repr__icontains=q) | Q(object_repr__icontains=q) | Q(object_id=q))
    if action:
        qs = qs.filter(action__startswith=action)
    page = Paginator(qs.order_by("-at", "-id"), 50).get_page(request.GET.get("page"))
    return render(request, "core/audit.html", {"page": page, "q": q, "action": action})
