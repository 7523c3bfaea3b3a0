from django.urls import path

from wallet import receipt_urls, views

urlpatterns = [
    path("", views.wallet_home, name="wallet"),
    path("quote", views.wallet_quote, name="wallet-quote"),
    path("send", views.wallet_send, name="wallet-send"),
    path("transfers/<uuid:order_id>", views.wallet_order, name="wallet-order"),
    # receipts, the verify page, history and notices
    *receipt_urls.urlpatterns,
]
