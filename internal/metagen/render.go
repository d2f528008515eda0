package metagen

import (
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// Renderers turn plan entities into Kylin entity values. Anything that is
// not in the plan (descriptions, sample rows, SQL text) is drawn from r,
// which the caller keys by the resource path.

// Domain object types of Kylin 3.x ACL records.
const (
	aclTypeProject = "org.apache.kylin.metadata.project.ProjectInstance"
	aclTypeCube    = "org.apache.kylin.cube.CubeInstance"
	aclTypeModel   = "org.apache.kylin.metadata.model.DataModelDesc"
)

// Kylin permission masks.
const (
	permRead       = 1
	permAdmin      = 16
	permManagement = 32
	permOperation  = 64
)

func renderProject(pr *project) projectJSON {
	pj := projectJSON{
		rootEntity:    root(pr.uuid, pr.modified),
		Name:          pr.name,
		Owner:         pr.owner,
		Status:        "ENABLED",
		CreateTimeUTC: pr.created,
		Description:   pr.description,
		Tables:        []string{},
		Realizations:  []realizationEntry{},
		Models:        []string{},
		ExtFilters:    []string{},
		OverrideKylinProperties: map[string]string{
			"kylin.query.timeout-seconds": "300",
		},
	}
	for _, t := range pr.tables {
		pj.Tables = append(pj.Tables, t.identity())
	}
	for _, c := range pr.cubes {
		pj.Realizations = append(pj.Realizations, realizationEntry{Type: "CUBE", Realization: c.name})
	}
	for _, m := range pr.models {
		pj.Models = append(pj.Models, m.name)
	}
	return pj
}

// renderACL builds the ACL record of a project, cube or model owned by
// owner; users are the candidates for extra entries.
func renderACL(r *rand.Rand, id, typ string, parent *domainObjectJSON, owner string, ts int64, users []*user, groups []*group) aclJSON {
	a := aclJSON{
		DomainObjectInfo:       domainObjectJSON{ID: id, Type: typ},
		ParentDomainObjectInfo: parent,
		OwnerInfo:              sidJSON{Sid: owner, Principal: true},
		EntriesInheriting:      true,
		AllAceInfo: map[string]aceJSON{
			owner: {SidInfo: sidJSON{Sid: owner, Principal: true}, PermissionMask: permAdmin},
		},
		rootEntity: root(id, ts),
	}
	masks := []int{permRead, permRead, permOperation, permManagement, permAdmin}
	n := r.IntN(4)
	if parent == nil {
		n = 2 + r.IntN(8) // projects carry most entries
	}
	for range n {
		if chance(r, 0.6) && len(users) > 0 {
			u := pick(r, users).name
			a.AllAceInfo[u] = aceJSON{SidInfo: sidJSON{Sid: u, Principal: true}, PermissionMask: pick(r, masks)}
		} else if len(groups) > 0 {
			g := pick(r, groups).name
			a.AllAceInfo[g] = aceJSON{SidInfo: sidJSON{Sid: g, Principal: false}, PermissionMask: pick(r, masks)}
		}
	}
	return a
}

func renderTable(t *table) tableJSON {
	tj := tableJSON{
		rootEntity: root(t.uuid, t.created),
		Name:       t.name,
		SourceType: 0,
		TableType:  "MANAGED_TABLE",
		Database:   t.db,
	}
	for i, c := range t.columns {
		tj.Columns = append(tj.Columns, columnJSON{ID: strconv.Itoa(i + 1), Name: c.name, Datatype: c.datatype})
	}
	return tj
}

func renderTableExt(r *rand.Rand, t *table) tableExtJSON {
	jobID := newUUID(r)
	te := tableExtJSON{
		rootEntity:       root(t.exdUUID, t.exdTS),
		TableName:        t.identity(),
		LastBuildJobID:   &jobID,
		Frequency:        0,
		LastModifiedTime: t.exdTS,
		TotalRows:        t.rows,
		SampleRows:       [][]string{},
		MapperRows:       []int64{},
		DataSourceProperties: map[string]string{
			"owner":                  "hive",
			"skip_header_line_count": "0",
			"total_file_size":        strconv.FormatInt(t.rows*int64(40+r.IntN(200)), 10),
			"hive_inputFormat":       "org.apache.hadoop.hive.ql.io.orc.OrcInputFormat",
			"hive_outputFormat":      "org.apache.hadoop.hive.ql.io.orc.OrcOutputFormat",
			"location":               "hdfs://nameservice1/user/hive/warehouse/" + strings.ToLower(t.db) + ".db/" + strings.ToLower(t.name),
			"partition_column":       t.dateCol,
			"total_file_number":      strconv.Itoa(1 + r.IntN(2000)),
			"last_access_time":       "0",
		},
	}
	gens := make([]*valueGen, len(t.columns))
	for i, c := range t.columns {
		gens[i] = newValueGen(r, c.name, int(min(t.rows, 1_000_000)))
		lo, hi := gens[i].value(0), gens[i].value(gens[i].card-1)
		te.ColumnsStats = append(te.ColumnsStats, columnStatsJSON{
			ColumnName:     c.name,
			MaxValue:       hi,
			MinValue:       lo,
			MaxLengthValue: hi,
			MinLengthValue: lo,
			NullCount:      r.Int64N(max(t.rows/20, 1)),
			Cardinality:    int64(gens[i].card),
		})
	}
	for range 10 + r.IntN(10) {
		row := make([]string, len(t.columns))
		for i, g := range gens {
			row[i] = g.value(r.IntN(g.card))
		}
		te.SampleRows = append(te.SampleRows, row)
	}
	for range 1 + r.IntN(8) {
		te.MapperRows = append(te.MapperRows, t.rows/int64(1+r.IntN(8)))
	}
	return te
}

func renderModel(m *model) modelJSON {
	mj := modelJSON{
		rootEntity:      root(m.uuid, m.created),
		Name:            m.name,
		Owner:           m.owner,
		Description:     "",
		FactTable:       m.fact.identity(),
		Metrics:         m.metrics,
		FilterCondition: "",
		Capacity:        "MEDIUM",
		PartitionDesc: partitionDescJSON{
			PartitionDateColumn:       m.partitionCol,
			PartitionDateFormat:       "yyyy-MM-dd",
			PartitionTimeFormat:       "HH:mm:ss",
			PartitionType:             "APPEND",
			PartitionConditionBuilder: "org.apache.kylin.metadata.model.PartitionDesc$DefaultPartitionConditionBuilder",
		},
	}
	if mj.Metrics == nil {
		mj.Metrics = []string{}
	}
	for _, l := range m.lookups {
		mj.Lookups = append(mj.Lookups, lookupJSON{
			Table: l.identity(),
			Kind:  "LOOKUP",
			Alias: l.name,
			Join: joinJSON{
				Type:       "left",
				PrimaryKey: []string{l.name + "." + l.pk},
				ForeignKey: []string{m.fact.name + "." + l.pk},
			},
		})
	}
	var cur *modelDimJSON
	for _, d := range m.dims {
		if cur == nil || cur.Table != d.t.name {
			mj.Dimensions = append(mj.Dimensions, modelDimJSON{Table: d.t.name})
			cur = &mj.Dimensions[len(mj.Dimensions)-1]
		}
		cur.Columns = append(cur.Columns, d.col.name)
	}
	return mj
}

func renderCubeDesc(r *rand.Rand, c *cube) cubeDescJSON {
	m := c.model
	d := cubeDescJSON{
		rootEntity:              root(c.descUUID, c.descModified),
		Name:                    c.name,
		ModelName:               m.name,
		Description:             "",
		Dictionaries:            []string{},
		NotifyList:              []string{},
		StatusNeedNotify:        []string{"ERROR", "DISCARDED", "SUCCEED"},
		PartitionDateStart:      0,
		AutoMergeTimeRanges:     []int64{7 * day, 28 * day},
		RetentionRange:          c.retentionRange,
		EngineType:              2,
		StorageType:             2,
		OverrideKylinProperties: map[string]string{},
		CuboidBlackList:         []int64{},
		MandatoryDimensionSets:  [][]string{},
	}
	sig := make([]byte, 16)
	for i := range sig {
		sig[i] = byte(r.UintN(256))
	}
	d.Signature = base64.StdEncoding.EncodeToString(sig)
	if chance(r, 0.3) {
		d.NotifyList = append(d.NotifyList, strings.ToLower(c.owner)+"@example.com")
	}
	if chance(r, 0.3) {
		d.OverrideKylinProperties["kylin.cube.aggrgroup.max-combination"] = "32768"
	}
	// Dimensions: one per normal row key column, one per derived lookup.
	var normal []string
	for _, rk := range c.rowkey {
		col := rk.ref.col.name
		d.Dimensions = append(d.Dimensions, cubeDimJSON{Name: col, Table: rk.ref.t.name, Column: &col})
		normal = append(normal, rk.ref.aliased())
	}
	for _, l := range c.derived {
		dim := cubeDimJSON{Name: l.name + "_DERIVED", Table: l.name}
		for _, col := range l.columns[1:] {
			dim.Derived = append(dim.Derived, col.name)
		}
		d.Dimensions = append(d.Dimensions, dim)
	}
	for i, rk := range c.rowkey {
		d.Rowkey.RowkeyColumns = append(d.Rowkey.RowkeyColumns, rowkeyColJSON{
			Column: rk.ref.aliased(), Encoding: rk.encoding, EncodingVersion: 1, IsShardBy: i == 1 && chance(r, 0.3),
		})
	}
	// Measures: the count, then sums, extremes and distinct counts.
	d.Measures = append(d.Measures, measureJSON{Name: "_COUNT_", Function: functionJSON{
		Expression: "COUNT", Parameter: parameterJSON{Type: "constant", Value: "1"}, ReturnType: "bigint"}})
	var refs, distinct []string
	refs = append(refs, "_COUNT_")
	for i := 1; i < c.measureCount; i++ {
		var fn functionJSON
		if len(m.metrics) == 0 || chance(r, 0.1) {
			col := pick(r, m.dims).aliased()
			fn = functionJSON{Expression: "COUNT_DISTINCT", Parameter: parameterJSON{Type: "column", Value: col}, ReturnType: "hllc(12)"}
		} else {
			col := pick(r, m.metrics)
			expr := pick(r, []string{"SUM", "SUM", "SUM", "MAX", "MIN"})
			fn = functionJSON{Expression: expr, Parameter: parameterJSON{Type: "column", Value: col}, ReturnType: "decimal(19,4)"}
		}
		name := fmt.Sprintf("%s_%s_%d", fn.Expression, fn.Parameter.Value[strings.IndexByte(fn.Parameter.Value, '.')+1:], i)
		d.Measures = append(d.Measures, measureJSON{Name: name, Function: fn})
		if fn.Expression == "COUNT_DISTINCT" {
			distinct = append(distinct, name)
		} else {
			refs = append(refs, name)
		}
	}
	d.HBaseMapping.ColumnFamily = []columnFamilyJSON{{Name: "F1", Columns: []cfColumnsJSON{{Qualifier: "M", MeasureRefs: refs}}}}
	if len(distinct) > 0 {
		d.HBaseMapping.ColumnFamily = append(d.HBaseMapping.ColumnFamily,
			columnFamilyJSON{Name: "F2", Columns: []cfColumnsJSON{{Qualifier: "M", MeasureRefs: distinct}}})
	}
	// Aggregation groups over the normal dimensions.
	for g := 0; g < 1+r.IntN(3); g++ {
		ag := aggGroupJSON{Includes: normal, SelectRule: selectRuleJSON{
			HierarchyDims: [][]string{}, MandatoryDims: []string{}, JointDims: [][]string{}}}
		if len(normal) > 4 {
			ag.SelectRule.MandatoryDims = []string{normal[0]}
			ag.SelectRule.JointDims = [][]string{normal[len(normal)-2:]}
		}
		if len(normal) > 6 {
			ag.SelectRule.HierarchyDims = [][]string{normal[1:4]}
		}
		d.AggregationGroups = append(d.AggregationGroups, ag)
	}
	return d
}

func renderCube(r *rand.Rand, c *cube) cubeJSON {
	cj := cubeJSON{
		rootEntity:    root(c.uuid, c.modified),
		Name:          c.name,
		Owner:         c.owner,
		Descriptor:    c.name,
		DisplayName:   c.name,
		Cost:          50,
		Status:        c.status,
		Segments:      []segmentJSON{},
		CreateTimeUTC: c.created,
	}
	for _, s := range c.segments {
		sj := segmentJSON{
			UUID:                      s.uuid,
			Name:                      s.name,
			StorageLocationIdentifier: s.storage,
			DateRangeStart:            s.start,
			DateRangeEnd:              s.end,
			Status:                    s.status,
			SizeKB:                    s.sizeKB,
			IsMerged:                  s.merged,
			InputRecords:              s.inputRecords,
			InputRecordsSize:          s.inputRecords * int64(60+r.IntN(400)),
			LastBuildTime:             s.built,
			LastBuildJobID:            s.jobID,
			CreateTimeUTC:             s.built - between(r, 10*minute, 4*hour),
			CuboidShardNums:           map[string]int{},
			TotalShards:               1 + r.IntN(8),
			BlackoutCuboids:           []int64{},
			Dictionaries:              map[string]string{},
			Snapshots:                 map[string]string{},
			AdditionalInfo:            map[string]string{},
		}
		for _, d := range s.dicts {
			sj.Dictionaries[d.key()] = d.path()
		}
		for _, sn := range s.snaps {
			sj.Snapshots[sn.t.identity()] = sn.path()
		}
		k := 0
		for _, rk := range c.rowkey {
			card := 0
			if rk.encoding == "dict" {
				card = s.dicts[k].card
				k++
			} else {
				card = logNormal(r, 6, 2, 1, 1_000_000)
			}
			sj.RowkeyStats = append(sj.RowkeyStats, []any{rk.ref.col.name, card, encodedLength(rk.encoding, card)})
		}
		cj.Segments = append(cj.Segments, sj)
	}
	return cj
}

func encodedLength(encoding string, card int) int {
	switch {
	case encoding == "dict":
		n := 1
		for c := card; c >= 256; c >>= 8 {
			n++
		}
		return n
	case encoding == "date":
		return 3
	case strings.HasPrefix(encoding, "fixed_length:"), strings.HasPrefix(encoding, "integer:"):
		n, _ := strconv.Atoi(encoding[strings.IndexByte(encoding, ':')+1:])
		return n
	}
	return 8
}

func renderUser(r *rand.Rand, u *user) userJSON {
	uj := userJSON{
		rootEntity:  root(u.uuid, u.modified),
		Username:    u.name,
		Password:    bcryptHash(r),
		Disabled:    u.disabled,
		Authorities: []authorityJSON{},
	}
	for _, a := range u.authorities {
		uj.Authorities = append(uj.Authorities, authorityJSON{Authority: a})
	}
	if chance(r, 0.05) {
		uj.Locked, uj.LockedTime, uj.WrongTime = true, u.modified, 0
	} else if chance(r, 0.1) {
		uj.WrongTime = 1 + r.IntN(2)
	}
	return uj
}

func renderBadQuery(r *rand.Rand, pr *project, users []*user) badQueryJSON {
	b := badQueryJSON{rootEntity: root(pr.badQueryUUID, pr.badQueryTS), Project: pr.name, Entries: []badQueryEntryJSON{}}
	n := logNormal(r, 2.5, 1, 1, 50)
	for i := range n {
		c := pick(r, pr.cubes)
		start := pr.badQueryTS - int64(n-i)*between(r, minute, 12*hour)
		b.Entries = append(b.Entries, badQueryEntryJSON{
			rootEntity:     rootEntity{UUID: newUUID(r), Version: kylinVersion},
			Adj:            pick(r, []string{"Slow", "Slow", "Pushdown"}),
			SQL:            randomSQL(r, c),
			StartTime:      start,
			RunningSeconds: logNormal(r, 4, 1, 90, 3600),
			Server:         pick(r, servers[2:]) + ":7070",
			Thread:         fmt.Sprintf("Query %s-%d", newUUID(r), 100+r.IntN(400)),
			User:           pick(r, users).name,
		})
	}
	return b
}

// randomSQL writes a plausible aggregate query over a cube's model.
func randomSQL(r *rand.Rand, c *cube) string {
	m := c.model
	var sb strings.Builder
	var groupBy []string
	for range 1 + r.IntN(4) {
		groupBy = append(groupBy, pick(r, m.dims).aliased())
	}
	sb.WriteString("SELECT ")
	sb.WriteString(strings.Join(groupBy, ", "))
	if len(m.metrics) > 0 {
		for range 1 + r.IntN(3) {
			fmt.Fprintf(&sb, ", %s(%s)", pick(r, []string{"SUM", "MAX", "AVG"}), pick(r, m.metrics))
		}
	}
	sb.WriteString(", COUNT(*)\nFROM ")
	sb.WriteString(m.fact.identity() + " AS " + m.fact.name)
	for _, l := range m.lookups {
		fmt.Fprintf(&sb, "\nLEFT JOIN %s AS %s ON %s.%s = %s.%s", l.identity(), l.name, m.fact.name, l.pk, l.name, l.pk)
	}
	from := time.UnixMilli(between(r, windowStart, windowEnd)).UTC()
	fmt.Fprintf(&sb, "\nWHERE %s BETWEEN '%s' AND '%s'", m.partitionCol, from.Format("2006-01-02"), from.AddDate(0, 0, 1+r.IntN(90)).Format("2006-01-02"))
	sb.WriteString("\nGROUP BY ")
	sb.WriteString(strings.Join(groupBy, ", "))
	if chance(r, 0.5) {
		fmt.Fprintf(&sb, "\nORDER BY %s\nLIMIT %d", groupBy[0], pick(r, []int{100, 500, 1000, 50000}))
	}
	return sb.String()
}
