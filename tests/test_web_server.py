"""The web application as a running server (`itptrial serve` in a subprocess):
concurrent randomizations never reuse or skip a sequence number, and a server killed
with SIGKILL in a burst of writes loses no acknowledged write and keeps its audit chain.

PostgreSQL: the same concurrency test runs when ITPTRIAL_TEST_POSTGRES holds a URL.
`.ci/run` installs Debian's server, starts it on loopback and sets it, with
ITPTRIAL_REQUIRE_POSTGRES=1, which turns a missing URL into a failure; on a developer
machine without PostgreSQL that one case is skipped with that reason.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from itptrial import load_protocol
from itptrial.design import randomization_list
from itptrial.web import add_user, open_database, verify_chain

PASSWORD = "correct horse"
PROTOCOL = load_protocol("target020")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start(db_url: str, port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, "-m", "itptrial.cli", "serve", "--db", db_url, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=1)
            return process
        except httpx.TransportError:
            if process.poll() is not None:
                message = process.stderr.read().decode() if process.stderr else "exited"
                raise RuntimeError(message) from None
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("the server did not start")


def emptied(db_url: str) -> None:
    """A PostgreSQL test database back to empty (SQLite files are new per test)."""
    if db_url.startswith("postgresql"):
        import sqlalchemy

        engine = sqlalchemy.create_engine(db_url)
        with engine.begin() as connection:
            connection.exec_driver_sql("DROP SCHEMA public CASCADE")
            connection.exec_driver_sql("CREATE SCHEMA public")
        engine.dispose()


def prepared(db_url: str, allocations: int) -> str:
    """Users, and the list, in a fresh database; returns the list's CSV."""
    emptied(db_url)
    db = open_database(db_url)
    add_user(db, "admin", PASSWORD, "admin", None)
    add_user(db, "inv", PASSWORD, "investigator", "A")
    db.engine.dispose()
    return randomization_list(PROTOCOL.arm_codes, allocations, seed=11).csv_text()


def token(base: str, user: str) -> dict[str, str]:
    r = httpx.post(f"{base}/api/session", json={"username": user, "password": PASSWORD})
    return {"Authorization": f"Bearer {r.json()['token']}"}


@pytest.fixture
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    url = request.param if request.param else f"sqlite:///{tmp_path / 'trial.db'}"
    port = free_port()
    list_text = prepared(url, 200)
    process = start(url, port)
    base = f"http://127.0.0.1:{port}"
    r = httpx.post(
        f"{base}/api/randomization-list", content=list_text, headers=token(base, "admin")
    )
    assert r.status_code == 201, r.text
    try:
        yield base, list_text
    finally:
        process.terminate()
        process.wait(timeout=30)


def backends() -> list[Any]:
    postgres = os.environ.get("ITPTRIAL_TEST_POSTGRES")
    if not postgres and os.environ.get("ITPTRIAL_REQUIRE_POSTGRES"):
        raise RuntimeError("ITPTRIAL_REQUIRE_POSTGRES is set but ITPTRIAL_TEST_POSTGRES is not")
    skip = pytest.mark.skipif(not postgres, reason="set ITPTRIAL_TEST_POSTGRES (CI does)")
    return [pytest.param(None, id="sqlite"), pytest.param(postgres, id="postgresql", marks=skip)]


@pytest.mark.parametrize("server", backends(), indirect=True)
def test_200_randomizations_from_20_threads(server: tuple[str, str]) -> None:
    base, list_text = server
    headers = token(base, "inv")
    with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
        for k in range(200):
            r = client.post(
                "/api/subjects",
                json={"subject_id": f"S{k:03d}", "site_id": "A", "age": 50, "screening_count": 12},
            )
            assert r.status_code == 201

    def randomize(k: int) -> dict[str, Any]:
        with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
            r = client.post(f"/api/subjects/S{k:03d}/randomize", json={})
            assert r.status_code == 200, r.text
            result: dict[str, Any] = r.json()
            return result

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(randomize, range(200)))
    sequences = sorted(r["sequence"] for r in results)
    assert sequences == list(range(1, 201))  # no duplicate, no gap
    by_sequence = {r["sequence"]: r["arm"] for r in results}
    listed = {int(row.split(",")[0]): row.split(",")[2] for row in list_text.splitlines()[1:]}
    assert by_sequence == listed  # every subject got the list's arm at its sequence


def test_sigkill_during_writes_loses_no_acknowledged_write(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'trial.db'}"
    port = free_port()
    list_text = prepared(url, 40)
    process = start(url, port)
    base = f"http://127.0.0.1:{port}"
    httpx.post(f"{base}/api/randomization-list", content=list_text, headers=token(base, "admin"))
    headers = token(base, "inv")
    acknowledged: list[str] = []

    def enrol(k: int) -> None:
        try:
            r = httpx.post(
                f"{base}/api/subjects",
                json={"subject_id": f"K{k:04d}", "site_id": "A"},
                headers=headers,
                timeout=10,
            )
        except httpx.TransportError:
            return  # the server died before answering: not acknowledged
        if r.status_code == 201:
            acknowledged.append(f"K{k:04d}")

    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = [pool.submit(enrol, k) for k in range(2000)]
        while len(acknowledged) < 100:
            time.sleep(0.01)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        for future in futures:
            future.result()
    assert 100 <= len(acknowledged) < 2000
    process = start(url, port)  # restart on the same file
    try:
        view = httpx.Client(base_url=base, headers=token(base, "inv"), timeout=10)
        missing = [s for s in acknowledged if view.get(f"/api/subjects/{s}").status_code != 200]
        assert missing == []
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert verify_chain(open_database(url)) is None
