-- Appending many audit records at once (issue 8: a matching run writes one record per
-- offer). audit_append locks and rewrites the single audit_head row once per record, so
-- 2,000 records cost 2,000 head updates inside the run's write transaction (~130 ms).
-- This appends them with the head locked and updated once and the rows inserted by one
-- statement (~13 ms). The hashes are exactly audit_append's: each row chains to the one
-- before it, and `haven audit verify` (which recomputes them with audit_payload) cannot
-- tell the two functions apart. audit_payload's expression is inlined below because a SQL
-- function called from a PL/pgSQL loop costs more than the hashing; the part every row
-- shares (time, token, kind) is formatted once.
create function audit_append_many(p_token bigint, p_kind text, p_subjects text[],
                                  p_details text[])
returns bigint language plpgsql as $$
declare
    head audit_head%rowtype;
    now_ timestamptz := clock_timestamp();
    n integer := coalesce(array_length(p_subjects, 1), 0);
    shared text;
    ids bigint[];
    prevs bytea[];
    hashes bytea[];
    h bytea;
begin
    if n <> coalesce(array_length(p_details, 1), 0) then
        raise exception 'audit_append_many: % subjects but % details', n,
            coalesce(array_length(p_details, 1), 0) using errcode = 'invalid_parameter_value';
    end if;
    select * into head from audit_head where id = 1 for update;
    if n = 0 then
        return head.last_id;
    end if;
    shared := '|' || to_char(now_ at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
              || '|' || coalesce(p_token::text, '-') || '|' || p_kind || '|';
    h := head.hash;
    for i in 1 .. n loop
        ids[i] := head.last_id + i;
        prevs[i] := h;
        h := sha256(h || convert_to((head.last_id + i)::text || shared || p_subjects[i]
                                    || '|' || p_details[i], 'UTF8'));
        hashes[i] := h;
    end loop;
    insert into audit_log (id, at, token_id, kind, subject, detail, prev_hash, hash)
    select u.id, now_, p_token, p_kind, u.subject, u.detail, u.prev_hash, u.hash
    from unnest(ids, p_subjects, p_details, prevs, hashes)
         as u (id, subject, detail, prev_hash, hash);
    update audit_head set last_id = head.last_id + n, hash = h where id = 1;
    return head.last_id + n;
end $$;

-- A run's row is written before its offers are re-checked and its offer count set after,
-- in the same transaction: room on each page keeps that update HOT, so the GIN index on
-- the run's problem is not written twice.
alter table matching_runs set (fillfactor = 50);
