-- Dashboard sign-in sessions: a token entered once becomes a browser session.
-- Only a SHA-256 digest of the session id is stored; the id lives in an HttpOnly cookie.
-- A session speaks for its token: revoking the token ends the session.

create table sessions (
    digest bytea primary key check (length(digest) = 32),
    token_id bigint not null references tokens (id) on delete cascade,
    created_at timestamptz not null default now(),
    expires_at timestamptz not null,
    check (expires_at > created_at)
);

create index sessions_token_id on sessions (token_id);
create index sessions_expires_at on sessions (expires_at);
