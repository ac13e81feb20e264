package hashset

import (
	"database/sql"
	"fmt"
	"io"

	_ "modernc.org/sqlite" // pure-Go SQLite, for NSRL RDSv3
)

// NIST NSRL RDSv3 ships as an SQLite database whose FILE table holds the
// hashes of known operating-system and application files: known-good.

type nsrlReader struct {
	file string
	rows *sql.Rows
	db   *sql.DB
	n    int
}

// OpenNSRL opens an RDSv3 database read-only and streams its FILE table.
func OpenNSRL(path string) (Reader, io.Closer, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=query_only(1)")
	if err != nil {
		return nil, nil, err
	}
	rows, err := db.Query(`SELECT sha256, sha1, md5, file_name FROM FILE`)
	if err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("%s: not an NSRL RDSv3 database: %w", path, err)
	}
	r := &nsrlReader{file: path, rows: rows, db: db}
	return r, r, nil
}

func (r *nsrlReader) Next() (Entry, error) {
	if !r.rows.Next() {
		if err := r.rows.Err(); err != nil {
			return Entry{}, fatalError{&ParseError{File: r.file, Line: r.n + 1, Err: err}}
		}
		return Entry{}, io.EOF
	}
	r.n++
	var sha256, sha1, md5, name sql.NullString
	if err := r.rows.Scan(&sha256, &sha1, &md5, &name); err != nil {
		return Entry{}, &ParseError{File: r.file, Line: r.n, Err: malformed("%v", err)}
	}
	e := Entry{Category: Uncategorised, Label: name.String}
	var err error
	if e.SHA256, err = normHex(sha256.String, 64, "sha256"); err != nil {
		return Entry{}, &ParseError{File: r.file, Line: r.n, Field: "sha256", Err: err}
	}
	if e.SHA1, err = normHex(sha1.String, 40, "sha1"); err != nil {
		return Entry{}, &ParseError{File: r.file, Line: r.n, Field: "sha1", Err: err}
	}
	if e.MD5, err = normHex(md5.String, 32, "md5"); err != nil {
		return Entry{}, &ParseError{File: r.file, Line: r.n, Field: "md5", Err: err}
	}
	return e, nil
}

func (r *nsrlReader) Close() error {
	r.rows.Close()
	return r.db.Close()
}
