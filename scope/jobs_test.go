package scope_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/kylin-tools/metastore/scope"
)

// TestJobMembershipIgnoresOtherFields checks that a job ("/execute/ID",
// Kylin 2-4) is in a project scope exactly when its "projectName" names the
// project, whatever shape its other fields have: "tasks" as an object, a
// string, a number, null, or a list holding non-objects, "params" holding
// non-string values, and fields nobody knows. Only the fields the rule reads
// decide; a job of another project never comes in either.
func TestJobMembershipIgnoresOtherFields(t *testing.T) {
	shapes := map[string]string{
		"object":      `{"uuid": "x-00"}`,
		"string":      `"x-00"`,
		"number":      `7`,
		"null":        `null`,
		"bool":        `true`,
		"mixed":       `[1, "x-00", null, [], {"uuid": 5}, {"uuid": "ID-00"}]`,
		"uuids":       `[{"uuid": "ID-00"}, {"uuid": "ID-01", "extra": {"a": [1]}}]`,
		"nested":      `[[{"uuid": "ID-00"}]]`,
		"empty":       `[]`,
		"emptyobject": `{}`,
	}
	src := memSource{
		"/project/sales.json": `{"uuid": "p-sales"}`,
		"/project/other.json": `{"uuid": "p-other"}`,
	}
	var mine, theirs []string
	for name, tasks := range shapes {
		for _, project := range []string{"sales", "other"} {
			id := project + "-" + name
			tasks := strings.ReplaceAll(tasks, "ID", id)
			src["/execute/"+id] = fmt.Sprintf(`{"uuid": %q, "name": 12, "last_modified": "yesterday", "version": {"v": 4},
				"params": {"projectName": %q, "cubeName": 5, "segmentId": ["s"], "jobType": {"x": 1}, "other": null},
				"tasks": %s, "tasks_extra": [1, 2], "unknown": {"deep": [null, true]}}`, id, project, tasks)
			src["/execute_output/"+id] = `{}`
			if project == "sales" {
				mine = append(mine, "/execute/"+id, "/execute_output/"+id)
			} else {
				theirs = append(theirs, "/execute/"+id)
			}
		}
	}
	// Outputs of the steps that a well-formed "tasks" lists by uuid.
	src["/execute_output/sales-uuids-01"] = `{}`
	mine = append(mine, "/execute_output/sales-uuids-01")

	// A job whose "params" is no object cannot say whose it is: it stays
	// out, with a warning since it mentions the project.
	src["/execute/badparams"] = `{"uuid": "badparams", "params": ["projectName", "sales"], "tasks": []}`

	res, err := scope.Resolve(context.Background(), src, scope.ProjectScope("sales"), scope.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(res.Paths, "/execute/badparams") {
		t.Error("a job whose params is a list is in project/sales")
	}
	if len(res.Warnings) != 1 || res.Warnings[0].Path != "/execute/badparams" {
		t.Errorf("warnings %v, want one about /execute/badparams", res.Warnings)
	}
	res.Warnings = nil
	for _, p := range mine {
		if !slices.Contains(res.Paths, p) {
			t.Errorf("%s (project sales) is missing from project/sales", p)
		}
	}
	for _, p := range theirs {
		if slices.Contains(res.Paths, p) {
			t.Errorf("%s (project other) is in project/sales", p)
		}
	}
	for _, w := range res.Warnings {
		t.Errorf("unexpected warning %s", w)
	}
}
