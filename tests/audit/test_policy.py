from pathlib import Path

import pytest

from alertproc.storage import store
from alertproc.errors import ConfigError
from alertproc.audit.policy import apply_policy, load_policy
from helpers import ROOT


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    return path


def test_shipped_policy_loads_and_expands_star():
    policy = load_policy(ROOT / "rules" / "policy.yaml")
    acme = policy.approvals[0]
    assert set(acme.gstins) == set(policy.gstins) and len(policy.gstins) == 4
    assert policy.thresholds["refresh_burst_window_s"] == 6 * 3600
    assert policy.revocations[0].at.isoformat() == "2026-11-03T04:45:00+00:00"  # 10:15 IST


@pytest.mark.parametrize("text,message", [
    ("gstins:\n  - gstin: 27AAPFU0939F1ZX\n", "policy.yaml:2: '27AAPFU0939F1ZX' is not a valid GSTIN"),
    ("gstinz: []\n", "policy.yaml:1: unknown key 'gstinz'"),
    ("approved_asps:\n  - asp: A\n    from: soon\n", "policy.yaml:3: 'from' must be a date"),
    ("approved_asps:\n  - gsp: X\n", "policy.yaml:2: each approved_asps entry needs 'asp'"),
    ("revocations:\n  - gstin: 27AAPFU0939F1ZV\n    asp: A\n    at: yesterday\n", "policy.yaml:4: 'at' must be a date-time"),
    ("thresholds:\n  refresh_burst: {window: 6 hours}\n", "policy.yaml:2: thresholds.refresh_burst.window"),
    ("gstins: [\n", "not valid YAML"),
])
def test_bad_policy_names_file_line_and_key(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("[", r"\[")):
        load_policy(write(tmp_path, text))


def test_missing_policy_says_what_to_do(tmp_path):
    with pytest.raises(ConfigError, match="policy file not found.*--policy"):
        load_policy(tmp_path / "nope.yaml")


def test_apply_policy_replaces_tables_and_manual_revocations():
    con = store.connect(":memory:")
    apply_policy(con, load_policy(ROOT / "rules" / "policy.yaml"))
    apply_policy(con, load_policy(ROOT / "rules" / "policy.yaml"))
    assert con.execute("select count(*) from events where channel = 'manual'").fetchone()[0] == 1
    aliases = dict(con.execute("select alias_key, asp_key from policy_asp_aliases").fetchall())
    assert aliases["ACMETAXCLOUD"] == "ACMETAXCLOUD"
    assert con.execute("select count(*) from policy_approved_asps").fetchone()[0] == 6  # Acme on 4, LedgerLine on 2
