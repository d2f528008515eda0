package console

import (
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/kylin-tools/metastore/scope"
)

// boolParam reads a flag-like parameter: 1, true, on, yes.
func boolParam(r *http.Request, name string) bool {
	switch strings.ToLower(r.FormValue(name)) {
	case "1", "true", "on", "yes":
		return true
	}
	return false
}

// intParam reads a non-negative integer parameter, def when absent or bad.
func intParam(r *http.Request, name string, def int) int {
	n, err := strconv.Atoi(r.FormValue(name))
	if err != nil || n < 0 {
		return def
	}
	return n
}

// listParam reads a repeatable parameter.
func listParam(r *http.Request, name string) []string {
	if r.Form == nil {
		r.ParseForm()
	}
	var out []string
	for _, v := range r.Form[name] {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}

// pager cuts a long list into pages (?page=N, from 1).
type pager struct {
	Page, Pages, Size, Total int
	From, To                 int // the 1-based range shown
	Prev, Next               template.URL
}

func newPager(r *http.Request, total, size int) pager {
	p := pager{Page: max(1, intParam(r, "page", 1)), Size: size, Total: total}
	p.Pages = max(1, (total+size-1)/size)
	p.Page = min(p.Page, p.Pages)
	lo, hi := p.bounds()
	if hi > lo {
		p.From, p.To = lo+1, hi
	}
	link := func(page int) template.URL {
		q := r.URL.Query()
		q.Set("page", strconv.Itoa(page))
		return template.URL(r.URL.Path + "?" + q.Encode())
	}
	if p.Page > 1 {
		p.Prev = link(p.Page - 1)
	}
	if p.Page < p.Pages {
		p.Next = link(p.Page + 1)
	}
	return p
}

// bounds returns the page's slice bounds.
func (p pager) bounds() (int, int) {
	lo := min((p.Page-1)*p.Size, p.Total)
	return lo, min(lo+p.Size, p.Total)
}

// scopeWords describes a scope for people: "the whole metastore",
// "project learn_kylin", "cube kylin_sales_cube".
func scopeWords(s string) string {
	sc, err := scope.Parse(s)
	if err != nil {
		return s
	}
	switch sc.Kind {
	case scope.Project:
		return "project " + sc.Name
	case scope.Cube:
		return "cube " + sc.Name
	}
	return "the whole metastore (system)"
}

// urlValues encodes key, value pairs as a query.
func urlValues(kv ...string) string {
	q := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		q.Add(kv[i], kv[i+1])
	}
	return q.Encode()
}
