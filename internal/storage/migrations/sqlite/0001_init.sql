-- ivid schema, version 1 (SQLite)
CREATE TABLE agencies (
	id INTEGER PRIMARY KEY,
	name TEXT NOT NULL UNIQUE,
	country TEXT NOT NULL DEFAULT '',
	kind TEXT NOT NULL,
	created BIGINT NOT NULL
);
CREATE TABLE users (
	id INTEGER PRIMARY KEY,
	agency_id BIGINT NOT NULL REFERENCES agencies(id),
	name TEXT NOT NULL UNIQUE,
	roles TEXT NOT NULL,
	password_hash TEXT NOT NULL,
	totp_secret TEXT NOT NULL DEFAULT '',
	totp_enabled INTEGER NOT NULL DEFAULT 0,
	disabled INTEGER NOT NULL DEFAULT 0,
	created BIGINT NOT NULL
);
CREATE TABLE sessions (
	hash TEXT PRIMARY KEY,
	user_id BIGINT NOT NULL REFERENCES users(id),
	created BIGINT NOT NULL,
	expires BIGINT NOT NULL,
	mfa INTEGER NOT NULL
);
CREATE TABLE tokens (
	id INTEGER PRIMARY KEY,
	user_id BIGINT NOT NULL REFERENCES users(id),
	hash TEXT NOT NULL UNIQUE,
	name TEXT NOT NULL,
	created BIGINT NOT NULL,
	expires BIGINT,
	last_used BIGINT
);
CREATE TABLE cases (
	id INTEGER PRIMARY KEY,
	agency_id BIGINT NOT NULL REFERENCES agencies(id),
	reference TEXT NOT NULL,
	title TEXT NOT NULL DEFAULT '',
	sharing TEXT NOT NULL,
	created_by BIGINT NOT NULL REFERENCES users(id),
	created BIGINT NOT NULL,
	UNIQUE (agency_id, reference)
);
CREATE TABLE series (
	id INTEGER PRIMARY KEY,
	name TEXT NOT NULL,
	status TEXT NOT NULL,
	agency_id BIGINT NOT NULL REFERENCES agencies(id),
	created BIGINT NOT NULL
);
CREATE TABLE media (
	id INTEGER PRIMARY KEY,
	sha256 TEXT UNIQUE, -- NULL for hashes-only items known by MD5/SHA-1 alone
	md5 TEXT NOT NULL,
	sha1 TEXT NOT NULL,
	kind TEXT NOT NULL,
	mime TEXT NOT NULL,
	size BIGINT NOT NULL,
	width INTEGER NOT NULL DEFAULT 0,
	height INTEGER NOT NULL DEFAULT 0,
	duration DOUBLE PRECISION NOT NULL DEFAULT 0,
	pdq TEXT,
	pdq_quality INTEGER NOT NULL DEFAULT 0,
	vpdq TEXT,
	stored INTEGER NOT NULL,
	camera_make TEXT NOT NULL DEFAULT '',
	camera_model TEXT NOT NULL DEFAULT '',
	camera_serial TEXT NOT NULL DEFAULT '',
	capture_time BIGINT,
	lat DOUBLE PRECISION,
	lon DOUBLE PRECISION,
	category INTEGER NOT NULL DEFAULT -1,
	series_id BIGINT REFERENCES series(id),
	baseline TEXT NOT NULL DEFAULT '',
	photodna TEXT NOT NULL DEFAULT '',
	created BIGINT NOT NULL
);
CREATE INDEX media_md5 ON media(md5);
CREATE INDEX media_sha1 ON media(sha1);
CREATE INDEX media_serial ON media(camera_serial) WHERE camera_serial <> '';
CREATE INDEX media_place ON media(lat, lon) WHERE lat IS NOT NULL;
CREATE INDEX media_series ON media(series_id);
CREATE INDEX media_baseline ON media(baseline) WHERE baseline <> '';
CREATE INDEX media_uncategorised ON media(category) WHERE category = -1;
CREATE INDEX media_category ON media(category);
CREATE TABLE submissions (
	id INTEGER PRIMARY KEY,
	media_id BIGINT NOT NULL REFERENCES media(id),
	case_id BIGINT NOT NULL REFERENCES cases(id),
	agency_id BIGINT NOT NULL REFERENCES agencies(id),
	user_id BIGINT NOT NULL REFERENCES users(id),
	file_name TEXT NOT NULL DEFAULT '',
	created BIGINT NOT NULL
);
CREATE INDEX submissions_media ON submissions(media_id);
CREATE INDEX submissions_case ON submissions(case_id);
CREATE TABLE claims (
	id INTEGER PRIMARY KEY,
	series_id BIGINT NOT NULL REFERENCES series(id),
	agency_id BIGINT NOT NULL REFERENCES agencies(id),
	user_id BIGINT NOT NULL REFERENCES users(id),
	since BIGINT NOT NULL,
	released BIGINT
);
CREATE INDEX claims_series ON claims(series_id);
CREATE TABLE victims (
	id INTEGER PRIMARY KEY,
	series_id BIGINT NOT NULL REFERENCES series(id),
	identified INTEGER NOT NULL,
	agency_id BIGINT REFERENCES agencies(id),
	identified_at BIGINT,
	age_group TEXT NOT NULL DEFAULT '',
	sex TEXT NOT NULL DEFAULT ''
);
CREATE TABLE offenders (
	id INTEGER PRIMARY KEY,
	series_id BIGINT NOT NULL REFERENCES series(id),
	identified INTEGER NOT NULL,
	agency_id BIGINT REFERENCES agencies(id),
	identified_at BIGINT,
	notice TEXT NOT NULL DEFAULT '',
	notice_ref TEXT NOT NULL DEFAULT ''
);
CREATE TABLE clues (
	id INTEGER PRIMARY KEY,
	media_id BIGINT NOT NULL REFERENCES media(id),
	agency_id BIGINT NOT NULL REFERENCES agencies(id),
	user_id BIGINT NOT NULL REFERENCES users(id),
	text TEXT NOT NULL,
	tags TEXT NOT NULL DEFAULT '',
	x INTEGER, y INTEGER, w INTEGER, h INTEGER,
	created BIGINT NOT NULL
);
CREATE INDEX clues_media ON clues(media_id);
CREATE TABLE baseline_votes (
	media_id BIGINT NOT NULL REFERENCES media(id),
	agency_id BIGINT NOT NULL REFERENCES agencies(id),
	user_id BIGINT NOT NULL REFERENCES users(id),
	at BIGINT NOT NULL,
	PRIMARY KEY (media_id, agency_id)
);
CREATE TABLE audit (
	seq BIGINT PRIMARY KEY,
	at BIGINT NOT NULL,
	user_id BIGINT NOT NULL,
	agency_id BIGINT NOT NULL,
	action TEXT NOT NULL,
	object TEXT NOT NULL,
	detail TEXT NOT NULL,
	prev TEXT NOT NULL,
	hash TEXT NOT NULL
);
-- The head is kept apart from the trail so that cutting records off its
-- end is detected; its one row is also the lock that serialises appends.
CREATE TABLE audit_head (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	seq BIGINT NOT NULL,
	hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
