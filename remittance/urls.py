from django.urls import path

from remittance import apis, apis_name_checks

urlpatterns = [
    path("quotes", apis.QuoteCreateApi.as_view(), name="quotes"),
    path("quotes/<str:quote_id>", apis.QuoteDetailApi.as_view(), name="quote"),
    path("orders", apis.OrderListCreateApi.as_view(), name="orders"),
    path("orders/<str:order_id>", apis.OrderDetailApi.as_view(), name="order"),
    path("orders/<str:order_id>/accept", apis.OrderAcceptApi.as_view(), name="order-accept"),
    path("orders/<str:order_id>/reject", apis.OrderRejectApi.as_view(), name="order-reject"),
    path("orders/<str:order_id>/credit", apis.OrderCreditApi.as_view(), name="order-credit"),
    path(
        "name-checks/<str:check_id>",
        apis_name_checks.NameCheckDetailApi.as_view(),
        name="name-check",
    ),
    path(
        "name-checks/<str:check_id>/answer",
        apis_name_checks.NameCheckAnswerApi.as_view(),
        name="name-check-answer",
    ),
]
