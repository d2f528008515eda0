package scope

import "strings"

// The structs below decode only the fields of Kylin's JSON resources that
// scope rules follow. Missing fields and nulls decode as zero values.

// realizationEntry is one entry of the "realizations" of a project or a
// hybrid: {"type": "CUBE", "realization": "kylin_sales_cube"}.
type realizationEntry struct {
	Type        string `json:"type"`
	Realization string `json:"realization"`
	Name        string `json:"name"`
}

// name returns the realization's name, falling back on "name" for entries
// that lack "realization".
func (e realizationEntry) name() string {
	if e.Realization != "" {
		return e.Realization
	}
	return e.Name
}

// isCube reports whether the entry's type is CUBE.
func (e realizationEntry) isCube() bool { return strings.EqualFold(e.Type, "CUBE") }

// projectDesc is "/project/P.json" (Layout4) or "/_global/project/P.json"
// (Layout5).
type projectDesc struct {
	UUID         string             `json:"uuid"`
	Realizations []realizationEntry `json:"realizations"`
	Tables       []string           `json:"tables"`
	Models       []string           `json:"models"`
}

// hybridDesc is "/hybrid/H.json".
type hybridDesc struct {
	Realizations []realizationEntry `json:"realizations"`
}

// cubeInstance is "/cube/C.json".
type cubeInstance struct {
	UUID       string        `json:"uuid"`
	Descriptor string        `json:"descriptor"`
	Segments   []cubeSegment `json:"segments"`
}

// cubeSegment is one entry of a cube's "segments".
type cubeSegment struct {
	UUID         string            `json:"uuid"`
	Name         string            `json:"name"`
	Status       string            `json:"status"`
	Dictionaries map[string]string `json:"dictionaries"`
	Snapshots    map[string]string `json:"snapshots"`
}

// cubeDescriptor is "/cube_desc/D.json".
type cubeDescriptor struct {
	ModelName string `json:"model_name"`
}

// tableRef is an entry of a model's "join_tables" (2.x+) or "lookups"
// (older models).
type tableRef struct {
	Table string `json:"table"`
}

// modelDesc is "/model_desc/M.json" (Layout4) or "/P/model_desc/UUID.json"
// (Layout5, where "alias" is the name users see).
type modelDesc struct {
	UUID       string     `json:"uuid"`
	Alias      string     `json:"alias"`
	FactTable  string     `json:"fact_table"`
	JoinTables []tableRef `json:"join_tables"`
	Lookups    []tableRef `json:"lookups"`
}

// tables returns the normalised "DB.TABLE" names the model uses: its fact
// table, then its joined and lookup tables, without duplicates.
func (m *modelDesc) tables() []string {
	var s orderedSet
	s.add(normTable(m.FactTable))
	for _, j := range m.JoinTables {
		s.add(normTable(j.Table))
	}
	for _, j := range m.Lookups {
		s.add(normTable(j.Table))
	}
	return s.list
}

// normTable returns a table name as Kylin keys it: upper case, with the
// database "DEFAULT" when none is given.
func normTable(t string) string {
	t = strings.ToUpper(strings.TrimSpace(t))
	if t != "" && !strings.Contains(t, ".") {
		t = "DEFAULT." + t
	}
	return t
}

// schedulerJob is "/scheduler/X" of KE: the project it runs in.
type schedulerJob struct {
	Project string `json:"project"`
}
