-- Queries behind `alertproc asp list`: the registry of ASPs.

-- name: registry
-- Per ASP (its key after aliases and merges): its one name, every spelling seen, the GSPs seen
-- with it, how many GSTINs it touched, its alerts, first and last seen, and approved anywhere.
with seen as (
    select n.pair_key, e.asp_name, e.gsp_name, e.gstin, e.occurred_at
    from events e join asp_names n using (asp_key)
    where e.asp_key is not null
)
select s.pair_key, any_value(n.asp_name) as asp_name,
       list(distinct s.asp_name order by s.asp_name) as spellings,
       list(distinct s.gsp_name order by s.gsp_name) filter (where s.gsp_name is not null) as gsps,
       count(distinct s.gstin) as gstins, count(*) as alerts,
       strftime(timezone('Asia/Kolkata', min(s.occurred_at)), '%d-%m-%Y') as first_ist,
       strftime(timezone('Asia/Kolkata', max(s.occurred_at)), '%d-%m-%Y') as last_ist,
       exists (select 1 from policy_approved_asps p where p.asp_key = s.pair_key) as approved
from seen s join (select distinct pair_key, asp_name from asp_names) n using (pair_key)
group by s.pair_key
order by asp_name;
