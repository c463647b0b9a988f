-- no-transaction
-- Referrals: codes, claims, and the ledger kind 'referral'. SQLite cannot alter a CHECK, so the
-- ledger is rebuilt the way SQLite documents (foreign keys off outside the transaction, so
-- loyalty_rewards keeps referring to the table by name), all in one transaction.
PRAGMA foreign_keys = OFF;
BEGIN;
CREATE TABLE loyalty_ledger_new (
    shop_id BIGINT NOT NULL REFERENCES shops (id),
    entry_key TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('earn', 'reprice', 'reverse', 'cancel', 'redeem', 'expire', 'adjust', 'referral')),
    points BIGINT NOT NULL,
    at BIGINT NOT NULL,
    available_at BIGINT NOT NULL,
    order_id TEXT,
    rate BIGINT NOT NULL,
    reason TEXT NOT NULL,
    PRIMARY KEY (shop_id, entry_key)
);
INSERT INTO loyalty_ledger_new (shop_id, entry_key, customer_id, kind, points, at, available_at, order_id, rate, reason)
    SELECT shop_id, entry_key, customer_id, kind, points, at, available_at, order_id, rate, reason FROM loyalty_ledger;
DROP TABLE loyalty_ledger;
ALTER TABLE loyalty_ledger_new RENAME TO loyalty_ledger;
CREATE INDEX loyalty_ledger_by_customer ON loyalty_ledger (shop_id, customer_id, at);
CREATE INDEX loyalty_ledger_by_order ON loyalty_ledger (shop_id, order_id);

-- A customer's referral code (one per customer, unique in the shop).
CREATE TABLE referral_codes (
    shop_id BIGINT NOT NULL REFERENCES shops (id),
    customer_id TEXT NOT NULL,
    code TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (shop_id, customer_id),
    UNIQUE (shop_id, code)
);

-- One claim per referee: pending until the first order's approval window ends, then paid
-- (the ledger rows referral:{referee}:referrer and :referee) or refused with the reason.
CREATE TABLE referrals (
    shop_id BIGINT NOT NULL REFERENCES shops (id),
    referee_id TEXT NOT NULL,
    referrer_id TEXT NOT NULL,
    code TEXT NOT NULL,
    claimed_at BIGINT NOT NULL,
    source TEXT,
    status TEXT NOT NULL CHECK (status IN ('pending', 'paid', 'refused', 'cancelled')),
    reason TEXT,
    order_id TEXT,
    settled_at BIGINT,
    PRIMARY KEY (shop_id, referee_id)
);
CREATE INDEX referrals_by_source ON referrals (shop_id, source, claimed_at);
CREATE INDEX referrals_pending ON referrals (shop_id, status);
PRAGMA foreign_key_check;
COMMIT;
PRAGMA foreign_keys = ON;
