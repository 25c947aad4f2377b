-- Application profiles' service-tier settings (issue #14): the tier of
-- calls that name none and the highest tier calls may use ('' = unset).
-- Rows of deleted profiles are ignored (ListProfileTiers joins profiles).
CREATE TABLE profile_tiers (
    account      text NOT NULL,
    profile_id   text NOT NULL,
    default_tier text NOT NULL,
    max_tier     text NOT NULL,
    PRIMARY KEY (account, profile_id)
);
