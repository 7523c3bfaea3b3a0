from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.db import connection

from institutions import services as inst
from institutions.crypto import Keyring, UnwrapError, keyring
from institutions.models import ApiCredential, SigningKey
from webhooks import services as hooks


def _production_check(env: dict[str, str]) -> subprocess.CompletedProcess:
    base = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {
            "SECRET_KEY",
            "REMIT_KEKS",
            "DATABASE_URL",
            "CELERY_BROKER_URL",
            "ALLOWED_HOSTS",
            # set by the browser tests for their own process (tests/browser/conftest.py); a
            # production process never has it
            "DJANGO_ALLOW_ASYNC_UNSAFE",
        }
    }
    base.update(env, DJANGO_SETTINGS_MODULE="config.settings.production")
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env=base,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_refuses_to_start_without_secrets():
    result = _production_check({})
    assert result.returncode != 0
    assert "SECRET_KEY must be set in production" in result.stderr


def test_production_refuses_the_development_kek():
    result = _production_check(
        {
            "SECRET_KEY": "x" * 64,
            "REMIT_KEKS": "dev:ZGV2LW9ubHkta2V5LWVuY3J5cHRpb24ta2V5LTMyYiE=",
            "DATABASE_URL": "sqlite:////tmp/x.sqlite3",
            "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
            "ALLOWED_HOSTS": "hub.example",
        }
    )
    assert result.returncode != 0
    assert "REMIT_KEKS must not be the development key" in result.stderr


def test_production_with_secrets_passes_check_deploy_without_warnings():
    result = _production_check(
        {
            "SECRET_KEY": "k" * 30 + "Zq9!" * 10,
            "REMIT_KEKS": "p1:" + base64.b64encode(b"P" * 32).decode(),
            "DATABASE_URL": "sqlite:////tmp/remit-prod-check.sqlite3",
            "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
            "ALLOWED_HOSTS": "hub.example",
        }
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.django_db
def test_api_credential_is_stored_hashed_and_verifies(network):
    credential, key = inst.api_credential_create(institution=network.tmb.institution)
    stored = ApiCredential.objects.get(pk=credential.pk)
    secret = key.split("_", 2)[2]
    assert secret not in stored.secret_hash and key not in str(stored.__dict__)
    assert stored.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert inst.api_credential_authenticate(api_key=key).pk == credential.pk
    assert inst.api_credential_authenticate(api_key=key[:-1] + "x") is None
    inst.api_credential_revoke(credential=stored)
    assert inst.api_credential_authenticate(api_key=key) is None


@pytest.mark.django_db
def test_api_key_authenticates_requests_and_wrong_key_gets_problem_json(network, api_client):
    ok = network.tmb.client().get("/api/v1/ledger/entries")
    assert ok.status_code == 200
    api_client.credentials(HTTP_AUTHORIZATION="Bearer rk_nope_nope")
    bad = api_client.get("/api/v1/ledger/entries")
    assert bad.status_code == 401
    assert bad["Content-Type"] == "application/problem+json"
    assert bad.json()["code"] == "authentication_failed"


@pytest.mark.django_db
def test_hosted_private_key_is_encrypted_at_rest_and_signs(network):
    key = SigningKey.objects.get(institution=network.valyou.institution, active=True)
    private = inst.signing_key_private(signing_key=key)
    raw_private = private.private_bytes_raw()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT wrapped_private_key FROM institutions_signingkey WHERE id = %s", [key.pk]
        )
        blob = bytes(cursor.fetchone()[0])
    assert raw_private not in blob
    message = b"order.submitted"
    Ed25519PublicKey.from_public_bytes(bytes(key.public_key)).verify(private.sign(message), message)


@pytest.mark.django_db
def test_wrapped_key_is_bound_to_its_key_id(network):
    key = SigningKey.objects.get(institution=network.valyou.institution, active=True)
    with pytest.raises(UnwrapError):
        keyring().unwrap(bytes(key.wrapped_private_key), aad=b"signing-key:0000000000000000")


def test_kek_rotation_keeps_old_blobs_readable():
    key_a, key_b = base64.b64encode(b"A" * 32).decode(), base64.b64encode(b"B" * 32).decode()
    old = Keyring.from_setting(f"a:{key_a}")
    blob = old.wrap(b"secret", aad=b"x")
    rotated = Keyring.from_setting(f"b:{key_b},a:{key_a}")
    assert rotated.unwrap(blob, aad=b"x") == b"secret"
    assert Keyring.kid_of(rotated.wrap(b"s", aad=b"x")) == "b"


@pytest.mark.django_db
def test_external_institution_keeps_no_private_key_and_key_id_follows_design(network):
    key = SigningKey.objects.get(institution=network.tmb.institution, active=True)
    assert key.wrapped_private_key is None
    public = network.tmb.private_key.public_key().public_bytes_raw()
    assert key.key_id == hashlib.sha256(public).digest()[:8].hex()
    assert len(key.key_id) == 16


@pytest.mark.django_db
def test_key_rotation_retires_old_key_but_keeps_it(network):
    old = SigningKey.objects.get(institution=network.valyou.institution, active=True)
    new = inst.signing_key_rotate(institution=network.valyou.institution).signing_key
    old.refresh_from_db()
    assert not old.active and old.retired_at is not None
    assert new.active and new.key_id != old.key_id
    assert SigningKey.objects.filter(institution=network.valyou.institution).count() == 2


@pytest.mark.django_db
def test_webhook_secret_is_wrapped(network):
    endpoint, secret = hooks.webhook_endpoint_create(
        institution=network.tmb.institution, url="http://127.0.0.1:8100/webhooks"
    )
    assert secret.startswith("whsec_")
    assert secret.encode() not in bytes(endpoint.wrapped_secret)
    assert hooks.webhook_endpoint_secret(endpoint=endpoint) == secret


@pytest.mark.django_db
def test_health_endpoints(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.json()
    assert ready.json()["checks"] == {"database": "ok", "broker": "ok"}


@pytest.mark.django_db
def test_home_page_is_for_customers_even_before_a_corridor_is_priced(client, network):
    page = client.get("/")
    assert page.status_code == 200
    assert b"/wallet/sign-up" in page.content
    # customers never see the back office: no admin or API links, no institution codes
    assert b"/admin/" not in page.content and b"/api/" not in page.content
    assert b"VALYOU-MY" not in page.content


@pytest.mark.django_db
def test_unknown_api_path_is_problem_json(client):
    response = client.get("/api/v1/nope")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "not_found"


@pytest.mark.django_db
def test_verified_api_key_is_remembered_briefly_and_revocation_is_immediate(
    network, settings, django_assert_num_queries
):
    settings.API_KEY_CACHE_SECONDS = 60
    credential, key = inst.api_credential_create(institution=network.tmb.institution)
    first = inst.api_credential_authenticate(api_key=key)
    with django_assert_num_queries(0):
        again = inst.api_credential_authenticate(api_key=key)
    assert again.pk == credential.pk and again.institution.code == network.tmb.institution.code
    # each request gets its own objects: marking one does not mark the cached one
    assert again.institution is not first.institution
    again.institution.is_authenticated = True
    assert not hasattr(
        inst.api_credential_authenticate(api_key=key).institution, "is_authenticated"
    )
    # a wrong secret with the right prefix is never answered from the cache
    assert inst.api_credential_authenticate(api_key=key[:-1] + "x") is None
    inst.api_credential_revoke(credential=credential)
    assert inst.api_credential_authenticate(api_key=key) is None
