package metagen

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// Job types of Kylin 3.x.
const (
	typeCubingJob    = "org.apache.kylin.engine.mr.CubingJob"
	typeLookupJob    = "org.apache.kylin.engine.mr.LookupSnapshotJob"
	typeMapReduce    = "org.apache.kylin.engine.mr.common.MapReduceExecutable"
	typeHadoopShell  = "org.apache.kylin.engine.mr.common.HadoopShellExecutable"
	typeFlatTable    = "org.apache.kylin.source.hive.CreateFlatHiveTableStep"
	typeRedistribute = "org.apache.kylin.source.hive.RedistributeFlatHiveTableStep"
	typeSaveStats    = "org.apache.kylin.engine.mr.steps.SaveStatisticsStep"
	typeUpdateInfo   = "org.apache.kylin.engine.mr.steps.UpdateCubeInfoAfterBuildStep"
	typeUpdateMerge  = "org.apache.kylin.engine.mr.steps.UpdateCubeInfoAfterMergeStep"
	typeMergeDict    = "org.apache.kylin.engine.mr.steps.MergeDictionaryStep"
	typeGarbage      = "org.apache.kylin.storage.hbase.steps.HDFSPathGarbageCollectionStep"
	typeHiveCleanup  = "org.apache.kylin.source.hive.GarbageCollectionStep"
	typeSnapshot     = "org.apache.kylin.engine.mr.steps.lookup.LookupSnapshotToMetaStoreStep"
	typeSnapshotSync = "org.apache.kylin.engine.mr.steps.lookup.UpdateCubeAfterSnapshotStep"
)

type stepDef struct{ name, typ string }

// jobSteps returns the steps of a job of the given kind and length. Build
// jobs grow by cuboid layers, merge jobs by optional steps.
func jobSteps(kind jobKind, n int) []stepDef {
	var steps []stepDef
	switch kind {
	case jobLookup:
		steps = []stepDef{
			{"Take Snapshot to Metadata Store", typeSnapshot},
			{"Update Cube Info", typeSnapshotSync},
			{"Materialize Lookup Table", typeFlatTable},
			{"Garbage Collection on HDFS", typeGarbage},
		}
	case jobMerge:
		steps = []stepDef{
			{"Merge Segment Dictionary", typeMergeDict},
			{"Merge Cuboid Statistics", typeMapReduce},
			{"Merge Cuboid Data", typeMapReduce},
			{"Convert Cuboid Data to HFile", typeMapReduce},
			{"Load HFile to HBase Table", typeHadoopShell},
			{"Update Cube Info", typeUpdateMerge},
			{"Garbage Collection on HBase", typeGarbage},
			{"Garbage Collection on HDFS", typeGarbage},
			{"Clean Up Merged Segment Dictionaries", typeHadoopShell},
			{"Clean Up Merged Statistics", typeHadoopShell},
		}
	default:
		steps = []stepDef{
			{"Create Intermediate Flat Hive Table", typeFlatTable},
			{"Redistribute Flat Hive Table", typeRedistribute},
			{"Extract Fact Table Distinct Columns", typeMapReduce},
			{"Build Dimension Dictionary", typeHadoopShell},
			{"Save Cuboid Statistics", typeSaveStats},
			{"Create HTable", typeHadoopShell},
			{"Build Base Cuboid", typeMapReduce},
		}
		tail := []stepDef{
			{"Convert Cuboid Data to HFile", typeMapReduce},
			{"Load HFile to HBase Table", typeHadoopShell},
			{"Update Cube Info", typeUpdateInfo},
			{"Hive Cleanup", typeHiveCleanup},
		}
		for level := 1; len(steps)+len(tail) < n; level++ {
			steps = append(steps, stepDef{fmt.Sprintf("Build N-Dimension Cuboid : level %d", level), typeMapReduce})
		}
		steps = append(steps, tail...)
	}
	if n < len(steps) {
		steps = steps[:n]
	}
	return steps
}

func (j *job) typeAndName() (typ, verb string) {
	switch j.kind {
	case jobRefresh:
		return typeCubingJob, "REFRESH CUBE"
	case jobMerge:
		return typeCubingJob, "MERGE CUBE"
	case jobLookup:
		return typeLookupJob, "LOOKUP CUBE"
	}
	return typeCubingJob, "BUILD CUBE"
}

func stepID(jobID string, i int) string { return fmt.Sprintf("%s-%02d", jobID, i) }

func executePath(id string) string           { return "/execute/" + id }
func outputPath(id string) string            { return "/execute_output/" + id }
func stepOutputPath(id string, i int) string { return outputPath(stepID(id, i)) }

// stepExecutePath is the /execute entry of a job's step in the jobs shape.
func stepExecutePath(id string, i int) string { return executePath(stepID(id, i)) }

// renderExecute builds a job's ExecutablePO.
func renderExecute(j *job) jobJSON {
	typ, verb := j.typeAndName()
	cst := time.FixedZone("GMT+08:00", 8*3600)
	what := j.segName
	if j.kind == jobLookup {
		what = j.lookup
	}
	name := fmt.Sprintf("%s - %s - %s - %s", verb, j.target.cube, what, time.UnixMilli(j.submitted).In(cst).Format("GMT+08:00 2006-01-02 15:04:05"))
	jj := jobJSON{
		rootEntity: root(j.id, j.submitted),
		Name:       name,
		Type:       typ,
		Params: map[string]string{
			"projectName": j.target.project,
			"cubeName":    j.target.cube,
			"segmentId":   j.segID,
			"segmentName": j.segName,
			"submitter":   j.submitter,
			"envName":     "PROD",
			"notify_list": "",
			"jobType":     strings.Fields(verb)[0],
		},
	}
	if j.kind == jobMerge {
		jj.Params["mergingSegmentIds"] = strings.Join(j.mergingIDs, ",")
	}
	if j.kind == jobLookup {
		jj.Params["lookupTableName"] = j.lookup
	}
	workDir := "hdfs://nameservice1/kylin/kylin_metadata/kylin-" + j.id
	for i, s := range jobSteps(j.kind, j.steps) {
		t := jobJSON{
			rootEntity: rootEntity{UUID: stepID(j.id, i), Version: kylinVersion},
			Name:       s.name,
			Type:       s.typ,
			Params:     map[string]string{},
		}
		switch s.typ {
		case typeMapReduce:
			t.Params["MR_JOB_PARAMS"] = fmt.Sprintf("-cubename %s -segmentid %s -output %s/%s/cuboid/", j.target.cube, j.segID, workDir, j.target.cube)
		case typeHadoopShell:
			t.Params["HADOOP_SHELL_JOB_PARAMS"] = fmt.Sprintf("-cubename %s -segmentid %s", j.target.cube, j.segID)
		}
		jj.Tasks = append(jj.Tasks, t)
	}
	return jj
}

// stepSpan is when one step ran; zero fields mean "not yet".
type stepSpan struct {
	status     string
	start, end int64
}

// timeline derives each step's status and times from the job's, with a
// generator keyed by the job id so that all of a job's files agree.
func timeline(seed uint64, j *job) []stepSpan {
	r := newRand(seed, "timeline:"+j.id)
	spans := make([]stepSpan, j.steps)
	ran := j.steps // steps that started
	switch j.status {
	case statusReady:
		ran = 0
	case statusRunning, statusError, statusStopped, statusDiscarded:
		ran = j.stopAt + 1
	}
	until := j.end
	if j.status == statusRunning {
		until = j.updated
	}
	weights := make([]float64, ran)
	var sum float64
	for i := range weights {
		weights[i] = 0.2 + r.ExpFloat64()
		sum += weights[i]
	}
	t := j.start
	for i := range ran {
		d := int64(float64(until-j.start) * weights[i] / sum)
		spans[i] = stepSpan{status: statusSucceed, start: t, end: t + d}
		t += d
	}
	if ran > 0 && j.status != statusSucceed {
		last := &spans[ran-1]
		last.status = j.status
		if j.status == statusRunning {
			last.end = 0
		}
	}
	for i := ran; i < j.steps; i++ {
		spans[i].status = statusReady
		if j.status == statusDiscarded {
			spans[i].status = statusDiscarded
		}
	}
	return spans
}

// renderJobOutput builds the ExecutableOutputPO of the job itself.
func renderJobOutput(j *job) outputJSON {
	o := outputJSON{rootEntity: root(j.id, j.updated), Status: j.status, Info: map[string]string{}}
	if j.start > 0 {
		o.Info["startTime"] = strconv.FormatInt(j.start, 10)
		o.Info["buildInstance"] = j.buildServer + ":7070_" + strconv.Itoa(1000+int(mix64(uint64(j.start))%9000))
	}
	if j.end > 0 {
		o.Info["endTime"] = strconv.FormatInt(j.end, 10)
	}
	if j.status == statusDiscarded || j.status == statusStopped {
		o.Info["interruptTime"] = strconv.FormatInt(j.updated, 10)
	}
	return o
}

// stepOutputTS is the timestamp of a step's output file.
func stepOutputTS(j *job, s stepSpan) int64 {
	switch {
	case s.end > 0:
		return s.end
	case s.start > 0:
		return s.start
	}
	return j.submitted
}

// renderStepOutput builds the ExecutableOutputPO of step i, with a log.
func renderStepOutput(r *rand.Rand, j *job, i int, def stepDef, s stepSpan) outputJSON {
	o := outputJSON{rootEntity: root(stepID(j.id, i), stepOutputTS(j, s)), Status: s.status, Info: map[string]string{}}
	if s.start == 0 {
		return o
	}
	o.Info["startTime"] = strconv.FormatInt(s.start, 10)
	if s.end > 0 {
		o.Info["endTime"] = strconv.FormatInt(s.end, 10)
	}
	var log string
	switch def.typ {
	case typeMapReduce:
		app := fmt.Sprintf("%d_%04d", windowStart/1000+int64(r.IntN(1000)), r.IntN(10000))
		o.Info["mr_job_id"] = "job_" + app
		o.Info["yarn_application_tracking_url"] = "http://rm01.example.com:8088/proxy/application_" + app + "/"
		o.Info["hdfs_bytes_written"] = strconv.FormatInt(r.Int64N(1<<34), 10)
		o.Info["source_records_count"] = strconv.FormatInt(r.Int64N(1<<30), 10)
		log = mapReduceLog(r, app, s.end > 0)
	case typeFlatTable, typeRedistribute, typeHiveCleanup:
		log = hiveLog(r, j)
	default:
		log = fmt.Sprintf("Start to execute command:\n %s -cubename %s -segmentid %s\nCommand execute return code 0\n", def.name, j.target.cube, j.segID)
	}
	if s.status == statusError {
		log += "java.io.IOException: OS command error exit with return code: 1, error message: " +
			"FAILED: SemanticException Unable to fetch table " + strings.ToLower(j.target.factAlias) + "\n" +
			"\tat org.apache.kylin.common.util.CliCommandExecutor.execute(CliCommandExecutor.java:96)\n" +
			"\tat org.apache.kylin.source.hive.CreateFlatHiveTableStep.doWork(CreateFlatHiveTableStep.java:84)\n"
	}
	o.Content = &log
	return o
}

func mapReduceLog(r *rand.Rand, app string, done bool) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "MapReduce Job ID: job_%s\n", app)
	if !done {
		fmt.Fprintf(&sb, "map %d%% reduce 0%%\n", r.IntN(100))
		return sb.String()
	}
	groups := []struct {
		name     string
		counters []string
	}{
		{"File System Counters", []string{"FILE: Number of bytes read", "FILE: Number of bytes written", "FILE: Number of read operations", "HDFS: Number of bytes read", "HDFS: Number of bytes written", "HDFS: Number of read operations", "HDFS: Number of write operations"}},
		{"Job Counters ", []string{"Launched map tasks", "Launched reduce tasks", "Data-local map tasks", "Rack-local map tasks", "Total time spent by all maps in occupied slots (ms)", "Total time spent by all reduces in occupied slots (ms)", "Total vcore-milliseconds taken by all map tasks", "Total megabyte-milliseconds taken by all map tasks"}},
		{"Map-Reduce Framework", []string{"Map input records", "Map output records", "Map output bytes", "Map output materialized bytes", "Input split bytes", "Combine input records", "Combine output records", "Reduce input groups", "Reduce shuffle bytes", "Reduce input records", "Reduce output records", "Spilled Records", "Shuffled Maps ", "Failed Shuffles", "Merged Map outputs", "GC time elapsed (ms)", "CPU time spent (ms)", "Physical memory (bytes) snapshot", "Virtual memory (bytes) snapshot", "Total committed heap usage (bytes)"}},
		{"Shuffle Errors", []string{"BAD_ID", "CONNECTION", "IO_ERROR", "WRONG_LENGTH", "WRONG_MAP", "WRONG_REDUCE"}},
		{"File Input Format Counters ", []string{"Bytes Read"}},
		{"File Output Format Counters ", []string{"Bytes Written"}},
	}
	n := 0
	for _, g := range groups {
		n += len(g.counters)
	}
	fmt.Fprintf(&sb, "Counters: %d\n", n)
	for _, g := range groups {
		fmt.Fprintf(&sb, "\t%s\n", g.name)
		for _, c := range g.counters {
			v := int64(0)
			if g.name != "Shuffle Errors" {
				v = r.Int64N(int64(1) << (4 + r.IntN(34)))
			}
			fmt.Fprintf(&sb, "\t\t%s=%d\n", c, v)
		}
	}
	return sb.String()
}

func hiveLog(r *rand.Rand, j *job) string {
	flat := "kylin_intermediate_" + strings.ToLower(j.target.cube) + "_" + strings.ReplaceAll(j.segID, "-", "_")
	var sb strings.Builder
	sb.WriteString("Create and distribute table, cmd: \nhive -e \"USE default;\n")
	fmt.Fprintf(&sb, "DROP TABLE IF EXISTS %s;\nCREATE EXTERNAL TABLE IF NOT EXISTS %s\n(\n", flat, flat)
	for _, c := range j.target.columns {
		fmt.Fprintf(&sb, "`%s` %s\n,", c.name, c.datatype)
	}
	fmt.Fprintf(&sb, "`_COUNT_` bigint\n)\nSTORED AS SEQUENCEFILE\nLOCATION 'hdfs://nameservice1/kylin/kylin_metadata/kylin-%s/%s';\n", j.id, flat)
	fmt.Fprintf(&sb, "ALTER TABLE %s SET TBLPROPERTIES('auto.purge'='true');\n", flat)
	fmt.Fprintf(&sb, "INSERT OVERWRITE TABLE `%s` SELECT * FROM %s AS %s WHERE %s >= '%s';\n\"", flat, j.target.fact, j.target.factAlias, j.target.partitionCol,
		time.UnixMilli(j.submitted).UTC().Format("2006-01-02"))
	sb.WriteString(" --hiveconf hive.merge.mapredfiles=false --hiveconf hive.auto.convert.join=true --hiveconf dfs.replication=2 --hiveconf hive.exec.compress.output=true\n")
	fmt.Fprintf(&sb, "OK\nTime taken: %d.%03d seconds\nCommand execute return code 0\n", r.IntN(300), r.IntN(1000))
	return sb.String()
}
