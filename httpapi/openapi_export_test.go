package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// RoutePatterns returns the ServeMux patterns h serves.
func RoutePatterns(h *Handler) []string { return h.Routes() }

// DocumentedPaths returns "METHOD /path" for each operation of the
// OpenAPI document.
func DocumentedPaths() ([]string, error) {
	var doc openAPIDoc
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		return nil, err
	}
	var out []string
	for path, ops := range doc.Paths {
		for method := range ops {
			out = append(out, strings.ToUpper(method)+" "+path)
		}
	}
	slices.Sort(out)
	return out, nil
}

// CheckAnswer checks an answer against the document: the operation of
// method on route (a path as the document writes it, "/kafka/topics/{topic}")
// lists its status, and a JSON body has what the status's schema
// requires. An operation missing for method stands for a wrong method: any
// operation of the route must then list the status.
func CheckAnswer(route, method string, resp *http.Response, body []byte) error {
	var doc openAPIDoc
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		return err
	}
	op, ok := doc.Paths[route][strings.ToLower(method)]
	if !ok {
		for _, o := range doc.Paths[route] {
			op = o
		}
	}
	status := strconv.Itoa(resp.StatusCode)
	desc, ok := op.Responses[status]
	if !ok {
		return fmt.Errorf("%s %s answered %s, which openapi.json does not list", method, route, status)
	}
	schema := responseSchema(doc, desc)
	if schema == nil || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		return nil
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("%s %s: body is not JSON: %s", method, route, body)
	}
	if err := conforms(doc, schema, v, "body"); err != nil {
		return fmt.Errorf("%s %s answered %s: %w\n%s", method, route, status, err, body)
	}
	return nil
}

// CheckSchema checks that data (JSON) conforms to the document's schema
// name.
func CheckSchema(name string, data []byte) error {
	var doc openAPIDoc
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		return err
	}
	schema, ok := doc.Components.Schemas[name]
	if !ok {
		return fmt.Errorf("openapi.json has no schema %s", name)
	}
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return fmt.Errorf("not JSON: %s", data)
	}
	return conforms(doc, schema, v, name)
}
