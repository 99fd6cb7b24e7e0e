-- How long a policy GSTIN may go without any alert before gstin_silent speaks (#32 item 5).
alter table policy_thresholds add column silence_days bigint default 30;
