-- A prediction's `clv score` values go in pages of consecutive customers, compressed together
-- (zstd, ~3.5x), and the row keeps its place in them: ~90 B a row instead of ~345 (see the
-- PostgreSQL migration). Rows written before keep their array in `scores` (empty in the new
-- ones) and still read. A rowid table: pages are tens of KB, too big for a WITHOUT ROWID b-tree.
ALTER TABLE predictions ADD COLUMN score_row BIGINT;
CREATE TABLE prediction_pages (
    shop_id BIGINT NOT NULL,
    run_id BIGINT NOT NULL,
    first_row BIGINT NOT NULL,
    scores BLOB NOT NULL,
    PRIMARY KEY (shop_id, run_id, first_row)
);
