"""The browser pages (server-rendered with Jinja2): login with an HttpOnly, SameSite
session cookie, the dashboard, the subject page and the audit review.

Every form carries a CSRF token derived from the session token (SHA-256 of it with a
purpose prefix): a page of another origin can make the browser send the cookie, but
cannot read the token, so it cannot forge the field (the synchronizer-token pattern,
OWASP CSRF Prevention Cheat Sheet, without server-side state).
"""

import hashlib
import hmac
import math
import re
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from itptrial.protocol import Protocol
from itptrial.web import _service as service
from itptrial.web._db import Database, User

COOKIE = "itptrial_session"
TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).with_name("templates")),
    autoescape=select_autoescape(["j2", "html"]),
)


def csrf_token(session_token: str) -> str:
    return hashlib.sha256(f"csrf:{session_token}".encode()).hexdigest()


def _chart(records: list[dict[str, Any]], day0: str | None) -> dict[str, Any] | None:
    """An inline SVG line of the counts by study day (no script, readable as a list)."""
    import datetime as dt

    counts = sorted(
        (r["date"], float(r["count"]))
        for r in records
        if r["table"] == "platelets" and not r["retracted"]
    )
    if not counts:
        return None
    origin = dt.date.fromisoformat(day0 or counts[0][0])
    days = [(dt.date.fromisoformat(d) - origin).days for d, _ in counts]
    width, height, top = 600, 220, max(100.0, max(c for _, c in counts))
    span = max(1, max(days) - min(days))

    def y(value: float) -> float:
        return round(height - 20 - (height - 40) * value / top, 1)

    points = [
        {"x": round(40 + (width - 60) * (d - min(days)) / span, 1), "y": y(c), "day": d, "count": c}
        for d, (_, c) in zip(days, counts, strict=True)
    ]
    return {"width": width, "height": height, "points": points, "y30": y(30.0)}


def add_pages(app: FastAPI, db: Database, protocol: Protocol) -> None:
    """Mount the pages on ``app``."""

    def render(
        name: str, request: Request, user: User | None, status: int = 200, **context: Any
    ) -> HTMLResponse:
        token = request.cookies.get(COOKIE, "")
        page = TEMPLATES.get_template(name).render(
            user=user,
            csrf=csrf_token(token) if user else "",
            protocol_name=protocol.name,
            **context,
        )
        return HTMLResponse(page, status_code=status)

    def signed_in(request: Request) -> User | None:
        token = request.cookies.get(COOKIE)
        if not token:
            return None
        try:
            return service.user_of_token(db, token)
        except service.ServiceError:
            return None

    async def form_of(request: Request) -> dict[str, str]:
        """The posted form, if its CSRF token matches the session's (else 403)."""
        form = {k: str(v) for k, v in (await request.form()).items()}
        expected = csrf_token(request.cookies.get(COOKIE, ""))
        if not hmac.compare_digest(form.pop("csrf", ""), expected):
            raise service.ServiceError(403, "the form's CSRF token does not match: reload the page")
        return form

    def to_login() -> RedirectResponse:
        return RedirectResponse("/login", status_code=303)

    @app.get("/login", response_class=HTMLResponse, include_in_schema=False)
    def login_page(request: Request) -> HTMLResponse:
        return render("login.html.j2", request, None, title="Log in")

    @app.post("/login", include_in_schema=False)
    async def login(request: Request) -> Response:
        if not _same_origin(request):  # login CSRF: a foreign page logging one in
            raise service.ServiceError(403, "a login from another site's page is refused")
        form = {k: str(v) for k, v in (await request.form()).items()}
        try:
            token = service.login(db, form.get("username", ""), form.get("password", ""))
        except service.ServiceError as error:
            return render(
                "login.html.j2", request, None, error.status, title="Log in", error=error.message
            )
        response = RedirectResponse("/", status_code=303)
        secure = (
            request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https"
        )
        response.set_cookie(
            COOKIE,
            token,
            httponly=True,
            samesite="strict",
            secure=secure,
            max_age=service.TOKEN_HOURS * 3600,
        )
        return response

    @app.post("/logout", include_in_schema=False)
    async def logout(request: Request) -> Response:
        await form_of(request)
        service.logout(db, request.cookies.get(COOKIE, ""))
        response = to_login()
        response.delete_cookie(COOKIE)
        return response

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def dashboard(request: Request) -> Response:
        user = signed_in(request)
        if user is None:
            return to_login()
        subjects = service.visible_subjects(db, user)
        balance = {arm: sum(1 for s in subjects if s.arm == arm) for arm in protocol.arm_codes}
        overdue = service.overdue_visits(db, subjects, protocol)
        window = max(1, protocol.visits.jitter_days) if protocol.visits else 0
        return render(
            "dashboard.html.j2",
            request,
            user,
            title="Dashboard",
            subjects=subjects,
            balance=balance,
            overdue=overdue,
            window=window,
            site=user.site_id,
            error=request.query_params.get("error"),
        )

    @app.post("/subjects", include_in_schema=False)
    async def enrol(request: Request) -> Response:
        user = signed_in(request)
        if user is None:
            return to_login()
        form = await form_of(request)
        body = {
            "subject_id": form.get("subject_id"),
            "site_id": user.site_id,
            "sex": form.get("sex") or None,
            "age": _integer(form.get("age", "")),
            "weight_kg": _number(form.get("weight_kg", "")),
            "screening_count": _number(form.get("screening_count", "")),
            "screening_who_grade": _integer(form.get("screening_who_grade", "")),
        }
        try:
            service.enrol(db, user, body, protocol)
        except service.ServiceError as error:
            return RedirectResponse(f"/?error={_quoted(error)}", status_code=303)
        return RedirectResponse(f"/subjects/{body['subject_id']}", status_code=303)

    @app.get("/subjects/{subject_id}", response_class=HTMLResponse, include_in_schema=False)
    def subject_page(subject_id: str, request: Request) -> Response:
        user = signed_in(request)
        if user is None:
            return to_login()
        view = service.subject_view(db, user, subject_id, protocol)
        records = [
            {
                **r,
                "text": ", ".join(
                    f"{k} {v}" for k, v in r.items() if k not in ("id", "table", "retracted")
                ),
            }
            for r in view["records"]
        ]
        day0 = min(
            (r["date"] for r in view["records"] if r["table"] == "doses" and not r["retracted"]),
            default=None,
        )
        return render(
            "subject.html.j2",
            request,
            user,
            title=f"Subject {subject_id}",
            s=view,
            records=records,
            chart=_chart(view["records"], day0),
            can_write=user.role == "investigator",
            strata=service.list_strata(db),
            error=request.query_params.get("error"),
        )

    def back(subject_id: str, error: service.ServiceError | None = None) -> RedirectResponse:
        suffix = "" if error is None else f"?error={_quoted(error)}"
        return RedirectResponse(f"/subjects/{subject_id}{suffix}", status_code=303)

    @app.post("/subjects/{subject_id}/randomize", include_in_schema=False)
    async def randomize(subject_id: str, request: Request) -> Response:
        user = signed_in(request)
        if user is None:
            return to_login()
        form = await form_of(request)
        try:
            service.randomize(db, user, subject_id, form.get("stratum") or None, protocol)
        except service.ServiceError as error:
            return back(subject_id, error)
        return back(subject_id)

    @app.post("/subjects/{subject_id}/{table}", include_in_schema=False)
    async def add_record(subject_id: str, table: str, request: Request) -> Response:
        user = signed_in(request)
        if user is None:
            return to_login()
        form = await form_of(request)
        try:
            if table == "sign":
                service.sign(
                    db, user, subject_id, form.get("password", ""), form.get("meaning", "")
                )
            else:
                service.add_record(db, user, subject_id, table, dict(form), protocol)
        except service.ServiceError as error:
            return back(subject_id, error)
        return back(subject_id)

    @app.get("/audit", response_class=HTMLResponse, include_in_schema=False)
    def audit(request: Request) -> Response:
        user = signed_in(request)
        if user is None:
            return to_login()
        keys = ("site", "user", "table", "from", "to")
        filters = {k: request.query_params.get(k, "") for k in keys}
        entries = service.audit_entries(db, user, filters)
        return render(
            "audit.html.j2", request, user, title="Audit trail", entries=entries, filters=filters
        )


def _same_origin(request: Request) -> bool:
    """The browser says the form came from this site (Origin, else Sec-Fetch-Site), or
    says nothing (a non-browser client)."""
    origin = request.headers.get("origin")
    if origin is not None:
        host = request.headers.get("x-forwarded-host") or request.headers.get("host", "")
        return origin.split("://", 1)[-1] == host
    return request.headers.get("sec-fetch-site", "same-origin") in ("same-origin", "none")


def _integer(text: str) -> int | str | None:
    """A form's whole number, or the text itself (the service then names the field)."""
    if not text.strip():
        return None
    return int(text) if re.fullmatch(r"-?[0-9]{1,6}", text.strip()) else text


def _number(text: str) -> float | str | None:
    """A form's decimal, or the text itself (the service then names the field)."""
    if not text.strip():
        return None
    try:
        value = float(text)
    except ValueError:
        return text
    return value if math.isfinite(value) else text


def _quoted(error: service.ServiceError) -> str:
    from urllib.parse import quote

    details = "; ".join(f"{p.get('field')}: {p.get('message')}" for p in error.problems)
    return quote(error.message + (f" ({details})" if details else ""))
