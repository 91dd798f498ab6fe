"""Notices to complainants and to staff groups: rendered from `notice_templates`, written to the
`notices` outbox once per task and kind, then handed to the transport."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .complaint_rows import complaint_row, identity_row
from .context import Context, tracking_number_of
from .models import Notice
from .notice_templates import render
from .params import one_of, optional_text, required_text
from .times import china_date, iso
from .transport import Transport, get_transport, hand_over

RECIPIENT_CHANNELS = frozenset({"platform", "sms", "email", "letter", "wechat", "staff_inbox"})


def register(registry: Any, transport: Transport | None = None) -> None:
    """With `transport` the handlers use it; without, whatever `set_transport` last installed."""

    def complainant(params: dict[str, Any], context: Context) -> dict[str, Any]:
        return notify_complainant(params, context, transport=transport)

    def staff(params: dict[str, Any], context: Context) -> dict[str, Any]:
        return notify_staff(params, context, transport=transport)

    registry.register("notify_complainant")(complainant)
    registry.register("notify_staff")(staff)


def notify_complainant(
    params: dict[str, Any], context: Context, *, transport: Transport | None = None
) -> dict[str, Any]:
    """Render notice `kind` for the complaint's complainant and hand it over once: a retried
    task finds its notice by idempotency key and returns it without sending again.
    `recipient_channel` defaults from the complainant's contact details."""
    kind = required_text(params, "kind")
    number = tracking_number_of(params, context)
    key = f"{context.idempotency_key}:{kind}"
    channel = one_of(
        optional_text(params, "recipient_channel"), "recipient_channel", RECIPIENT_CHANNELS
    )
    return _notify(
        context,
        params,
        kind=kind,
        key=key,
        tracking_number=number,
        recipient="complainant",
        channel=channel or _complainant_channel(context.session, number),
        transport=transport,
    )


def notify_staff(
    params: dict[str, Any], context: Context, *, transport: Transport | None = None
) -> dict[str, Any]:
    """Reminders, escalations and supervision letters to a candidate group, through the same
    outbox (recipient = the group, channel = staff_inbox)."""
    kind = required_text(params, "kind")
    group = required_text(params, "group")
    number = params.get("tracking_number") or context.business_key
    return _notify(
        context,
        params,
        kind=kind,
        key=f"{context.idempotency_key}:{kind}:{group}",
        tracking_number=number,
        recipient=group,
        channel="staff_inbox",
        transport=transport,
    )


def _notify(
    context: Context,
    params: dict[str, Any],
    *,
    kind: str,
    key: str,
    tracking_number: str | None,
    recipient: str,
    channel: str,
    transport: Transport | None,
) -> dict[str, Any]:
    session = context.session
    existing = session.scalar(select(Notice).where(Notice.idempotency_key == key))
    if existing is not None:
        return _view(existing)
    title, text = render(
        kind,
        params,
        tracking_number=tracking_number,
        today=china_date(context.now),
        authority=optional_text(params, "authority"),
    )
    notice = Notice(
        tracking_number=tracking_number,
        kind=kind,
        recipient=recipient,
        recipient_channel=channel,
        text=text,
        status="recorded",
        idempotency_key=key,
        created_at=context.now,
    )
    session.add(notice)
    session.flush()
    hand_over(notice, transport or get_transport(), context.now)
    session.flush()
    return _view(notice, title)


def _complainant_channel(session: Session, number: str) -> str:
    """Writing when a written reply was asked for, else the quickest contact given; without any
    contact the notice is only shown on the public tracking page."""
    identity = identity_row(session, number)
    if identity is None:
        return "platform"
    complaint = complaint_row(session, number)
    if complaint is not None and complaint.written_reply and identity.address:
        return "letter"
    if complaint is not None and complaint.channel == "email" and identity.email:
        return "email"
    if identity.phone:
        return "sms"
    if identity.email:
        return "email"
    if identity.address:
        return "letter"
    return "platform"


def _view(notice: Notice, title: str | None = None) -> dict[str, Any]:
    return {
        "notice_id": notice.id,
        "kind": notice.kind,
        "title": title or notice.text.split("\n", 1)[0],
        "recipient": notice.recipient,
        "recipient_channel": notice.recipient_channel,
        "status": notice.status,
        "created_at": iso(notice.created_at),
    }
