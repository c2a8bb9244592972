-- Release-day alerts for planners (issue 9): the changes the planner channel reads, the
-- at-risk reasons last announced per request, and per-agency webhooks with their queue.

-- The planner channel reads the audit log as its outbox: every change of a request, an
-- offer or a pickup already appends a record in the same transaction, numbered in commit
-- order. This index lets it skip the (many) records of reads.
create index audit_log_changes on audit_log (id) where kind not like '%.read';

-- The at-risk reasons last announced for a request (the alert sweep's memory): a change
-- of these is an `alert.changed` audit record and a webhook delivery. Purged with it.
create table alerts (
    request_id text primary key references requests (id),
    agency text not null,
    reasons text[] not null,
    updated_at timestamptz not null default now()
);

-- One webhook per agency. The secret signs each delivery (HMAC-SHA256); it is shown once.
create table agency_webhooks (
    agency text primary key check (agency ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$'),
    url text not null check (url ~ '^https?://\S+$' and length(url) <= 2000),
    secret text not null check (length(secret) >= 32),
    created_at timestamptz not null default now()
);

-- Deliveries waiting, done or given up. The body holds request ids and reasons only.
create table webhook_deliveries (
    id bigserial primary key,
    agency text not null,
    body text not null,
    attempts integer not null default 0,
    next_at timestamptz not null default now(),
    delivered_at timestamptz,
    failed_at timestamptz,
    last_error text check (length(last_error) <= 200),
    created_at timestamptz not null default now()
);
create index webhook_deliveries_due on webhook_deliveries (next_at)
    where delivered_at is null and failed_at is null;
