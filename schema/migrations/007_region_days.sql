-- Daily supply and demand per region (issue 9), for charts of unmet demand. Aggregates
-- only: no shelter and no request is named, so they outlive the retention purge.
create table region_days (
    region text not null check (region ~ '^[A-Z][A-Z0-9-]{0,15}$'),
    day date not null,
    shelters integer not null check (shelters >= 0),
    contributing integer not null check (contributing >= 0),
    confidential boolean not null,
    -- {"single": {"total": 80, "available": 7}, …} over contributing shelters
    beds jsonb not null,
    open integer not null check (open >= 0),
    offered integer not null check (offered >= 0),
    accepted integer not null check (accepted >= 0),
    unplaced integer not null check (unplaced >= 0),
    updated_at timestamptz not null default now(),
    primary key (region, day)
);
