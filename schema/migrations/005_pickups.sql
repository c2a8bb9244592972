-- Release day: who meets her at the gate (issue 9). One arrangement per request, replaced
-- when the planner changes it; purged with the request.
create table pickups (
    request_id text primary key references requests (id),
    who text not null check (who in ('shelter', 'agency', 'verified_family', 'other')),
    at timestamptz not null,
    token_id bigint references tokens (id),
    updated_at timestamptz not null default now()
);
