"""Auth over the real app: login, cookies, 401/403, CSRF, rate limit, OpenAPI."""

from __future__ import annotations

import re
from typing import Any

from console import CONSOLE
from console.routes import API_ROUTES
from tests.console.conftest import PASSWORD, login


async def test_every_api_route_answers_401_without_a_session(app_client: Any) -> None:
    for route in API_ROUTES:
        if route.role is None:
            continue
        path = re.sub(r"{\w+}", "abc", route.path)
        resp = await app_client.request(route.method, path, json={})
        assert resp.status == 401, (route.method, path, resp.status)
        assert (await resp.json())["error"] == "login required"


async def test_login_sets_a_strict_httponly_cookie(app_client: Any) -> None:
    resp = await app_client.post("/api/login", json={"username": "alice", "password": PASSWORD})
    assert resp.status == 200
    body = await resp.json()
    assert body["username"] == "alice" and body["role"] == "agent" and body["csrf_token"]
    cookie = resp.cookies["vi_session"]
    assert cookie["httponly"] and cookie["samesite"] == "Strict" and cookie["path"] == "/"
    me = await app_client.get("/api/me")
    assert (await me.json())["username"] == "alice"


async def test_wrong_password_is_401_and_repeated_failures_are_rate_limited(
    app_client: Any,
) -> None:
    for _ in range(5):
        resp = await app_client.post("/api/login", json={"username": "alice", "password": "x"})
        assert resp.status == 401
    resp = await app_client.post("/api/login", json={"username": "alice", "password": PASSWORD})
    assert resp.status == 429 and int(resp.headers["Retry-After"]) >= 1
    app_client.server.app[CONSOLE].limiter.clear()
    resp = await app_client.post("/api/login", json={"username": "alice", "password": PASSWORD})
    assert resp.status == 200


async def test_login_needs_a_json_body(app_client: Any) -> None:
    resp = await app_client.post("/api/login", data={"username": "alice", "password": PASSWORD})
    assert resp.status == 415
    resp = await app_client.post("/api/login", json={"username": "alice"})
    assert resp.status == 400


async def test_agent_gets_403_on_admin_routes_admin_gets_200(app_client: Any) -> None:
    await login(app_client, "alice")
    for path in ("/api/dashboard", "/api/export"):
        resp = await app_client.get(path)
        assert resp.status == 403, path
    page = await app_client.get("/dashboard", allow_redirects=False)
    assert page.status == 403
    app_client.session.cookie_jar.clear()
    await login(app_client, "root")
    assert (await app_client.get("/api/dashboard")).status == 200
    assert (await app_client.get("/api/queue")).status == 200  # admins may do agents' work


async def test_state_changes_need_the_csrf_token_and_same_origin(app_client: Any) -> None:
    csrf = await login(app_client, "alice")
    resp = await app_client.post("/api/drafts/x/claim", json={})
    assert resp.status == 403 and (await resp.json())["error"] == "CSRF check failed"
    resp = await app_client.post("/api/drafts/x/claim", json={},
                                 headers={"X-CSRF-Token": "wrong"})
    assert resp.status == 403
    resp = await app_client.post("/api/drafts/x/claim", json={},
                                 headers={"X-CSRF-Token": csrf, "Origin": "http://evil.example"})
    assert resp.status == 403
    resp = await app_client.post("/api/drafts/x/claim", json={}, headers={"X-CSRF-Token": csrf})
    assert resp.status == 404  # past the guard


async def test_logout_ends_the_session(app_client: Any) -> None:
    csrf = await login(app_client, "alice")
    resp = await app_client.post("/api/logout", json={}, headers={"X-CSRF-Token": csrf})
    assert resp.status == 200
    assert (await app_client.get("/api/me")).status == 401


async def test_pages_redirect_to_login_and_are_served_with_csp(app_client: Any) -> None:
    resp = await app_client.get("/queue", allow_redirects=False)
    assert resp.status == 302 and resp.headers["Location"] == "/login?next=/queue"
    login_page = await app_client.get("/login")
    assert login_page.status == 200 and "登录" in await login_page.text()
    await login(app_client, "alice")
    page = await app_client.get("/queue")
    html = await page.text()
    assert page.status == 200 and 'lang="zh-CN"' in html and "工单队列" in html
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert "http://" not in html and "https://" not in html  # every asset is local
    for src in ("/static/common.js", "/static/queue.js", "/static/console.css"):
        assert src in html
        asset = await app_client.get(src)
        assert asset.status == 200


async def test_openapi_describes_every_route(app_client: Any) -> None:
    resp = await app_client.get("/api/openapi.json")
    doc = await resp.json()
    assert doc["openapi"].startswith("3.")
    for route in API_ROUTES:
        assert route.method.lower() in doc["paths"][route.path]
    login_op = doc["paths"]["/api/login"]["post"]
    schema = login_op["requestBody"]["content"]["application/json"]["schema"]
    assert set(schema["properties"]) == {"username", "password"}
    assert doc["paths"]["/api/dashboard"]["get"]["x-required-role"] == "admin"
