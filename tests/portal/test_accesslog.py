"""Portal access logs: CSV and XLSX, header aliases, statuses, rejected rows, dedupe."""

from datetime import datetime

import openpyxl
import pytest

from alertproc.portal.accesslog import import_access_log
from alertproc.errors import ConfigError
from helpers import SAMPLE


def test_sample_log(con):
    result = import_access_log(con, SAMPLE / "access-log.csv")
    assert result.rows == result.events_new == 31 and result.rejected == 0
    statuses = dict(con.execute("select status, count(*) from access_log group by 1").fetchall())
    assert statuses == {"successful": 24, "failed": 6, "revoked": 1}
    assert con.execute("select count(*) from revocations where gstin = '29AAPFU0939F1ZR'").fetchone()[0] == 1
    again = import_access_log(con, SAMPLE / "access-log.csv")
    assert again.events_new == 0 and again.known == 31


def test_a_log_overlapping_the_last_one_adds_only_its_new_rows(con, tmp_path, monkeypatch):
    """Weekly exports overlap; a row repeated inside one file is one event too."""
    from alertproc.portal import accesslog
    monkeypatch.setattr(accesslog, "_import_rows", None)  # DuckDB's CSV path alone: no row-by-row fallback
    header, *rows = (SAMPLE / "access-log.csv").read_text().splitlines()
    (tmp_path / "week1.csv").write_text("\n".join([header, *rows[:20]]) + "\n")
    (tmp_path / "week2.csv").write_text("\n".join([header, *rows[10:], rows[-1]]) + "\n")
    first = import_access_log(con, tmp_path / "week1.csv")
    second = import_access_log(con, tmp_path / "week2.csv")
    assert (first.rows, first.events_new, first.known) == (20, 20, 0)
    assert (second.rows, second.events_new, second.known) == (22, 11, 11)
    assert con.execute("select count(*), count(distinct event_id) from events").fetchone() == (31, 31)
    assert con.execute("select count(*) from events where source_ref like 'week2.csv:%'").fetchone()[0] == 11


def test_rows_of_a_log_read_on_several_threads_keep_their_line_numbers(con, tmp_path, monkeypatch):
    """A row's line number is its position in DuckDB's copy of the file, read in parallel."""
    from alertproc.portal import accesslog
    monkeypatch.setattr(accesslog, "_import_rows", None)
    rows = 400_000  # 17 MB: DuckDB's reader splits it between threads (unordered from ~10 MB)
    with open(tmp_path / "log.csv", "w") as out:
        out.write("GSTIN,Date Time,ASP Name,Status\n")
        out.writelines(f"27AAPFU0939F1ZV,{1_700_000_000 + i},Acme,Successful\n" for i in range(rows))
    assert import_access_log(con, tmp_path / "log.csv").events_new == rows
    misplaced = con.execute("""
        select count(*) from events
        where split_part(source_ref, ':', 2)::bigint != epoch(occurred_at)::bigint - 1_700_000_000 + 2
    """).fetchone()[0]
    assert misplaced == 0


def test_xlsx_without_gstin_column_takes_gstin_option(con, tmp_path):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Access Date/Time", "ASP", "GSP", "Access Status", "IP"])
    sheet.append([datetime(2026, 11, 19, 2, 10), "Unknown Vendor", "Example GSP Ltd", " FAILED ", "198.51.100.7"])
    sheet.append(["19/11/2026 02:16:00 AM", "Unknown Vendor", "Example GSP Ltd", "Failure", "198.51.100.7"])
    sheet.append(["yesterday", "Unknown Vendor", "Example GSP Ltd", "Failed", ""])
    sheet.append(["19-11-2026 02:20", "Unknown Vendor", "Example GSP Ltd", "maybe", ""])
    book.save(tmp_path / "log.xlsx")
    result = import_access_log(con, tmp_path / "log.xlsx", gstin="27AAPFU0939F1ZV")
    assert (result.rows, result.events_new, result.rejected) == (4, 2, 2)
    assert result.problems == ["log.xlsx:4: unreadable time", "log.xlsx:5: unreadable status"]
    rows = con.execute("select gstin, status, strftime(timezone('Asia/Kolkata', occurred_at), '%H:%M'), source_ref "
                       "from access_log order by occurred_at").fetchall()
    assert rows[0][:3] == ("27AAPFU0939F1ZV", "failed", "02:10") and "ip=198.51.100.7" in rows[0][3]
    assert rows[1][2] == "02:16"


def test_missing_columns_are_named_with_the_columns_found(con, tmp_path):
    (tmp_path / "log.csv").write_text("When,Who,What\n1,2,3\n")
    with pytest.raises(ConfigError, match=r"missing: occurred_at \(one of: .*\); asp_name .*status "
                                          r".*Columns found: 'When', 'Who', 'What'"):
        import_access_log(con, tmp_path / "log.csv", gstin="27AAPFU0939F1ZV")


def test_no_gstin_anywhere_is_an_error(con, tmp_path):
    (tmp_path / "log.csv").write_text("Date Time,ASP Name,Status\n19-11-2026 02:10:00,X,Failed\n")
    with pytest.raises(ConfigError, match="pass --gstin"):
        import_access_log(con, tmp_path / "log.csv")
    with pytest.raises(ConfigError, match="not a valid GSTIN"):
        import_access_log(con, tmp_path / "log.csv", gstin="27AAPFU0939F1ZX")


def test_csv_and_xlsx_of_the_same_log_give_the_same_events(tmp_path, monkeypatch):
    """CSV goes through DuckDB's reader, XLSX row by row: both must agree exactly."""
    from alertproc.portal import accesslog
    from alertproc.storage import store
    lines = (SAMPLE / "access-log.csv").read_text().splitlines()
    lines.insert(3, '27AAPFU0939F1ZV,"21/11/2026 02:32:05 PM","acme  tax cloud pvt. ltd.",X,  success ,,')
    lines.insert(4, "27AAPFU0939F1ZX,1795331520000,Acme Tax Cloud Pvt Ltd,X,REVOKED,GSTR1,")
    lines.insert(5, "27AAPFU0939F1ZV,someday,Acme,X,Failed,,")
    # Milliseconds (isoformat() then prints microseconds), and white space around an IST suffix.
    lines.insert(6, "27AAPFU0939F1ZV,1795331520123,Acme Tax Cloud Pvt Ltd,X,Successful,GSTR1,")
    lines.insert(7, '27AAPFU0939F1ZV," 21-11-2026   14:32:06 \t IST ",Acme Tax Cloud Pvt Ltd,X,Successful,,')
    # White space beyond ASCII, as spreadsheets and web pages leave it: no-break and thin spaces.
    lines.insert(8, "27AAPFU0939F1ZV,21-11-2026\u00a014:32:07,Acme\u00a0Tax Cloud,\u2009X\u00a0,Successful,,")
    lines.insert(9, "27AAPFU0939F1ZV,\u200921-11-2026 14:32:08\u00a0IST,Acme,X,Successful,,")
    lines.insert(10, '\u00a0,"\t", ,\u3000,,,')  # only white space: not a row
    (tmp_path / "log.csv").write_text("\n".join(lines) + "\n")
    book = openpyxl.Workbook()
    for line in lines:
        book.active.append(next(__import__("csv").reader([line])))
    book.save(tmp_path / "log.xlsx")
    query = ("select event_id, kind, gstin, gstin_valid, asp_name, asp_key, gsp_name, occurred_at, status, "
             "regexp_replace(source_ref, '^log[.](csv|xlsx):', 'log:') from events order by event_id")
    results = []
    row_by_row = accesslog._import_rows
    for name in ("log.csv", "log.xlsx"):
        # DuckDB refusing the CSV would fall back to the row-by-row path and compare it with itself.
        monkeypatch.setattr(accesslog, "_import_rows", row_by_row if name == "log.xlsx" else None)
        con = store.connect(str(tmp_path / f"{name}.duckdb"))
        imported = import_access_log(con, tmp_path / name)
        results.append((con.execute(query).fetchall(), imported.rows, imported.rejected, imported.events_new))
        con.close()
    assert results[0] == results[1]
    assert results[0][1:] == (38, 1, 37)


def test_white_space_in_sql_is_what_python_splits_on(con):
    from alertproc.portal.accesslog import WHITE_SPACE
    chars = [chr(i) for i in range(0x110000) if not 0xD800 <= i <= 0xDFFF]
    matched = con.execute(f"select list(c) from unnest($chars::varchar[]) t(c) where regexp_full_match(c, '{WHITE_SPACE}')",
                          {"chars": chars}).fetchone()[0]
    assert set(matched) == {c for c in chars if c.isspace()}


def test_a_file_duckdb_refuses_is_read_row_by_row_and_says_so(con, tmp_path, caplog):
    (tmp_path / "log.csv").write_text("GSTIN,Date Time,ASP Name,Status\n"
                                      "27AAPFU0939F1ZV,16-11-2026 09:28:00,Acme,Successful,stray,cells\n")
    with caplog.at_level("INFO", logger="alertproc.portal.accesslog"):
        result = import_access_log(con, tmp_path / "log.csv")
    assert (result.rows, result.events_new) == (1, 1)
    assert "log.csv: DuckDB's CSV reader refused it (Invalid Input Error" in caplog.text


def test_other_database_errors_are_not_hidden_by_the_row_by_row_path(con, monkeypatch):
    import duckdb

    from alertproc.portal import accesslog

    def broken(*args, **kwargs):
        raise duckdb.ConstraintException("duplicate key")
    monkeypatch.setattr(accesslog, "_import_csv", broken)
    with pytest.raises(duckdb.ConstraintException):
        import_access_log(con, SAMPLE / "access-log.csv")
