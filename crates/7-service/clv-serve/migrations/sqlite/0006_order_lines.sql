-- What each order holds, by product: the lines of the order's latest snapshot (replaced with it).
-- Replenishment cycles and products bought together are computed from them at rescore.
CREATE TABLE order_lines (
    shop_id BIGINT NOT NULL REFERENCES shops (id),
    order_id TEXT NOT NULL,
    line_no INTEGER NOT NULL,
    sku TEXT NOT NULL,
    quantity DOUBLE PRECISION NOT NULL,
    amount_minor BIGINT NOT NULL,
    PRIMARY KEY (shop_id, order_id, line_no)
);

ALTER TABLE score_runs ADD COLUMN products TEXT;
