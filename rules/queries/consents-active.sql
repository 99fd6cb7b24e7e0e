-- name: consents-active
-- description: The latest consent of each GSTIN and ASP, when it ends, and whether it was revoked since.
-- params:
select c.gstin, c.asp_name, c.occurred_at_ist as consented_ist, c.valid_until_ist,
       exists (select 1 from revocations r where r.gstin = c.gstin and r.asp_key = c.asp_key
               and r.occurred_at > c.occurred_at) as revoked_since
from consents c
qualify row_number() over (partition by c.gstin, c.asp_key order by c.occurred_at desc) = 1
order by c.valid_until_ist
