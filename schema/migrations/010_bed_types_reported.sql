-- Whether a shelter has ever reported a bed type (issue 10). Registration writes a total
-- for each type, but a registered total is not a statement of vacancy: until a report
-- names the type, dashboards and the regional history count none of its beds.
alter table beds add column reported boolean not null default false;

-- Existing rows: a type named by a report still in the event log was reported. A shelter
-- that reported but whose report events were all pruned cannot say which types it named:
-- keep counting its types, as before this migration.
update beds b set reported = true
where exists (
    select 1 from bed_events e
    where e.shelter_id = b.shelter_id and e.kind = 'report' and e.beds ? b.bed_type
) or exists (
    select 1 from shelters s
    where s.id = b.shelter_id and s.last_report_at is not null
      and not exists (
          select 1 from bed_events e where e.shelter_id = s.id and e.kind = 'report'
      )
);
