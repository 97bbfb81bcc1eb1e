"""Family: the pupils, the adults around them and how to reach each, the whole message thread, and a box to
send one message in the adult's own language.

Restrictions are safeguarding decisions: only the DSL may change one (not even an administrator), and the
message box refuses a restricted adult whatever the routing would do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse
from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload
from starlette.responses import Response

from gateway import clock
from gateway.models import (
    Adult,
    ContactKind,
    ContactPoint,
    InboundMessage,
    Literacy,
    OutboxMessage,
    Pupil,
    PupilContact,
    Restriction,
    StaffRole,
    StaffUser,
)
from gateway.safeguarding import (
    ContactRestricted,
    address_key,
    blocked_address_reason,
    blocked_addresses,
    blocked_reason,
    blocked_reasons,
    restriction_change,
)
from gateway.staff import record_audit
from gateway.web.deps import STAFF_DEPENDENCIES, CurrentStaff, DbSession, get_or_404, require_role
from gateway.web.templating import flash, render

router = APIRouter(dependencies=STAFF_DEPENDENCIES)
DslOnly = Annotated[StaffUser, Depends(require_role(StaffRole.DSL))]

CHANNELS = ("sms", "email", "voice")
# Kinds staff may send by hand from the family page (each needs only the standard context).
STAFF_KINDS = {"absence_followup": "Absence follow-up", "fortnightly_checkin": "Fortnightly check-in",
               "reply_thanks": "Thank you for replying"}


@dataclass
class ThreadItem:
    """One line of the message thread: a message we sent or a reply we received."""

    at: datetime
    direction: str  # "out" | "in"
    adult_name: str
    channel: str
    text: str
    state: str
    detail: str = ""


def family_pupils(session: Session, pupil: Pupil) -> list[Pupil]:
    """The pupil and the siblings who share an adult with parental responsibility."""
    adult_ids = [link.adult_id for link in pupil.links if link.parental_responsibility]
    if not adult_ids:
        return [pupil]
    ids = set(session.scalars(select(PupilContact.pupil_id).where(PupilContact.adult_id.in_(adult_ids),
                                                                  PupilContact.parental_responsibility.is_(True))))
    ids.add(pupil.id)
    return list(session.scalars(select(Pupil).where(Pupil.id.in_(ids)).order_by(Pupil.forename)))


def _load_pupil(session: Session, pupil_id: int) -> Pupil:
    pupil = session.scalar(select(Pupil).where(Pupil.id == pupil_id)
                           .options(selectinload(Pupil.links).selectinload(PupilContact.adult)))
    if pupil is None:
        raise HTTPException(status_code=404, detail="No such pupil.")
    return pupil


def family_adults(session: Session, pupils: list[Pupil]) -> list[tuple[Adult, list[PupilContact]]]:
    """Each adult linked to any of the pupils, with their links, in priority order."""
    links = list(session.scalars(select(PupilContact).where(PupilContact.pupil_id.in_([p.id for p in pupils]))
                                 .options(selectinload(PupilContact.adult).selectinload(Adult.contact_points),
                                          selectinload(PupilContact.pupil))
                                 .order_by(PupilContact.priority, PupilContact.id)))
    by_adult: dict[int, tuple[Adult, list[PupilContact]]] = {}
    for link in links:
        by_adult.setdefault(link.adult_id, (link.adult, []))[1].append(link)
    return list(by_adult.values())


def message_thread(session: Session, adults: list[Adult], pupil_ids: list[int], *,
                   include_dsl_only: bool = False) -> list[ThreadItem]:
    """Every message to and from these adults, newest first (a restricted contact's messages only for the DSL)."""
    names = {a.id: a.full_name for a in adults}
    adult_ids = list(names)
    items: list[ThreadItem] = []
    if not adult_ids:
        return items
    for row in session.scalars(select(OutboxMessage).where(OutboxMessage.adult_id.in_(adult_ids))
                               .order_by(OutboxMessage.created_at.desc()).limit(200)):
        items.append(ThreadItem(at=row.created_at, direction="out", adult_name=names.get(row.adult_id or 0, ""),
                                channel=row.channel, text=row.text, state=row.state.value,
                                detail=row.error_reason or row.kind.replace("_", " ")))
    replies = select(InboundMessage).where(or_(InboundMessage.adult_id.in_(adult_ids)))
    if not include_dsl_only:
        replies = replies.where(InboundMessage.dsl_only.is_(False))
    for reply in session.scalars(replies.order_by(InboundMessage.received_at.desc()).limit(200)):
        code = reply.confirmed_code or reply.suggested_code
        text = " ".join(part for part in (reply.body, f"({reply.media_note})" if reply.media_note else "") if part)
        items.append(ThreadItem(at=reply.received_at, direction="in", adult_name=names.get(reply.adult_id or 0, ""),
                                channel=reply.source, text=text, state="confirmed" if reply.confirmed_code
                                else "received", detail=f"code {code}" if code else ""))
    items.sort(key=lambda item: item.at, reverse=True)
    return items


def _contactable(db: Session, adult_ids: list[int]) -> dict[int, bool]:
    """Whether each adult may be contacted (the strictest restriction across all their links, any family)."""
    blocked = blocked_reasons(db, adult_ids)
    return {adult_id: adult_id not in blocked for adult_id in adult_ids}


@router.get("/families")
def family_search(request: Request, db: DbSession, q: str = "") -> Response:
    """Find a family by a pupil's full name, a parent's name, a phone number or a UPN (any case, any accents)."""
    from gateway.web.family_search import search_families

    query = q.strip()[:100]
    return render(request, "families.html", {"q": query, "matches": search_families(db, query)})


@router.get("/families/{pupil_id}")
def family_page(request: Request, pupil_id: int, db: DbSession, staff: CurrentStaff) -> Response:
    """Everything about one family."""
    pupil = _load_pupil(db, pupil_id)
    pupils = family_pupils(db, pupil)
    adults = family_adults(db, pupils)
    return render(request, "family.html", {
        "pupil": pupil, "pupils": pupils, "adults": adults,
        "thread": message_thread(db, [a for a, _ in adults], [p.id for p in pupils],
                                 include_dsl_only=staff.role is StaffRole.DSL),
        "restrictions": list(Restriction), "literacies": list(Literacy), "channels": CHANNELS,
        "contact_kinds": list(ContactKind), "staff_kinds": STAFF_KINDS,
        "can_restrict": staff.role is StaffRole.DSL, "may_contact": _contactable(db, [a.id for a, _links in adults]),
        "blocked": blocked_reasons(db, [a.id for a, _links in adults]),  # why: awaiting approval or restricted
        "held_points": _held_points(db, [a for a, _links in adults]),
        "languages": _languages(db, [a for a, _links in adults]),
    })


def _held_points(db: Session, adults: list[Adult]) -> set[int]:
    """Ids of these adults' contact points whose address a contactable adult shares with a restricted one:
    shown as blocked (nothing is ever sent to them while the restricted adult holds the address)."""
    contactable = _contactable(db, [a.id for a in adults])
    points = [p for a in adults if contactable[a.id] for p in a.contact_points]
    held = blocked_addresses(db, [p.value for p in points]) if points else {}
    return {p.id for p in points if address_key(p.value) in held}


def _adult_in_family(db: Session, pupil_id: int, adult_id: int) -> tuple[Pupil, Adult, list[PupilContact]]:
    pupil = _load_pupil(db, pupil_id)
    for adult, links in family_adults(db, family_pupils(db, pupil)):
        if adult.id == adult_id:
            return pupil, adult, links
    raise HTTPException(status_code=404, detail="That adult is not linked to this family.")


def _parse_time(text: str) -> time | None:
    text = text.strip()
    if not text:
        return None
    try:
        return time.fromisoformat(text)
    except ValueError as exc:
        raise HTTPException(status_code=422, detail=f"{text!r} is not a time (use HH:MM).") from exc


def _hhmm(value: time | None) -> str:
    """A stored time as the form shows it (HH:MM), or "" when there is none."""
    return value.strftime("%H:%M") if value is not None else ""


def _languages(db: Session, adults: list[Adult]) -> dict[int, str]:
    """For each adult, the language the gateway will write to them in and why (routing's decision)."""
    from gateway.pipeline import ports
    from gateway.routing.language import language_explained

    used = ports.current()
    capabilities = used.capabilities()
    explained: dict[int, str] = {}
    for adult in adults:
        recipient = used.routing.recipient(db, adult.id)
        explained[adult.id] = (language_explained(recipient.adult, recipient.pupils, capabilities)
                               if recipient is not None else "not linked to a pupil")
    return explained


@router.post("/families/{pupil_id}/adults/{adult_id}/preferences")
def update_preferences(
    request: Request, pupil_id: int, adult_id: int, db: DbSession, staff: CurrentStaff,
    literacy: Annotated[Literacy, Form()], channel_order: Annotated[list[str], Form()],
    language: Annotated[str, Form(max_length=35)] = "", window_start: Annotated[str, Form()] = "",
    window_end: Annotated[str, Form()] = "",
) -> Response:
    """Change an adult's language, reading level, channel order and contact window."""
    from gateway.languages import to_locale

    _, adult, _ = _adult_in_family(db, pupil_id, adult_id)
    order = [c for c in dict.fromkeys(channel_order) if c in CHANNELS]
    if not order:
        raise HTTPException(status_code=422, detail="Choose at least one channel.")
    before = {"language": adult.language, "literacy": adult.literacy.value, "channels": adult.channel_order,
              "window": f"{adult.window_start}-{adult.window_end}"}
    # Only what the form changed is written: an empty language box means "none of their own" (NULL, so the
    # child's home language still applies), never a default written over what was there.
    typed = language.strip()
    if typed != (adult.language or ""):
        if typed:
            locale, warning = to_locale(typed)
            if warning:
                raise HTTPException(status_code=422, detail=warning)
            adult.language = locale
        else:
            adult.language = None
    if literacy is not adult.literacy:
        adult.literacy = literacy
    if ",".join(order) != ",".join(adult.channels):
        adult.channel_order = ",".join(order)
    start, end = _parse_time(window_start), _parse_time(window_end)
    if window_start.strip() != _hhmm(adult.window_start) or window_end.strip() != _hhmm(adult.window_end):
        adult.window_start, adult.window_end = start, end
    after = {"language": adult.language, "literacy": adult.literacy.value, "channels": adult.channel_order,
             "window": f"{adult.window_start}-{adult.window_end}"}
    changed = {k: {"from": before[k], "to": after[k]} for k in before if before[k] != after[k]}
    record_audit(db, staff, "update_preferences", "adult", adult.id, changed)
    flash(request, f"Saved {adult.full_name}'s preferences.", "good")
    return RedirectResponse(f"/families/{pupil_id}#adult-{adult_id}", status_code=303)


@router.post("/families/{pupil_id}/adults/{adult_id}/contact-points")
def add_contact_point(request: Request, pupil_id: int, adult_id: int, db: DbSession, staff: CurrentStaff,
                      value: Annotated[str, Form(max_length=254)],
                      dsl_override: Annotated[bool, Form()] = False) -> Response:
    """Add a phone number or e-mail address (checked and normalised).

    An address held by an adult who may not be contacted is refused with the reason (a barred father's mobile
    typed onto the mother's record); only the DSL may add it anyway (audited), and even then nothing is ever
    sent to it while the restricted adult holds it."""
    from gateway.phones import InvalidEmailError, InvalidPhoneError, PhoneKind, normalise_email, normalise_phone

    _, adult, _ = _adult_in_family(db, pupil_id, adult_id)
    try:
        if "@" in value:
            kind, normalised, sms = ContactKind.EMAIL, normalise_email(value), False
        else:
            phone = normalise_phone(value)
            kind = ContactKind.MOBILE if phone.kind is PhoneKind.MOBILE else ContactKind.LANDLINE
            normalised, sms = phone.e164, phone.sms_capable
    except (InvalidPhoneError, InvalidEmailError) as exc:
        raise HTTPException(status_code=422, detail=exc.reason) from exc
    held = None if blocked_reason(db, adult.id) else blocked_address_reason(db, normalised)
    overridden = held is not None and dsl_override and staff.role is StaffRole.DSL
    if any(p.kind == kind and p.value == normalised for p in adult.contact_points):
        flash(request, "That contact is already on file.")
    elif held is not None and not overridden:
        record_audit(db, staff, "refuse_contact_point", "adult", adult.id, {"kind": kind.value, "reason": held})
        flash(request, "Not added: that number or e-mail address belongs to a contact the DSL has restricted "
                       f"({held.replace('_', ' ')}). Nothing may be sent to it, whoever's record it is on. "
                       "Only the DSL can add it anyway.", "warn")
    else:
        point = ContactPoint(adult_id=adult.id, kind=kind, value=normalised, sms_capable=sms,
                             position=len(adult.contact_points))
        db.add(point)
        db.flush()
        detail: dict[str, Any] = {"kind": kind.value, "adult_id": adult.id}
        if overridden:
            detail |= {"dsl_override": True, "held_by_restricted": held}
        record_audit(db, staff, "add_contact_point", "contact_point", point.id, detail)
        if overridden:
            flash(request, "Contact added by DSL override. It stays blocked: nothing is sent to it while a "
                           "restricted contact also holds it.", "warn")
        else:
            flash(request, "Contact added.", "good")
    return RedirectResponse(f"/families/{pupil_id}#adult-{adult_id}", status_code=303)


@router.post("/families/{pupil_id}/contact-points/{point_id}/delete")
def remove_contact_point(request: Request, pupil_id: int, point_id: int, db: DbSession,
                         staff: CurrentStaff) -> Response:
    """Remove a phone number or e-mail address."""
    point = get_or_404(db, ContactPoint, point_id, "contact")
    _adult_in_family(db, pupil_id, point.adult_id)
    record_audit(db, staff, "remove_contact_point", "contact_point", point.id,
                 {"kind": point.kind.value, "adult_id": point.adult_id})
    db.delete(point)
    flash(request, "Contact removed.", "good")
    return RedirectResponse(f"/families/{pupil_id}#adult-{point.adult_id}", status_code=303)


@router.post("/families/{pupil_id}/links/{link_id}/restriction")
def change_restriction(request: Request, pupil_id: int, link_id: int, db: DbSession, staff: DslOnly,
                       restriction: Annotated[Restriction, Form()],
                       approve: Annotated[bool, Form()] = False) -> Response:
    """The DSL sets or lifts a restriction on one adult for one pupil (or approves contact)."""
    link = get_or_404(db, PupilContact, link_id, "link")
    _adult_in_family(db, pupil_id, link.adult_id)
    before = link.restriction.value
    # The one rule every path uses: any change of restriction clears a recorded approval. Approval is then a
    # separate act, recorded only when the DSL ticks it for a dsl_approval link (unticked withdraws it).
    for column, value in restriction_change(link.restriction, restriction).items():
        setattr(link, column, value)
    if restriction is Restriction.DSL_APPROVAL and approve:
        if link.dsl_approved_at is None:
            link.dsl_approved_at, link.dsl_approved_by = clock.now(), staff.id
    else:
        link.dsl_approved_at, link.dsl_approved_by = None, None
    record_audit(db, staff, "change_restriction", "pupil_contact", link.id,
                 {"from": before, "to": restriction.value, "approved": bool(link.dsl_approved_at),
                  "adult_id": link.adult_id, "pupil_id": link.pupil_id})
    flash(request, "Restriction saved.", "good")
    return RedirectResponse(f"/families/{pupil_id}#adult-{link.adult_id}", status_code=303)


FlagEditor = Annotated[StaffUser, Depends(require_role(StaffRole.ATTENDANCE_LEAD, StaffRole.DSL))]


@router.post("/families/{pupil_id}/pupils/{target_id}/flags")
def change_pupil_flags(request: Request, pupil_id: int, target_id: int, db: DbSession, staff: FlagEditor,
                       bereaved: Annotated[bool, Form()] = False, long_term_ill: Annotated[bool, Form()] = False,
                       support_plan: Annotated[bool, Form()] = False) -> Response:
    """The attendance lead or the DSL sets the flags the guidance relies on (bereaved, long-term illness,
    support plan): no attendance nudges while bereaved or long-term ill, check-ins instead. Audited."""
    pupil = next((p for p in family_pupils(db, _load_pupil(db, pupil_id)) if p.id == target_id), None)
    if pupil is None:
        raise HTTPException(status_code=404, detail="That pupil is not in this family.")
    wanted = {"bereaved": bereaved, "long_term_ill": long_term_ill, "support_plan": support_plan}
    changed = {flag: {"from": getattr(pupil, flag), "to": value} for flag, value in wanted.items()
               if getattr(pupil, flag) != value}
    for flag, value in wanted.items():
        setattr(pupil, flag, value)
    if changed:
        record_audit(db, staff, "change_pupil_flags", "pupil", pupil.id, changed)
    flash(request, "Pupil's flags saved." if changed else "No change to the pupil's flags.", "good")
    return RedirectResponse(f"/families/{pupil_id}#pupils-h", status_code=303)


@router.post("/families/{pupil_id}/links/{link_id}/household-carer")
def change_household_carer(request: Request, pupil_id: int, link_id: int, db: DbSession, staff: DslOnly,
                           in_audience: Annotated[bool, Form()]) -> Response:
    """The DSL decides whether an adult who lives with and cares for the pupil is in the audience of the
    parental-responsibility steps and routine messages (by default they are, as the guidance asks). Audited."""
    link = get_or_404(db, PupilContact, link_id, "link")
    _adult_in_family(db, pupil_id, link.adult_id)
    before = link.household_carer_in_audience
    link.household_carer_in_audience = in_audience
    record_audit(db, staff, "change_household_carer", "pupil_contact", link.id,
                 {"from": before, "to": in_audience, "adult_id": link.adult_id, "pupil_id": link.pupil_id})
    flash(request, "Saved.", "good")
    return RedirectResponse(f"/families/{pupil_id}#adult-{link.adult_id}", status_code=303)


def _preview(db: Session, pupil_id: int, adult_id: int, kind: str, channel: str | None) -> dict[str, Any]:
    """The message as routing would send it now: the channel, address, locale and variant ``send_one_off``
    will use (``routing.recipient.one_off_choice``), rendered."""
    from gateway.pipeline import ports
    from gateway.pipeline.context import message_context
    from gateway.routing.language import language_explained
    from gateway.routing.reach import Unreachable
    from gateway.routing.recipient import one_off_choice

    if kind not in STAFF_KINDS:
        raise HTTPException(status_code=422, detail="Choose a message.")
    _pupil, adult, links = _adult_in_family(db, pupil_id, adult_id)
    pupils = [link.pupil for link in links]
    wanted = channel if channel in CHANNELS else None
    used = ports.current()
    recipient = used.routing.recipient(db, adult.id, [p.id for p in pupils])
    capabilities = used.capabilities()
    content, error, locale, language = None, None, None, None
    chosen = wanted or (adult.channels[0] if adult.channels else "sms")
    if recipient is None:
        error = "This adult is not linked to a pupil."
    else:
        language = language_explained(recipient.adult, recipient.pupils, capabilities)
        choice = one_off_choice(recipient.adult, recipient.pupils, capabilities, wanted)
        if isinstance(choice, Unreachable):
            error = f"No usable contact: {choice.detail}"
        else:
            chosen, locale = choice.channel, choice.locale
            try:
                content = used.render(kind, locale=choice.locale, channel=choice.channel,
                                               variant=choice.variant,
                                               context=message_context(db, adult=adult, pupils=pupils,
                                                                       on=clock.now().date()))
            except Exception as exc:  # show the staff member why, instead of a broken page
                error = f"{type(exc).__name__}: {exc}"
    return {"content": content, "error": error, "adult": adult, "channel": chosen, "kind": kind,
            "locale": locale, "language": language, "may_contact": blocked_reason(db, adult.id) is None,
            "pupil_ids": [p.id for p in pupils]}


@router.post("/families/{pupil_id}/preview")
def preview_message(request: Request, pupil_id: int, db: DbSession, adult_id: Annotated[int, Form()],
                    kind: Annotated[str, Form()], channel: Annotated[str, Form()] = "") -> Response:
    """The message exactly as this adult would get it (an htmx fragment)."""
    return render(request, "_preview.html", _preview(db, pupil_id, adult_id, kind, channel or None))


@router.post("/families/{pupil_id}/send")
def send_message(request: Request, pupil_id: int, db: DbSession, staff: CurrentStaff,
                 adult_id: Annotated[int, Form()], kind: Annotated[str, Form()],
                 channel: Annotated[str, Form()] = "") -> Response:
    """Send one message now, in the adult's language; refused for a restricted adult."""
    from gateway.pipeline.absence import send_one_off

    preview = _preview(db, pupil_id, adult_id, kind, channel or None)
    if not preview["may_contact"]:
        raise HTTPException(status_code=403, detail="This adult is restricted: the DSL has not allowed contact.")
    record_audit(db, staff, "send_message", "adult", adult_id, {"kind": kind, "channel": preview["channel"]})
    try:
        outbox_id = send_one_off(db, adult_id=adult_id, kind=kind, pupil_ids=preview["pupil_ids"],
                                 on=clock.now().date(), staff_id=staff.id, channel=preview["channel"])
    except ContactRestricted:
        flash(request, "Not sent: that contact's only usable number or e-mail address is also held by a contact "
                       "the DSL has restricted, so nothing may go to it.", "warn")
        return RedirectResponse(f"/families/{pupil_id}#thread", status_code=303)
    if outbox_id is None:
        flash(request, "No usable contact for that channel: nothing was sent.", "warn")
    else:
        flash(request, "Message queued.", "good")
    return RedirectResponse(f"/families/{pupil_id}#thread", status_code=303)
