-- An application profile's price scope (issue #15): the endpoint scope
-- its calls are priced in ('in-region', 'geo' or 'global'), fixed when
-- the profile is created from its model source and kept whatever the
-- catalogue later says. Existing profiles take the scope their source
-- ARN names: a system profile whose id starts "global." is global, any
-- other system profile geographic, a foundation model in-region
-- (profile.ScopeOfSource is the same rule in Go).
ALTER TABLE profiles ADD COLUMN scope TEXT NOT NULL DEFAULT '';
UPDATE profiles SET scope = CASE
    WHEN source LIKE 'arn:%:inference-profile/global.%' THEN 'global'
    WHEN source LIKE 'arn:%:inference-profile/%' THEN 'geo'
    ELSE 'in-region'
END
WHERE scope = '';
