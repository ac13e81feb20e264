-- ivid schema, version 4: changes of items' indexed hashes and Baseline
-- state, in commit order, for the other nodes over this database to
-- replay in their in-memory indexes. before is the item's indexed state
-- before the change (JSON; empty for a new item).
CREATE TABLE index_changes (
	seq INTEGER PRIMARY KEY AUTOINCREMENT,
	node TEXT NOT NULL,
	media_id BIGINT NOT NULL,
	before TEXT NOT NULL DEFAULT '',
	created BIGINT NOT NULL
);
CREATE INDEX index_changes_created ON index_changes(created);
