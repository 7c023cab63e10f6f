"""schemathesis against the API's own /openapi.json, authenticated as an investigator
(and unauthenticated): generated requests never get a server error (5xx)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings

from itptrial import load_protocol
from itptrial.design import randomization_list
from itptrial.web import add_user, create_app, open_database

PROTOCOL = load_protocol("target020")
PASSWORD = "correct horse"
_FOLDER = Path(tempfile.mkdtemp(prefix="itptrial-schemathesis-"))
DB = open_database(f"sqlite:///{_FOLDER / 'trial.db'}")
add_user(DB, "admin", PASSWORD, "admin", None)
add_user(DB, "inv", PASSWORD, "investigator", "A")
APP = create_app(DB, PROTOCOL)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


def _token(user: str) -> dict[str, str]:
    from fastapi.testclient import TestClient

    with TestClient(APP) as client:
        token = client.post("/api/session", json={"username": user, "password": PASSWORD})
        return {"Authorization": f"Bearer {token.json()['token']}"}


def _seed() -> dict[str, str]:
    """A list, and a randomized subject A-001 that generated paths can hit."""
    from fastapi.testclient import TestClient

    admin, inv = _token("admin"), _token("inv")
    with TestClient(APP) as client:
        text = randomization_list(PROTOCOL.arm_codes, 50, seed=2).csv_text()
        client.post("/api/randomization-list", content=text, headers=admin)
        client.post(
            "/api/subjects",
            json={"subject_id": "A-001", "site_id": "A", "age": 40, "screening_count": 12},
            headers=inv,
        )
        client.post("/api/subjects/A-001/randomize", json={}, headers=inv)
    return inv


HEADERS = _seed()


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_error(case: Any) -> None:
    authenticated = case.call(headers=HEADERS)
    assert authenticated.status_code < 500, (case.method, case.path, authenticated.text)
    anonymous = case.call()
    assert anonymous.status_code < 500, (case.method, case.path, anonymous.text)
