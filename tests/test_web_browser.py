"""The pages in a real browser: Playwright for Python driving Debian's Chromium through
``executable_path`` (never ``playwright install``). An investigator logs in, enrols a
subject, randomizes, enters a visit's doses and counts, sees the adjudication update,
and signs; the page has labelled inputs and works from the keyboard.

CI installs Chromium and sets ITPTRIAL_REQUIRE_CHROMIUM=1, which turns a missing
browser into a failure; on a machine without it these tests are skipped with that
reason.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from itptrial import load_protocol
from itptrial.design import randomization_list
from itptrial.web import add_user, create_app, open_database

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None and os.environ.get("ITPTRIAL_REQUIRE_CHROMIUM"):
    raise RuntimeError("ITPTRIAL_REQUIRE_CHROMIUM is set but chromium is not installed")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")

PASSWORD = "correct horse"
PROTOCOL = load_protocol("target020")


@pytest.fixture
def site(tmp_path: Path) -> Iterator[str]:
    """A running server with an investigator of site A and an uploaded list."""
    db = open_database(f"sqlite:///{tmp_path / 'trial.db'}")
    add_user(db, "admin", PASSWORD, "admin", None)
    add_user(db, "dr_a", PASSWORD, "investigator", "A")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(
        create_app(db, PROTOCOL), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    while not server.started:
        time.sleep(0.05)
    token = httpx.post(f"{base}/api/session", json={"username": "admin", "password": PASSWORD})
    text = randomization_list(PROTOCOL.arm_codes, 20, seed=5).csv_text()
    headers = {"Authorization": f"Bearer {token.json()['token']}"}
    assert (
        httpx.post(f"{base}/api/randomization-list", content=text, headers=headers).status_code
        == 201
    )
    yield base
    server.should_exit = True
    thread.join(timeout=10)


def test_investigator_enrols_randomizes_enters_a_visit_and_signs(site: str) -> None:
    from playwright.sync_api import sync_playwright

    today = dt.datetime.now(dt.UTC).date()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 820, "height": 1180})  # a tablet
        page.goto(f"{site}/")
        assert page.url.endswith("/login")
        # the keyboard alone logs in: labelled fields, Tab order, Enter submits
        page.get_by_label("Username").fill("dr_a")
        page.keyboard.press("Tab")
        page.keyboard.type(PASSWORD)
        page.keyboard.press("Enter")
        page.wait_for_url(f"{site}/")
        cookie = next(c for c in page.context.cookies() if c["name"] == "itptrial_session")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"

        page.get_by_label("Subject ID").fill("A-001")
        page.get_by_label("Age (years)").fill("44")
        page.get_by_label("Screening count (x10^9/L)").fill("14")
        page.get_by_role("button", name="Enrol").click()
        page.wait_for_url(f"{site}/subjects/A-001")
        page.get_by_role("button", name="Randomize").click()
        arm = page.locator("#arm").inner_text()
        assert arm in PROTOCOL.arm_codes

        page.get_by_label("Date").first.fill(today.isoformat())
        page.get_by_label("Platelet count (x10^9/L)").fill("12")
        page.get_by_role("button", name="Save count").click()
        page.locator("#dose-date").fill(today.isoformat())
        page.get_by_label("Drug", exact=True).fill("dexamethasone")
        page.get_by_label("Dose (mg)").fill("40")
        page.get_by_role("button", name="Save dose").click()
        assert "Initial response: no" in page.locator("#adjudication").inner_text()

        page.locator("#count-date").fill((today + dt.timedelta(days=7)).isoformat())
        page.get_by_label("Platelet count (x10^9/L)").fill("85")
        page.get_by_role("button", name="Save count").click()
        adjudication = page.locator("#adjudication").inner_text()
        assert "Initial response: yes" in adjudication
        assert "initial PR on day 7 (85 >= 30" in adjudication

        page.get_by_label("Platelet count (x10^9/L)").fill("-4")
        page.locator("#count-date").fill((today + dt.timedelta(days=8)).isoformat())
        page.get_by_role("button", name="Save count").click()
        assert "count below 0" in page.get_by_role("alert").inner_text()  # the loader's words

        page.get_by_label("Adverse event").fill("insomnia")
        page.locator("#ae-date").fill(today.isoformat())
        page.get_by_role("button", name="Save adverse event").click()
        assert "insomnia" in page.locator("main table").last.inner_text()

        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign the records").click()
        assert "dr_a" in page.locator("#signatures").inner_text()
        assert "I have reviewed these records" in page.locator("#signatures").inner_text()

        page.goto(f"{site}/")
        assert "A-001" in page.locator("main").inner_text()
        browser.close()


def test_a_form_without_the_csrf_token_is_refused(site: str) -> None:
    with httpx.Client(base_url=site) as client:
        foreign = {"Origin": "https://evil.example"}
        login = {"username": "dr_a", "password": PASSWORD}
        assert client.post("/login", data=login, headers=foreign).status_code == 403
        assert "itptrial_session" not in client.cookies  # no login CSRF
        client.post("/login", data=login)
        assert "itptrial_session" in client.cookies
        forged = client.post("/subjects", data={"subject_id": "X-1", "age": "40"})
        assert forged.status_code == 403
        assert client.get("/subjects/X-1").status_code == 404
        odd = client.get("/")  # odd numbers in the enrolment form: refused, never a 500
        csrf = odd.text.split('name="csrf" value="')[1].split('"')[0]
        bad = client.post("/subjects", data={"csrf": csrf, "subject_id": "X-2", "age": "\u00b2"})
        assert bad.status_code == 303 and "error=" in bad.headers["location"]


def test_logout_ends_the_session(site: str) -> None:
    with httpx.Client(base_url=site) as client:
        client.post("/login", data={"username": "dr_a", "password": PASSWORD})
        cookie = client.cookies["itptrial_session"]
        page = client.get("/")
        csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
        client.post("/logout", data={"csrf": csrf})
    with httpx.Client(base_url=site, cookies={"itptrial_session": cookie}) as replay:
        assert replay.get("/").headers.get("location", "").endswith("/login")


def test_pages_pass_an_axe_accessibility_audit(site: str) -> None:
    """axe-core (Deque's rules for WCAG 2.1 A and AA, bundled by axe-playwright-python)
    on the login page, the dashboard and a subject page with records: no violation."""
    from axe_playwright_python.sync_playwright import Axe
    from playwright.sync_api import sync_playwright

    axe = Axe()
    today = dt.datetime.now(dt.UTC).date().isoformat()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 820, "height": 1180})
        found = {}
        page.goto(f"{site}/login")
        found["login"] = axe.run(page).response["violations"]
        page.get_by_label("Username").fill("dr_a")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(f"{site}/")
        page.get_by_label("Subject ID").fill("A-002")
        page.get_by_label("Age (years)").fill("50")
        page.get_by_label("Screening count (x10^9/L)").fill("9")
        page.get_by_role("button", name="Enrol").click()
        page.get_by_role("button", name="Randomize").click()
        page.get_by_label("Date").first.fill(today)
        page.get_by_label("Platelet count (x10^9/L)").fill("9")
        page.get_by_role("button", name="Save count").click()
        found["subject"] = axe.run(page).response["violations"]
        page.goto(f"{site}/")
        found["dashboard"] = axe.run(page).response["violations"]
        page.set_content("<html><body><input></body></html>")  # the audit can fail
        unlabelled = {v["id"] for v in axe.run(page).response["violations"]}
        browser.close()
    assert "label" in unlabelled
    problems = {name: [v["id"] for v in violations] for name, violations in found.items()}
    assert problems == {"login": [], "subject": [], "dashboard": []}
