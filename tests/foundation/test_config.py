import pytest

from alertproc.config import load_config, load_settings
from alertproc.app.starter import example_config, write_starter_files as init
from alertproc.errors import ConfigError


def write(tmp_path, text):
    path = tmp_path / "alertproc.toml"
    path.write_text(text)
    return str(path)


def test_precedence_option_over_env_over_file_over_default(tmp_path, monkeypatch):
    monkeypatch.delenv("ALERTPROC_CONFIG", raising=False)
    config = write(tmp_path, '[alertproc]\ndb = "file.duckdb"\narchive = "file-archive"\n')
    monkeypatch.setenv("ALERTPROC_DB", "env.duckdb")
    settings = load_settings(config)
    # a path from the file is the file's (relative to its folder); from the environment, the caller's
    assert (settings.db, settings.archive, settings.report_dir) == ("env.duckdb", str(tmp_path / "file-archive"),
                                                                   "reports/out")
    assert load_settings(config, db="option.duckdb").db == "option.duckdb"


@pytest.mark.parametrize("text,message", [
    ('[alertproc]\ndbb = "x"\n', "unknown setting 'dbb'"),
    ('[alertproc]\nsenders = "donotreply@gst.gov.in"\n', "'senders' must be a list"),
    ('[imapp]\nhost = "x"\n', r"unknown section \[imapp\]"),
    ("[alertproc\n", "not valid TOML"),
])
def test_bad_settings_name_the_key(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message):
        load_settings(write(tmp_path, text))


@pytest.mark.parametrize("imap,message", [
    ('host = "h"\nusername = "u"\npassword_env = "P"\nport = "993"', "'port' must be a whole number"),
    ('host = "h"\nusername = "u"\npassword_env = "P"\ntls = "yes"', "'tls' must be one of ssl, starttls, none"),
    ('host = "h"\nusername = "u"\npassword_env = "P"\nfolders = "INBOX"', "unknown key 'folders'"),
    ('host = "h"\nusername = "u"', "exactly one of password_env, password_command"),
    ('host = "h"\nusername = "u"\npassword_env = "P"\nbatch_size = 10000', "between 1 and 5000"),
    ('username = "u"\npassword_env = "P"', "'host' and 'username' are required"),
])
def test_bad_imap_section_names_the_key(tmp_path, imap, message):
    with pytest.raises(ConfigError, match=message):
        load_config(write(tmp_path, f"[imap]\n{imap}\n")).imap_account()


def test_missing_config_file_says_how_to_make_one(tmp_path):
    with pytest.raises(ConfigError, match="alertproc init"):
        load_config(str(tmp_path / "nope.toml"))


def test_init_writes_a_valid_example_and_never_overwrites(tmp_path):
    written = init(tmp_path)
    assert {p.name for p in written} == {"alertproc.toml", "policy.yaml"}
    imap = load_config(str(tmp_path / "alertproc.toml")).imap_account()
    assert imap.folder == "INBOX" and imap.tls == "ssl" and imap.password_env == "ALERTPROC_IMAP_PASSWORD"
    (tmp_path / "alertproc.toml").write_text("# mine\n")
    assert init(tmp_path) == [] and (tmp_path / "alertproc.toml").read_text() == "# mine\n"


def test_example_config_documents_every_setting():
    from dataclasses import fields

    from alertproc.config import ImapSettings, NotifySettings, Settings, SmtpSettings
    text = example_config()
    for spec in [*fields(Settings), *fields(ImapSettings), *fields(SmtpSettings), *fields(NotifySettings)]:
        assert f"{spec.name} = " in text and spec.metadata["help"] in text


def test_several_imap_accounts_named_and_unique(tmp_path):
    from alertproc.config import load_config
    account = 'host = "imap.example.com"\nusername = "gst@example.com"\npassword_env = "P"\n'
    (tmp_path / "two.toml").write_text(f'[[imap]]\nname = "pune"\n{account}\n[[imap]]\n{account}folder = "GST"\n')
    config = load_config(tmp_path / "two.toml")
    assert [a.label for a in config.accounts] == ["pune", "gst@example.com@imap.example.com"]
    assert config.imap_accounts("pune")[0].folder == "INBOX" and len(config.imap_accounts()) == 2
    with pytest.raises(ConfigError, match="2 \\[\\[imap\\]\\] accounts; choose one with --account"):
        config.imap_account()
    with pytest.raises(ConfigError, match="no mailbox called 'delhi'"):
        config.imap_accounts("delhi")
    (tmp_path / "same.toml").write_text(f"[[imap]]\n{account}\n[[imap]]\n{account}")
    with pytest.raises(ConfigError, match="same folder INBOX of gst@example.com@imap.example.com: they would share"):
        load_config(tmp_path / "same.toml")
    (tmp_path / "names.toml").write_text(f'[[imap]]\nname = "x"\n{account}\n[[imap]]\nname = "x"\n{account}folder = "B"\n')
    with pytest.raises(ConfigError, match="same name x: give each a distinct 'name'"):
        load_config(tmp_path / "names.toml")
