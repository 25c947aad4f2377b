-- The Bedrock service tier that served each call ("priority", "default",
-- "flex", "reserved"; '' when no tier answered, e.g. a refused call).
ALTER TABLE usage_records ADD COLUMN service_tier TEXT NOT NULL DEFAULT '';
