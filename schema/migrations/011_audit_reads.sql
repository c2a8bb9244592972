-- One audit record for a read of many requests (issue 9: the readiness board). Every
-- append locks the chain's single head row until its transaction commits, so a board of
-- 70 women audited as 70 records held that lock 70 rows long, and concurrent boards
-- queued behind each other. Now a board read is one chained record (kind
-- `readiness.read`) whose detail names the read (`read=N`), how many requests it showed
-- and the sha256 of their ids; the ids are here, one row each, written before the chained
-- record (outside the lock). `haven audit verify` checks each read's rows against its
-- digest, so a row added or removed here is found as surely as an edited record.
create sequence audit_read_number;

create table audit_reads (
    read_id bigint not null,
    request_id text not null check (request_id ~ '^r[0-9]{6,}$'),
    primary key (read_id, request_id)
);
create index audit_reads_request on audit_reads (request_id);

-- Append-only, like the log itself.
create function audit_reads_append_only() returns trigger language plpgsql as $$
begin
    raise exception 'audit_reads is append-only' using errcode = 'insufficient_privilege';
end $$;
create trigger audit_reads_append_only before update or delete on audit_reads
    for each row execute function audit_reads_append_only();
