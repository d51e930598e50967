"""The learning loop in the console (issue 15 item 6): agents' corrections are stored as
pairs, recurring ones are proposed to admins (only admins, with the CSRF token), and an
approved alias is used by the next draft without a restart."""

from __future__ import annotations

from typing import Any

from tests.console.conftest import login, new_draft, services_of

# Whisper writing 王 as its homophone 汪, call after call (the drafter keeps 汪 as said).
HEARD = "我姓汪 我们小区的路灯坏了 朝阳区双井街道 电话 幺三八 幺幺二二 三三四四"


def _hdr(csrf: str) -> dict[str, str]:
    return {"X-CSRF-Token": csrf}


async def _correct(client: Any, csrf: str, draft_id: str, fields: dict[str, Any]) -> None:
    resp = await client.post(f"/api/drafts/{draft_id}/claim", json={}, headers=_hdr(csrf))
    assert resp.status == 200, await resp.text()
    resp = await client.patch(f"/api/drafts/{draft_id}", json={"fields": fields},
                              headers=_hdr(csrf))
    assert resp.status == 200, await resp.text()


async def test_recurring_corrections_are_proposed_approved_and_used_at_once(
        app_client: Any) -> None:
    agent = await login(app_client, "alice")
    calls = []
    for _ in range(3):
        drafted = await new_draft(app_client, HEARD)
        assert drafted["surname"] == "汪"
        await _correct(app_client, agent, drafted["id"], {"surname": "王"})
        calls.append(drafted["call_id"])
    # Agents neither see nor decide proposals.
    assert (await app_client.get("/api/learning/proposals")).status == 403
    assert (await app_client.post("/api/learning/proposals/x/approve",
                                  headers=_hdr(agent))).status == 403
    assert (await app_client.get("/learning")).status == 403

    admin = await login(app_client, "root")
    resp = await app_client.get("/api/learning/proposals")
    assert resp.status == 200
    body = await resp.json()
    assert body["min_count"] == 3
    [proposal] = [p for p in body["proposals"] if p["field"] == "surname"]
    assert (proposal["kind"], proposal["heard"], proposal["value"], proposal["count"],
            proposal["status"]) == ("surname", "我姓汪", "王", 3, "proposed")
    assert sorted(proposal["calls"]) == sorted(calls)
    assert (proposal["drafted"], proposal["known"]) == (["汪"], True)
    url = f"/api/learning/proposals/{proposal['id']}"

    # No CSRF token, no decision.
    assert (await app_client.post(url + "/approve")).status == 403
    assert (await new_draft(app_client, HEARD))["surname"] == "汪"

    resp = await app_client.post(url + "/approve", headers=_hdr(admin))
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["status"] == "approved"
    # The next draft of the running service uses it: no restart.
    assert (await new_draft(app_client, HEARD))["surname"] == "王"
    body = await (await app_client.get("/api/learning/proposals?status=approved")).json()
    assert [p["decided_by"] for p in body["proposals"]] == ["root"]

    resp = await app_client.post(url + "/reject", headers=_hdr(admin))
    assert resp.status == 200
    assert (await new_draft(app_client, HEARD))["surname"] == "汪"
    assert (await app_client.post("/api/learning/proposals/nosuch/approve",
                                  headers=_hdr(admin))).status == 404
    assert (await app_client.get("/api/learning/proposals?status=bad")).status == 400


async def test_the_admin_page_is_served_in_chinese(app_client: Any) -> None:
    await login(app_client, "root")
    resp = await app_client.get("/learning")
    assert resp.status == 200
    html = await resp.text()
    assert "纠错学习" in html and "learning.js" in html
    assert services_of(app_client).store.learning.current.aliases == ()
