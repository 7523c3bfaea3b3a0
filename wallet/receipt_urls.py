"""URLs of receipts, the verify page, the history and notices (included by wallet/urls.py)."""

from django.urls import path

from wallet import receipt_views as views

urlpatterns = [
    path("transfers/", views.history, name="wallet-history"),
    path("transfers.csv", views.history_csv, name="wallet-history-csv"),
    path("transfers/<uuid:order_id>/receipt", views.receipt, name="wallet-receipt"),
    path(
        "transfers/<uuid:order_id>/receipt.pdf",
        views.receipt_pdf_download,
        name="wallet-receipt-pdf",
    ),
    path("transfers/<uuid:order_id>/verify", views.verify, name="wallet-verify"),
    path("transfers/<uuid:order_id>/proof.json", views.proof_json, name="wallet-proof"),
    path("notices", views.notices, name="wallet-notices"),
]
