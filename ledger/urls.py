from django.urls import path

from ledger import apis

urlpatterns = [
    path("checkpoint", apis.CheckpointApi.as_view(), name="ledger-checkpoint"),
    path("proofs/inclusion", apis.InclusionProofApi.as_view(), name="ledger-inclusion"),
    path("proofs/consistency", apis.ConsistencyProofApi.as_view(), name="ledger-consistency"),
    path("entries", apis.EntriesApi.as_view(), name="ledger-entries"),
    path("cosignatures", apis.CosignatureApi.as_view(), name="ledger-cosignatures"),
    path("witnesses", apis.WitnessesApi.as_view(), name="ledger-witnesses"),
]
