"""Generate the bundled sample mailbox: realistic GSTN alert mail over four weeks.

Run ``python sample_mailbox/make.py`` to regenerate ``sample_mailbox/mail/``; the output is
deterministic, so regenerating changes nothing unless this script changed. The scenario
(which findings it must produce) is described in ``sample_mailbox/README.md``.
The builders at the top (``refresh_text`` …) are also used by tests and benchmarks.
"""

from __future__ import annotations

import random
import shutil
import sys
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

IST = timezone(timedelta(hours=5, minutes=30))
GST = "GSTN <donotreply@gst.gov.in>"
TO = "accounts@pune-plant.example.in"
AUTH_PASS = ("mx.example.in; dkim=pass header.i=@gst.gov.in header.s=gstn; "
             "spf=pass smtp.mailfrom=donotreply@gst.gov.in; dmarc=pass header.from=gst.gov.in")
FOOTER = ("If this was not done by an application service provider authorised by you, revoke it "
          "through Services > User Services > Manage API Access on the GST Portal.\n"
          "This is a system generated e-mail. Please do not reply.\n")


def _fmt(when: datetime, style: str = "dash") -> str:
    when = when.astimezone(IST)
    if style == "slash12":
        return when.strftime("%d/%m/%Y %I:%M:%S %p")
    if style == "month":
        return when.strftime("%d %b %Y %H:%M")
    return when.strftime("%d-%m-%Y %H:%M:%S")


def _mail(subject: str, when: datetime, msgid: str, sender: str = GST, auth: str | None = AUTH_PASS) -> EmailMessage:
    msg = EmailMessage()
    msg["Return-Path"] = "<" + sender.split("<")[-1].rstrip(">") + ">"
    if auth:
        msg["Authentication-Results"] = auth
    msg["From"] = sender
    msg["To"] = TO
    msg["Subject"] = subject
    msg["Date"] = format_datetime(when.astimezone(IST) + timedelta(seconds=7))
    msg["Message-ID"] = f"<{msgid}@gst.gov.in>"
    return msg


def refresh_text(gstin: str, asp: str, gsp: str, when: datetime, msgid: str, cte: str = "7bit",
                 charset: str = "utf-8", alternative: bool = False, **headers: str) -> EmailMessage:
    """E1: plain-text token refresh alert (optionally with an HTML alternative)."""
    body = (f"Dear Taxpayer,\nThe authentication token for your GSTIN {gstin} has been refreshed on "
            f"{_fmt(when)}\nby ASP \"{asp}\" through GSP \"{gsp}\". The refreshed token is\n"
            f"valid till {_fmt(when + timedelta(hours=6))}.\n{FOOTER}")
    msg = _mail(f"Authentication token refreshed for your GSTIN {gstin}", when, msgid, **headers)
    msg.set_content(body, charset=charset, cte=cte)
    if alternative:
        html = "<html><body>" + "".join(f"<p>{line}</p>" for line in body.splitlines()) + "</body></html>"
        msg.add_alternative(html, subtype="html", cte="quoted-printable")
        msg.set_boundary(f"=_alt_{msgid}")
    return msg


def refresh_table(gstin: str, asp: str, gsp: str, when: datetime, msgid: str) -> EmailMessage:
    """E2: HTML-only token refresh alert with a two-column table, base64-encoded."""
    rows = [("GSTIN", gstin), ("ASP Name", asp), ("GSP Name", gsp),
            ("Date and Time of Refresh", _fmt(when, "slash12")),
            ("Token Valid Up To", _fmt(when + timedelta(hours=6), "slash12"))]
    cells = "".join(f"<tr><td style=\"font-weight:bold\">{k}</td><td>{v}</td></tr>" for k, v in rows)
    html = (f"<html><head><style>td{{border:1px solid #999}}</style></head><body><p>Dear Taxpayer,</p>"
            f"<p>The authentication token for your GSTIN has been refreshed.</p><table>{cells}</table>"
            f"<p>{FOOTER}</p></body></html>")
    msg = _mail(f"Authentication token refreshed for your GSTIN {gstin}", when, msgid)
    msg.set_content(html, subtype="html", cte="base64")
    return msg


def consent(gstin: str, asp: str, gsp: str, when: datetime, days: int, msgid: str) -> EmailMessage:
    """E3: OTP consent granted to an ASP."""
    until = when + timedelta(days=days)
    body = (f"Dear Taxpayer,\nAPI access consent for your GSTIN {gstin} has been granted through OTP "
            f"to ASP \"{asp}\" via GSP \"{gsp}\" on {_fmt(when)}.\nThe consent is valid for {days} days, "
            f"up to {_fmt(until)}.\n{FOOTER}")
    msg = _mail(f"API access consent granted for your GSTIN {gstin}", when, msgid)
    msg.set_content(body, cte="quoted-printable")
    return msg


def revoked(gstin: str, asp: str, gsp: str, when: datetime, msgid: str) -> EmailMessage:
    """E4: access of an ASP revoked."""
    body = (f"Dear Taxpayer,\nAccess of ASP {asp} (GSP {gsp}) to your GSTIN has been revoked on "
            f"{_fmt(when, 'month')}. The ASP cannot fetch your data until a fresh consent is given "
            f"through OTP.\nThis is a system generated e-mail. Please do not reply.\n")
    msg = _mail(f"API access revoked for your GSTIN {gstin}", when, msgid)
    msg.set_content(body)
    return msg


def access_changed(gstin: str, when: datetime, msgid: str, days: int | None) -> EmailMessage:
    """E5: API access enabled for ``days`` days, or disabled when ``days`` is None."""
    if days is None:
        what = f"has been disabled on {_fmt(when)}. No ASP can access your data through APIs."
    else:
        what = (f"has been enabled on {_fmt(when)} for a duration of {days} days, up to "
                f"{_fmt(when + timedelta(days=days))}.")
    msg = _mail(f"API access setting changed for your GSTIN {gstin}", when, msgid)
    msg.set_content(f"Dear Taxpayer,\nAPI access for your GSTIN {gstin} {what}\n{FOOTER}")
    return msg


def otp(gstin: str, when: datetime, msgid: str, code: str) -> EmailMessage:
    """E6: OTP sent to verify the GST registration (the digits are fake)."""
    until = (when + timedelta(minutes=10)).astimezone(IST).strftime("%H:%M:%S")
    msg = _mail("OTP for verification of your GST registration", when, msgid)
    msg.set_content(f"Dear taxpayer, {code} is the OTP to verify your GST registration: {gstin}. "
                    f"OTP is valid till {until} IST. Do not share OTP with anyone.\n")
    return msg


def other(sender: str, subject: str, when: datetime, msgid: str, body: str) -> EmailMessage:
    """Any other mail: GSTN notices and reminders, or mail from people."""
    msg = _mail(subject, when, msgid, sender=sender, auth=None)
    msg.set_content(body)
    return msg


# --- the scenario -------------------------------------------------------------------------

PUNE, BLR, DEL, CHN = "27AAPFU0939F1ZV", "29AAPFU0939F1ZR", "07AAPFU0939F1ZX", "33AAPFU0939F1Z2"
AMD = "24AAPFU0939F1Z1"  # Ahmedabad depot: in the policy, silent since mid-October
ACME, LEDGER, QUICK = "Acme Tax Cloud Pvt Ltd", "LedgerLine Solutions Private Limited", "QuickFile GST Services"
EGSP, SUVIDHA = "Example GSP Ltd", "Suvidha Connect Ltd"
START = datetime(2026, 10, 26, 0, 0, tzinfo=IST)
END = datetime(2026, 11, 23, 0, 0, tzinfo=IST)


def ist(day: str, hm: str) -> datetime:
    """A time on the portal's clock, e.g. ist("2026-11-18", "10:00")."""
    return datetime.fromisoformat(f"{day}T{hm}").replace(tzinfo=IST)


def _refresh_times(rng: random.Random, start: datetime, end: datetime, skip: tuple = ()) -> list[datetime]:
    """Refreshes every 5 h 50 min (10 minutes before the 6-hour expiry), with jitter."""
    times, when = [], start
    while when < end:
        if not any(a <= when < b for a, b in skip):
            times.append(when.replace(microsecond=0))
        when += timedelta(hours=5, minutes=50, seconds=rng.randint(0, 90))
    return times


def pune_refresh_times() -> list[datetime]:
    """Acme's refreshes for the Pune plant: e-mailed, and in the last week also sent as SMS."""
    pune_gap = (ist("2026-11-03", "10:15"), ist("2026-11-03", "11:05"))
    return _refresh_times(random.Random(27), START + timedelta(minutes=20), END, skip=(pune_gap,))


def scenario() -> list[tuple[str, bytes]]:
    """Every sample message as (file slug, raw bytes), in delivery order."""
    rng = random.Random(20261123)
    mails: list[tuple[datetime, str, EmailMessage]] = []
    n = iter(range(1, 10_000))

    def add(slug: str, when: datetime, msg: EmailMessage) -> None:
        mails.append((when, slug, msg))

    def mid() -> str:
        return f"alert.{next(n):05d}.{rng.randrange(16**8):08x}"

    # Pune plant: Acme, consent and API access on 24 Oct; manual revocation (policy) on 3 Nov
    # 10:15 followed by a fresh OTP consent at 11:00; a refresh burst on 12 Nov.
    add("access-changed", ist("2026-10-24", "09:25"), access_changed(PUNE, ist("2026-10-24", "09:25"), mid(), 30))
    add("consent", ist("2026-10-24", "09:30"), consent(PUNE, ACME, EGSP, ist("2026-10-24", "09:30"), 30, mid()))
    for i, when in enumerate(pune_refresh_times()):
        add("refresh", when, refresh_text(PUNE, ACME, EGSP, when, mid(), cte=("7bit", "quoted-printable", "base64")[i % 3]))
    add("otp", ist("2026-11-03", "10:58"), otp(PUNE, ist("2026-11-03", "10:58"), mid(), "493817"))
    add("consent", ist("2026-11-03", "11:00"), consent(PUNE, ACME, EGSP, ist("2026-11-03", "11:00"), 30, mid()))
    for minutes in (95, 140, 190, 230, 290):
        when = ist("2026-11-12", "08:00") + timedelta(minutes=minutes)
        add("refresh-burst", when, refresh_text(PUNE, "ACME TAX CLOUD PRIVATE LIMITED", EGSP, when, mid()))

    # Delhi office: Acme under a 30-day consent from 20 Oct that is never renewed; an ASP
    # nobody approved (QuickFile) gets consent on 17 Nov; API access disabled on 22 Nov.
    add("consent", ist("2026-10-20", "16:00"), consent(DEL, ACME, EGSP, ist("2026-10-20", "16:00"), 30, mid()))
    for i, when in enumerate(_refresh_times(rng, START + timedelta(hours=2), ist("2026-11-22", "20:00"))):
        add("refresh", when, refresh_text(DEL, "Acme TaxCloud", EGSP, when, mid(), charset="iso-8859-1",
                                          cte="quoted-printable", alternative=i % 2 == 0))
    add("otp", ist("2026-11-17", "13:57"), otp(DEL, ist("2026-11-17", "13:57"), mid(), "802244"))
    add("consent", ist("2026-11-17", "14:00"), consent(DEL, QUICK, EGSP, ist("2026-11-17", "14:00"), 7, mid()))
    for when in _refresh_times(rng, ist("2026-11-17", "14:05"), ist("2026-11-19", "12:00")):
        add("refresh-unapproved", when, refresh_text(DEL, QUICK, EGSP, when, mid()))
    add("access-changed", ist("2026-11-22", "20:00"), access_changed(DEL, ist("2026-11-22", "20:00"), mid(), None))

    # Bengaluru branch: LedgerLine (HTML-only alerts), revoked on 18 Nov 10:00, yet refreshes
    # continue for a day; a fresh consent on 20 Nov 10:00 makes them legitimate again.
    add("consent", ist("2026-10-25", "11:00"), consent(BLR, LEDGER, SUVIDHA, ist("2026-10-25", "11:00"), 30, mid()))
    revoked_gap = (ist("2026-11-19", "08:00"), ist("2026-11-20", "10:05"))
    for when in _refresh_times(rng, START + timedelta(hours=4), END, skip=(revoked_gap,)):
        add("refresh-table", when, refresh_table(BLR, LEDGER, SUVIDHA, when, mid()))
    add("revoked", ist("2026-11-18", "10:00"), revoked(BLR, LEDGER, SUVIDHA, ist("2026-11-18", "10:00"), mid()))
    add("otp", ist("2026-11-20", "09:58"), otp(BLR, ist("2026-11-20", "09:58"), mid(), "130955"))
    add("consent", ist("2026-11-20", "10:00"), consent(BLR, LEDGER, SUVIDHA, ist("2026-11-20", "10:00"), 7, mid()))

    # Mail from GSTN that is not an API alert: must be left alone, never becomes an event.
    for when, subject, body in [
        (ist("2026-11-11", "09:00"), "Reminder: GSTR-3B for October 2026 is due on 20-11-2026",
         f"Dear Taxpayer,\nThis is a reminder to file GSTR-3B for GSTIN {PUNE} for the tax period October 2026.\n"),
        (ist("2026-11-12", "18:30"), "Acknowledgement for filing GSTR-1 for October 2026",
         f"GSTR-1 for GSTIN {DEL} for October 2026 has been filed. ARN: AA071126123456X.\n"),
        (ist("2026-11-19", "11:15"), "Intimation of notice in FORM GST DRC-01A",
         f"Dear Taxpayer,\nAn intimation in FORM GST DRC-01A has been issued for GSTIN {BLR}. "
         "Reply within 30 days on the GST Portal.\n"),
        (ist("2026-11-20", "16:40"), "TRN generated for your application", "Your TRN is 262611000123TRN.\n"),
    ]:
        add("gst-notice", when, other(GST, subject, when, mid(), body))

    # Mail from people and others.
    add("other", ist("2026-11-13", "12:00"), other("Priya <priya@pune-plant.example.in>", "Team lunch Friday",
                                                   ist("2026-11-13", "12:00"), mid(), "Usual place at 1?\n"))
    add("other", ist("2026-11-16", "07:00"), other("Tax Weekly <news@taxweekly.example.com>", "This week in GST",
                                                   ist("2026-11-16", "07:00"), mid(), "Headlines...\n"))

    # Forwarded alerts: inline (a copy of a real refresh) and as an attachment.
    when = ist("2026-11-21", "09:40")
    fwd = EmailMessage()
    fwd["From"], fwd["To"], fwd["Date"] = "Rahul <rahul@pune-plant.example.in>", TO, format_datetime(when)
    fwd["Subject"] = "Fwd: Authentication token refreshed for your GSTIN 33AAPFU0939F1Z2"
    fwd["Message-ID"] = f"<{mid()}@mail.example.in>"
    fwd_time = ist("2026-11-21", "08:12")
    fwd.set_content("FYI - is this ours? Chennai is not on our list.\n\n---------- Forwarded message ---------\n"
                    f"From: GSTN <donotreply@gst.gov.in>\nDate: {format_datetime(fwd_time)}\n"
                    f"Subject: Authentication token refreshed for your GSTIN {CHN}\nTo: {TO}\n\n"
                    f"Dear Taxpayer,\nThe authentication token for your GSTIN {CHN} has been refreshed on "
                    f"{_fmt(fwd_time)} by ASP \"{ACME}\" through GSP \"{EGSP}\". The refreshed token is valid "
                    f"till {_fmt(fwd_time + timedelta(hours=6))}.\n")
    add("forwarded-inline", when, fwd)
    when = ist("2026-11-18", "16:30")
    attached = refresh_text(DEL, QUICK, EGSP, ist("2026-11-18", "15:01"), mid())
    fwd = EmailMessage()
    fwd["From"], fwd["To"], fwd["Date"] = "Anita <anita@delhi.example.in>", TO, format_datetime(when)
    fwd["Subject"], fwd["Message-ID"] = "Fw: who is QuickFile?", f"<{mid()}@mail.example.in>"
    fwd.set_content("Got this for Delhi, we never signed up with them.\n")
    fwd.add_attachment(attached)
    fwd.set_boundary("=_fwd_attached")
    add("forwarded-attachment", when, fwd)

    # GSTN changed a template: sender and subject say alert, body matches no shipped format.
    when = ist("2026-11-22", "14:32")
    msg = _mail(f"Authentication token refreshed for your GSTIN {PUNE}", when, mid())
    msg.set_content(f"Token for GSTIN {PUNE} renewed by Acme Tax Cloud Pvt Ltd at 2026-11-22T14:32 IST.\n")
    add("unparsed-new-template", when, msg)

    # Spoof suspects: a genuine From that fails DMARC, and a look-alike domain.
    when = ist("2026-11-21", "03:03")
    add("spoofed-dmarc-fail", when, refresh_text(
        BLR, "LedgerLine Solutions Pvt Ltd", SUVIDHA, when, mid(),
        auth="mx.example.in; dkim=none; spf=fail smtp.mailfrom=gst.gov.in; dmarc=fail header.from=gst.gov.in"))
    when = ist("2026-11-20", "22:10")
    add("spoofed-lookalike", when, refresh_text(PUNE, ACME, EGSP, when, mid(), sender="GSTN <donotreply@gst-gov.in>",
                                                auth="mx.example.in; spf=pass smtp.mailfrom=gst-gov.in; dmarc=none"))

    mails.sort(key=lambda m: (m[0], m[1]))
    out = [(slug, msg.as_bytes()) for _, slug, msg in mails]
    # The same alert delivered twice (a second Received hop): dedupe by Message-ID.
    slug, raw = next(item for item in out if item[0] == "refresh")
    relay = b"Received: from relay2.example.in by mx.example.in; Sat, 21 Nov 2026 10:00:00 +0530\r\n"
    out.append(("duplicate-delivery", relay + raw))
    # Broken messages: a truncated multipart alert and header garbage.
    out.append(("malformed-truncated", raw_truncated()))
    out.append(("malformed-garbage", b"\xff\xfe\x00garbage without headers\r\n\x00\x00\r\n"))
    # The original of the Chennai alert Rahul forwarded inline: GSTN's own mail is what feeds the
    # rules; his forward (no trusted forwarder configured) is recorded as `forwarded`. Last, so
    # that adding it renumbered no other file.
    out.append(("refresh", refresh_text(CHN, ACME, EGSP, ist("2026-11-21", "08:12"), "chn-0812").as_bytes()))
    # Coverage (issue 32), appended for the same reason. The Ahmedabad depot's last alerts are of
    # mid-October, while the other GSTINs' keep coming: `gstin_silent`. LedgerLine, approved for
    # Pune too, gets a 30-day consent on 14 Nov, refreshes three times and goes quiet with the
    # consent still valid: `asp_went_quiet`.
    out.append(("consent", consent(AMD, ACME, EGSP, ist("2026-10-14", "11:00"), 30, "amd-consent").as_bytes()))
    out.append(("refresh", refresh_text(AMD, ACME, EGSP, ist("2026-10-15", "09:20"), "amd-0920").as_bytes()))
    out.append(("consent", consent(PUNE, LEDGER, SUVIDHA, ist("2026-11-14", "10:00"), 30, "pune-ledger").as_bytes()))
    for hm in ("10:05", "15:55", "21:40"):
        when = ist("2026-11-14", hm)
        out.append(("refresh-table", refresh_table(PUNE, LEDGER, SUVIDHA, when, f"pune-ledger-{hm[:2]}").as_bytes()))
    return out


def raw_truncated() -> bytes:
    """An alert cut off mid-transfer: multipart with no closing boundary, base64 half-written."""
    return (b"From: GSTN <donotreply@gst.gov.in>\r\nSubject: Authentication token refreshed for your GSTIN "
            b"29AAPFU0939F1ZR\r\nDate: Sun, 22 Nov 2026 05:01:00 +0530\r\nMessage-ID: <trunc.1@gst.gov.in>\r\n"
            b"MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n--b1\r\n"
            b"Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\nPGh0bWw+PGJvZHk+PHRh")


def sms_refresh(gstin: str, asp: str, when: datetime) -> str:
    """S1: the SMS form of a refresh alert."""
    return (f"Authentication token refreshed for your GSTIN {gstin} by ASP {asp} on "
            f"{when.astimezone(IST).strftime('%d-%m-%Y %H:%M')}. Not you? Revoke via Manage API Access on GST portal. -GSTN")


def sms_scenario() -> list[tuple[str, datetime, str]]:
    """(sender id, time, body) of the sample SMS export: GST alerts and private SMS."""
    sms = [("VM-GSTIND", when, sms_refresh(PUNE, "Acme Tax Cloud", when))
           for when in pune_refresh_times() if when >= ist("2026-11-16", "00:00")]
    when = ist("2026-11-03", "11:00")
    sms.append(("JD-GSTIND", when, f"OTP consent for API access to GSTIN {PUNE} given to ASP {ACME} via GSP {EGSP} on "
                                   f"{_fmt(when)}, valid till {_fmt(when + timedelta(days=30))}. -GSTN"))
    when = ist("2026-11-03", "10:58")
    sms.append(("VM-GSTNIN", when, f"Dear taxpayer, 493817 is the OTP to verify your GST registration: {PUNE}. "
                                   f"OTP is valid till {(when + timedelta(minutes=10)).strftime('%H:%M:%S')} IST. "
                                   "Do not share OTP with anyone."))
    when = ist("2026-11-19", "09:14")  # a GSTIN with a wrong check character
    sms.append(("VM-GSTIND", when, sms_refresh("27AAPFU0939F1ZX", "Acme Tax Cloud", when)))
    sms.append(("VM-GSTIND", ist("2026-11-11", "09:00"), "Your GSTR-3B for Oct-2026 is due on 20-11-2026. -GSTN"))
    sms.append(("AX-HDFCBK", ist("2026-11-12", "10:00"), "Rs 5,000 debited from a/c XX1234 on 12-11-26. -HDFC Bank"))
    sms.append(("+919800000001", ist("2026-11-13", "19:30"), "Reaching in 10 min"))
    return sorted(sms, key=lambda item: item[1])


def sms_backup_xml() -> str:
    """The SMS scenario as an SMS Backup & Restore XML export."""
    from xml.sax.saxutils import quoteattr
    lines = ["<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>", f'<smses count="{len(sms_scenario())}">']
    for address, when, body in sms_scenario():
        millis = int(when.timestamp() * 1000)
        lines.append(f'  <sms protocol="0" address={quoteattr(address)} date="{millis}" type="1" subject="null" '
                     f'body={quoteattr(body)} toa="null" sc_toa="null" service_center="null" read="1" status="-1" '
                     f'locked="0" readable_date={quoteattr(when.strftime("%d-%b-%Y %I:%M:%S %p"))} contact_name="(Unknown)" />')
    return "\n".join(lines) + "\n</smses>\n"


def access_log_csv() -> str:
    """A Manage API Access > View Logs export: accesses, a spike of failures, a revoked attempt."""
    rng = random.Random(11)
    rows = []
    for day in range(16, 23):
        for hour in (9, 13, 17):
            when = ist(f"2026-11-{day}", f"{hour:02d}:{rng.randint(0, 59):02d}")
            rows.append((PUNE, when, ACME, EGSP, "Successful", "GSTR1 GET", "203.0.113.10"))
    start = ist("2026-11-19", "02:10")
    for minute in (0, 6, 11, 19, 27, 33):
        rows.append((PUNE, start + timedelta(minutes=minute), "Unknown Vendor", EGSP, "Failed", "AUTH", "198.51.100.77"))
    rows.append((BLR, ist("2026-11-18", "10:05"), LEDGER, SUVIDHA, "Revoked", "GSTR2B GET", "192.0.2.44"))
    rows.append((BLR, ist("2026-11-18", "16:40"), LEDGER, SUVIDHA, "Successful", "GSTR2B GET", "192.0.2.44"))
    # Acme is approved everywhere, but no alert for Bengaluru ever reached the mailbox.
    rows.append((BLR, ist("2026-11-20", "11:15"), ACME, EGSP, "Successful", "GSTR3B GET", "203.0.113.10"))
    rows.append((BLR, ist("2026-11-20", "11:16"), ACME, EGSP, "Successful", "GSTR1 GET", "203.0.113.10"))
    lines = ["GSTIN,Date Time,ASP Name,GSP Name,Status,API Name,IP Address"]
    for gstin, when, asp, gsp, status, api, ip in sorted(rows, key=lambda r: r[1]):
        lines.append(f"{gstin},{when.strftime('%d-%m-%Y %H:%M:%S')},{asp},{gsp},{status},{api},{ip}")
    return "\n".join(lines) + "\n"


def active_tokens_csv() -> str:
    """Manage API Access > Active Tokens as seen on 22-11-2026 22:00 IST (the sample adds the
    "Taken at" column the portal's page does not have): an ASP nobody approved holds a token
    for Pune, and Delhi's approved ASP holds one though its last refresh alert is 7½ hours old."""
    taken = "22-11-2026 22:00:00"
    rows = [(PUNE, ACME, EGSP, "22-11-2026 19:40:00", "23-11-2026 01:40:00"),
            (PUNE, "QuickFile GST Services", EGSP, "22-11-2026 08:10:00", "22-11-2026 23:59:00"),
            ("07AAPFU0939F1ZX", "Acme TaxCloud", EGSP, "22-11-2026 20:10:00", "23-11-2026 02:10:00")]
    lines = ["GSTIN,ASP Name,GSP Name,Generated On,Valid Up To,Status,Taken At"]
    lines += [f"{gstin},{asp},{gsp},{generated},{until},Active,{taken}" for gstin, asp, gsp, generated, until in rows]
    return "\n".join(lines) + "\n"


def main(out_dir: Path) -> int:
    """Write the mails as ``NNNN-slug.eml`` into ``out_dir`` (replacing it), the SMS export, the
    access log and the active-token list beside it."""
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    mails = scenario()
    for number, (slug, raw) in enumerate(mails, start=1):
        (out_dir / f"{number:04d}-{slug}.eml").write_bytes(raw)
    (out_dir.parent / "sms-backup.xml").write_text(sms_backup_xml())
    (out_dir.parent / "access-log.csv").write_text(access_log_csv())
    (out_dir.parent / "active-tokens.csv").write_text(active_tokens_csv())
    print(f"wrote {len(mails)} messages to {out_dir}, sms-backup.xml, access-log.csv and active-tokens.csv beside it")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "mail"))
