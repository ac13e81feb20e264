package ivid

import (
	"errors"
	"math"
	"testing"
)

func TestParseRoles(t *testing.T) {
	for _, c := range []struct {
		in   string
		want string
		err  bool
	}{
		{"specialist", "specialist", false},
		{" viewer , investigator,viewer", "viewer,investigator", false},
		{"root", "", true},
		{"industry,viewer", "", true},
		{"monitor,hub-admin", "", true},
		{"monitor", "monitor", false},
		{"", "", false},
	} {
		r, err := ParseRoles(c.in)
		if (err != nil) != c.err || err == nil && r.String() != c.want {
			t.Errorf("ParseRoles(%q) = %q, %v", c.in, r, err)
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseRoles(%q): %v is not ErrInvalid", c.in, err)
		}
	}
}

// TestLeastPrivilege pins the rules of PRODUCT.md that the grant table
// must keep: industry sees hashes only; admins, auditors and monitors never
// see pixels; only specialists categorise and identify.
func TestLeastPrivilege(t *testing.T) {
	industry := Roles{RoleIndustry}
	for _, p := range []Permission{PermReadFacts, PermReadPixels, PermReadCases, PermContribute, PermStats, PermAudit, PermAccount} {
		if industry.Can(p) {
			t.Errorf("industry can %s", p)
		}
	}
	if !industry.Can(PermMatch) || !industry.Can(PermBaselineList) {
		t.Error("industry cannot match or list the Baseline")
	}
	// A metrics scraper's token reads /metrics and nothing else.
	for _, ps := range grants {
		for _, p := range ps {
			if (Roles{RoleMonitor}).Can(p) != (p == PermMetrics) {
				t.Errorf("monitor: %s should be %v", p, p == PermMetrics)
			}
		}
	}
	for _, r := range []Role{RoleViewer, RoleAgencyAdmin, RoleHubAdmin, RoleAuditor, RoleIndustry, RoleMonitor} {
		if (Roles{r}).Can(PermReadPixels) {
			t.Errorf("%s can read pixels", r)
		}
	}
	for _, r := range AllRoles {
		want := r == RoleSpecialist
		if (Roles{r}).Can(PermCategorise) != want || (Roles{r}).Can(PermIdentify) != want {
			t.Errorf("%s: categorise/identify should be %v", r, want)
		}
	}
	if !(Roles{RoleSpecialist}).NeedsTOTP() || (Roles{RoleViewer}).NeedsTOTP() {
		t.Error("second factor rules")
	}
	disabled := Actor{User: User{Roles: Roles{RoleSpecialist}, Disabled: true}}
	if disabled.Can(PermReadFacts) {
		t.Error("a disabled user keeps rights")
	}
}

func TestHaversine(t *testing.T) {
	// Paris Notre-Dame to the Eiffel Tower: about 4.1 km.
	d := haversine(48.8530, 2.3499, 48.8584, 2.2945)
	if math.Abs(d-4100) > 100 {
		t.Fatalf("distance %v m", d)
	}
	if d := haversine(48.0, 2.0, 48.0003, 2.0); math.Abs(d-33.4) > 0.5 {
		t.Fatalf("short distance %v m", d)
	}
}
