"""Bulk SMS and RoboCall end to end: a batch generated for a building, approved, and sent
by the text sender to a local Twilio-shaped server on 127.0.0.1; refusals are per text."""

from __future__ import annotations

import pytest

from commstui.delivery.texts import TextSender
from commstui.domain import MessageStatus
from commstui.services import auth, batches, bulk, sms_settings
from commstui.services.sms_settings import SmsProviderForm
from commstui.store import notes as notes_store
from sms_server import SmsServer, error

SID, TOKEN = "AC00000000000000000000000000000001", "token-for-tests"


@pytest.fixture
def server():
    with SmsServer(account=SID, token=TOKEN) as running:
        yield running


@pytest.fixture
def provider(ctx, admin, server, monkeypatch):
    monkeypatch.setenv("TWILIO_TEST_TOKEN", TOKEN)
    return sms_settings.save_provider(ctx, admin, SmsProviderForm(
        account_sid=SID, from_number="+61412000111", token_env="TWILIO_TEST_TOKEN", base_url=server.base_url))


def mill(ctx, user):
    building = next(b.id for b in bulk.choices(ctx, user).buildings if b.code == "MILL")
    return bulk.Selection(mode="buildings", building_ids=[building], include_contacts=True)


COMPOSE = bulk.BulkCompose(subject="Water", sms_body="Water off Tue 9-11 at {{ building.name }}, "
                                                    "{{ recipient.name }}.")


async def drain(ctx) -> None:
    sender = TextSender(ctx.db, ctx.settings)
    for _ in range(5):
        counts = await sender.run_once()
        if not counts.claimed:
            return


@pytest.mark.parametrize("mode", ["sms", "robocall"])
async def test_a_building_batch_is_texted_after_approval_with_notes(ctx, admin, server, provider, mode):
    sender = auth.login(ctx, "bulk-sender", "bulk-sender-demo-1")
    approver = auth.login(ctx, "bulk-approver", "bulk-approver-demo-1")
    selection = mill(ctx, sender)
    found = bulk.recipients(ctx, sender, selection, mode)
    reachable = {r.name: r.destination for r in found.reachable}
    # SMS needs a mobile and an opt-in; a call only a number
    assert ("Mill Roasters Operations" in reachable) and (len(found.unreachable) > 0)
    batch = bulk.generate(ctx, sender, selection, mode, COMPOSE, found.recipients).batch

    await drain(ctx)
    assert server.requests == []  # nothing before approval

    batches.approve(ctx, approver, batch.id)
    await drain(ctx)

    expected = batch.sms if mode == "sms" else batch.robocalls
    assert expected == len(reachable) and len(server.requests) == expected
    resource = "Messages.json" if mode == "sms" else "Calls.json"
    assert {r.resource for r in server.requests} == {resource}
    sent_to = {r.form["To"] for r in server.requests}
    assert sent_to == set(reachable.values())
    first = server.requests[0].form
    spoken = first.get("Body") or first.get("Twiml")
    assert "Water off Tue 9-11 at The Mill Apartments" in spoken
    results = batches.results(ctx, sender, batch.id)
    assert results.succeeded == expected and results.waiting == 0
    assert results.failed == len(found.unreachable)
    with ctx.db.connect() as con:
        roasters = con.execute("select id from customers where account_no = 'A1000043'").fetchone()[0]
        notes = [n.text for n in notes_store.for_customer(con, roasters)]
    word = "SMS sent to" if mode == "sms" else "RoboCall placed to"
    assert any(n.startswith(f"{word} +61412345143") for n in notes), notes


async def test_a_number_the_provider_refuses_fails_with_its_words_and_the_rest_go(ctx, admin, server, provider):
    sender = auth.login(ctx, "bulk-sender", "bulk-sender-demo-1")
    selection = mill(ctx, sender)
    found = bulk.recipients(ctx, sender, selection, "sms")
    refused = found.reachable[0].destination
    server.answer_to(refused, error(400, 21610, "Attempt to send to unsubscribed recipient"))
    batch = bulk.generate(ctx, sender, selection, "sms", COMPOSE, found.recipients).batch
    batches.approve(ctx, admin, batch.id)

    await drain(ctx)

    results = batches.results(ctx, sender, batch.id)
    failed = [f for f in results.failures if f.message_id is not None]
    assert [(f.destination, f.channel) for f in failed] == [(refused, "sms")]
    assert "21610" in failed[0].reason and "unsubscribed recipient" in failed[0].reason
    assert results.succeeded == batch.sms - 1
    with ctx.db.connect() as con:
        statuses = {r[0] for r in con.execute("select status from messages where batch_id = ?", [batch.id]).fetchall()}
    assert statuses == {MessageStatus.SENT, MessageStatus.FAILED}


async def test_the_status_figures_count_texts_waiting_to_go(ctx, admin, server, provider):
    from commstui.services import schedule

    sender = auth.login(ctx, "bulk-sender", "bulk-sender-demo-1")
    before = schedule.dispatcher_status(ctx, admin)
    selection = mill(ctx, sender)
    found = bulk.recipients(ctx, sender, selection, "sms")
    batch = bulk.generate(ctx, sender, selection, "sms", COMPOSE, found.recipients).batch
    assert schedule.dispatcher_status(ctx, admin).queued == before.queued  # pending approval: not queued yet
    batches.approve(ctx, admin, batch.id)
    assert schedule.dispatcher_status(ctx, admin).queued == before.queued + batch.sms
    await drain(ctx)
    assert schedule.dispatcher_status(ctx, admin).queued == before.queued
