package ivid

import (
	"fmt"
	"slices"
	"strings"
)

// Role is a user's function.
type Role string

const (
	RoleViewer       Role = "viewer"
	RoleInvestigator Role = "investigator"
	RoleSpecialist   Role = "specialist"
	RoleAgencyAdmin  Role = "agency-admin"
	RoleHubAdmin     Role = "hub-admin"
	RoleAuditor      Role = "auditor"
	RoleIndustry     Role = "industry"
	// RoleMonitor is for a metrics scraper's token: /metrics and nothing
	// else.
	RoleMonitor Role = "monitor"
)

// AllRoles in order of appearance in the UI.
var AllRoles = []Role{RoleViewer, RoleInvestigator, RoleSpecialist, RoleAgencyAdmin, RoleHubAdmin, RoleAuditor, RoleIndustry, RoleMonitor}

// Roles is a set of roles.
type Roles []Role

// ParseRoles reads a comma-separated list.
func ParseRoles(s string) (Roles, error) {
	var out Roles
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if !slices.Contains(AllRoles, Role(p)) {
			return nil, fmt.Errorf("%w: unknown role %q", ErrInvalid, p)
		}
		if !slices.Contains(out, Role(p)) {
			out = append(out, Role(p))
		}
	}
	// The hub issues these roles' tokens: combined with another role, it
	// would issue tokens acting as someone else.
	if out.HubIssuesTokens() && len(out) > 1 {
		return nil, fmt.Errorf("%w: the industry and monitor roles cannot be combined with others", ErrInvalid)
	}
	return out, nil
}

func (r Roles) String() string {
	s := make([]string, len(r))
	for i, x := range r {
		s[i] = string(x)
	}
	return strings.Join(s, ",")
}

// Has reports whether the set holds a role.
func (r Roles) Has(x Role) bool { return slices.Contains(r, x) }

// HubIssuesTokens reports whether these are the roles of a machine account
// (industry, monitor): it has no account rights, and the hub issues its
// API tokens.
func (r Roles) HubIssuesTokens() bool { return r.Has(RoleIndustry) || r.Has(RoleMonitor) }

// Permission is something a role allows.
type Permission string

const (
	PermReadFacts       Permission = "read-facts"       // hashes, categories, series facts, claims
	PermReadPixels      Permission = "read-pixels"      // media content, subject to sharing
	PermReadCases       Permission = "read-cases"       // own agency's cases
	PermContribute      Permission = "contribute"       // create cases, upload media or hashes
	PermCategorise      Permission = "categorise"       // categories, series membership
	PermEditSeries      Permission = "edit-series"      // create, merge, split series
	PermClue            Permission = "clue"             // add clues
	PermClaim           Permission = "claim"            // claim and release series
	PermIdentify        Permission = "identify"         // record victims and offenders identified
	PermBaselinePropose Permission = "baseline-propose" // propose Baseline
	PermBaselineConfirm Permission = "baseline-confirm" // confirm Baseline (another agency)
	PermManageUsers     Permission = "manage-users"     // users of one's agency (hub: all)
	PermManageAgencies  Permission = "manage-agencies"  // admit agencies, industry tokens
	PermAudit           Permission = "audit"            // read and verify the audit trail
	PermStats           Permission = "stats"            // statistics
	PermExport          Permission = "export"           // hash exports
	PermMatch           Permission = "match"            // industry hash matching
	PermBaselineList    Permission = "baseline-list"    // download the Baseline list
	PermAccount         Permission = "account"          // one's own account: TOTP, tokens
	PermMetrics         Permission = "metrics"          // the server's operational metrics
)

// grants is the role × permission table: the one place authorization is
// decided at the level of roles. Agency and sharing scoping happens in the
// services, object by object.
var grants = map[Role][]Permission{
	RoleViewer:       {PermReadFacts, PermReadCases, PermStats, PermAccount},
	RoleInvestigator: {PermReadFacts, PermReadPixels, PermReadCases, PermContribute, PermClue, PermClaim, PermStats, PermAccount},
	RoleSpecialist: {PermReadFacts, PermReadPixels, PermReadCases, PermContribute, PermCategorise, PermEditSeries, PermClue,
		PermClaim, PermIdentify, PermBaselinePropose, PermBaselineConfirm, PermStats, PermExport, PermAccount},
	RoleAgencyAdmin: {PermReadFacts, PermReadCases, PermManageUsers, PermStats, PermAccount},
	RoleHubAdmin: {PermReadFacts, PermManageUsers, PermManageAgencies, PermBaselineConfirm, PermAudit, PermStats,
		PermExport, PermBaselineList, PermAccount, PermMetrics},
	RoleAuditor:  {PermAudit, PermStats, PermAccount, PermMetrics},
	RoleIndustry: {PermMatch, PermBaselineList},
	RoleMonitor:  {PermMetrics},
}

// Can reports whether any of the roles grants p.
func (r Roles) Can(p Permission) bool {
	for _, x := range r {
		if slices.Contains(grants[x], p) {
			return true
		}
	}
	return false
}

// NeedsTOTP reports whether these roles must use a second factor.
func (r Roles) NeedsTOTP() bool {
	return r.Has(RoleSpecialist) || r.Has(RoleAgencyAdmin) || r.Has(RoleHubAdmin)
}

// Actor is who performs an operation.
type Actor struct {
	User   User
	Agency Agency
}

// Can reports whether the actor's roles grant p.
func (a Actor) Can(p Permission) bool { return a.User.Roles.Can(p) && !a.User.Disabled }

func (a Actor) require(p Permission) error {
	if !a.Can(p) {
		return fmt.Errorf("%w: %s", ErrForbidden, p)
	}
	return nil
}
