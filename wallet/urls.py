from django.urls import path

from wallet import receipt_urls, views

urlpatterns = [
    path("", views.wallet_home, name="wallet"),
    path("sign-up", views.sign_up, name="wallet-sign-up"),
    path("verify", views.verify, name="wallet-code"),
    path("identity", views.identity, name="wallet-identity"),
    path("recipients", views.recipients, name="wallet-recipients"),
    path("recipients/new", views.recipient_edit, name="wallet-recipient-new"),
    path("recipients/<uuid:recipient_id>/edit", views.recipient_edit, name="wallet-recipient-edit"),
    path(
        "recipients/<uuid:recipient_id>/remove",
        views.recipient_remove,
        name="wallet-recipient-remove",
    ),
    path("name-checks/<uuid:check_id>", views.recipient_check, name="wallet-name-check"),
    path("name-checks/<uuid:check_id>/save", views.recipient_save, name="wallet-recipient-save"),
    path("send", views.send, name="wallet-send-form"),
    path("quote", views.wallet_quote, name="wallet-quote"),
    path("confirm", views.wallet_send, name="wallet-send"),
    path("transfers/<uuid:order_id>", views.wallet_order, name="wallet-order"),
    path("transfers/<uuid:order_id>/cancel", views.wallet_cancel, name="wallet-cancel"),
    path("language", views.language, name="wallet-language"),
    path("security", views.security, name="wallet-security"),
    # receipts, the verify page, history and notices
    *receipt_urls.urlpatterns,
]
