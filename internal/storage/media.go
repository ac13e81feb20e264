package storage

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ivid-project/ivid/internal/hashset"
	"github.com/ivid-project/ivid/internal/ivid"
	"github.com/ivid-project/ivid/internal/pdq"
	"github.com/ivid-project/ivid/internal/vpdq"
)

const mediaCols = `id, sha256, md5, sha1, kind, mime, size, width, height, duration, pdq, pdq_quality, vpdq, stored,
	camera_make, camera_model, camera_serial, capture_time, lat, lon, category, series_id, baseline, photodna, created, vpdq_cropped`

func mediaArgs(m *ivid.Media) []any {
	var p sql.NullString
	if m.PDQ != nil {
		p = sql.NullString{String: m.PDQ.String(), Valid: true}
	}
	frames := func(fs []vpdq.Frame) sql.NullString {
		if len(fs) == 0 {
			return sql.NullString{}
		}
		var b strings.Builder
		vpdq.WriteLines(&b, fs)
		return sql.NullString{String: b.String(), Valid: true}
	}
	v := frames(m.VPDQ)
	var series sql.NullInt64
	if m.SeriesID != 0 {
		series = sql.NullInt64{Int64: int64(m.SeriesID), Valid: true}
	}
	return []any{sql.NullString{String: m.SHA256, Valid: m.SHA256 != ""}, m.MD5, m.SHA1, string(m.Kind), m.MIME, m.Size, m.Width, m.Height, m.Duration, p, m.Quality, v, b2i(m.Stored),
		m.CameraMake, m.CameraModel, m.CameraSerial, nullTS(m.CaptureTime), nullFloat(m.Lat), nullFloat(m.Lon),
		int(m.Category), series, string(m.Baseline), m.PhotoDNA, ts(m.Created), frames(m.VPDQCropped)}
}

func nullFloat(f *float64) sql.NullFloat64 {
	if f == nil {
		return sql.NullFloat64{}
	}
	return sql.NullFloat64{Float64: *f, Valid: true}
}

func scanMedia(r interface{ Scan(...any) error }) (ivid.Media, error) {
	var m ivid.Media
	var kind, baseline string
	var p, v, vc, sha sql.NullString
	var stored, category int
	var capture, series sql.NullInt64
	var lat, lon sql.NullFloat64
	var created int64
	err := r.Scan(&m.ID, &sha, &m.MD5, &m.SHA1, &kind, &m.MIME, &m.Size, &m.Width, &m.Height, &m.Duration, &p, &m.Quality, &v, &stored,
		&m.CameraMake, &m.CameraModel, &m.CameraSerial, &capture, &lat, &lon, &category, &series, &baseline, &m.PhotoDNA, &created, &vc)
	if err != nil {
		return m, err
	}
	m.SHA256 = sha.String
	m.Kind, m.Stored, m.Category, m.Baseline, m.Created = ivid.Kind(kind), stored == 1, hashset.Category(category), ivid.BaselineState(baseline), fromTS(created)
	m.CaptureTime = fromNullTS(capture)
	m.SeriesID = ivid.SeriesID(series.Int64)
	if lat.Valid && lon.Valid {
		m.Lat, m.Lon = &lat.Float64, &lon.Float64
	}
	if p.Valid {
		h, err := pdq.ParseHex(p.String)
		if err != nil {
			return m, err
		}
		m.PDQ = &h
	}
	if v.Valid {
		if m.VPDQ, err = vpdq.ReadLines(strings.NewReader(v.String)); err != nil {
			return m, err
		}
	}
	if vc.Valid {
		if m.VPDQCropped, err = vpdq.ReadLines(strings.NewReader(vc.String)); err != nil {
			return m, err
		}
	}
	return m, nil
}

func scanMediaRows(r *sql.Rows) (ivid.Media, error) { return scanMedia(r) }

// mediaInsert inserts rows of mediaArgs' 25 columns.
const mediaInsert = `INSERT INTO media (sha256, md5, sha1, kind, mime, size, width, height, duration, pdq, pdq_quality, vpdq, stored,
		camera_make, camera_model, camera_serial, capture_time, lat, lon, category, series_id, baseline, photodna, created, vpdq_cropped)
		VALUES `

func (s *queries) CreateMedia(ctx context.Context, m *ivid.Media) error {
	id, err := s.insert(ctx, mediaInsert+rowsOf(1, 25), mediaArgs(m)...)
	m.ID = ivid.MediaID(id)
	return err
}

// CreateMediaItems inserts items 32 rows a statement. RETURNING promises
// no order (SQLite says so), so the IDs are matched back by the items'
// digests, which must differ.
func (s *queries) CreateMediaItems(ctx context.Context, ms []*ivid.Media) error {
	for rest := ms; len(rest) > 0; {
		n := pow2Chunk(len(rest), 32)
		byDigests := make(map[[3]string]*ivid.Media, n)
		args := make([]any, 0, 25*n)
		for _, m := range rest[:n] {
			k := [3]string{m.SHA256, m.MD5, m.SHA1}
			if byDigests[k] != nil {
				return fmt.Errorf("create media items: two with the same digests")
			}
			byDigests[k] = m
			args = append(args, mediaArgs(m)...)
		}
		rows, err := s.query(ctx, mediaInsert+rowsOf(n, 25)+` RETURNING id, sha256, md5, sha1`, args...)
		if err != nil {
			return err
		}
		set := 0
		for rows.Next() {
			var id int64
			var sha256 sql.NullString
			var md5, sha1 string
			if err := rows.Scan(&id, &sha256, &md5, &sha1); err != nil {
				rows.Close()
				return err
			}
			if m := byDigests[[3]string{sha256.String, md5, sha1}]; m != nil && m.ID == 0 {
				m.ID = ivid.MediaID(id)
				set++
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if set != n {
			return fmt.Errorf("create media items: %d IDs back for %d rows", set, n)
		}
		rest = rest[n:]
	}
	return nil
}

func (s *queries) UpdateMedia(ctx context.Context, m *ivid.Media) error {
	_, err := s.exec(ctx, `UPDATE media SET sha256 = ?, md5 = ?, sha1 = ?, kind = ?, mime = ?, size = ?, width = ?, height = ?, duration = ?,
		pdq = ?, pdq_quality = ?, vpdq = ?, stored = ?, camera_make = ?, camera_model = ?, camera_serial = ?, capture_time = ?, lat = ?, lon = ?,
		category = ?, series_id = ?, baseline = ?, photodna = ?, created = ?, vpdq_cropped = ? WHERE id = ?`, append(mediaArgs(m), m.ID)...)
	return err
}

func (s *queries) Media(ctx context.Context, id ivid.MediaID) (ivid.Media, error) {
	m, err := scanMedia(s.row(ctx, `SELECT `+mediaCols+` FROM media WHERE id = ?`, id))
	return m, notFound(err, "media item")
}

func (s *queries) MediaBySHA256(ctx context.Context, sha string) (ivid.Media, error) {
	m, err := scanMedia(s.row(ctx, `SELECT `+mediaCols+` FROM media WHERE sha256 = ?`, sha))
	return m, notFound(err, "media item")
}

func (s *queries) MediaByDigest(ctx context.Context, md5, sha1 string) ([]ivid.Media, error) {
	rows, err := s.query(ctx, `SELECT `+mediaCols+` FROM media WHERE (md5 = ? AND ? <> '') OR (sha1 = ? AND ? <> '') ORDER BY id`, md5, md5, sha1, sha1)
	return all(rows, err, scanMediaRows)
}

func (s *queries) MediaByDigests(ctx context.Context, sha256s, md5s, sha1s []string) ([]ivid.Media, error) {
	seen := map[ivid.MediaID]bool{}
	var out []ivid.Media
	for _, c := range []struct {
		col string
		vs  []string
	}{{"sha256", sha256s}, {"md5", md5s}, {"sha1", sha1s}} {
		vs := slices.DeleteFunc(slices.Clone(c.vs), func(v string) bool { return v == "" })
		for part := range slices.Chunk(vs, inMax) {
			in, args := inList(part)
			rows, err := s.query(ctx, `SELECT `+mediaCols+` FROM media WHERE `+c.col+` IN `+in, args...)
			ms, err := all(rows, err, scanMediaRows)
			if err != nil {
				return nil, err
			}
			for _, m := range ms {
				if !seen[m.ID] {
					seen[m.ID] = true
					out = append(out, m)
				}
			}
		}
	}
	slices.SortFunc(out, func(a, b ivid.Media) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

func (s *queries) MediaBySerial(ctx context.Context, serial string) ([]ivid.Media, error) {
	rows, err := s.query(ctx, `SELECT `+mediaCols+` FROM media WHERE camera_serial = ? AND camera_serial <> '' ORDER BY id LIMIT 1000`, serial)
	return all(rows, err, scanMediaRows)
}

func (s *queries) MediaInBox(ctx context.Context, minLat, maxLat, minLon, maxLon float64) ([]ivid.Media, error) {
	rows, err := s.query(ctx, `SELECT `+mediaCols+` FROM media WHERE lat IS NOT NULL AND lat BETWEEN ? AND ? AND lon BETWEEN ? AND ? ORDER BY id LIMIT 1000`,
		minLat, maxLat, minLon, maxLon)
	return all(rows, err, scanMediaRows)
}

func (s *queries) MediaInSeries(ctx context.Context, id ivid.SeriesID) ([]ivid.Media, error) {
	rows, err := s.query(ctx, `SELECT `+mediaCols+` FROM media WHERE series_id = ? ORDER BY id`, id)
	return all(rows, err, scanMediaRows)
}

func (s *queries) MediaInCase(ctx context.Context, id ivid.CaseID) ([]ivid.Media, error) {
	rows, err := s.query(ctx, `SELECT `+mediaCols+` FROM media WHERE id IN (SELECT media_id FROM submissions WHERE case_id = ?) ORDER BY id`, id)
	return all(rows, err, scanMediaRows)
}

func (s *queries) Uncategorised(ctx context.Context, agency ivid.AgencyID, limit int) ([]ivid.Media, error) {
	rows, err := s.query(ctx, `SELECT `+mediaCols+` FROM media WHERE category = -1 AND id IN (SELECT media_id FROM submissions WHERE agency_id = ?) ORDER BY id LIMIT ?`, agency, limit)
	return all(rows, err, scanMediaRows)
}

func (s *queries) EachMedia(ctx context.Context, fn func(ivid.Media) error) error {
	rows, err := s.query(ctx, `SELECT `+mediaCols+` FROM media ORDER BY id`)
	return each(rows, err, scanMediaRows, fn)
}

func (s *queries) EachBaseline(ctx context.Context, fn func(ivid.Media) error) error {
	rows, err := s.query(ctx, `SELECT `+mediaCols+` FROM media WHERE baseline = 'confirmed' ORDER BY id`)
	return each(rows, err, scanMediaRows, fn)
}

func (s *queries) MediaByBaseline(ctx context.Context, state ivid.BaselineState, limit int) ([]ivid.Media, error) {
	rows, err := s.query(ctx, `SELECT `+mediaCols+` FROM media WHERE baseline = ? AND baseline <> '' ORDER BY id LIMIT ?`, string(state), limit)
	return all(rows, err, scanMediaRows)
}

func (s *queries) AddSubmission(ctx context.Context, sub *ivid.Submission) error {
	id, err := s.insert(ctx, `INSERT INTO submissions (media_id, case_id, agency_id, user_id, file_name, created, request_key) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		sub.MediaID, sub.CaseID, sub.AgencyID, sub.UserID, sub.FileName, ts(sub.Created), nullString(sub.Key))
	sub.ID = id
	return err
}

// AddSubmissions inserts submissions 64 rows a statement; their IDs are
// not read back.
func (s *queries) AddSubmissions(ctx context.Context, subs []ivid.Submission) error {
	for rest := subs; len(rest) > 0; {
		n := pow2Chunk(len(rest), 64)
		args := make([]any, 0, 7*n)
		for _, sub := range rest[:n] {
			args = append(args, sub.MediaID, sub.CaseID, sub.AgencyID, sub.UserID, sub.FileName, ts(sub.Created), nullString(sub.Key))
		}
		if _, err := s.exec(ctx, `INSERT INTO submissions (media_id, case_id, agency_id, user_id, file_name, created, request_key) VALUES `+rowsOf(n, 7), args...); err != nil {
			return err
		}
		rest = rest[n:]
	}
	return nil
}

// subCols are the columns scanSubmission reads.
const subCols = `id, media_id, case_id, agency_id, user_id, file_name, created, request_key`

func scanSubmission(r *sql.Rows) (ivid.Submission, error) {
	var sub ivid.Submission
	var created int64
	var key sql.NullString
	err := r.Scan(&sub.ID, &sub.MediaID, &sub.CaseID, &sub.AgencyID, &sub.UserID, &sub.FileName, &created, &key)
	sub.Created, sub.Key = fromTS(created), key.String
	return sub, err
}

// SubmittedKeys returns, by key, the items of a case's submissions whose
// request keys are among keys.
func (s *queries) SubmittedKeys(ctx context.Context, c ivid.CaseID, keys []string) (map[string]ivid.MediaID, error) {
	out := map[string]ivid.MediaID{}
	for part := range slices.Chunk(keys, inMax) {
		in, args := inList(part)
		rows, err := s.query(ctx, `SELECT request_key, media_id FROM submissions WHERE case_id = ? AND request_key IN `+in, append([]any{c}, args...)...)
		type keyed struct {
			key string
			id  ivid.MediaID
		}
		scan := func(r *sql.Rows) (keyed, error) {
			var k keyed
			return k, r.Scan(&k.key, &k.id)
		}
		if err := each(rows, err, scan, func(k keyed) error { out[k.key] = k.id; return nil }); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (s *queries) Submissions(ctx context.Context, m ivid.MediaID) ([]ivid.Submission, error) {
	rows, err := s.query(ctx, `SELECT `+subCols+` FROM submissions WHERE media_id = ? ORDER BY id`, m)
	return all(rows, err, scanSubmission)
}

func (s *queries) SubmissionsOf(ctx context.Context, ids []ivid.MediaID) ([]ivid.Submission, error) {
	var out []ivid.Submission
	for part := range slices.Chunk(slices.Compact(slices.Sorted(slices.Values(ids))), inMax) {
		in, args := inList(part)
		rows, err := s.query(ctx, `SELECT `+subCols+` FROM submissions WHERE media_id IN `+in, args...)
		subs, err := all(rows, err, scanSubmission)
		if err != nil {
			return nil, err
		}
		out = append(out, subs...)
	}
	slices.SortFunc(out, func(a, b ivid.Submission) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

func (s *queries) RecentSubmissions(ctx context.Context, agency ivid.AgencyID, limit int) ([]ivid.Submission, error) {
	rows, err := s.query(ctx, `SELECT `+subCols+` FROM submissions WHERE agency_id = ? ORDER BY id DESC LIMIT ?`, agency, limit)
	return all(rows, err, scanSubmission)
}

func (s *queries) CountMedia(ctx context.Context) (map[hashset.Category]int64, error) {
	rows, err := s.query(ctx, `SELECT category, COUNT(*) FROM media GROUP BY category`)
	out := map[hashset.Category]int64{}
	err = each(rows, err, func(r *sql.Rows) ([2]int64, error) {
		var v [2]int64
		return v, r.Scan(&v[0], &v[1])
	}, func(v [2]int64) error { out[hashset.Category(v[0])] = v[1]; return nil })
	return out, err
}

func (s *queries) MediaByIDs(ctx context.Context, ids []ivid.MediaID) ([]ivid.Media, error) {
	var out []ivid.Media
	for part := range slices.Chunk(slices.Compact(slices.Sorted(slices.Values(ids))), inMax) {
		in, args := inList(part)
		rows, err := s.query(ctx, `SELECT `+mediaCols+` FROM media WHERE id IN `+in+` ORDER BY id`, args...)
		ms, err := all(rows, err, scanMediaRows)
		if err != nil {
			return nil, err
		}
		out = append(out, ms...)
	}
	return out, nil
}

// AddIndexChanges inserts changes 64 rows a statement.
func (s *queries) AddIndexChanges(ctx context.Context, cs []ivid.IndexChange) error {
	for rest := cs; len(rest) > 0; {
		n := pow2Chunk(len(rest), 64)
		args := make([]any, 0, 4*n)
		for _, c := range rest[:n] {
			args = append(args, c.Node, c.Media, c.Before, ts(c.Created))
		}
		if _, err := s.exec(ctx, `INSERT INTO index_changes (node, media_id, before, created) VALUES `+rowsOf(n, 4), args...); err != nil {
			return err
		}
		rest = rest[n:]
	}
	return nil
}

func (s *queries) IndexChangesSince(ctx context.Context, seq int64, limit int) ([]ivid.IndexChange, error) {
	rows, err := s.query(ctx, `SELECT seq, node, media_id, before, created FROM index_changes WHERE seq > ? ORDER BY seq LIMIT ?`, seq, limit)
	return all(rows, err, func(r *sql.Rows) (ivid.IndexChange, error) {
		var c ivid.IndexChange
		var created int64
		err := r.Scan(&c.Seq, &c.Node, &c.Media, &c.Before, &created)
		c.Created = fromTS(created)
		return c, err
	})
}

func (s *queries) LastIndexChange(ctx context.Context) (int64, error) {
	var seq sql.NullInt64
	err := s.row(ctx, `SELECT MAX(seq) FROM index_changes`).Scan(&seq)
	return seq.Int64, err
}

func (s *queries) PruneIndexChanges(ctx context.Context, t time.Time) error {
	_, err := s.exec(ctx, `DELETE FROM index_changes WHERE created < ?`, ts(t))
	return err
}
