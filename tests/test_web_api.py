"""The web application's JSON API (itptrial.web): roles, concealment, locking, data
entry with reasons, signatures, live adjudication, export, and the audit trail.

Acceptance scenarios in the style of REDCap's validation suite (rights, concealment,
locking, audit review) are the test names of the sections below.
"""

from __future__ import annotations

import datetime as dt
import io
import sqlite3
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from itptrial import load_dataset, load_protocol
from itptrial.cli import main
from itptrial.design import randomization_list
from itptrial.web import add_user, audit_head, create_app, open_database, verify_chain

PROTOCOL = load_protocol("target020")
TODAY = dt.datetime.now(dt.UTC).date()  # randomization is dated today (UTC)


def day(n: int) -> str:
    """Study day n of a subject randomized and first treated today."""
    return (TODAY + dt.timedelta(days=n)).isoformat()


PASSWORD = "correct horse"
USERS = {
    "admin": ("admin", None),
    "inv_a": ("investigator", "A"),
    "inv_b": ("investigator", "B"),
    "monitor": ("monitor", None),
    "stat": ("statistician", None),
}


def list_csv(n: int = 40, seed: int = 3) -> str:
    return randomization_list(PROTOCOL.arm_codes, n, seed=seed).csv_text()


class Api:
    """A client logged in as each user."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.tokens = {
            name: client.post("/api/session", json={"username": name, "password": PASSWORD}).json()[
                "token"
            ]
            for name in USERS
        }

    def as_(self, user: str | None, method: str, url: str, **kwargs: Any) -> Any:
        headers = {} if user is None else {"Authorization": f"Bearer {self.tokens[user]}"}
        return self.client.request(method, url, headers=headers, **kwargs)


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'trial.db'}"


@pytest.fixture
def api(db_url: str) -> Iterator[Api]:
    db = open_database(db_url)
    for name, (role, site) in USERS.items():
        add_user(db, name, PASSWORD, role, site)
    with TestClient(create_app(db, PROTOCOL)) as client:
        yield Api(client)


def randomized_subject(api: Api, subject: str = "A-001", user: str = "inv_a") -> dict[str, Any]:
    site = "A" if user == "inv_a" else "B"
    r = api.as_(
        user,
        "POST",
        "/api/subjects",
        json={"subject_id": subject, "site_id": site, "age": 40, "screening_count": 12},
    )
    assert r.status_code == 201, r.text
    r = api.as_(user, "POST", f"/api/subjects/{subject}/randomize", json={})
    assert r.status_code == 200, r.text
    result: dict[str, Any] = r.json()
    return result


@pytest.fixture
def listed(api: Api) -> Api:
    r = api.as_("admin", "POST", "/api/randomization-list", content=list_csv())
    assert r.status_code == 201, r.text
    return api


def routes(api: Api) -> list[tuple[str, str]]:
    """Every API route (method, path with sample ids)."""
    out = []
    for route in api.client.app.routes:  # type: ignore[attr-defined]
        path = getattr(route, "path", "")
        if not path.startswith("/api/"):
            continue
        for method in sorted(getattr(route, "methods", set()) - {"HEAD", "OPTIONS"}):
            out.append((method, path.replace("{subject_id}", "A-001").replace("{record_id}", "1")))
    return out


def valid_body(method: str, path: str) -> dict[str, Any]:
    """A well-formed body for the route (so only the rights can refuse it)."""
    if path.endswith("/randomize"):
        return {}
    if path.endswith("/randomized-in-error"):
        return {"reason": "entered in error"}
    if path.endswith("/sign"):
        return {"password": PASSWORD, "meaning": "reviewed"}
    if method == "DELETE":
        return {"reason": "entered in error"}
    body = {"date": day(0), "count": 5}
    return {**body, "reason": "corrected"} if method == "PUT" else body


# -- rights ------------------------------------------------------------------------


def test_rights_unauthenticated_requests_get_401(listed: Api) -> None:
    randomized_subject(listed)
    checked = 0
    for method, path in routes(listed):
        if path == "/api/session":
            continue
        r = listed.as_(None, method, path, json={})
        assert r.status_code == 401, (method, path, r.status_code)
        bad = listed.client.request(method, path, json={}, headers={"Authorization": "Bearer nope"})
        assert bad.status_code == 401, (method, path)
        checked += 1
    assert checked >= 20


def test_rights_an_investigator_cannot_touch_another_sites_subject(listed: Api) -> None:
    randomized_subject(listed)
    for method, path in routes(listed):
        if "A-001" not in path:
            continue
        r = listed.as_("inv_b", method, path, json=valid_body(method, path))
        assert r.status_code in (403, 404), (method, path, r.status_code)
    r = listed.as_("inv_b", "POST", "/api/subjects", json={"subject_id": "X", "site_id": "A"})
    assert r.status_code == 403


def test_rights_a_monitor_reads_all_sites_but_writes_nothing(listed: Api) -> None:
    randomized_subject(listed)
    randomized_subject(listed, "B-001", "inv_b")
    assert listed.as_("monitor", "GET", "/api/subjects/A-001").status_code == 200
    assert listed.as_("monitor", "GET", "/api/subjects/B-001").status_code == 200
    for method, path in routes(listed):
        if method == "GET" or path == "/api/session":
            continue
        r = listed.as_("monitor", method, path, json={"subject_id": "M", "site_id": "A"})
        assert r.status_code == 403, (method, path, r.status_code)


def test_rights_only_admin_uploads_the_list_and_only_once(api: Api) -> None:
    for user in ("inv_a", "monitor", "stat"):
        r = api.as_(user, "POST", "/api/randomization-list", content=list_csv())
        assert r.status_code == 403, user
    assert (
        api.as_("admin", "POST", "/api/randomization-list", content=list_csv()).status_code == 201
    )
    again = api.as_("admin", "POST", "/api/randomization-list", content=list_csv(seed=4))
    assert again.status_code == 409  # locked


def test_rights_export_is_for_statistician_and_admin(listed: Api) -> None:
    for user, status in (("stat", 200), ("admin", 200), ("inv_a", 403), ("monitor", 403)):
        assert listed.as_(user, "GET", "/api/export").status_code == status, user


def test_rights_failed_logins_are_rate_limited(api: Api) -> None:
    for _ in range(5):
        r = api.client.post("/api/session", json={"username": "inv_a", "password": "wrong one"})
        assert r.status_code == 401
    r = api.client.post("/api/session", json={"username": "inv_a", "password": PASSWORD})
    assert r.status_code == 429


# -- concealment and locking -------------------------------------------------------------


def test_concealment_no_role_sees_a_future_allocation(listed: Api, db_url: str) -> None:
    first = randomized_subject(listed)
    assert first["sequence"] == 1
    future = list_csv().splitlines()[2:]  # allocations 2.. not yet revealed
    seen = []
    for user in USERS:
        for method, path in routes(listed):
            if method == "GET":
                r = listed.as_(user, method, path)
                seen.append(r.content.decode("latin-1"))
    export = zipfile.ZipFile(io.BytesIO(listed.as_("stat", "GET", "/api/export").content))
    seen += [export.read(name).decode() for name in export.namelist()]
    with sqlite3.connect(db_url.removeprefix("sqlite:///")) as raw:  # the audit review
        audit = [" ".join(map(str, row)) for row in raw.execute("SELECT * FROM audit")]
    text = "\n".join(seen + audit)
    assert "sequence" not in "".join(audit[:-1]).replace("randomization_lists", "")
    for row in future:
        sequence = row.split(",")[0]
        assert f'"sequence":{sequence}' not in text
    assert listed.as_("admin", "GET", "/api/subjects/A-002").status_code == 404


def test_locking_a_randomized_subject_keeps_its_arm(listed: Api) -> None:
    first = randomized_subject(listed)
    again = listed.as_("inv_a", "POST", "/api/subjects/A-001/randomize", json={})
    assert again.status_code == 409
    view = listed.as_("inv_a", "GET", "/api/subjects/A-001").json()
    assert view["arm"] == first["arm"] and view["sequence"] == 1
    second = randomized_subject(listed, "A-002")
    expected = [row.split(",")[2] for row in list_csv().splitlines()[1:3]]
    assert [first["arm"], second["arm"]] == expected  # the list's order, no skip


@pytest.mark.parametrize(
    ("count", "grade", "eligible"),
    [
        (29, None, True),  # below 30
        (30, None, False),  # needs bleeding to qualify up to 50 ...
        (45, 2, True),  # ... below 50 with WHO grade 2 or more
        (45, 1, False),
        (50, 3, False),  # not below 50
        (None, None, False),  # no screening count
    ],
)
def test_eligibility_is_the_protocols_count_rule(
    listed: Api, count: float | None, grade: int | None, eligible: bool
) -> None:
    body = {"subject_id": "A-1", "site_id": "A", "age": 40, "screening_count": count,
            "screening_who_grade": grade}  # fmt: skip
    assert listed.as_("inv_a", "POST", "/api/subjects", json=body).status_code == 201
    r = listed.as_("inv_a", "POST", "/api/subjects/A-1/randomize", json={})
    assert (r.status_code == 200) == eligible, r.text
    if not eligible:
        assert r.json()["problems"][0]["field"] == "screening_count"


def test_an_ineligible_subject_is_not_randomized(listed: Api) -> None:
    r = listed.as_(
        "inv_a",
        "POST",
        "/api/subjects",
        json={"subject_id": "A-9", "site_id": "A", "age": 15, "screening_count": 12},
    )
    assert r.status_code == 201
    r = listed.as_("inv_a", "POST", "/api/subjects/A-9/randomize", json={})
    assert r.status_code == 422 and "minimum age 18" in r.json()["detail"]
    r = listed.as_("inv_a", "POST", "/api/subjects", json={"subject_id": "A-10", "site_id": "A"})
    r = listed.as_("inv_a", "POST", "/api/subjects/A-10/randomize", json={})
    assert r.status_code == 422  # the protocol limits age: no age, no allocation
    assert randomized_subject(listed, "A-11")["sequence"] == 1  # no slot was used


# -- data entry ---------------------------------------------------------------------------


def test_entry_follows_the_loaders_rules_with_the_field_named(listed: Api) -> None:
    randomized_subject(listed)
    url = "/api/subjects/A-001/platelets"
    for body, field in (
        ({"date": day(0), "count": -5}, "count"),
        ({"date": day(0), "count": 6000}, "count"),
        ({"date": "2026-13-45", "count": 20}, "date"),
        ({"date": day(0), "count": 20, "colour": "red"}, "colour"),
    ):
        r = listed.as_("inv_a", "POST", url, json=body)
        assert r.status_code == 422, body
        assert field in [p["field"] for p in r.json()["problems"]], r.json()
    ok = listed.as_("inv_a", "POST", url, json={"date": day(0), "count": 20})
    assert ok.status_code == 201
    twice = listed.as_("inv_a", "POST", url, json={"date": day(0), "count": 25})
    assert twice.status_code == 422  # two different counts on one date, as the loader says
    bleeding = listed.as_("inv_a", "POST", "/api/subjects/A-001/bleeding",
                          json={"date": day(0), "who_grade": 7})  # fmt: skip
    assert bleeding.status_code == 422 and bleeding.json()["problems"][0]["field"] == "who_grade"


def test_entry_changes_need_a_reason_and_retractions_keep_the_record(
    listed: Api, db_url: str
) -> None:
    randomized_subject(listed)
    url = "/api/subjects/A-001/platelets"
    record = listed.as_("inv_a", "POST", url, json={"date": day(0), "count": 20}).json()
    no_reason = listed.as_(
        "inv_a", "PUT", f"{url}/{record['id']}", json={"date": day(0), "count": 22}
    )
    assert no_reason.status_code == 422 and no_reason.json()["problems"][0]["field"] == "reason"
    body = {"date": day(0), "count": 22, "reason": "transcription"}
    changed = listed.as_("inv_a", "PUT", f"{url}/{record['id']}", json=body)
    assert changed.status_code == 200 and changed.json()["count"] == 22
    reason = {"reason": "wrong patient"}
    gone = listed.as_("inv_a", "DELETE", f"{url}/{record['id']}", json=reason)
    assert gone.status_code == 204
    view = listed.as_("inv_a", "GET", "/api/subjects/A-001").json()
    assert view["records"][0]["retracted"] is True and view["records"][0]["count"] == 22
    with sqlite3.connect(db_url.removeprefix("sqlite:///")) as raw:
        rows = raw.execute(
            "SELECT old, new, reason FROM audit WHERE table_name = 'platelets'"
        ).fetchall()
    assert rows[1] == (
        f'{{"count":20,"date":"{day(0)}"}}',
        f'{{"count":22,"date":"{day(0)}"}}',
        "transcription",
    )
    assert rows[2][1] is None and rows[2][2] == "wrong patient"


def test_live_adjudication_and_signature(listed: Api) -> None:
    randomized_subject(listed)

    def post(table: str, body: dict[str, Any]) -> Any:
        return listed.as_("inv_a", "POST", f"/api/subjects/A-001/{table}", json=body)

    assert (
        post("doses", {"date": day(0), "drug": "dexamethasone", "dose_mg": 40}).status_code == 201
    )
    assert post("platelets", {"date": day(0), "count": 12}).status_code == 201
    view = listed.as_("inv_a", "GET", "/api/subjects/A-001").json()
    assert view["endpoints"]["initial_response"] == 0
    assert post("platelets", {"date": day(7), "count": 80}).status_code == 201
    view = listed.as_("inv_a", "GET", "/api/subjects/A-001").json()
    assert view["endpoints"]["initial_response"] == 1  # 80 >= 30 and >= 2 x 12 on day 7
    assert "initial PR on day 7" in view["endpoints"]["explanation"]
    wrong = listed.as_(
        "inv_a", "POST", "/api/subjects/A-001/sign", json={"password": "no", "meaning": "reviewed"}
    )
    assert wrong.status_code == 403  # not signed; the session stays valid
    signing = {"password": PASSWORD, "meaning": "I reviewed these records"}
    signed = listed.as_("inv_a", "POST", "/api/subjects/A-001/sign", json=signing)
    assert signed.status_code == 200
    shown = listed.as_("monitor", "GET", "/api/subjects/A-001").json()["signatures"]
    assert shown[0]["signed_by"] == "inv_a" and shown[0]["meaning"] == "I reviewed these records"
    assert shown[0]["signed_at"].endswith("Z")


def test_export_is_byte_stable_and_analyze_reads_it(listed: Api, tmp_path: Path) -> None:
    for k in range(1, 5):
        subject = f"A-{k:03d}"
        randomized_subject(listed, subject)
        for date, count in ((day(0), 10 + k), (day(7), 40 * k)):
            r = listed.as_(
                "inv_a",
                "POST",
                f"/api/subjects/{subject}/platelets",
                json={"date": date, "count": count},
            )
            assert r.status_code == 201
        listed.as_("inv_a", "POST", f"/api/subjects/{subject}/doses",
                   json={"date": day(0), "drug": "dexamethasone", "dose_mg": 40})  # fmt: skip
    first = listed.as_("stat", "GET", "/api/export").content
    assert listed.as_("admin", "GET", "/api/export").content == first
    folder = tmp_path / "export"
    zipfile.ZipFile(io.BytesIO(first)).extractall(folder)
    data = load_dataset(folder, PROTOCOL)
    assert data.subjects.height == 4
    with pytest.raises(SystemExit) as exit_info:
        main(["analyze", str(folder), "--out", str(tmp_path / "analysis")])
    assert exit_info.value.code in (0, None)


# -- audit review --------------------------------------------------------------------------


def test_audit_every_account_change_is_logged(api: Api, db_url: str) -> None:
    with sqlite3.connect(db_url.removeprefix("sqlite:///")) as raw:
        rows = raw.execute("SELECT table_name, record, reason FROM audit").fetchall()
    assert [r[1] for r in rows if r[0] == "users"] == list(USERS)


def test_audit_trail_is_append_only_in_the_database(listed: Api, db_url: str) -> None:
    randomized_subject(listed)
    with sqlite3.connect(db_url.removeprefix("sqlite:///")) as raw:
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            raw.execute("UPDATE audit SET reason = 'x' WHERE id = 1")
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            raw.execute("DELETE FROM audit WHERE id = 1")


def tamper(path: str, *statements: str) -> None:
    """What someone with the database file can do: drop the triggers and edit."""
    with sqlite3.connect(path) as raw:
        raw.execute("DROP TRIGGER audit_no_update")
        raw.execute("DROP TRIGGER audit_no_delete")
        for statement in statements:
            raw.execute(statement)


@pytest.mark.parametrize(
    ("statements", "broken_at"),
    [
        (["UPDATE audit SET new = '{\"count\":99}' WHERE id = 7"], 7),  # edited
        (["UPDATE audit SET username = 'admin' WHERE id = 3"], 3),
        (["DELETE FROM audit WHERE id = 5"], 5),  # removed
        (["DELETE FROM audit WHERE id = (SELECT MAX(id) FROM audit)"], 0),  # the last removed
    ],
)
def test_audit_tampering_is_detected(
    listed: Api, db_url: str, statements: list[str], broken_at: int
) -> None:
    randomized_subject(listed)
    listed.as_("inv_a", "POST", "/api/subjects/A-001/platelets", json={"date": day(0), "count": 9})
    db = open_database(db_url)
    head = audit_head(db)
    assert verify_chain(db, head) is None
    tamper(db_url.removeprefix("sqlite:///"), *statements)
    broken = verify_chain(db, head)
    assert broken is not None and broken.entry_id == broken_at, broken


def test_audit_rechaining_is_caught_by_the_head_kept_outside(listed: Api, db_url: str) -> None:
    """Edit an entry and recompute every hash after it: the chain is consistent again,
    but it no longer ends at the head printed earlier."""
    from itptrial.web._audit import entry_hash

    randomized_subject(listed)
    db = open_database(db_url)
    head = audit_head(db)
    path = db_url.removeprefix("sqlite:///")
    tamper(path)
    with sqlite3.connect(path) as raw:
        raw.execute("UPDATE audit SET reason = 'nothing happened' WHERE id = 6")
        previous = "0" * 64
        for row in raw.execute("SELECT * FROM audit ORDER BY id").fetchall():
            entry_id, at, user, table, record, old, new, reason, _prev, _hash = row
            digest = entry_hash(entry_id, at, user, table, record, old, new, reason, previous)
            raw.execute(
                "UPDATE audit SET prev_hash = ?, hash = ? WHERE id = ?",
                (previous, digest, entry_id),
            )
            previous = digest
    assert verify_chain(db) is None  # consistent without the head ...
    broken = verify_chain(db, head)  # ... but not the chain that was
    assert broken is not None and broken.entry_id == 0
    with pytest.raises(SystemExit) as exit_info:
        main(["audit", "verify", "--db", db_url, "--head", head])
    assert exit_info.value.code == 1
    with pytest.raises(SystemExit) as exit_info:
        main(["audit", "verify", "--db", db_url])
    assert exit_info.value.code in (0, None)


# -- randomised in error, dosing advice, migrations ---------------------------------------


def test_randomized_in_error_is_a_flag_and_the_slot_is_never_reused(listed: Api) -> None:
    first = randomized_subject(listed)
    no_reason = listed.as_("inv_a", "POST", "/api/subjects/A-001/randomized-in-error", json={})
    assert no_reason.status_code == 422
    assert listed.as_("monitor", "POST", "/api/subjects/A-001/randomized-in-error",
                      json={"reason": "x"}).status_code == 403  # fmt: skip
    flagged = listed.as_("inv_a", "POST", "/api/subjects/A-001/randomized-in-error",
                         json={"reason": "consent withdrawn before randomization"})  # fmt: skip
    assert flagged.status_code == 200
    view = listed.as_("inv_a", "GET", "/api/subjects/A-001").json()
    assert view["randomized_in_error"] is True and view["arm"] == first["arm"]
    assert view["sequence"] == 1
    assert randomized_subject(listed, "A-002")["sequence"] == 2  # slot 1 stays used


def test_dosing_advice_is_tdm_recommend_on_the_entered_doses_and_troughs(listed: Api) -> None:
    """A tacrolimus-arm subject with doses and a trough: the page's advice equals
    `tdm recommend` on the same history written as a CSV file by hand."""
    from itptrial.tdm import dosing_rules, parse_history, recommend

    arm = ""
    k = 0
    while arm != "TAC_DXM":  # the list decides the arm: enrol until one is in it
        k += 1
        subject = f"A-{k:03d}"
        body = {
            "subject_id": subject,
            "site_id": "A",
            "age": 40,
            "weight_kg": 58.0,
            "screening_count": 12,
        }
        assert listed.as_("inv_a", "POST", "/api/subjects", json=body).status_code == 201
        arm = listed.as_("inv_a", "POST", f"/api/subjects/{subject}/randomize", json={}).json()[
            "arm"
        ]
    url = f"/api/subjects/{subject}"
    assert listed.as_("inv_a", "GET", url).json()["dosing"]["note"].startswith("dosing advice")
    lines = ["datetime,event,value"]
    for n in range(10):
        listed.as_(
            "inv_a",
            "POST",
            f"{url}/doses",
            json={"date": day(n), "drug": "tacrolimus", "dose_mg": 2.0},
        )
        lines += [f"{day(n)} 08:00,dose,1", f"{day(n)} 20:00,dose,1"]
    for n in range(4):
        listed.as_(
            "inv_a",
            "POST",
            f"{url}/doses",
            json={"date": day(n), "drug": "dexamethasone", "dose_mg": 40},
        )
        lines.append(f"{day(n)} 09:00,dexamethasone,40")
    for n, level in ((7, 2.1), (9, 2.4)):
        level_record = {"date": day(n), "drug": "tacrolimus", "trough_ng_ml": level}
        r = listed.as_("inv_a", "POST", f"{url}/drug-levels", json=level_record)
        assert r.status_code == 201, r.text
        lines.append(f"{day(n)} 08:00,trough,{level}")
    advice = listed.as_("inv_a", "GET", url).json()["dosing"]
    expected = recommend(parse_history("\n".join(lines) + "\n"), 58.0, dosing_rules(PROTOCOL))
    assert advice["daily_dose_mg"] == expected.daily_dose_mg
    assert advice["predicted_trough"] == pytest.approx(expected.predicted_trough, rel=1e-9)
    assert advice["interval_90"] == pytest.approx(list(expected.interval_90), rel=1e-9)
    assert advice["troughs_used"] == 2


def test_migrations_upgrade_a_database_of_the_first_schema(tmp_path: Path) -> None:
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine

    from itptrial.web._db import MIGRATIONS

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
        connection.exec_driver_sql(
            "INSERT INTO subjects (subject_id, site_id, randomized_in_error) VALUES ('OLD', 'A', 0)"
        )
    engine.dispose()
    db = open_database(url)  # upgrades to the head
    with db.sessions() as session:
        from itptrial.web._db import Subject

        old = session.get(Subject, "OLD")
        assert old is not None and old.weight_kg is None and old.site_id == "A"


def test_account_changes_are_logged_and_deactivation_ends_sessions(
    api: Api, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert api.as_("inv_a", "GET", "/api/export").status_code == 403
    with pytest.raises(SystemExit) as exit_info:
        main(["user", "change", "inv_a", "--role", "statistician", "--db", db_url])
    assert exit_info.value.code in (0, None)
    assert api.as_("inv_a", "GET", "/api/export").status_code == 200  # the new role
    with pytest.raises(SystemExit) as exit_info:
        main(["user", "change", "inv_a", "--deactivate", "--db", db_url])
    assert exit_info.value.code in (0, None)
    assert api.as_("inv_a", "GET", "/api/export").status_code == 401
    login = api.client.post("/api/session", json={"username": "inv_a", "password": PASSWORD})
    assert login.status_code == 401
    with sqlite3.connect(db_url.removeprefix("sqlite:///")) as raw:
        rows = raw.execute(
            "SELECT old, new FROM audit WHERE table_name = 'users' AND record = 'inv_a'"
        ).fetchall()
    assert len(rows) == 3  # created, role changed, deactivated
    assert '"role":"investigator"' in rows[1][0] and '"role":"statistician"' in rows[1][1]
    assert '"active":false' in rows[2][1]
    with pytest.raises(SystemExit) as exit_info:
        main(["user", "change", "nobody", "--role", "monitor", "--db", db_url])
    assert exit_info.value.code == 2


# -- review findings: each a scenario that once went wrong ------------------------------


def test_the_audit_trail_does_not_identify_the_list(listed: Api, db_url: str) -> None:
    """A hash of the list in the log would let a monitor regenerate lists from guessed
    seeds and compare: the log says only that a list of N allocations was locked."""
    import hashlib

    digest = hashlib.sha256(list_csv().encode()).hexdigest()
    page = listed.as_("admin", "GET", "/audit").text
    with sqlite3.connect(db_url.removeprefix("sqlite:///")) as raw:
        audit = " ".join(" ".join(map(str, r)) for r in raw.execute("SELECT * FROM audit"))
    assert digest not in audit and digest not in page


def test_list_uploads_are_checked_strictly(api: Api) -> None:
    header = "sequence,stratum,arm,block,block_size\n"
    for body in (
        header + "1,all,DXM,1,2\n01,all,TAC_DXM,1,2\n",  # the same sequence twice
        header + "\u00b2,all,DXM,1,2\n",  # a superscript digit
        header + "1,,DXM,1,2\n",  # no stratum
    ):
        r = api.as_("admin", "POST", "/api/randomization-list", content=body.encode())
        assert r.status_code == 422, body
    latin1 = (header + "1,caf\u00e9,DXM,1,2\n").encode("latin-1")
    assert api.as_("admin", "POST", "/api/randomization-list", content=latin1).status_code == 422
    bom = ("\ufeff" + header + "1,all,DXM,1,2\n2,all,TAC_DXM,1,2\n").encode()
    assert api.as_("admin", "POST", "/api/randomization-list", content=bom).status_code == 201


def test_strata_are_the_lists_and_default_to_the_site(api: Api) -> None:
    text = randomization_list(PROTOCOL.arm_codes, 10, strata=["A", "B"], seed=9).csv_text()
    assert api.as_("admin", "POST", "/api/randomization-list", content=text).status_code == 201
    body = {"subject_id": "A-1", "site_id": "A", "age": 40, "screening_count": 12}
    api.as_("inv_a", "POST", "/api/subjects", json=body)
    bad = api.as_("inv_a", "POST", "/api/subjects/A-1/randomize", json={"stratum": "Z"})
    assert bad.status_code == 422 and bad.json()["problems"][0]["field"] == "stratum"
    ok = api.as_("inv_a", "POST", "/api/subjects/A-1/randomize", json={})
    assert ok.status_code == 200
    first_a = next(r for r in text.splitlines()[1:] if r.split(",")[1] == "A")
    assert ok.json()["arm"] == first_a.split(",")[2] and ok.json()["sequence"] == 1


def test_the_statistician_exports_but_reads_no_subject(listed: Api) -> None:
    randomized_subject(listed)
    assert listed.as_("stat", "GET", "/api/subjects/A-001").status_code == 403
    assert listed.as_("stat", "GET", "/api/export").status_code == 200


def test_blank_reasons_and_meanings_are_refused(listed: Api) -> None:
    randomized_subject(listed)
    url = "/api/subjects/A-001/platelets"
    record = listed.as_("inv_a", "POST", url, json={"date": day(0), "count": 20}).json()
    body = {"date": day(0), "count": 21, "reason": "   "}
    assert listed.as_("inv_a", "PUT", f"{url}/{record['id']}", json=body).status_code == 422
    blank = {"reason": " "}
    assert listed.as_("inv_a", "DELETE", f"{url}/{record['id']}", json=blank).status_code == 422
    sign = {"password": PASSWORD, "meaning": "  "}
    assert listed.as_("inv_a", "POST", "/api/subjects/A-001/sign", json=sign).status_code == 422
    flag = "/api/subjects/A-001/randomized-in-error"
    assert listed.as_("inv_a", "POST", flag, json=blank).status_code == 422


def test_wrong_signing_passwords_count_as_failed_logins(listed: Api) -> None:
    randomized_subject(listed)
    wrong = {"password": "not it", "meaning": "reviewed"}
    codes = [
        listed.as_("inv_a", "POST", "/api/subjects/A-001/sign", json=wrong).status_code
        for _ in range(6)
    ]
    assert codes == [403] * 5 + [429]


def test_a_dose_of_zero_never_breaks_the_subject_page(listed: Api) -> None:
    arm, k = "", 0
    while arm != "TAC_DXM":
        k += 1
        body = {"subject_id": f"A-{k}", "site_id": "A", "age": 40, "weight_kg": 60,
                "screening_count": 12}  # fmt: skip
        listed.as_("inv_a", "POST", "/api/subjects", json=body)
        arm = listed.as_("inv_a", "POST", f"/api/subjects/A-{k}/randomize", json={}).json()["arm"]
    url = f"/api/subjects/A-{k}"
    listed.as_(
        "inv_a", "POST", f"{url}/doses", json={"date": day(0), "drug": "tacrolimus", "dose_mg": 0}
    )
    level = {"date": day(1), "drug": "tacrolimus", "trough_ng_ml": 2.0}
    listed.as_("inv_a", "POST", f"{url}/drug-levels", json=level)
    view = listed.as_("inv_a", "GET", url)
    assert view.status_code == 200 and "note" in view.json()["dosing"]


def test_audit_commands_refuse_a_missing_database(tmp_path: Path) -> None:
    missing = f"sqlite:///{tmp_path / 'nothing.db'}"
    for args in (["audit", "verify", "--db", missing], ["audit", "head", "--db", missing]):
        with pytest.raises(SystemExit) as exit_info:
            main(args)
        assert exit_info.value.code == 2
    assert not (tmp_path / "nothing.db").exists()  # nothing was created


def test_sqlite_a_long_read_does_not_hold_up_a_write(tmp_path: Path) -> None:
    """A read (an export, the audit review) begins deferred: while it is open a write
    transaction commits at once, and the read keeps its own snapshot. With BEGIN
    IMMEDIATE for reads too, the write waited for the read to end."""
    import threading

    from sqlalchemy import func, select

    from itptrial.web._db import User

    db = open_database(f"sqlite:///{tmp_path / 'reads.db'}")
    add_user(db, "first", "password-1", "admin", None)
    written = threading.Event()
    with db.sessions() as reading:
        before = reading.execute(select(func.count()).select_from(User)).scalar_one()
        writer = threading.Thread(
            target=lambda: (add_user(db, "second", "password-2", "monitor", None), written.set())
        )
        writer.start()
        assert written.wait(timeout=10), "the write waited for the read"
        # the read's snapshot is the one it started with
        assert reading.execute(select(func.count()).select_from(User)).scalar_one() == before
    writer.join()
    with db.sessions() as after:
        assert after.execute(select(func.count()).select_from(User)).scalar_one() == before + 1


def test_a_read_session_refuses_to_write(tmp_path: Path) -> None:
    from itptrial.web._db import User

    db = open_database(f"sqlite:///{tmp_path / 'reads.db'}")
    with db.sessions() as reading:
        reading.add(User(username="x", password_hash="-", role="admin", active=True))
        with pytest.raises(RuntimeError, match="read session cannot write"):
            reading.flush()
