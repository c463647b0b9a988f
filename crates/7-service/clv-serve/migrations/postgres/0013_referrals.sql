-- Referrals: codes, claims, and the ledger kind 'referral'.
ALTER TABLE loyalty_ledger DROP CONSTRAINT loyalty_ledger_kind_check;
ALTER TABLE loyalty_ledger ADD CONSTRAINT loyalty_ledger_kind_check CHECK (kind IN ('earn', 'reprice', 'reverse', 'cancel', 'redeem', 'expire', 'adjust', 'referral'));

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
