-- ivid schema, version 3: the key a contributor's request gave each
-- submission, so that a request sent again (its answer lost) adds none.
ALTER TABLE submissions ADD COLUMN request_key TEXT;
CREATE UNIQUE INDEX submissions_request_key ON submissions(case_id, request_key) WHERE request_key IS NOT NULL;
