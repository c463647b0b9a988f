-- Journeys: definitions (every saved version kept: a run finishes on the version it entered
-- with), runs with their state and wake-up time in the store (no timer lives in memory), and the
-- outbox, one row per message under a deterministic key (run, step), with its due time, expiry
-- and the lease of the worker holding it. Consent, suppressions and cap slots are rows read and
-- written at send time. The same schema as migrations/postgres.

CREATE TABLE journeys (
    shop_id BIGINT NOT NULL REFERENCES shops (id),
    journey_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    enabled BIGINT NOT NULL DEFAULT 0,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (shop_id, journey_id)
);

CREATE TABLE journey_versions (
    shop_id BIGINT NOT NULL REFERENCES shops (id),
    journey_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    definition TEXT NOT NULL,
    saved_at BIGINT NOT NULL,
    PRIMARY KEY (shop_id, journey_id, version)
);

CREATE TABLE journey_runs (
    shop_id BIGINT NOT NULL REFERENCES shops (id),
    run_key TEXT NOT NULL,
    journey_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    customer_id TEXT NOT NULL,
    order_id TEXT,
    entered_at BIGINT NOT NULL,
    step BIGINT NOT NULL DEFAULT 0,
    step_at BIGINT NOT NULL,
    wake_at BIGINT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'done', 'exited')),
    exit_reason TEXT,
    lease_owner TEXT,
    lease_until BIGINT NOT NULL DEFAULT 0,
    finished_at BIGINT,
    PRIMARY KEY (shop_id, run_key)
);
CREATE INDEX journey_runs_due ON journey_runs (wake_at) WHERE status = 'active';
CREATE INDEX journey_runs_by_customer ON journey_runs (shop_id, customer_id, journey_id);

CREATE TABLE outbox (
    shop_id BIGINT NOT NULL REFERENCES shops (id),
    message_key TEXT NOT NULL,
    run_key TEXT NOT NULL,
    step BIGINT NOT NULL,
    journey_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    class TEXT NOT NULL CHECK (class IN ('transactional', 'marketing')),
    topic TEXT NOT NULL,
    due_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    next_at BIGINT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'skipped', 'failed')),
    reason TEXT,
    channel TEXT,
    recipient TEXT,
    attempts BIGINT NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_until BIGINT NOT NULL DEFAULT 0,
    last_error TEXT,
    sent_at BIGINT,
    provider_id TEXT,
    delivered_at BIGINT,
    PRIMARY KEY (shop_id, message_key)
);
CREATE INDEX outbox_due ON outbox (next_at) WHERE status = 'pending';
CREATE INDEX outbox_by_customer ON outbox (shop_id, customer_id);
CREATE INDEX outbox_by_provider_id ON outbox (provider_id);

-- A marketing message takes one of the customer's `marketing_per_day` slots of its local day;
-- the slot is a row under a unique key, so two workers can never both take the last one.
CREATE TABLE cap_slots (
    shop_id BIGINT NOT NULL REFERENCES shops (id),
    customer_id TEXT NOT NULL,
    day TEXT NOT NULL,
    slot BIGINT NOT NULL,
    message_key TEXT NOT NULL,
    PRIMARY KEY (shop_id, customer_id, day, slot),
    UNIQUE (shop_id, message_key)
);

-- Consent per channel: topic 'marketing' is the opt-in; any other topic row with granted = 0 is
-- that topic left (one-click unsubscribe). The latest statement (by its time) wins.
CREATE TABLE consents (
    shop_id BIGINT NOT NULL REFERENCES shops (id),
    customer_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    topic TEXT NOT NULL,
    granted BIGINT NOT NULL,
    at BIGINT NOT NULL,
    source TEXT NOT NULL,
    PRIMARY KEY (shop_id, customer_id, channel, topic)
);

CREATE TABLE suppressions (
    shop_id BIGINT NOT NULL REFERENCES shops (id),
    channel TEXT NOT NULL,
    address TEXT NOT NULL,
    reason TEXT NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (shop_id, channel, address)
);

-- Where each channel sends, per shop (SMTP server, provider base URL and credentials).
CREATE TABLE channel_settings (
    shop_id BIGINT NOT NULL REFERENCES shops (id),
    channel TEXT NOT NULL,
    settings TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (shop_id, channel)
);

CREATE TABLE messaging_settings (
    shop_id BIGINT PRIMARY KEY REFERENCES shops (id),
    settings TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- The latest time each customer did each kind of event (live ingest): what exit rules and
-- wait-for steps read.
CREATE TABLE customer_activity (
    shop_id BIGINT NOT NULL REFERENCES shops (id),
    customer_id TEXT NOT NULL,
    event TEXT NOT NULL,
    last_at BIGINT NOT NULL,
    PRIMARY KEY (shop_id, customer_id, event)
);

-- Secrets the service makes for itself (the key unsubscribe links are signed with).
CREATE TABLE service_secrets (
    name TEXT PRIMARY KEY,
    secret TEXT NOT NULL
);
