-- At most one rescore of a shop runs at a time: a second one is refused (409) while it runs.
CREATE UNIQUE INDEX one_running_rescore ON score_runs (shop_id) WHERE status = 'running';
