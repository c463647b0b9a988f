-- What the provider last said of a sent message (sent, delivered, read, failed), from its
-- delivery-status webhook; `delivered_at` is when it said delivered (or read) first.
ALTER TABLE outbox ADD COLUMN delivery TEXT;
