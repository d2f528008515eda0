package scope

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/kylin-tools/metastore/internal/metagen"
	"github.com/kylin-tools/metastore/metastore/memory"
)

// refExecutable and decodeExecutableRef are the job decoder that jobDecoder
// replaced, on encoding/json, kept as the reference for what a job says:
// the tests below check that both read the same from every input.
type refExecutable struct {
	params map[string]json.RawMessage
	tasks  []string // the steps' uuids
}

func decodeExecutableRef(data []byte) (refExecutable, error) {
	var raw struct {
		Params json.RawMessage `json:"params"`
		Tasks  json.RawMessage `json:"tasks"`
	}
	var e refExecutable
	if err := decode(data, &raw); err != nil {
		return e, err
	}
	if len(raw.Params) > 0 {
		if err := json.Unmarshal(raw.Params, &e.params); err != nil {
			return e, fmt.Errorf("params: %w", err)
		}
	}
	var tasks []json.RawMessage
	if json.Unmarshal(raw.Tasks, &tasks) == nil {
		for _, t := range tasks {
			var task struct {
				UUID json.RawMessage `json:"uuid"`
			}
			var id string
			if json.Unmarshal(t, &task) == nil && json.Unmarshal(task.UUID, &id) == nil && id != "" {
				e.tasks = append(e.tasks, id)
			}
		}
	}
	return e, nil
}

func (e *refExecutable) param(name string) string {
	var s string
	if v, ok := e.params[name]; ok && json.Unmarshal(v, &s) == nil {
		return s
	}
	return ""
}

// jobReading is what the job rules learn from a job.
type jobReading struct {
	Failed  bool
	Project string
	Cube    string
	Segment string
	Tasks   []string
}

func refReading(data []byte) jobReading {
	e, err := decodeExecutableRef(data)
	if err != nil {
		return jobReading{Failed: true}
	}
	return jobReading{Project: e.param("projectName"), Cube: e.param("cubeName"), Segment: e.param("segmentId"), Tasks: e.tasks}
}

func newReading(d *jobDecoder, data []byte) jobReading {
	e, err := d.decode(data)
	if err != nil {
		return jobReading{Failed: true}
	}
	r := jobReading{Project: string(e.param(paramProject)), Cube: string(e.param(paramCube)), Segment: string(e.param(paramSegment))}
	for _, t := range e.tasks {
		r.Tasks = append(r.Tasks, string(t))
	}
	return r
}

// sameReading fails t if jobDecoder reads data differently from the
// reference decoder.
func sameReading(t *testing.T, d *jobDecoder, data []byte) jobReading {
	t.Helper()
	got, want := newReading(d, data), refReading(data)
	if got.Failed != want.Failed || got.Project != want.Project || got.Cube != want.Cube ||
		got.Segment != want.Segment || !slices.Equal(got.Tasks, want.Tasks) {
		t.Errorf("job %q:\n got %+v\nwant %+v (encoding/json)", data, got, want)
	}
	return got
}

// jobCases are jobs of every shape the job rules meet, and worse.
var jobCases = []struct {
	name, job string
	want      jobReading
}{
	{"cubing job", `{"uuid":"j1","name":"BUILD","params":{"projectName":"learn","cubeName":"sales","segmentId":"s-1","segmentName":"2024"},"tasks":[{"uuid":"j1-00","params":{"projectName":"other"}},{"uuid":"j1-01"}]}`,
		jobReading{Project: "learn", Cube: "sales", Segment: "s-1", Tasks: []string{"j1-00", "j1-01"}}},
	{"escaped names", `{"p\u0061rams":{"project\u004eame":"le\u0061rn","cube\u004Eame":"\"q\""},"t\u0061sks":[{"\u0075uid":"t\/1"}]}`,
		jobReading{Project: "learn", Cube: `"q"`, Tasks: []string{"t/1"}}},
	{"folded field names", `{"PARAMS":{"projectName":"a"},"Tasks":[{"UUID":"x"},{"Uuid":"y"}]}`,
		jobReading{Project: "a", Tasks: []string{"x", "y"}}},
	{"unicode folding", "{\"param\u017f\":{\"projectName\":\"a\"},\"TAS\u212aS\":[{\"uuid\":\"x\"}]}",
		jobReading{Project: "a", Tasks: []string{"x"}}},
	{"exact param names", `{"params":{"ProjectName":"a","cubename":"c","segmentID":"s","projectName ":"p"}}`, jobReading{}},
	{"duplicate params", `{"params":{"projectName":"a","projectName":"b","cubeName":"c","cubeName":7}}`, jobReading{Project: "b"}},
	{"duplicate params objects", `{"params":{"projectName":"a"},"Params":{"cubeName":"c"}}`, jobReading{Cube: "c"}},
	{"bad params then good", `{"params":[1],"params":{"projectName":"a"}}`, jobReading{Project: "a"}},
	{"good params then bad", `{"params":{"projectName":"a"},"params":"x"}`, jobReading{Failed: true}},
	{"params list", `{"params":["projectName","a"]}`, jobReading{Failed: true}},
	{"params string", `{"params":"projectName"}`, jobReading{Failed: true}},
	{"params number", `{"params":5}`, jobReading{Failed: true}},
	{"params true", `{"params":true}`, jobReading{Failed: true}},
	{"params null", `{"params":null,"tasks":[{"uuid":"x"}]}`, jobReading{Tasks: []string{"x"}}},
	{"nested params", `{"params":{"projectName":{"projectName":"x"},"x":{"cubeName":"c"},"segmentId":["s"]}}`, jobReading{}},
	{"param kinds", `{"params":{"projectName":null,"cubeName":12.5e3,"segmentId":false}}`, jobReading{}},
	{"empty param", `{"params":{"projectName":"","cubeName":"c"}}`, jobReading{Cube: "c"}},
	{"invalid utf-8 value", "{\"params\":{\"projectName\":\"a\xffb\xc0\"}}", jobReading{Project: "a\ufffdb\ufffd"}},
	{"invalid utf-8 name", "{\"params\":{\"projectName\xff\":\"a\"},\"tasks\xff\":[{\"uuid\":\"x\"}]}", jobReading{}},
	{"lone surrogate", `{"params":{"projectName":"\ud800x","cubeName":"\ud800\u0041","segmentId":"\udc00"}}`,
		jobReading{Project: "\ufffdx", Cube: "\ufffdA", Segment: "\ufffd"}},
	{"surrogate pair", `{"params":{"projectName":"\ud83d\ude00"}}`, jobReading{Project: "\U0001F600"}},
	{"byte order mark", "\xef\xbb\xbf{\"params\":{\"projectName\":\"a\"}}", jobReading{Project: "a"}},
	{"white space", " \t\r\n{ \"params\" : { \"projectName\" : \"a\" } } \n", jobReading{Project: "a"}},
	{"task shapes", `{"tasks":[{"uuid":"a"},{"uuid":5},{"uuid":null},{"uuid":""},null,"x",7,[{"uuid":"c"}],{"uuid":"d","uuid":"e"},{"uuid":"f","uuid":1},{}]}`,
		jobReading{Tasks: []string{"a", "e"}}},
	{"tasks object", `{"tasks":{"uuid":"a"}}`, jobReading{}},
	{"tasks string", `{"tasks":"a"}`, jobReading{}},
	{"tasks then null", `{"tasks":[{"uuid":"a"}],"TASKS":null}`, jobReading{}},
	{"tasks twice", `{"tasks":[{"uuid":"a"}],"tasks":[{"uuid":"b"}]}`, jobReading{Tasks: []string{"b"}}},
	{"null", `null`, jobReading{}},
	{"empty object", `{}`, jobReading{}},
	{"list", `[{"params":{"projectName":"a"}}]`, jobReading{Failed: true}},
	{"string", `"a"`, jobReading{Failed: true}},
	{"number", `1`, jobReading{Failed: true}},
	{"empty", ``, jobReading{Failed: true}},
	{"blank", "  \n", jobReading{Failed: true}},
	{"two values", `{} {}`, jobReading{Failed: true}},
	{"trailing garbage", `{"params":{"projectName":"a"}} x`, jobReading{Failed: true}},
	{"truncated", `{"params":{"projectName":"a"`, jobReading{Failed: true}},
	{"truncated name", `{"params`, jobReading{Failed: true}},
	{"truncated in skipped value", `{"params":{"projectName":"a"},"x":[1,{"y":`, jobReading{Failed: true}},
	{"bad number", `{"params":{"projectName":"a"},"x":01}`, jobReading{Failed: true}},
	{"bad literal", `{"params":{"projectName":"a"},"x":nul}`, jobReading{Failed: true}},
	{"control character", "{\"params\":{\"projectName\":\"a\x01\"}}", jobReading{Failed: true}},
	{"bad escape", `{"params":{"projectName":"\x"}}`, jobReading{Failed: true}},
	{"trailing comma", `{"params":{"projectName":"a",}}`, jobReading{Failed: true}},
	{"missing colon", `{"params" {"projectName":"a"}}`, jobReading{Failed: true}},
	{"numbers", `{"params":{"projectName":"a"},"x":[0,-0,1,-1.5,10e3,1E+5,0.5e-3,123456789012345678901234567890]}`, jobReading{Project: "a"}},
	{"bare minus", `{"x":-}`, jobReading{Failed: true}},
	{"leading zero", `{"x":-01}`, jobReading{Failed: true}},
	{"bare point", `{"x":1.}`, jobReading{Failed: true}},
	{"bare exponent", `{"x":1e+}`, jobReading{Failed: true}},
	{"plus sign", `{"x":+1}`, jobReading{Failed: true}},
	{"short literal", `{"x":tru}`, jobReading{Failed: true}},
	{"long literal", `{"x":nulll}`, jobReading{Failed: true}},
	{"escapes", `{"params":{"projectName":"\"\\\/\b\f\n\r\t\u00e9\u00C9"}}`, jobReading{Project: "\"\\/\b\f\n\r\té\u00c9"}},
	{"bad hex escape", `{"x":"\u12G4"}`, jobReading{Failed: true}},
	{"bad first hex digit", `{"x":"\uG123"}`, jobReading{Failed: true}},
	{"bad last hex digit", `{"x":"\u123x"}`, jobReading{Failed: true}},
	{"short hex escape", `{"x":"\u123"}`, jobReading{Failed: true}},
	{"escape at end", `{"x":"\`, jobReading{Failed: true}},
	{"control character in name", "{\"a\tb\":1}", jobReading{Failed: true}},
	{"unit separator", "{\"x\":\"a\x1f\"}", jobReading{Failed: true}},
	{"delete character", "{\"params\":{\"projectName\":\"a\x7f\"}}", jobReading{Project: "a\x7f"}},
	{"form feed is no space", "{\"x\":1\f}", jobReading{Failed: true}},
	{"missing comma", `{"x":[1 2]}`, jobReading{Failed: true}},
	{"missing member comma", `{"x":1 "y":2}`, jobReading{Failed: true}},
	{"not a comma", `{"x":[1x2]}`, jobReading{Failed: true}},
	{"not a member comma", `{"x":1x"y":2}`, jobReading{Failed: true}},
	{"no colon", `{"x" 11}`, jobReading{Failed: true}},
	{"lone comma", `{,}`, jobReading{Failed: true}},
	{"list comma", `{"x":[,]}`, jobReading{Failed: true}},
	{"list trailing comma", `{"x":[1,]}`, jobReading{Failed: true}},
	{"name only", `{"x"}`, jobReading{Failed: true}},
	{"name not string", `{x:1}`, jobReading{Failed: true}},
	{"unclosed list", `{"x":[1,2}`, jobReading{Failed: true}},
	{"mismatched close", `{"x":[1}]`, jobReading{Failed: true}},
	{"deep objects allowed", `{"params":{"projectName":"a"},"x":` + strings.Repeat(`{"a":`, 9999) + `1` + strings.Repeat("}", 9999) + `}`, jobReading{Project: "a"}},
	{"deep objects too deep", `{"x":` + strings.Repeat(`{"a":`, 10000) + `1` + strings.Repeat("}", 10000) + `}`, jobReading{Failed: true}},
	{"deep tasks", `{"tasks":[{"uuid":"a","x":` + strings.Repeat("[", 9997) + strings.Repeat("]", 9997) + `}]}`, jobReading{Tasks: []string{"a"}}},
	{"deep tasks too deep", `{"tasks":[{"uuid":"a","x":` + strings.Repeat("[", 9998) + strings.Repeat("]", 9998) + `}]}`, jobReading{Failed: true}},
	{"deep but allowed", `{"params":{"projectName":"a"},"x":` + strings.Repeat("[", 9999) + strings.Repeat("]", 9999) + `}`, jobReading{Project: "a"}},
	{"too deep", `{"params":{"projectName":"a"},"x":` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `}`, jobReading{Failed: true}},
}

// TestJobDecoder checks what jobDecoder reads from jobs of every shape,
// and that encoding/json (the reference) reads the same. One decoder reads
// them all in turn, as jobs4 does, so that nothing carries over.
func TestJobDecoder(t *testing.T) {
	d := newJobDecoder()
	for _, tc := range jobCases {
		t.Run(tc.name, func(t *testing.T) {
			got := sameReading(t, d, []byte(tc.job))
			if got.Failed != tc.want.Failed || got.Project != tc.want.Project || got.Cube != tc.want.Cube ||
				got.Segment != tc.want.Segment || !slices.Equal(got.Tasks, tc.want.Tasks) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestJobDecoderKylinJobs checks that jobDecoder and encoding/json read the
// same from Kylin jobs: the Kylin 5 job under testdata and the Kylin 3 jobs
// kylin-metagen writes (build, merge and lookup jobs with their steps).
func TestJobDecoderKylinJobs(t *testing.T) {
	d := newJobDecoder()
	jobs := kylinJobs(t)
	if len(jobs) < 10 {
		t.Fatalf("%d Kylin jobs, want at least 10", len(jobs))
	}
	withTasks := 0
	for _, job := range jobs {
		if got := sameReading(t, d, job); len(got.Tasks) > 0 && (got.Project != "" || got.Cube != "") {
			withTasks++
		}
	}
	if withTasks == 0 {
		t.Error("no job has a project or cube and steps: the fixtures do not exercise the rules")
	}
}

// FuzzJobDecoder checks that jobDecoder reads what encoding/json reads from
// any input: the same parameters, the same steps, failing on the same
// inputs.
func FuzzJobDecoder(f *testing.F) {
	for _, tc := range jobCases {
		f.Add([]byte(tc.job))
	}
	for _, job := range kylinJobs(f) {
		f.Add(job)
	}
	d := newJobDecoder()
	f.Fuzz(func(t *testing.T, data []byte) {
		sameReading(t, d, data)
	})
}

// kylinJobs returns the job under testdata and the first 200 of those
// kylin-metagen generates (metagen.ShapeJobs, the smallest metastore it
// writes).
func kylinJobs(tb testing.TB) [][]byte {
	tb.Helper()
	data, err := os.ReadFile("../testdata/kylin5/newten/execute/dd5a6451-0743-4b32-b84d-2ddc8052429f")
	if err != nil {
		tb.Fatal(err)
	}
	jobs := [][]byte{data}
	src := memory.New()
	ctx := context.Background()
	opts := metagen.Options{Resources: metagen.MinResources, Seed: 1, Shape: metagen.ShapeJobs, Workers: 1}
	if _, err := metagen.Generate(ctx, src, opts); err != nil {
		tb.Fatal(err)
	}
	err = src.List(ctx, "/execute/", func(p string) error {
		r, err := src.Read(ctx, p)
		if err == nil && len(jobs) < 200 {
			jobs = append(jobs, r.Data)
		}
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return jobs
}

// BenchmarkJobDecoder decodes the Kylin jobs of kylinJobs with jobDecoder
// and with the encoding/json reference it replaced.
func BenchmarkJobDecoder(b *testing.B) {
	jobs := kylinJobs(b)
	size := 0
	for _, job := range jobs {
		size += len(job)
	}
	d := newJobDecoder()
	for _, bc := range []struct {
		name   string
		decode func([]byte) error
	}{
		{"jobDecoder", func(data []byte) error { _, err := d.decode(data); return err }},
		{"encoding-json", func(data []byte) error { _, err := decodeExecutableRef(data); return err }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				for _, job := range jobs {
					if err := bc.decode(job); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
