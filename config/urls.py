from django.conf import settings
from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path

from fangkong.api import api
from fangkong.core import views as core_views

urlpatterns: list[URLPattern | URLResolver] = [
    path("api/v1/", api.urls),
    path("admin/", admin.site.urls),
    path("i18n/setlang/", core_views.set_language_view, name="set_language"),
    path("", include("fangkong.core.urls")),
    path("org/", include("fangkong.tenancy.urls")),
    path("people/", include("fangkong.people.urls")),
]
# Apps of later issues add themselves here: one line each, `path("<app>/", include("fangkong.<app>.urls"))`.
for app in ("health", "obligations", "notify", "access", "policy", "measures", "testing", "tracing"):
    try:
        __import__(f"fangkong.{app}.urls")
    except ModuleNotFoundError as exc:
        if exc.name != f"fangkong.{app}.urls":
            raise
        continue
    urlpatterns.append(path(f"{app}/", include(f"fangkong.{app}.urls")))

if settings.DEBUG:
    from django.contrib.staticfiles.urls import staticfiles_urlpatterns

    urlpatterns += staticfiles_urlpatterns()
