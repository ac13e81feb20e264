package hashset

import (
	"bufio"
	"bytes"
	"database/sql"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func readFile(t *testing.T, path string, format Format, strict bool) ([]Entry, Stats, error) {
	t.Helper()
	_, r, c, err := Open(path, format)
	if err != nil {
		return nil, Stats{}, err
	}
	defer c.Close()
	var out []Entry
	st, err := ReadAll(r, strict, func(e Entry) error { out = append(out, e); return nil })
	return out, st, err
}

func TestDetect(t *testing.T) {
	for file, want := range map[string]Format{
		"vics-1.3-cases.json": FormatVICS, "vics-2.0-media.json": FormatVICS,
		"icse.csv": FormatICSE, "plain.tsv": FormatCSV, "meta.pdq": FormatPDQ,
	} {
		b, _ := os.ReadFile(filepath.Join("testdata", file))
		if got := Detect(b); got != want {
			t.Errorf("%s: %s, want %s", file, got, want)
		}
	}
}

func TestVICS1Cases(t *testing.T) {
	es, st, err := readFile(t, "testdata/vics-1.3-cases.json", FormatAuto, true)
	if err != nil || len(es) != 2 || st.Read != 2 {
		t.Fatalf("got %d entries, %v", len(es), err)
	}
	e := es[0]
	if e.MD5 != "0123456789abcdef0123456789abcdef" || e.Category != CSAM || e.Series != "Lake" ||
		e.PhotoDNA != "AAEC//8=" || !*e.VictimIdentified || *e.OffenderIdentified || !*e.Distributed {
		t.Errorf("entry 0: %+v", e)
	}
	if string(e.Extra["Comments"]) != `"kept"` || e.Extra["MediaFiles"] == nil || string(e.Extra["CaseID"]) != `"C-17"` {
		t.Errorf("unknown fields not kept: %v", e.Extra)
	}
	if es[1].Category != NonPertinent || string(es[1].Extra["IsPrecategorized"]) != `"true"` {
		t.Errorf("entry 1: %+v", es[1])
	}
}

func TestVICS2Media(t *testing.T) {
	es, _, err := readFile(t, "testdata/vics-2.0-media.json", FormatVICS, true)
	if err != nil || len(es) != 2 {
		t.Fatalf("got %d, %v", len(es), err)
	}
	if es[0].Category != Exploitative || !*es[0].VictimIdentified || es[0].SHA1 != "2b037f69c566dfdb3a5a79e5360d085959bdde4c" {
		t.Errorf("entry 0: %+v", es[0])
	}
	if es[1].Category != Uncategorised || es[1].PDQ == nil || !*es[1].Baseline {
		t.Errorf("entry 1: %+v", es[1])
	}
}

// TestRoundTrips: every writable format reads back what was written;
// VICS keeps unknown fields.
func TestRoundTrips(t *testing.T) {
	src, _, err := readFile(t, "testdata/vics-1.3-cases.json", FormatVICS, true)
	if err != nil {
		t.Fatal(err)
	}
	pdqEntries, _, _ := readFile(t, "testdata/meta.pdq", FormatPDQ, true)
	src = append(src, pdqEntries...)
	for _, f := range []Format{FormatNative, FormatVICS, FormatICSE, FormatCSV, FormatPDQ} {
		t.Run(string(f), func(t *testing.T) {
			var buf bytes.Buffer
			w, err := NewWriter(&buf, f, Header{Name: "rt", Kind: Known})
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range src {
				if err := w.Write(e); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(t.TempDir(), "set")
			os.WriteFile(p, buf.Bytes(), 0o644)
			got, _, err := readFile(t, p, FormatAuto, true)
			if err != nil {
				t.Fatalf("%v\n%s", err, buf.String())
			}
			var want []Entry
			for _, e := range src {
				if f == FormatPDQ && e.PDQ == nil {
					continue
				}
				if f == FormatICSE && e.MD5 == "" && e.SHA1 == "" {
					continue
				}
				want = append(want, e)
			}
			if len(got) != len(want) {
				t.Fatalf("got %d entries, want %d", len(got), len(want))
			}
			for i := range want {
				g, w := got[i], want[i]
				if g.MD5 != w.MD5 || g.SHA1 != w.SHA1 || (g.PDQ == nil) != (w.PDQ == nil) {
					t.Errorf("entry %d hashes differ: %+v vs %+v", i, g, w)
				}
				switch f {
				case FormatNative, FormatVICS:
					if g.Category != w.Category || g.Series != w.Series || g.PhotoDNA != w.PhotoDNA || len(g.Extra) < len(w.Extra) {
						t.Errorf("entry %d: %+v vs %+v", i, g, w)
					}
				case FormatICSE:
					if g.PhotoDNA != w.PhotoDNA || g.Series != w.Series || (w.VictimIdentified != nil && *g.VictimIdentified != *w.VictimIdentified) {
						t.Errorf("entry %d: %+v vs %+v", i, g, w)
					}
				}
			}
		})
	}
}

// TestMalformed: errors name file, line or offset, and field; --strict
// aborts, otherwise rows are skipped and counted.
func TestMalformed(t *testing.T) {
	es, st, err := readFile(t, "testdata/icse.csv", FormatICSE, false)
	if err != nil || len(es) != 2 || st.Skipped != 2 {
		t.Fatalf("non-strict: %d entries, %d skipped, %v", len(es), st.Skipped, err)
	}
	want := []string{"testdata/icse.csv:4: field MD5", "testdata/icse.csv:5: field Is distributed"}
	for i, w := range want {
		if !strings.HasPrefix(st.Errors[i].Error(), w) {
			t.Errorf("error %d = %q, want prefix %q", i, st.Errors[i], w)
		}
	}
	_, _, err = readFile(t, "testdata/icse.csv", FormatICSE, true)
	var pe *ParseError
	if !errors.As(err, &pe) || pe.Line != 4 || !errors.Is(err, ErrMalformed) {
		t.Errorf("strict: %v", err)
	}
	dir := t.TempDir()
	bad := map[string]string{
		"truncated.json": `{"@odata.context":"x#Media","value":[{"MD5":"0123456789abcdef0123456789abcdef"},{"MD5":`,
		"notjson.json":   `{"value": 7}`,
		"badpdq.pdq":     "9b53cd534c8b6ead2395335313ab09a76cd5e45cd668d238b039f934f03af068,100,x\nzzz,1,y\n",
	}
	for name, content := range bad {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(content), 0o644)
		_, _, err := readFile(t, p, FormatAuto, true)
		if !errors.As(err, &pe) || pe.File != p {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestNSRL(t *testing.T) {
	p := filepath.Join(t.TempDir(), "rds.db")
	db, err := sql.Open("sqlite", p)
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.Exec(`CREATE TABLE FILE (sha256 VARCHAR NOT NULL, sha1 VARCHAR NOT NULL, md5 VARCHAR NOT NULL,
		crc32 VARCHAR NOT NULL, file_name VARCHAR NOT NULL, file_size INTEGER NOT NULL, package_id INTEGER NOT NULL);
		INSERT INTO FILE VALUES ('E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855',
		'DA39A3EE5E6B4B0D3255BFEF95601890AFD80709','D41D8CD98F00B204E9800998ECF8427E','00000000','empty.txt',0,1);
		INSERT INTO FILE VALUES ('bad','DA39A3EE5E6B4B0D3255BFEF95601890AFD80709','D41D8CD98F00B204E9800998ECF8427E','0','x',0,1);`)
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	h, r, c, err := Open(p, FormatAuto)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if h.Kind != KnownGood {
		t.Errorf("kind %s", h.Kind)
	}
	var got []Entry
	st, err := ReadAll(r, false, func(e Entry) error { got = append(got, e); return nil })
	if err != nil || len(got) != 1 || st.Skipped != 1 || got[0].MD5 != "d41d8cd98f00b204e9800998ecf8427e" || got[0].Label != "empty.txt" {
		t.Errorf("got %+v, %+v, %v", got, st, err)
	}
}

func TestPlainBare(t *testing.T) {
	r := NewPlainReader(strings.NewReader("d41d8cd98f00b204e9800998ecf8427e\nda39a3ee5e6b4b0d3255bfef95601890afd80709\n\nabc\n"+
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 *empty file.txt\n"), "list.txt")
	var got []Entry
	st, err := ReadAll(r, false, func(e Entry) error { got = append(got, e); return nil })
	if err != nil || len(got) != 3 || got[0].MD5 == "" || got[1].SHA1 == "" || st.Skipped != 1 || got[2].Label != "empty file.txt" {
		t.Errorf("got %+v %+v %v", got, st, err)
	}
}

func fuzzReader(f *testing.F, mk func(io.Reader) Reader, seeds ...string) {
	for _, s := range seeds {
		if b, err := os.ReadFile(s); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := mk(bytes.NewReader(data))
		for range 10000 {
			_, err := r.Next()
			if err == io.EOF || IsFatal(err) {
				return
			}
		}
	})
}

func FuzzVICS(f *testing.F) {
	fuzzReader(f, func(r io.Reader) Reader { return NewVICSReader(r, "fuzz") }, "testdata/vics-1.3-cases.json", "testdata/vics-2.0-media.json")
}
func FuzzICSE(f *testing.F) {
	fuzzReader(f, func(r io.Reader) Reader { return NewICSEReader(r, "fuzz") }, "testdata/icse.csv")
}
func FuzzPlain(f *testing.F) {
	fuzzReader(f, func(r io.Reader) Reader { return NewPlainReader(r, "fuzz") }, "testdata/plain.tsv")
}
func FuzzPDQ(f *testing.F) {
	fuzzReader(f, func(r io.Reader) Reader { return NewPDQReader(r, "fuzz") }, "testdata/meta.pdq")
}

func FuzzVPDQ(f *testing.F) {
	fuzzReader(f, func(r io.Reader) Reader { return NewVPDQReader(r, "fuzz") }, "testdata/doorknob.vpdq.txt")
}

func TestVPDQFile(t *testing.T) {
	b, _ := os.ReadFile("testdata/doorknob.vpdq.txt")
	if Detect(b) != FormatVPDQ || Detect([]byte(`["`+strings.Repeat("ab", 32)+`,100,0.0"]`)) != FormatVPDQ {
		t.Fatal("vPDQ lines or HMA list not detected")
	}
	es, _, err := readFile(t, "testdata/doorknob.vpdq.txt", FormatAuto, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 1 || len(es[0].VPDQ) != 4 || es[0].Label != "doorknob.vpdq" || es[0].MediaType != "video" || !es[0].HasHash() {
		t.Fatalf("got %+v", es)
	}
	// ivid's own format carries the frames through a round trip, and the
	// vPDQ writer gives the file back byte for byte.
	var native, back bytes.Buffer
	w, _ := NewWriter(&native, FormatNative, Header{Name: "v"})
	w.Write(es[0])
	w.Close()
	_, r, err := NewNativeReader(bufio.NewReader(&native), "native")
	if err != nil {
		t.Fatal(err)
	}
	e, err := r.Next()
	if err != nil {
		t.Fatal(err)
	}
	vw := NewVPDQWriter(&back)
	vw.Write(e)
	if err := vw.Close(); err != nil || back.String() != string(b) {
		t.Fatalf("round trip: %v\n%s", err, back.String())
	}
	if err := vw.Write(e); err == nil {
		t.Fatal("a second video was written to a vPDQ file")
	}

	bad := filepath.Join(t.TempDir(), "bad.txt")
	os.WriteFile(bad, []byte(string(b)+"4,100,zz,4.000\n"), 0o600)
	_, _, err = readFile(t, bad, FormatVPDQ, false)
	var pe *ParseError
	if !errors.As(err, &pe) || pe.Line != 5 || pe.Field != "vpdq" {
		t.Fatalf("malformed line: %v", err)
	}
}
