package web

import (
	"io/fs"
	"net/http"
	"regexp"
	"testing"
)

// TestMessagesComplete: every key the templates use exists in English and
// in French, and both catalogues hold the same keys.
func TestMessagesComplete(t *testing.T) {
	re := regexp.MustCompile(`\.T "([a-z0-9.\-_]+)"`)
	files, _ := fs.Glob(templateFS, "templates/*.html")
	used := map[string]bool{}
	for _, f := range files {
		b, _ := templateFS.ReadFile(f)
		for _, m := range re.FindAllSubmatch(b, -1) {
			used[string(m[1])] = true
		}
	}
	if len(used) < 50 {
		t.Fatalf("found only %d keys in the templates", len(used))
	}
	for k := range used {
		for _, l := range []string{"en", "fr"} {
			if _, ok := messages[l][k]; !ok {
				t.Errorf("%s: no %q", l, k)
			}
		}
	}
	for k := range messages["en"] {
		if _, ok := messages["fr"][k]; !ok {
			t.Errorf("fr lacks %q", k)
		}
	}
	for k := range messages["fr"] {
		if _, ok := messages["en"][k]; !ok {
			t.Errorf("en lacks %q", k)
		}
	}
}

func TestLang(t *testing.T) {
	for _, c := range []struct{ accept, cookie, want string }{
		{"fr-FR,fr;q=0.9,en;q=0.8", "", "fr"},
		{"de-DE,en;q=0.5", "", "en"},
		{"", "", "en"},
		{"en-GB", "fr", "fr"},
		{"fr", "xx", "fr"},
	} {
		r, _ := http.NewRequest("GET", "/", nil)
		r.Header.Set("Accept-Language", c.accept)
		if c.cookie != "" {
			r.AddCookie(&http.Cookie{Name: "ivid_lang", Value: c.cookie})
		}
		if got := lang(r); got != c.want {
			t.Errorf("lang(%q, cookie %q) = %s, want %s", c.accept, c.cookie, got, c.want)
		}
	}
	if translate("fr", "login.title") != "Connexion" || translate("fr", "no.such.key") != "no.such.key" {
		t.Error("translate")
	}
}
