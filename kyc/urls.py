from django.urls import path

from kyc import apis

urlpatterns = [
    path("<str:kyc_ref>/access", apis.KycAccessApi.as_view(), name="kyc-access"),
]
