-- Placements (spec/placements.md): planners' agencies, shelter contact details, requests,
-- matching runs, offers that hold beds, and a hash-chained audit log.

-- A planner token belongs to one agency.
alter table tokens add column agency text
    check (agency is null or agency ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$');
update tokens set agency = 'default' where role = 'planner' and agency is null;
alter table tokens add constraint planner_has_agency
    check ((role = 'planner') = (agency is not null));

-- Released only to the planner of an accepted placement; never on dashboards or in logs.
alter table shelters add column address text check (length(address) between 1 and 300);
alter table shelters add column intake_phone text
    check (intake_phone ~ '^\+?[0-9][0-9 ().-]{5,30}$');

create sequence request_number;

-- One woman's request for a bed. Pseudonymous: `ref` is the agency's own reference;
-- contacts are opaque tokens the agency derived itself.
create table requests (
    id text primary key check (id ~ '^r[0-9]{6,}$'),
    agency text not null,
    token_id bigint not null references tokens (id),
    ref text not null check (length(ref) between 1 and 64),
    region text not null check (region ~ '^[A-Z][A-Z0-9-]{0,15}$'),
    release_date date not null,
    origin_lat double precision not null check (origin_lat between -90 and 90),
    origin_lon double precision not null check (origin_lon between -180 and 180),
    home_lat double precision check (home_lat between -90 and 90),
    home_lon double precision check (home_lon between -180 and 180),
    bed_type text not null check (bed_type ~ '^[a-z][a-z0-9_]{0,31}$'),
    children integer not null check (children between 0 and 20),
    age integer not null check (age between 0 and 120),
    mat boolean not null,
    offenses text[] not null default '{}',
    language text,
    needs text[] not null default '{}',
    max_km double precision not null check (max_km >= 0),
    urgency integer not null check (urgency between 1 and 5),
    contacts text[] not null default '{}',
    -- [{"contact": token, "lat": .., "lon": ..}]
    contact_locations jsonb not null default '[]',
    avoid_km double precision not null check (avoid_km >= 0),
    exclude_with text[] not null default '{}',
    status text not null default 'open'
        check (status in ('open', 'offered', 'accepted', 'arrived', 'withdrawn', 'no_show')),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    check ((home_lat is null) = (home_lon is null))
);
-- An agency's reference names one live request at a time.
create unique index requests_live_ref on requests (agency, ref)
    where status in ('open', 'offered', 'accepted');
create index requests_open_by_region on requests (region, release_date) where status = 'open';
create index requests_by_agency on requests (agency, id);

-- A matching run, written whole (with its offers) in one transaction after the solve.
create table matching_runs (
    id bigserial primary key,
    regions text[] not null,
    token_id bigint references tokens (id),
    started_at timestamptz not null,
    finished_at timestamptz not null default now(),
    status text not null check (status in ('optimal', 'feasible')),
    placed integer not null check (placed >= 0),
    unplaced jsonb not null,
    offers integer not null check (offers >= 0),
    build_seconds double precision not null,
    solve_seconds double precision not null,
    problem jsonb not null,
    plan jsonb not null
);

create sequence offer_number;

create table offers (
    id text primary key check (id ~ '^o[0-9]{6,}$'),
    request_id text not null references requests (id),
    shelter_id text not null references shelters (id),
    bed_type text not null,
    run_id bigint references matching_runs (id),
    km integer not null check (km >= 0),
    status text not null default 'offered'
        check (status in ('offered', 'accepted', 'declined', 'expired', 'arrived',
                          'no_show', 'withdrawn')),
    reason text check (length(reason) <= 200),
    created_at timestamptz not null default now(),
    expires_at timestamptz not null,
    decided_at timestamptz,
    arrived_at timestamptz,
    foreign key (shelter_id, bed_type) references beds (shelter_id, bed_type)
);
-- Invariant 1: a request has at most one live offer.
create unique index offers_one_live_per_request on offers (request_id)
    where status in ('offered', 'accepted');
create index offers_by_shelter on offers (shelter_id, status);
create index offers_expiring on offers (expires_at) where status = 'offered';

-- Invariant 3: a shelter that declined a request is never offered it again.
create function offers_never_after_decline() returns trigger language plpgsql as $$
begin
    if exists (select 1 from offers
               where request_id = new.request_id and shelter_id = new.shelter_id
                 and status = 'declined') then
        raise exception 'shelter % already declined request %', new.shelter_id, new.request_id
            using errcode = 'check_violation';
    end if;
    return new;
end $$;
create trigger offers_never_after_decline before insert on offers
    for each row execute function offers_never_after_decline();

-- The audit log: append-only, hash-chained, ids and kinds only (never tokens or refs).
-- Each row's hash is sha256(previous row's hash || audit_payload(row)); the single
-- audit_head row is locked by every append, so rows chain in commit order.
drop table audit_log;
create table audit_log (
    id bigint primary key,
    at timestamptz not null,
    token_id bigint,
    kind text not null check (kind ~ '^[a-z][a-z0-9_.]{0,63}$'),
    subject text not null check (subject ~ '^[a-z][a-z_]*:[A-Za-z0-9_.-]{1,64}$'),
    detail text not null default '' check (detail ~ '^[A-Za-z0-9_ =,.:-]{0,200}$'),
    prev_hash bytea not null check (length(prev_hash) = 32),
    hash bytea not null check (length(hash) = 32)
);
create table audit_head (
    id integer primary key check (id = 1),
    last_id bigint not null,
    hash bytea not null
);
insert into audit_head values (1, 0, decode(repeat('00', 32), 'hex'));

create function audit_payload(id bigint, at timestamptz, token_id bigint, kind text,
                              subject text, detail text) returns bytea
language sql immutable as $$
    select convert_to(
        id::text || '|' || to_char(at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
        || '|' || coalesce(token_id::text, '-') || '|' || kind || '|' || subject
        || '|' || detail, 'UTF8')
$$;

create function audit_append(p_token bigint, p_kind text, p_subject text, p_detail text)
returns bigint language plpgsql as $$
declare
    head audit_head%rowtype;
    now_ timestamptz := clock_timestamp();
    new_hash bytea;
begin
    select * into head from audit_head where id = 1 for update;
    new_hash := sha256(head.hash || audit_payload(head.last_id + 1, now_, p_token, p_kind,
                                                  p_subject, p_detail));
    insert into audit_log (id, at, token_id, kind, subject, detail, prev_hash, hash)
    values (head.last_id + 1, now_, p_token, p_kind, p_subject, p_detail, head.hash, new_hash);
    update audit_head set last_id = head.last_id + 1, hash = new_hash where id = 1;
    return head.last_id + 1;
end $$;

-- Append-only: rows are never changed or removed.
create function audit_log_append_only() returns trigger language plpgsql as $$
begin
    raise exception 'audit_log is append-only' using errcode = 'insufficient_privilege';
end $$;
create trigger audit_log_append_only before update or delete on audit_log
    for each row execute function audit_log_append_only();
