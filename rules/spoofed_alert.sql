-- id: spoofed_alert
-- title: Mail posing as a GST alert failed the sender check
-- severity: high
-- description: A mail that claims to be a GSTN alert but whose Authentication-Results (added by
--   your own mail server) show SPF, DKIM or DMARC failing or cannot be read, whose DKIM signature
--   does not verify, or that comes from a domain made to look like gst.gov.in. It is kept out of every other rule. Someone may be trying to make a
--   revoked ASP look legitimate, or to phish with a fake "revoke access" link.
select e.gstin,
       e.asp_name,
       e.occurred_at,
       'Mail posing as a GST alert for ' || coalesce(e.gstin, 'an unknown GSTIN') || ' failed the sender check ('
         || replace(e.status, '_', ' ') || ')' as title,
       'From ' || coalesce(m.from_addr, '?') || ', subject "' || coalesce(m.subject, '') || '". '
         || coalesce('Sender check: ' || m.sender_detail || '. ', 'Authentication-Results: ' || split_part(m.auth_results, chr(10), 1) || '. ', 'No Authentication-Results. ')
         || 'Do not follow links in it; the original is in the archive.' as detail,
       [e.event_id] as event_ids
from events e
left join messages m on m.sha256 = e.source_sha256
where e.kind = 'suspicious_alert'
