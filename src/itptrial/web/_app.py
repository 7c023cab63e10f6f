"""The HTTP API (docs/interface.md, "Web application"): FastAPI over
:mod:`itptrial.web._service`, bearer tokens from ``POST /api/session``.

No ``from __future__ import annotations`` here: FastAPI reads the annotations of the
route functions at run time, and the local ``Authenticated`` alias must be a value.
"""

from typing import Annotated, Any

from fastapi import Body, Depends, FastAPI, Header, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict

from itptrial.protocol import Protocol
from itptrial.web import _service as service
from itptrial.web._db import Database, User
from itptrial.web._pages import add_pages


class Credentials(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str
    password: str


class NewSubject(BaseModel):
    model_config = ConfigDict(extra="forbid")
    subject_id: str
    site_id: str
    sex: str | None = None
    age: int | None = None
    weight_kg: float | None = None
    screening_count: float | None = None
    screening_who_grade: int | None = None


class Randomize(BaseModel):
    model_config = ConfigDict(extra="forbid")
    stratum: str | None = None


class Signing(BaseModel):
    model_config = ConfigDict(extra="forbid")
    password: str
    meaning: str


class Reason(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str


def create_app(db: Database, protocol: Protocol) -> FastAPI:
    """The application for one trial: its database and protocol."""
    app = FastAPI(title="itptrial", version="1", description="Trial data capture (docs/web.md)")

    @app.exception_handler(service.ServiceError)
    async def _service_error(_request: Request, error: service.ServiceError) -> JSONResponse:
        body: dict[str, Any] = {"detail": error.message}
        if error.problems:
            body["problems"] = error.problems
        headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else None
        return JSONResponse(body, status_code=error.status, headers=headers)

    def current_user(authorization: Annotated[str | None, Header()] = None) -> User:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise service.ServiceError(401, "not authenticated")
        return service.user_of_token(db, token)

    Authenticated = Annotated[User, Depends(current_user)]

    def role(*roles: str) -> Any:
        """A dependency: the user, if of one of ``roles`` (403 before the body is read)."""

        def check(user: Authenticated) -> User:
            service.require(user, *roles)
            return user

        return Depends(check)

    Admin = Annotated[User, role("admin")]
    Investigator = Annotated[User, role("investigator")]
    Exporter = Annotated[User, role("statistician", "admin")]
    Corrector = Annotated[User, role("investigator", "admin")]

    @app.post("/api/session", status_code=200)
    def session(credentials: Credentials) -> dict[str, str]:
        return {"token": service.login(db, credentials.username, credentials.password)}

    @app.post("/api/randomization-list", status_code=201)
    async def randomization_list(request: Request, user: Admin) -> dict[str, Any]:
        return service.upload_list(db, user, await request.body(), protocol)

    @app.post("/api/subjects", status_code=201)
    def subjects(body: NewSubject, user: Investigator) -> dict[str, Any]:
        return service.enrol(db, user, body.model_dump(), protocol)

    @app.post("/api/subjects/{subject_id}/randomize")
    def randomize(
        subject_id: str, user: Investigator, body: Randomize | None = None
    ) -> dict[str, Any]:
        stratum = body.stratum if body is not None else None
        return service.randomize(db, user, subject_id, stratum, protocol)

    @app.get("/api/subjects/{subject_id}")
    def subject(subject_id: str, user: Authenticated) -> dict[str, Any]:
        return service.subject_view(db, user, subject_id, protocol)

    @app.post("/api/subjects/{subject_id}/randomized-in-error")
    def randomized_in_error(subject_id: str, body: Reason, user: Corrector) -> dict[str, Any]:
        service.mark_randomized_in_error(db, user, subject_id, body.reason)
        return {"subject_id": subject_id, "randomized_in_error": True, "reason": body.reason}

    @app.post("/api/subjects/{subject_id}/sign")
    def sign(subject_id: str, body: Signing, user: Investigator) -> dict[str, Any]:
        return service.sign(db, user, subject_id, body.password, body.meaning)

    paths = {t: t.replace("_", "-") for t in service.RECORD_TABLES}
    for table, path in paths.items():
        _record_routes(app, db, protocol, table, path, role("investigator"))

    add_pages(app, db, protocol)

    @app.get("/api/export")
    def export(user: Exporter) -> Response:
        content = service.export_zip(db, user, protocol)
        headers = {"Content-Disposition": 'attachment; filename="dataset.zip"'}
        return Response(content, media_type="application/zip", headers=headers)

    return app


def _record_routes(app: FastAPI, db: Database, protocol: Protocol, table: str, path: str,
                   investigator: Any) -> None:  # fmt: skip
    """POST a record, PUT a change (with a reason), DELETE a retraction (with a reason);
    ``investigator``: the dependency that admits investigators only."""
    Authenticated = Annotated[User, investigator]

    @app.post(f"/api/subjects/{{subject_id}}/{path}", status_code=201, name=f"add_{table}")
    def add(
        subject_id: str, user: Authenticated, body: Annotated[dict[str, Any], Body()]
    ) -> dict[str, Any]:
        return service.add_record(db, user, subject_id, table, dict(body), protocol)

    @app.put(f"/api/subjects/{{subject_id}}/{path}/{{record_id}}", name=f"change_{table}")
    def change(subject_id: str, record_id: int, user: Authenticated,
               body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:  # fmt: skip
        return service.add_record(db, user, subject_id, table, dict(body), protocol, record_id)

    @app.delete(f"/api/subjects/{{subject_id}}/{path}/{{record_id}}", status_code=204,
                name=f"retract_{table}")  # fmt: skip
    def retract(subject_id: str, record_id: int, user: Authenticated, body: Reason) -> Response:
        service.retract(db, user, subject_id, table, record_id, body.reason)
        return Response(status_code=204)
