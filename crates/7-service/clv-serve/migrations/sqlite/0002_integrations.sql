-- Store platforms a shop receives webhooks from, with the secret their signatures are made with.
CREATE TABLE integrations (
    shop_id BIGINT NOT NULL REFERENCES shops (id),
    platform TEXT NOT NULL CHECK (platform IN ('shopify')),
    secret TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (shop_id, platform)
);
