package api

import (
	"net/http"
	"regexp"
	"strings"

	"github.com/ivid-project/ivid/internal/ivid"
)

var pathParam = regexp.MustCompile(`\{([a-z_]+)\}`)

// OpenAPI builds the OpenAPI 3 document from the route table, so that it
// cannot drift from the routes served.
func (s *Server) OpenAPI() map[string]any {
	paths := map[string]map[string]any{}
	for _, rt := range s.routes {
		p := paths[rt.pattern]
		if p == nil {
			p = map[string]any{}
			paths[rt.pattern] = p
		}
		op := map[string]any{
			"summary":     rt.summary,
			"operationId": strings.ToLower(rt.method) + strings.NewReplacer("/", "_", "{", "", "}", "").Replace(rt.pattern),
			"responses": map[string]any{
				"default": map[string]any{"description": "problem details (application/problem+json) on error"},
			},
		}
		var params []map[string]any
		for _, m := range pathParam.FindAllStringSubmatch(rt.pattern, -1) {
			params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": map[string]string{"type": "integer"}})
		}
		if params != nil {
			op["parameters"] = params
		}
		if rt.auth == public {
			op["security"] = []any{}
		} else {
			op["x-ivid-permission"] = string(rt.perm)
		}
		p[strings.ToLower(rt.method)] = op
	}
	return map[string]any{
		"openapi": "3.0.3",
		"info":    map[string]any{"title": "ivid API", "version": "1"},
		"paths":   paths,
		"components": map[string]any{"securitySchemes": map[string]any{
			"session": map[string]any{"type": "apiKey", "in": "cookie", "name": cookieName},
			"token":   map[string]any{"type": "http", "scheme": "bearer"},
		}},
		"security": []any{map[string]any{"session": []any{}}, map[string]any{"token": []any{}}},
	}
}

func (s *Server) openAPI(w http.ResponseWriter, r *http.Request, _ ivid.Actor) error {
	return writeJSON(w, 200, s.OpenAPI())
}
