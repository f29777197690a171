"""The owners' portal: a small server-rendered web application (Starlette, Jinja2; no JavaScript).

`create_app(settings)` builds it; `finsam portal` serves it with uvicorn. Every route needs a
signed-in account except those in `PUBLIC_PATHS`; a signed-out visitor is sent to sign-in, and an
account asking for an intervention it may not see gets 403 (the same answer whether the
intervention exists or not). Every form carries the session's CSRF token. See docs/portal.md.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from contextlib import asynccontextmanager
from datetime import date
from pathlib import Path
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from ingestion.core.config import DEMO_SECRET, PORTAL_PAGE, REPO_ROOT, ConfigError, Settings
from ingestion.core.contract import KINDS, load_contract
from ingestion.core.registry import load_registry
from ingestion.portal import data
from ingestion.portal.accounts import Account, Accounts, SignInLimiter
from ingestion.portal.oidc import CALLBACK, LOGIN, OIDC, OIDCError
from ingestion.portal.upload import Checker, UploadRefused, audit, parse_upload_name

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
PUBLIC_PATHS = frozenset({"/logga-in", "/halsa"})  # everything else needs a signed-in account
SESSION_HOURS = 8
SECURITY_HEADERS = {
    "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "cache-control": "no-store",
}


class Forbidden(Exception):
    pass


def intervention_path(association: str, intervention: str) -> str:
    """The intervention's page, relative to the portal's address (the alert mails link to it)."""
    return PORTAL_PAGE.format(association=quote(association, safe=""), intervention=quote(intervention, safe=""))


def session_secret(settings: Settings) -> str:
    if settings.portal_secret:
        return settings.portal_secret
    if settings.demo:
        return hashlib.sha256(b"portal:" + DEMO_SECRET.encode()).hexdigest()
    raise ConfigError(
        "FINSAM_PORTAL_SECRET saknas: sätt en lång slumpmässig nyckel för portalens inloggningskakor "
        "(t.ex. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`)."
    )


def create_app(settings: Settings, *, as_of: date | None = None, warm: bool = True) -> Starlette:
    accounts = Accounts(settings.portal_accounts or settings.home / "portal" / "accounts.json")
    limiter = SignInLimiter()
    checker = Checker(settings, as_of)
    registry = load_registry(settings.registry) if settings.registry.exists() else None
    templates = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]))
    templates.globals["intervention_path"] = intervention_path
    secret = session_secret(settings)
    oidc = OIDC(settings) if OIDC.enabled(settings) else None
    templates.globals["oidc_login"] = LOGIN if oidc else None

    # ---------------------------------------------------------------- helpers

    def csrf_token(request: Request) -> str:
        token = request.session.get("csrf")
        if not token:
            token = request.session["csrf"] = secrets.token_urlsafe(32)
        return token

    def csrf_ok(request: Request, form) -> bool:
        expected = request.session.get("csrf")
        given = form.get("csrf") if form is not None else None
        return bool(expected and isinstance(given, str) and hmac.compare_digest(expected, given))

    def render(request: Request, template: str, status: int = 200, **context) -> HTMLResponse:
        context.setdefault("account", current(request))
        html = templates.get_template(template).render(
            request=request, csrf=csrf_token(request), county=registry.county_name if registry else "", **context
        )
        return HTMLResponse(html, status_code=status)

    def current(request: Request) -> Account | None:
        email = request.session.get("user")
        if not email:
            return None
        account = accounts.get(email)
        if account is None and oidc and request.session.get("via") == "oidc":
            return Account(email, "owner")  # signed in at the identity provider: sees what agare_epost gives
        return account

    def association_name(code: str) -> str:
        association = registry.get(code) if registry else None
        return association.name if association else code

    def visible(account: Account) -> list[data.Intervention]:
        found = data.interventions(settings)
        if account.role == "county":
            return found
        if account.role == "analyst":
            return [i for i in found if i.association == account.association]
        return [i for i in found if i.owner and i.owner == account.email]

    def allowed(account: Account, association: str, intervention: str) -> data.Intervention:
        for item in visible(account):
            if item.association == association and item.code == intervention:
                return item
        raise Forbidden()

    def forbidden(request: Request) -> HTMLResponse:
        return render(
            request,
            "error.html",
            status=403,
            title="Ingen behörighet",
            message="Du har inte behörighet till den här sidan. Du ser bara dina egna insatser.",
        )

    def kinds_for(item: data.Intervention) -> list[str]:
        return ["insatser", "budget"] if item.code == "ALL" else [k for k in KINDS if k != "insatser"]

    # ---------------------------------------------------------------- pages

    async def sign_in_page(request: Request) -> Response:
        if current(request):
            return RedirectResponse("/", status_code=303)
        return render(request, "login.html", next=_safe_next(request.query_params.get("next")))

    async def sign_in(request: Request) -> Response:
        form = await request.form(max_files=0, max_fields=10)
        nxt = _safe_next(form.get("next"))
        if not csrf_ok(request, form):
            return render(request, "login.html", status=400, next=nxt, error="Formuläret hade gått ut. Försök igen.")
        email = str(form.get("email", "")).strip().lower()[:200]
        client = request.client.host if request.client else "-"
        keys = (f"user:{email}", f"client:{client}")
        if limiter.blocked(*keys):
            audit(settings, event="sign_in_blocked", user=email)
            return render(
                request,
                "login.html",
                status=429,
                next=nxt,
                email=email,
                error="För många misslyckade inloggningar. Vänta en kvart och försök igen.",
            )
        account = await run_in_threadpool(accounts.authenticate, email, str(form.get("password", "")))
        if account is None:
            limiter.failed(*keys)
            audit(settings, event="sign_in_failed", user=email)
            return render(
                request, "login.html", status=401, next=nxt, email=email, error="Fel e-postadress eller lösenord."
            )
        limiter.succeeded(*keys)
        request.session.clear()
        request.session.update(user=account.email, csrf=secrets.token_urlsafe(32))
        audit(settings, event="sign_in", user=account.email)
        return RedirectResponse(nxt or "/", status_code=303)

    async def sign_out(request: Request, account: Account) -> Response:
        form = await request.form(max_files=0, max_fields=5)
        if not csrf_ok(request, form):
            return render(
                request,
                "error.html",
                status=400,
                title="Formuläret hade gått ut",
                message="Ladda om sidan och försök igen.",
            )
        request.session.clear()
        return RedirectResponse("/logga-in", status_code=303)

    async def overview(request: Request, account: Account) -> Response:
        items = await run_in_threadpool(visible, account)
        groups: dict[str, list] = {}
        for item in items:
            groups.setdefault(item.association, []).append(item)
        return render(request, "overview.html", groups=[(c, association_name(c), l) for c, l in groups.items()])

    async def intervention_page(request: Request, account: Account) -> Response:
        association, code = request.path_params["association"], request.path_params["intervention"]
        try:
            item = await run_in_threadpool(allowed, account, association, code)
        except Forbidden:
            return forbidden(request)
        return await _intervention(request, item)

    async def _intervention(request: Request, item: data.Intervention, status: int = 200, **extra) -> Response:
        rows = await run_in_threadpool(data.deliveries, settings, item.association, item.code)
        contract = load_contract()
        return render(
            request,
            "intervention.html",
            status=status,
            item=item,
            association_name=association_name(item.association),
            rows=rows,
            to_fix=list({r["latest_file_name"]: r["findings"] for r in rows if r["findings"]}.items()),
            as_of=rows[0]["as_of"] if rows else None,
            templates_=[(k, contract.kind_label(k)) for k in kinds_for(item)],
            reports=await run_in_threadpool(data.reports, settings, item.association, item.code),
            max_mb=settings.portal_max_upload_bytes // (1024 * 1024),
            **extra,
        )

    async def upload(request: Request, account: Account) -> Response:
        association, code = request.path_params["association"], request.path_params["intervention"]
        try:
            item = await run_in_threadpool(allowed, account, association, code)
        except Forbidden:
            return forbidden(request)
        limit = settings.portal_max_upload_bytes
        length = request.headers.get("content-length")
        if length is None or not length.isdigit():
            return await _intervention(request, item, 411, refused="Uppladdningen saknade storlek. Försök igen.")
        if int(length) > limit + 64 * 1024:
            audit(settings, event="upload_refused", user=account.email, reason="too_large", size=int(length))
            return await _intervention(
                request,
                item,
                413,
                refused=f"Filen är för stor. Största tillåtna storlek är {limit // (1024 * 1024)} MB.",
            )
        form = await request.form(max_files=1, max_fields=5)
        try:
            if not csrf_ok(request, form):
                return await _intervention(
                    request, item, 400, refused="Formuläret hade gått ut. Ladda om sidan och försök igen."
                )
            upload_ = form.get("file")
            if not isinstance(upload_, UploadFile):
                return await _intervention(request, item, 400, refused="Välj en fil att ladda upp.")
            try:
                name = parse_upload_name(upload_.filename)
                if (name.association, name.intervention) != (item.association, item.code):
                    raise UploadRefused(
                        f"Filnamnet gäller {name.association}_{name.intervention}, men den här sidan är för "
                        f"{item.association}_{item.code}. Ladda upp filen på rätt insats sida eller rätta filnamnet."
                    )
                if name.kind not in kinds_for(item):
                    raise UploadRefused(f"Filtypen {name.kind} levereras inte för {item.code}.")
                content = await upload_.read(limit + 1)
                if len(content) > limit:
                    raise UploadRefused(f"Filen är för stor. Största tillåtna storlek är {limit // (1024 * 1024)} MB.")
                if not content:
                    raise UploadRefused("Filen är tom.")
            except UploadRefused as exc:
                audit(
                    settings,
                    event="upload_refused",
                    user=account.email,
                    file_name=upload_.filename or "",
                    reason=str(exc),
                )
                return await _intervention(request, item, 400, refused=str(exc))
        finally:
            await form.close()
        outcome = await run_in_threadpool(checker.handle, name, content)
        del content
        audit(
            settings,
            event="upload",
            user=account.email,
            role=account.role,
            file_name=outcome.file_name,
            sha256=outcome.sha256,
            size=outcome.size,
            verdict=outcome.check.status,
            placed_in_landing=outcome.placed,
        )
        return await _intervention(
            request,
            item,
            200,
            outcome=outcome,
            verdict_sections=data.sections(outcome.check.text),
        )

    async def template_download(request: Request, account: Account) -> Response:
        kind = request.path_params["kind"]
        if kind not in KINDS:
            return render(
                request, "error.html", status=404, title="Mallen finns inte", message="Det finns ingen sådan mall."
            )
        return FileResponse(
            REPO_ROOT / "templates" / f"{kind}_mall.xlsx",
            filename=f"{kind}_mall.xlsx",
            media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )

    async def report_download(request: Request, account: Account) -> Response:
        association, code = request.path_params["association"], request.path_params["intervention"]
        try:
            item = await run_in_threadpool(allowed, account, association, code)
        except Forbidden:
            return forbidden(request)
        wanted = request.path_params["file"]
        offered = {name for _, names in data.reports(settings, item.association, item.code) for name in names}
        if wanted not in offered:  # the name is looked up among the files offered, never used as a path
            return render(
                request,
                "error.html",
                status=404,
                title="Rapporten finns inte",
                message="Det finns ingen sådan rapport.",
            )
        folder = data.reports_folder(settings, item.association, item.code)
        return FileResponse(folder / wanted, filename=wanted)

    async def api_interventions(request: Request, account: Account) -> Response:
        items = await run_in_threadpool(visible, account)
        return JSONResponse(
            [
                {
                    "association": i.association,
                    "intervention": i.code,
                    "name": i.name,
                    "counts": i.counts,
                    "page": intervention_path(i.association, i.code),
                }
                for i in items
            ]
        )

    async def api_intervention(request: Request, account: Account) -> Response:
        association, code = request.path_params["association"], request.path_params["intervention"]
        try:
            item = await run_in_threadpool(allowed, account, association, code)
        except Forbidden:
            return JSONResponse({"fel": "Ingen behörighet."}, status_code=403)
        rows = await run_in_threadpool(data.deliveries, settings, item.association, item.code)
        keep = ("kind", "period", "due_date", "status", "days_overdue", "latest_file_name", "latest_status")
        return JSONResponse(
            {
                "association": item.association,
                "intervention": item.code,
                "deliveries": [{k: str(r[k]) if r[k] is not None else None for k in keep} for r in rows],
            }
        )

    async def oidc_login(request: Request) -> Response:
        try:
            target = await run_in_threadpool(
                oidc.authorization_url,
                request.session,
                str(request.base_url),
                _safe_next(request.query_params.get("next")),
            )
        except OIDCError as exc:
            return render(request, "login.html", status=502, error=str(exc))
        return RedirectResponse(target, status_code=303)

    async def oidc_callback(request: Request) -> Response:
        params = request.query_params
        if params.get("error"):
            request.session.pop("oidc", None)
            return render(request, "login.html", status=400, error="Inloggningen avbröts hos inloggningstjänsten.")
        try:
            email, nxt = await run_in_threadpool(
                oidc.finish, request.session, str(request.base_url), params.get("state"), params.get("code")
            )
        except OIDCError as exc:
            audit(settings, event="sign_in_failed", method="oidc", reason=str(exc))
            return render(request, "login.html", status=400, error=str(exc))
        request.session.clear()
        request.session.update(user=email, via="oidc", csrf=secrets.token_urlsafe(32))
        audit(settings, event="sign_in", method="oidc", user=email)
        return RedirectResponse(nxt or "/", status_code=303)

    async def health(request: Request) -> Response:
        return PlainTextResponse("ok")

    def signed_in(handler):
        async def endpoint(request: Request) -> Response:
            account = current(request)
            if account is None:
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return RedirectResponse(f"/logga-in?next={quote(target, safe='')}", status_code=303)
            return await handler(request, account)

        endpoint.__name__ = handler.__name__
        return endpoint

    routes = [
        Route("/logga-in", sign_in_page, methods=["GET"]),
        Route("/logga-in", sign_in, methods=["POST"]),
        Route("/halsa", health, methods=["GET"]),
        Route("/logga-ut", signed_in(sign_out), methods=["POST"]),
        Route("/", signed_in(overview), methods=["GET"]),
        Route(PORTAL_PAGE, signed_in(intervention_page), methods=["GET"]),
        Route(PORTAL_PAGE + "/ladda-upp", signed_in(upload), methods=["POST"]),
        Route("/mallar/{kind}", signed_in(template_download), methods=["GET"]),
        Route(PORTAL_PAGE + "/rapporter/{file}", signed_in(report_download), methods=["GET"]),
        Route("/api/insatser", signed_in(api_interventions), methods=["GET"]),
        Route("/api/insats/{association}/{intervention}", signed_in(api_intervention), methods=["GET"]),
    ]
    if oidc:
        routes += [Route(LOGIN, oidc_login, methods=["GET"]), Route(CALLBACK, oidc_callback, methods=["GET"])]

    @asynccontextmanager
    async def lifespan(app):
        if warm:
            await run_in_threadpool(checker.warm)
        yield

    async def security_headers(request: Request, call_next):
        response = await call_next(request)
        for key, value in SECURITY_HEADERS.items():
            response.headers.setdefault(key, value)
        return response

    from starlette.middleware.base import BaseHTTPMiddleware

    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[
            Middleware(BaseHTTPMiddleware, dispatch=security_headers),
            Middleware(
                SessionMiddleware,
                secret_key=secret,
                session_cookie="finsam_portal",
                max_age=SESSION_HOURS * 3600,
                same_site="lax",  # lax: the identity provider's redirect back must carry the session
                https_only=settings.portal_https_only,
            ),
        ],
    )
    app.state.settings = settings
    app.state.accounts = accounts
    app.state.checker = checker
    app.state.public_paths = PUBLIC_PATHS | ({LOGIN, CALLBACK} if oidc else set())
    return app


def _safe_next(value) -> str | None:
    """Only a path on this site (never `//host` or a full address) is followed after sign-in."""
    if isinstance(value, str) and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return None
