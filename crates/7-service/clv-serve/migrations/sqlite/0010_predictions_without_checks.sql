-- Predictions are derived rows, written a million at a time by the rescore that created their
-- run and read by key: one b-tree (WITHOUT ROWID: the key is the row's place) instead of a table
-- and its key index, and no foreign keys to check per row (nothing but that rescore writes
-- them, and runs and shops are never deleted). Together a quarter less time per written row.
CREATE TABLE predictions_keyed (
    shop_id BIGINT NOT NULL,
    run_id BIGINT NOT NULL,
    customer_id TEXT NOT NULL,
    p_alive DOUBLE PRECISION,
    expected_purchases DOUBLE PRECISION,
    predicted_clv DOUBLE PRECISION,
    scores TEXT NOT NULL,
    segment TEXT,
    tier TEXT,
    PRIMARY KEY (shop_id, run_id, customer_id)
) WITHOUT ROWID;
INSERT INTO predictions_keyed (shop_id, run_id, customer_id, p_alive, expected_purchases, predicted_clv, scores, segment, tier)
    SELECT shop_id, run_id, customer_id, p_alive, expected_purchases, predicted_clv, scores, segment, tier FROM predictions;
DROP TABLE predictions;
ALTER TABLE predictions_keyed RENAME TO predictions;
