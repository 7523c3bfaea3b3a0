from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from config import health
from wallet import views as wallet_views

handler400 = "core.problems.handler400"
handler403 = "core.problems.handler403"
handler404 = "core.problems.handler404"
handler500 = "core.problems.handler500"

api_v1: list[URLPattern | URLResolver] = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # Swagger UI's init script from its own URL (?script), not inline: CSP allows no inline
    # script (CONTENT_SECURITY_POLICY)
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="swagger-ui"),
    path("ledger/", include("ledger.urls")),
    path("kyc/", include("kyc.urls")),
    path("", include("remittance.urls")),
    path("", include("webhooks.urls")),
]

urlpatterns = [
    path("", wallet_views.home, name="home"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("wallet/", include("wallet.urls")),
    path("accounts/", include("wallet.account_urls")),  # before auth's own, which it overrides
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/v1/", include(api_v1)),
]
