-- Application profiles' service-tier settings (issue #14): the tier of
-- calls that name none and the highest tier calls may use ('' = unset).
-- Rows of deleted profiles are ignored (ListProfileTiers joins profiles).
CREATE TABLE profile_tiers (
    account      TEXT NOT NULL,
    profile_id   TEXT NOT NULL,
    default_tier TEXT NOT NULL,
    max_tier     TEXT NOT NULL,
    PRIMARY KEY (account, profile_id)
);
