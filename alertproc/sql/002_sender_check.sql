-- Whether a message's sender is who it claims to be (alertproc/senders.py):
-- genuine | auth_fail | auth_missing | lookalike | other.
alter table messages add column sender_check varchar;
alter table runs add column suspicious bigint default 0;
