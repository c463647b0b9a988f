-- A prediction's `clv score` values go in pages of consecutive customers, compressed together
-- (zstd, ~3.5x: numbers in text repeat across customers, not within one), and the row keeps
-- its place in them. A rescore of 1,000,000 customers wrote ~345 MB of rows, each a full
-- JSON array, and PostgreSQL's write-ahead log of them was the bulk of its time (the same COPY
-- took 7.0 s logged against 4.0 s unlogged); now ~90 B a row and ~70 MB of pages. Rows written
-- before keep their array in `scores` (empty in the new ones) and still read.
ALTER TABLE predictions ADD COLUMN score_row BIGINT;
CREATE TABLE prediction_pages (
    shop_id BIGINT NOT NULL,
    run_id BIGINT NOT NULL,
    first_row BIGINT NOT NULL,
    scores BYTEA NOT NULL,
    PRIMARY KEY (shop_id, run_id, first_row)
);
