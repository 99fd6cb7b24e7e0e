-- Forwarded alerts (docs/parsing.md "Forwards"): a forward that is not trusted (no verified GST
-- DKIM signature inside, not from a trusted forwarder) is a message with parse_status
-- 'forwarded' and sender_check 'forward_untrusted': recorded and shown, never an event.
-- Trusted ones are 'parsed' with sender_check 'forward_trusted'. Each run counts the former.
alter table runs add column forwarded bigint default 0;
