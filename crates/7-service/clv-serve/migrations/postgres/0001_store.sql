-- The store: every row belongs to a shop. Money is integer minor units in the shop's currency;
-- times are UTC seconds since 1970 (the shop's IANA zone is stored with the shop).
-- The same schema as migrations/sqlite, but for the identity columns.

CREATE TABLE shops (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    timezone TEXT NOT NULL,
    currency TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- API keys: the secret is never stored, only its SHA-256 (keys are 190-bit random strings).
CREATE TABLE api_keys (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    shop_id BIGINT NOT NULL REFERENCES shops (id),
    key_id TEXT NOT NULL UNIQUE,
    secret_sha256 TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'write', 'read')),
    created_at BIGINT NOT NULL
);

CREATE TABLE customers (
    shop_id BIGINT NOT NULL REFERENCES shops (id),
    customer_id TEXT NOT NULL,
    email TEXT,
    traits TEXT NOT NULL DEFAULT '{}',
    traits_at BIGINT NOT NULL DEFAULT 0,
    first_seen BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (shop_id, customer_id)
);

-- One row per order, a snapshot: the latest version (by its own time) wins. Cancellations and
-- refunds are kept apart so that they hold whatever order the events arrive in.
CREATE TABLE orders (
    shop_id BIGINT NOT NULL REFERENCES shops (id),
    order_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    placed_at BIGINT NOT NULL,
    total_minor BIGINT NOT NULL CHECK (total_minor >= 0),
    version_at BIGINT NOT NULL,
    source TEXT NOT NULL,
    PRIMARY KEY (shop_id, order_id)
);
CREATE INDEX orders_by_customer ON orders (shop_id, customer_id);

CREATE TABLE cancellations (
    shop_id BIGINT NOT NULL REFERENCES shops (id),
    order_id TEXT NOT NULL,
    cancelled_at BIGINT NOT NULL,
    PRIMARY KEY (shop_id, order_id)
);

-- Refunds, each once (its id is the event's or the platform's refund id).
CREATE TABLE refunds (
    shop_id BIGINT NOT NULL REFERENCES shops (id),
    refund_id TEXT NOT NULL,
    order_id TEXT NOT NULL,
    amount_minor BIGINT NOT NULL CHECK (amount_minor >= 0),
    refunded_at BIGINT NOT NULL,
    PRIMARY KEY (shop_id, refund_id)
);
CREATE INDEX refunds_by_order ON refunds (shop_id, order_id);

-- Every event applied, by its message id: a replayed event finds its id here and changes nothing.
CREATE TABLE events (
    shop_id BIGINT NOT NULL REFERENCES shops (id),
    message_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (shop_id, message_id)
);

-- Responses to requests sent with an Idempotency-Key; status NULL while the first is running.
CREATE TABLE idempotency_keys (
    shop_id BIGINT NOT NULL REFERENCES shops (id),
    idempotency_key TEXT NOT NULL,
    request_sha256 TEXT NOT NULL,
    status INTEGER,
    body TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (shop_id, idempotency_key)
);

CREATE TABLE score_runs (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    shop_id BIGINT NOT NULL REFERENCES shops (id),
    as_of TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    finished_at BIGINT,
    status TEXT NOT NULL CHECK (status IN ('running', 'done', 'insufficient', 'failed')),
    model TEXT,
    detail TEXT,
    customers BIGINT
);

-- Per-customer predictions of a run; the run before the latest is kept so changes can be seen.
CREATE TABLE predictions (
    shop_id BIGINT NOT NULL REFERENCES shops (id),
    run_id BIGINT NOT NULL REFERENCES score_runs (id),
    customer_id TEXT NOT NULL,
    p_alive DOUBLE PRECISION,
    expected_purchases DOUBLE PRECISION,
    predicted_clv DOUBLE PRECISION,
    scores TEXT NOT NULL,
    PRIMARY KEY (shop_id, run_id, customer_id)
);
