"""The web app's users: names, roles and scrypt password hashes in ``web_users``, and the audit
log of changes in ``web_audit``.

scrypt (RFC 7914, in Python's hashlib) is memory-hard like argon2id and needs no extra
package: n=2**15, r=8 takes 32 MB and about 0.1 s a guess on the 2-core test machine.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime

import duckdb

from ..errors import ConfigError
from .store import first_row, now, records, scalar

ROLES = ("viewer", "auditor", "admin")  # each can do what the one before can, and more
SCRYPT = {"n": 2 ** 15, "r": 8, "p": 1}
_MAX_MEMORY = 64 * 1024 * 1024
_NAME = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")
MIN_PASSWORD = 10


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, maxmem=_MAX_MEMORY, dklen=32, **SCRYPT)
    return f"scrypt${SCRYPT['n']}${SCRYPT['r']}${SCRYPT['p']}${salt.hex()}${digest.hex()}"


def password_matches(password: str, stored: str | None) -> bool:
    """Whether ``password`` is the one ``stored`` was made from; the same work when there is
    no such user (``stored`` None), so a guess does not tell names apart by time."""
    try:
        _, n, r, p, salt, digest = (stored or _DUMMY).split("$")
        found = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p),
                               maxmem=_MAX_MEMORY, dklen=32)
    except (ValueError, TypeError):
        return False
    return stored is not None and hmac.compare_digest(found.hex(), digest)


_DUMMY = f"scrypt${SCRYPT['n']}${SCRYPT['r']}${SCRYPT['p']}${'00' * 16}${'00' * 32}"


def _checked(username: str, role: str | None = None, password: str | None = None) -> None:
    if not _NAME.match(username or ""):
        raise ConfigError(f"user name {username!r}: 1 to 64 letters, digits or . _ @ -")
    if role is not None and role not in ROLES:
        raise ConfigError(f"role {role!r}: use one of {', '.join(ROLES)}")
    if password is not None and len(password) < MIN_PASSWORD:
        raise ConfigError(f"the password must have at least {MIN_PASSWORD} characters")


def add(con: duckdb.DuckDBPyConnection, username: str, role: str, password: str, by: str, address: str) -> None:
    _checked(username, role, password)
    if first_row(con, "select 1 from web_users where username = ?", [username]):
        raise ConfigError(f"user {username} exists already (`alertproc user passwd` changes the password)")
    at = now()
    con.execute("insert into web_users values (?, ?, ?, ?, ?)", [username, role, hash_password(password), at, at])
    audit(con, by, address, "user add", username, role)


def set_password(con: duckdb.DuckDBPyConnection, username: str, password: str, by: str, address: str,
                 role: str | None = None) -> None:
    _checked(username, role, password)
    if not first_row(con, "select 1 from web_users where username = ?", [username]):
        raise ConfigError(f"no user {username} (see `alertproc user list`)")
    con.execute("update web_users set password_hash = ?, role = coalesce(?, role), updated_at = ? where username = ?",
                [hash_password(password), role, now(), username])
    audit(con, by, address, "user passwd", username, role)


def set_role(con: duckdb.DuckDBPyConnection, username: str, role: str, by: str, address: str) -> None:
    _checked(username, role)
    if not first_row(con, "select 1 from web_users where username = ?", [username]):
        raise ConfigError(f"no user {username} (see `alertproc user list`)")
    con.execute("update web_users set role = ?, updated_at = ? where username = ?", [role, now(), username])
    audit(con, by, address, "user role", username, role)


def remove(con: duckdb.DuckDBPyConnection, username: str, by: str, address: str) -> None:
    if not first_row(con, "select 1 from web_users where username = ?", [username]):
        raise ConfigError(f"no user {username} (see `alertproc user list`)")
    con.execute("delete from web_users where username = ?", [username])
    audit(con, by, address, "user remove", username, None)


def listed(con: duckdb.DuckDBPyConnection) -> list[dict]:
    return records(con, "select username, role, created_at, updated_at from web_users order by username")


def login(con: duckdb.DuckDBPyConnection, username: str, password: str) -> str | None:
    """The role of ``username`` when ``password`` is theirs, else None."""
    found = first_row(con, "select role, password_hash from web_users where username = ?", [username or ""])
    return found[0] if password_matches(password or "", found[1] if found else None) and found else None


def role_of(con: duckdb.DuckDBPyConnection, username: str, logged_in_at: datetime | None = None) -> str | None:
    """The user's role now: checked on every request, so a removal or a new role takes effect at
    once. None when the user was removed or, given ``logged_in_at``, when their password or role
    changed since then (a changed password ends every session opened with the old one)."""
    found = first_row(con, "select role, updated_at from web_users where username = ?", [username])
    if found is None or (logged_in_at is not None and found[1] > logged_in_at):
        return None
    return found[0]


def audit(con: duckdb.DuckDBPyConnection, username: str, address: str, action: str, target: str | None,
          detail: str | None) -> None:
    con.execute("insert into web_audit values (?, ?, ?, ?, ?, ?, ?)",
                [scalar(con, "select nextval('web_audit_ids')"), now(), username, address, action, target, detail])
