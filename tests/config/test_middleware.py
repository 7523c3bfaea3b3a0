"""Over-long URLs, control characters and credentials in query strings are refused with
problem JSON before any view or the database sees them (config/middleware.py)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db

API_KEY_SHAPED = "rk_0123abcd_" + "x" * 43


def _assert_problem(answer, status: int, code: str) -> None:
    assert answer.status_code == status
    assert answer["Content-Type"] == "application/problem+json"
    body = answer.json()
    assert body["code"] == code and body["status"] == status
    assert body["type"].endswith("/" + code)


def test_a_url_over_the_limit_answers_414_problem_json(network, client, settings):
    settings.REQUEST_URI_MAX_LENGTH = 4096
    partner = network.partner.client()
    long_query = "/api/v1/orders?status=credited&pad=" + "a" * 4096
    _assert_problem(partner.get(long_query), 414, "uri_too_long")
    _assert_problem(client.get("/wallet/" + "b" * 5000), 414, "uri_too_long")
    # just under the limit is served as usual
    fits = "/api/v1/orders?pad=" + "a" * (4096 - len("/api/v1/orders?pad="))
    assert partner.get(fits).status_code == 200


def test_the_url_limit_sits_below_gunicorns(settings):
    from tests.config.test_gunicorn import gunicorn_settings

    assert gunicorn_settings()["limit_request_line"] > settings.REQUEST_URI_MAX_LENGTH


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/quotes/qt_%00abc",
        "/api/v1/orders/ord%0A1",
        "/api/v1/orders?status=%00",
        "/api/v1/orders?cursor=a%1Fb",
    ],
)
def test_a_control_character_in_the_path_or_query_answers_400(network, url):
    _assert_problem(network.partner.client().get(url), 400, "invalid_request")


@pytest.mark.parametrize(
    "query",
    [
        "api_key=whatever",
        "API-KEY=whatever",
        "access_token=whatever",
        "token=whatever",
        "key=whatever",
        "password=whatever",
        f"cursor={API_KEY_SHAPED}",
    ],
)
def test_credentials_in_an_api_query_string_are_refused(network, query):
    answer = network.partner.client().get(f"/api/v1/orders?{query}")
    _assert_problem(answer, 400, "credentials_in_query")
    assert "Authorization header" in answer.json()["detail"]


def test_ordinary_query_parameters_pass(network):
    partner = network.partner.client()
    assert partner.get("/api/v1/orders?status=credited&limit=5").status_code == 200
    assert partner.get("/api/v1/docs/?lang=en").status_code == 200
