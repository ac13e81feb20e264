-- ivid schema, version 2: the vPDQ of the picture inside a video's black
-- bars, for matching copies with bars added or removed (the reference's
-- hashes stay in vpdq).
ALTER TABLE media ADD COLUMN vpdq_cropped TEXT;
