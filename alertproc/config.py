"""Settings: declared once (name, default, help), read from TOML, environment and options.

Precedence: command-line option > environment variable > config file > default.
"""

from __future__ import annotations

import os
import tomllib
from importlib import resources
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from .domain import SEVERITIES
from .masking import secret_variable
from .errors import ConfigError

def shipped(name: str) -> Path:
    """The shipped ``rules`` or ``reports`` folder: inside the installed package (a wheel carries
    them as alertproc/shipped/<name>), or at the top of a source checkout."""
    inside = Path(str(resources.files("alertproc.shipped"))) / name
    return inside if inside.is_dir() else Path(__file__).resolve().parent.parent / name


SHIPPED_RULES = shipped("rules")
SHIPPED_REPORTS = shipped("reports")
DEFAULT_CONFIG = "alertproc.toml"
DEFAULT_POLICY = "rules/policy.yaml"
DEFAULT_SENDERS = ("donotreply@gst.gov.in",)
# Reply and forward prefixes of mail clients in many languages, and the tags gateways put
# before a subject. Applied repeatedly, case-insensitively, at the start of the subject only.
DEFAULT_SUBJECT_PREFIXES = (
    r"(?:re|fwd?|fw|aw|wg|sv|vs|vl|tr|rv|rif|r|i|enc|res|antw|odp|pd|ynt|ilt|vb|ref|trs|doorst|"
    r"转发|回复|答复|轉寄|回覆|返信|転送)\s*(?:\[\d+\]|\(\d+\))?\s*[:：]",
    r"\[[^\]]{0,60}\]",
    r"\*{1,3}[^*]{1,40}\*{1,3}",
    r"(?:ext|external|external sender|external email|caution|warning|spam|suspected spam|suspicious)\s*[:：-]",
)
KNOWN_SECTIONS = ("alertproc", "imap", "smtp", "notify")


def is_shipped(path: Path) -> bool:
    """True for a file alertproc ships (not one of the user's)."""
    try:
        path.resolve().relative_to(SHIPPED_RULES.resolve())
        return True
    except ValueError:
        return False


@dataclass(frozen=True)
class Settings:
    """Where things live and which mail counts as GST alerts."""

    db: str = field(default="alertproc.duckdb", metadata={"path": True,
        "help": "DuckDB database file", "env": "ALERTPROC_DB"})
    archive: str = field(default="archive", metadata={"path": True,
        "help": "folder of the raw-mail archive (YYYY/MM/<sha256>.eml)"})
    policy: str = field(default=DEFAULT_POLICY, metadata={"path": True,
        "help": "policy file: GSTINs, approved ASPs, manual revocations, thresholds (without one, mail is "
                "still loaded and filed; the rules that compare with approvals are skipped)"})
    rules: str = field(default="", metadata={"path": True,
        "help": "a folder of your own rules (*.sql, with formats/, queries/, tests/ inside) over the shipped "
                "ones and ./rules: a file with a shipped id overrides it, others add to them"})
    rules_dirs: tuple[str, ...] = field(default=(), metadata={"path": True,
        "help": "more folders like 'rules', in order (each overrides the ones before by id)"})
    formats_dirs: tuple[str, ...] = field(default=(), metadata={"path": True,
        "help": "more folders of alert format files (*.yaml), over the shipped formats and those of 'rules'"})
    disabled_rules: tuple[str, ...] = field(default=(), metadata={"help": "rule ids not to run"})
    disabled_formats: tuple[str, ...] = field(default=(), metadata={"help": "format ids not to use"})
    templates_dir: str = field(default="", metadata={"path": True,
        "help": "a folder of report templates over the shipped ones (report.html.j2, report.css)"})
    report_dir: str = field(default="reports/out", metadata={"path": True,
        "help": "folder the HTML reports are written to"})
    senders: tuple[str, ...] = field(default=DEFAULT_SENDERS, metadata={
        "help": "sender addresses whose mail can be a GST alert", "addresses": True})
    require_auth_results: bool = field(default=False, metadata={
        "help": "treat alerts without Authentication-Results as suspicious (only if your mail server adds them)"})
    trusted_authserv_ids: tuple[str, ...] = field(default=(), metadata={
        "help": "authserv-ids of your receiving mail servers whose Authentication-Results count "
                "(default: the topmost header's, i.e. the server that received the mail)"})
    trusted_forwarders: tuple[str, ...] = field(default=(), metadata={
        "help": "addresses whose forwards of GST alerts become events when their own mail passes an aligned "
                "check (a CA firm's clients); other forwards are recorded but feed no rule", "addresses": True})
    subject_prefixes: tuple[str, ...] = field(default=DEFAULT_SUBJECT_PREFIXES, metadata={
        "help": "regular expressions for tags and reply/forward prefixes removed from the start of a "
                "subject, repeatedly ([EXTERNAL], AW:, WG:, ***SPAM*** ...)"})
    sms_senders: str = field(default=r"^[A-Z0-9]{2}-GST(IND|NIN)$", metadata={
        "help": "regular expression for the sender ids of GST SMS (VM-GSTIND, JD-GSTNIN, ...)"})
    lock_wait: int = field(default=60, metadata={
        "help": "seconds a command that changes the database waits for another alertproc process that is "
                "changing it, before it gives up with exit 75 (readers never wait)", "range": (0, 86400),
        "env": "ALERTPROC_LOCK_WAIT"})
    max_mail_mb: int = field(default=25, metadata={
        "help": "a mail larger than this (MB) is archived whole but not read: unparsed, \"too large\" "
                "(GST alerts are a few KB)", "range": (1, 200)})

    @property
    def sender_set(self) -> frozenset[str]:
        """Configured senders, lower-cased."""
        return frozenset(s.lower() for s in self.senders)

    @property
    def forwarder_set(self) -> frozenset[str]:
        """Trusted forwarders, lower-cased."""
        return frozenset(s.lower() for s in self.trusted_forwarders)


SETTINGS = {f.name: f for f in fields(Settings)}


@dataclass(frozen=True)
class ImapSettings:
    """An ``[imap]`` section, or one ``[[imap]]`` table: one account and folder to fetch alerts from."""

    name: str = field(default="", metadata={
        "help": "a short name for this mailbox, for --account and the report [default: username@host]"})
    host: str = field(default="", metadata={"help": "IMAP server name"})
    port: int = field(default=0, metadata={"help": "port [default: 993 for ssl, 143 otherwise]"})
    tls: str = field(default="ssl", metadata={
        "help": 'ssl (default), starttls, or none (refused unless host is a loopback address)',
        "choices": ("ssl", "starttls", "none")})
    ca_file: str = field(default="", metadata={"path": True, "help": "extra CA certificate file to trust (a company CA)"})
    username: str = field(default="", metadata={"help": "login name"})
    password_env: str = field(default="", metadata={"help": "environment variable holding the password"})
    password_command: str = field(default="", metadata={"help": "command printing the password (e.g. pass show mail)"})
    oauth2_token_command: str = field(default="", metadata={
        "help": "command printing an OAuth2 access token, for XOAUTH2 (Gmail, Microsoft 365)"})
    oauth2_mechanism: str = field(default="xoauth2", metadata={
        "help": "SASL mechanism for OAuth2 logins: xoauth2 (Microsoft 365, Gmail) or oauthbearer (RFC 7628)",
        "choices": ("xoauth2", "oauthbearer")})
    oauth2_provider: str = field(default="", metadata={
        "help": "get tokens without a helper: microsoft (extra m365) or google (extra google); see docs/mailboxes.md",
        "choices": ("", "microsoft", "google")})
    oauth2_client_id: str = field(default="", metadata={"help": "the app registration's client id"})
    oauth2_tenant: str = field(default="organizations", metadata={
        "help": "microsoft: the directory (tenant) id or domain [default: organizations]"})
    oauth2_client_secret_env: str = field(default="", metadata={
        "help": "environment variable holding the client secret (microsoft unattended; google installed app)"})
    oauth2_client_secret_command: str = field(default="", metadata={"help": "command printing the client secret"})
    oauth2_certificate: str = field(default="", metadata={"path": True,
        "help": "microsoft unattended: PEM file with the app's private key and certificate"})
    oauth2_service_account_file: str = field(default="", metadata={"path": True,
        "help": "google unattended: the service account's JSON key (domain-wide delegation to username)"})
    oauth2_authority: str = field(default="", metadata={
        "help": "microsoft: another cloud's login host (https://login.microsoftonline.us); google: only for "
                "tests, the base of a local auth/token endpoint"})
    oauth2_token_cache: str = field(default="", metadata={"path": True,
        "help": "token cache file, created 0600 [default: ~/.cache/alertproc/<name>.tokens.json]"})
    folder: str = field(default="INBOX", metadata={"help": "folder the alerts arrive in"})
    filed_folder: str = field(default="GST/Token alerts", metadata={
        "help": "folder processed alerts are moved to ('/' separates levels; created if missing)"})
    suspicious_folder: str = field(default="GST/Suspicious", metadata={
        "help": "folder for mail that claims to be a GST alert but fails the sender check"})
    lookalike_search: str = field(default="gst", metadata={
        "help": "From fragment searched to catch look-alike senders ('' disables)"})
    mark_seen: bool = field(default=False, metadata={"help": "mark filed alerts as read"})
    batch_size: int = field(default=1000, metadata={"help": "messages per FETCH and per database commit (1-5000)"})
    timeout: int = field(default=60, metadata={
        "help": "seconds a whole network exchange may take (connect and login; each command, a batch FETCH of up "
                "to 32 MB included: raise it on a slow link), not only one read",
        "range": (1, 3600)})
    retries: int = field(default=4, metadata={"help": "reconnect attempts after a dropped connection",
                                             "range": (0, 20)})
    idle_seconds: int = field(default=1500, metadata={
        "help": "watch: re-issue IDLE after this many seconds (RFC 2177 asks for less than 29 minutes)",
        "range": (1, 1740)})
    poll_seconds: int = field(default=300, metadata={
        "help": "watch: how often each mailbox is checked (with IDLE too: some servers never notify)",
        "range": (1, 86400)})

    @property
    def account(self) -> str:
        """``user@host`` (``user@host:port`` on a port that is not IMAP's own): the key of this
        account in ``sync_state`` and ``messages``; two servers behind one host (a tunnel,
        DavMail) must not share one sync state."""
        port = f":{self.port}" if self.port not in (0, 143, 993) else ""
        return f"{self.username}@{self.host}{port}"

    @property
    def label(self) -> str:
        """The name people know this mailbox by: ``name``, else ``user@host``."""
        return self.name or self.account


IMAP_SETTINGS = {f.name: f for f in fields(ImapSettings)}


def _typed(cls_fields: dict, name: str, value: object, where: str) -> object:
    spec = cls_fields[name]
    if str(spec.type).startswith("tuple"):
        addresses = spec.metadata.get("addresses", False)
        if not isinstance(value, list) or not all(isinstance(v, str) and (not addresses or "@" in v) for v in value):
            kind = "e-mail addresses" if addresses else "strings"
            raise ConfigError(f"{where}: '{name}' must be a list of {kind}, not {value!r}")
        return tuple(value)
    expected = {"str": str, "int": int, "bool": bool}[spec.type if isinstance(spec.type, str) else spec.type.__name__]
    if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
        wanted = {str: "a string", int: "a whole number", bool: "true or false"}[expected]
        raise ConfigError(f"{where}: '{name}' must be {wanted}, not {value!r}")
    limits = spec.metadata.get("range")
    if limits and not limits[0] <= value <= limits[1]:
        raise ConfigError(f"{where}: '{name}' must be between {limits[0]} and {limits[1]}, not {value!r}")
    choices = spec.metadata.get("choices")
    if choices and value not in choices:
        raise ConfigError(f"{where}: '{name}' must be one of {', '.join(choices)}, not {value!r}")
    return value


@dataclass(frozen=True)
class SmtpSettings:
    """The ``[smtp]`` section: where ``--mail-to`` sends reports."""

    host: str = field(default="", metadata={"help": "SMTP server name"})
    port: int = field(default=0, metadata={"help": "port [default: 465 for ssl, 587 for starttls, 25 for none]"})
    tls: str = field(default="starttls", metadata={
        "help": "starttls (default), ssl, or none (refused unless host is a loopback address)",
        "choices": ("ssl", "starttls", "none")})
    ca_file: str = field(default="", metadata={"path": True, "help": "extra CA certificate file to trust"})
    username: str = field(default="", metadata={"help": "login name ('' sends without logging in)"})
    password_env: str = field(default="", metadata={"help": "environment variable holding the password"})
    password_command: str = field(default="", metadata={"help": "command printing the password"})
    from_addr: str = field(default="", metadata={"help": "From address of report mails"})
    timeout: int = field(default=60, metadata={
        "help": "seconds a whole network exchange may take (connect and login; each command), not only one read",
        "range": (1, 3600)})


SMTP_SETTINGS = {f.name: f for f in fields(SmtpSettings)}


@dataclass(frozen=True)
class NotifySettings:
    """The ``[notify]`` section: who hears about new findings at once, and how."""

    min_severity: str = field(default="high", metadata={
        "help": "notify for new findings of this severity or worse", "choices": SEVERITIES})
    email: tuple[str, ...] = field(default=(), metadata={"help": "addresses to mail (through [smtp])"})
    webhook_url: str = field(default="", metadata={
        "help": "URL that gets a JSON POST ({\"text\": ..., \"findings\": [...]}: Slack and Teams incoming webhooks)"})
    webhook_format: str = field(default="auto", metadata={
        "help": "markup of the webhook's text, escaped so a finding cannot ping or mislink: slack, teams, or auto "
                "(teams for *.office.com and Power Automate hosts)", "choices": ("auto", "slack", "teams")})
    command: str = field(default="", metadata={"help": "command that gets the findings as JSON on standard input"})
    retries: int = field(default=3, metadata={"help": "attempts per channel before giving up until the next run",
                                             "range": (0, 20)})
    timeout: int = field(default=30, metadata={"help": "seconds per attempt", "range": (1, 3600)})


NOTIFY_SETTINGS = {f.name: f for f in fields(NotifySettings)}


def notify_settings(section: dict, where: str) -> NotifySettings:
    """Validate a ``[notify]`` table."""
    result = _section(NotifySettings, NOTIFY_SETTINGS, section, f"{where} [notify]")
    if not (result.email or result.webhook_url or result.command):
        raise ConfigError(f"{where} [notify]: set at least one of email, webhook_url, command")
    if result.webhook_url and not result.webhook_url.startswith(("https://", "http://127.0.0.1", "http://localhost")):
        raise ConfigError(f"{where} [notify]: webhook_url must be https:// (plain http only on loopback)")
    return result


def _section(cls: type, declared: dict, section: dict, where: str):
    values = {}
    for key, value in section.items():
        if key not in declared:
            raise ConfigError(f"{where}: unknown key '{key}' (known: {', '.join(declared)})")
        values[key] = _typed(declared, key, value, where)
        if key.endswith("_env"):
            secret_variable(values[key])  # its value is a secret: no child process inherits it
    return cls(**values)


def smtp_settings(section: dict, where: str) -> SmtpSettings:
    """Validate an ``[smtp]`` table."""
    result = _section(SmtpSettings, SMTP_SETTINGS, section, f"{where} [smtp]")
    if not result.host or "@" not in result.from_addr:
        raise ConfigError(f"{where} [smtp]: 'host' and 'from_addr' are required")
    if result.username and not (result.password_env or result.password_command):
        raise ConfigError(f"{where} [smtp]: a username needs password_env or password_command")
    return result


def imap_settings(section: dict, where: str) -> ImapSettings:
    """Validate an ``[imap]`` table: unknown keys and wrong types are errors naming the key."""
    result = _section(ImapSettings, IMAP_SETTINGS, section, f"{where} [imap]")
    if not result.host or not result.username:
        raise ConfigError(f"{where} [imap]: 'host' and 'username' are required")
    if not (1 <= result.batch_size <= 5000):
        raise ConfigError(f"{where} [imap]: 'batch_size' must be between 1 and 5000")
    secrets = [k for k in ("password_env", "password_command", "oauth2_token_command", "oauth2_provider")
               if getattr(result, k)]
    if len(secrets) != 1:
        raise ConfigError(f"{where} [imap]: set exactly one of password_env, password_command, "
                          "oauth2_token_command, oauth2_provider")
    if result.oauth2_provider and not (result.oauth2_client_id or result.oauth2_service_account_file):
        raise ConfigError(f"{where} [imap]: oauth2_provider = \"{result.oauth2_provider}\" needs oauth2_client_id"
                          + (" (or oauth2_service_account_file)" if result.oauth2_provider == "google" else ""))
    if result.oauth2_authority and not result.oauth2_authority.startswith("https://"):
        raise ConfigError(f"{where} [imap]: oauth2_authority must be an https:// address")
    return result


def imap_accounts(value: object, where: str) -> tuple[ImapSettings, ...]:
    """Validate ``[imap]`` (one table) or ``[[imap]]`` (several): names and folders unique."""
    tables = value if isinstance(value, list) else [value]
    accounts = tuple(imap_settings(table, f"{where} [[imap]] #{n + 1}" if isinstance(value, list) else where)
                     for n, table in enumerate(tables) if isinstance(table, dict))
    if len(accounts) != len(tables) or not accounts:
        raise ConfigError(f"{where}: [imap] must be a table, or [[imap]] tables")
    seen: dict[str, str] = {}
    for cfg in accounts:
        keys = ([f"name {cfg.name}"] if cfg.name else []) + [f"folder {cfg.folder} of {cfg.account}"]
        for key in keys:
            if key in seen:
                raise ConfigError(f"{where} [[imap]]: two accounts with the same {key}"
                                  + (": give each a distinct 'name'" if key.startswith("name") else
                                     ": they would share one sync state; remove one"))
            seen[key] = cfg.label
    return accounts


@dataclass(frozen=True)
class Config:
    """Everything a config file says, read and checked once: settings and every section."""

    settings: Settings
    path: Path | None = None  # the file read, if any
    accounts: tuple[ImapSettings, ...] = ()  # [imap], or every [[imap]]
    smtp: SmtpSettings | None = None
    notify: NotifySettings | None = None

    @property
    def imap(self) -> ImapSettings | None:
        """The first account, or None."""
        return self.accounts[0] if self.accounts else None

    def imap_accounts(self, name: str | None = None) -> tuple[ImapSettings, ...]:
        """Every account, or the one called ``name``; a :class:`ConfigError` saying how to add one."""
        if not self.accounts:
            raise ConfigError(f"{self.path or DEFAULT_CONFIG}: no [imap] section (`alertproc init` writes an example)")
        if name is None:
            return self.accounts
        chosen = tuple(a for a in self.accounts if name in (a.name, a.account))
        if not chosen:
            raise ConfigError(f"no mailbox called '{name}' (configured: {', '.join(a.label for a in self.accounts)})")
        return chosen[:1]

    def imap_account(self, name: str | None = None) -> ImapSettings:
        """One account: ``name``'s, or the only one (several need ``name``)."""
        accounts = self.imap_accounts(name)
        if len(accounts) > 1:
            raise ConfigError(f"{self.path}: {len(accounts)} [[imap]] accounts; choose one with --account "
                              f"({', '.join(a.label for a in accounts)})")
        return accounts[0]

    def smtp_server(self) -> SmtpSettings:
        """The ``[smtp]`` section, which ``--mail-to`` needs."""
        if self.smtp is None:
            raise ConfigError(f"{self.path or DEFAULT_CONFIG}: no [smtp] section; --mail-to needs one "
                              "(`alertproc init` shows the keys)")
        return self.smtp


def load_config(config: str | Path | None = None, **overrides: object) -> Config:
    """Read the config file once and check all of it: settings, [imap], [smtp], [notify].

    ``config`` None means ``$ALERTPROC_CONFIG`` or ``./alertproc.toml`` when present (no file
    is fine: the defaults). Precedence for settings: ``overrides`` (command-line options) >
    environment > file > default. A named file that does not exist, an unknown key or a wrong
    type anywhere raises :class:`ConfigError` naming it.
    """
    named = config or os.environ.get("ALERTPROC_CONFIG")
    path = Path(named) if named else (Path(DEFAULT_CONFIG) if Path(DEFAULT_CONFIG).is_file() else None)
    data = read_config_file(path) if path else {}
    values: dict[str, object] = dict(data.get("alertproc", {}))
    for name, spec in SETTINGS.items():
        env = spec.metadata.get("env")
        if env and os.environ.get(env):
            values[name] = _from_environment(name, env, os.environ[env])
    values.update({k: v for k, v in overrides.items() if v is not None})
    where = str(path)
    return Config(
        settings=replace(Settings(), **values), path=path,
        accounts=imap_accounts(data["imap"], where) if "imap" in data else (),
        smtp=smtp_settings(data["smtp"], where) if "smtp" in data else None,
        notify=notify_settings(data["notify"], where) if "notify" in data else None,
    )


def _from_environment(name: str, env: str, text: str) -> object:
    if SETTINGS[name].type in (int, "int"):
        try:
            return _typed(SETTINGS, name, int(text), f"${env}")
        except ValueError:
            raise ConfigError(f"${env} must be a whole number of seconds, not {text!r}") from None
    return text


def load_settings(config: str | Path | None = None, **overrides: object) -> Settings:
    """The settings part of :func:`load_config`."""
    return load_config(config, **overrides).settings


def read_config_file(path: Path) -> dict:
    """Parse and check a TOML config file; return ``{"alertproc": {...}, <section>: {...}}``."""
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found (`alertproc init` writes an example)") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    def is_section(key: str, value: object) -> bool:
        return isinstance(value, dict) or (key == "imap" and isinstance(value, list))  # [[imap]]
    top = {k: v for k, v in data.items() if not is_section(k, v)}
    sections = {k: v for k, v in data.items() if is_section(k, v)}
    top.update(sections.pop("alertproc", {}))
    for name in sections:
        if name not in KNOWN_SECTIONS:
            raise ConfigError(f"{path}: unknown section [{name}] (known: {', '.join(KNOWN_SECTIONS)})")
    for key in top:
        if key not in SETTINGS:
            raise ConfigError(f"{path}: unknown setting '{key}' (known: {', '.join(SETTINGS)})")
        top[key] = _typed(SETTINGS, key, top[key], str(path))
    base = path.resolve().parent
    accounts = sections.get("imap", [])
    for table, declared in [(top, SETTINGS), (sections.get("smtp", {}), SMTP_SETTINGS)] + \
            [(account, IMAP_SETTINGS) for account in (accounts if isinstance(accounts, list) else [accounts])]:
        _anchor(table, declared, base)
    return {"alertproc": top, **sections}


def _anchor(table: object, declared: dict, base: Path) -> None:
    """Relative paths in a config file are relative to the file, not to where the command runs
    (a cron job's folder is not the one the file was written in)."""
    if not isinstance(table, dict):
        return
    for key, value in table.items():
        spec = declared.get(key)
        if spec is None or not spec.metadata.get("path"):
            continue
        if isinstance(value, str) and value and not Path(value).expanduser().is_absolute():
            table[key] = str(base / value)
        elif isinstance(value, (list, tuple)):
            table[key] = type(value)(str(base / v) if isinstance(v, str) and not Path(v).expanduser().is_absolute()
                                     else v for v in value)
