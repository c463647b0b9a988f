-- The loyalty program: its settings (clv_loyalty::Program as JSON), an append-only ledger whose
-- rows are keyed by the effect they record (earn:{order}, refund:{refund}, redeem:{key}, …), so a
-- replay or a retry writes nothing twice, and the rewards redemptions issued. A balance is a sum
-- of ledger rows; no table holds a running total.
CREATE TABLE loyalty_programs (
    shop_id BIGINT PRIMARY KEY REFERENCES shops (id),
    program TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE loyalty_ledger (
    shop_id BIGINT NOT NULL REFERENCES shops (id),
    entry_key TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('earn', 'reprice', 'reverse', 'cancel', 'redeem', 'expire', 'adjust')),
    points BIGINT NOT NULL,
    at BIGINT NOT NULL,
    available_at BIGINT NOT NULL,
    order_id TEXT,
    rate BIGINT NOT NULL,
    reason TEXT NOT NULL,
    PRIMARY KEY (shop_id, entry_key)
);
CREATE INDEX loyalty_ledger_by_customer ON loyalty_ledger (shop_id, customer_id, at);
CREATE INDEX loyalty_ledger_by_order ON loyalty_ledger (shop_id, order_id);

CREATE TABLE loyalty_rewards (
    shop_id BIGINT NOT NULL REFERENCES shops (id),
    code TEXT NOT NULL,
    entry_key TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    reward_id TEXT NOT NULL,
    reward TEXT NOT NULL,
    issued_at BIGINT NOT NULL,
    PRIMARY KEY (shop_id, code),
    UNIQUE (shop_id, entry_key),
    FOREIGN KEY (shop_id, entry_key) REFERENCES loyalty_ledger (shop_id, entry_key)
);
