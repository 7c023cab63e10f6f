"""The report in a real browser (headless Chromium): it renders, its script runs, and it
makes no network request.

Chromium comes from Debian's package (``apt-get install chromium``); CI installs it and
sets ITPTRIAL_REQUIRE_CHROMIUM=1, which turns a missing browser into a failure. On a
developer machine without Chromium these tests are skipped with that reason.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import tempfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from itptrial.cli import app

EXAMPLE = Path(__file__).parent.parent / "examples" / "target020_example"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

if CHROMIUM is None and os.environ.get("ITPTRIAL_REQUIRE_CHROMIUM"):
    raise RuntimeError("ITPTRIAL_REQUIRE_CHROMIUM is set but chromium is not installed")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")


def chromium(*args: str) -> subprocess.CompletedProcess[bytes]:
    assert CHROMIUM is not None
    profile = tempfile.mkdtemp(prefix="itptrial-chromium-")
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--hide-scrollbars",
        *args,
    ]
    try:
        return subprocess.run(command, capture_output=True, timeout=120, check=False)
    finally:
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("browser") / "out"
    result = CliRunner().invoke(app, ["analyze", str(EXAMPLE), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out / "report.html"


def test_script_runs_and_lists_every_subject(report: Path) -> None:
    dom = chromium("--dump-dom", report.as_uri()).stdout.decode()
    assert "20 of 20 subjects shown" in dom  # written by the page's filter script
    assert dom.count("<svg") == 3


def test_screenshot_is_a_full_page(report: Path, tmp_path: Path) -> None:
    png = tmp_path / "report.png"
    chromium("--window-size=1280,2400", f"--screenshot={png}", report.as_uri())
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1280, 2400)
    assert len(data) > 100_000  # text, tables and figures: far from a blank page


def test_no_network_request(report: Path) -> None:
    # The report forbids every request in its Content-Security-Policy; anything the page
    # tried to load would be refused and logged on the console, and the page must
    # still work under that policy (its script ran: the listing count is written).
    html = report.read_text()
    assert "default-src 'none'" in html
    result = chromium(
        "--enable-logging=stderr",
        "--v=0",
        "--virtual-time-budget=5000",
        "--dump-dom",
        report.as_uri(),
    )
    console = result.stderr.decode(errors="replace")
    assert "Content Security Policy" not in console and "Refused to" not in console, console
    assert "20 of 20 subjects shown" in result.stdout.decode()


def test_large_trial_listing_is_packed_and_drawn_by_the_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import itptrial.report._render as render

    monkeypatch.setattr(render, "INLINE_LISTING_LIMIT", 5)  # as if the trial were large
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["analyze", str(EXAMPLE), "--out", str(out)])
    assert result.exit_code == 0, result.output
    html = (out / "report.html").read_text()
    assert 'id="packed-listing"' in html and "<td>T01</td>" not in html
    dom = chromium("--virtual-time-budget=10000", "--dump-dom", (out / "report.html").as_uri())
    page = dom.stdout.decode()
    assert "20 of 20 subjects match" in page  # decompressed and drawn in the browser
    assert "<td>T01</td>" in page and "initial PR on day 14" in page
