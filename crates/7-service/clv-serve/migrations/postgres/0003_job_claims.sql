-- Scheduled work, claimed by the one process that runs it: a (shop, job, slot) row is inserted
-- once; a claim left unfinished past its lease (its process died) can be taken over.
CREATE TABLE job_claims (
    shop_id BIGINT NOT NULL REFERENCES shops (id),
    job TEXT NOT NULL,
    slot BIGINT NOT NULL,
    owner TEXT NOT NULL,
    claimed_at BIGINT NOT NULL,
    finished_at BIGINT,
    PRIMARY KEY (shop_id, job, slot)
);
