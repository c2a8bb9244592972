-- Retention (issue 9): finding ended requests to purge, and the stored runs that name them.
create index requests_ended on requests (updated_at)
    where status in ('arrived', 'withdrawn', 'no_show');
create index matching_runs_problem on matching_runs using gin (problem jsonb_path_ops);
