-- Why the sender check said what it said (alertproc/senders.py), e.g. "Authentication-Results
-- from mx.example.in: spf=fail, dmarc=fail" or "own DKIM check: signature of gst.gov.in verified".
alter table messages add column sender_detail varchar;
-- ASP keys are recomputed in Python after this file (alertproc/rekey.py); the inventory's
-- summary of the history is rebuilt from the new keys by the next detect.
delete from pair_history;
delete from pair_history_state;
