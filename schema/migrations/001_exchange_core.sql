-- The live bed registry: shelters, their beds, access tokens, and the bed event log.

create table shelters (
    id text primary key check (id ~ '^s[0-9]{5,}$'),
    name text not null check (length(name) between 1 and 200),
    region text not null check (region ~ '^[A-Z][A-Z0-9-]{0,15}$'),
    lat double precision not null check (lat between -90 and 90),
    lon double precision not null check (lon between -180 and 180),
    confidential boolean not null default false,
    -- Rules and services, in the vocabulary of match-problem.md.
    max_children integer not null default 0 check (max_children between 0 and 20),
    mat_ok boolean not null default false,
    min_age integer not null default 18 check (min_age between 0 and 120),
    max_age integer check (max_age is null or max_age between 0 and 120),
    excluded_offenses text[] not null default '{}',
    languages text[] not null default '{en}',
    services text[] not null default '{}',
    -- The shelter channel's state: the last applied report.
    last_seq bigint not null default 0 check (last_seq >= 0),
    last_report_at timestamptz,
    created_at timestamptz not null default now(),
    check (max_age is null or max_age >= min_age)
);

create sequence shelter_number;

create table beds (
    shelter_id text not null references shelters (id) on delete cascade,
    bed_type text not null check (bed_type ~ '^[a-z][a-z0-9_]{0,31}$'),
    total integer not null default 0 check (total >= 0),
    occupied integer not null default 0 check (occupied >= 0),
    out_of_service integer not null default 0 check (out_of_service >= 0),
    -- Beds held by Haven for placements it arranged, not yet arrived.
    held integer not null default 0 check (held >= 0),
    primary key (shelter_id, bed_type),
    check (occupied + out_of_service <= total)
);

create table tokens (
    id bigserial primary key,
    -- sha256 of the token; the token itself is shown once and never stored.
    digest bytea not null unique check (length(digest) = 32),
    role text not null check (role in ('shelter', 'planner', 'viewer', 'admin')),
    shelter_id text references shelters (id) on delete cascade,
    -- Empty means every region.
    regions text[] not null default '{}',
    created_at timestamptz not null default now(),
    revoked_at timestamptz,
    check ((role = 'shelter') = (shelter_id is not null))
);

-- The global clock of bed events. Writers take the next numbers with
-- `update event_clock set seq = seq + n returning seq`: the row lock is held until
-- commit, so events become visible in sequence order and readers never skip one.
create table event_clock (
    id integer primary key check (id = 1),
    seq bigint not null check (seq >= 0)
);
insert into event_clock (id, seq) values (1, 0);

-- Every change to bed state, written in the transaction that makes it. This is the
-- outbox the dashboards read; NOTIFY is only a wake-up sent after commit.
create table bed_events (
    seq bigint primary key,
    at timestamptz not null default now(),
    shelter_id text not null references shelters (id) on delete cascade,
    kind text not null check (kind in ('report', 'shelter', 'hold')),
    report_seq bigint,
    -- Absolute state of the bed types this event touched:
    -- {"single": {"total": 12, "occupied": 9, "out_of_service": 1, "held": 0}}
    beds jsonb not null
);

-- Who looked at a woman's request or a shelter's address, and when.
create table audit_log (
    id bigserial primary key,
    at timestamptz not null default now(),
    token_id bigint references tokens (id),
    action text not null,
    subject text not null
);
