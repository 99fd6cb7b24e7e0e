-- name: unparsed-mail
-- description: Alerts no format could read, with the reason and the archived file: candidates for a new format.
-- params:
select timezone('Asia/Kolkata', received_at) as received_ist, from_addr, subject, parse_error, archive_path
from messages
where parse_status = 'unparsed'
order by received_at
