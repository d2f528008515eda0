// Package scope knows Kylin's metadata model: the types of resources, the
// shape of their keys, the links between them, and therefore which resources
// make up the whole system, one project or one cube. It reads resources
// through metastore.Source and knows nothing of git or of how a backup is
// stored.
//
// # Scopes
//
// A Scope is "system", "project/NAME" or "cube/NAME" (Parse, String).
// Resolve turns a scope into the sorted list of resource keys it holds in a
// given metastore, plus warnings. Only resources that exist are listed: a
// reference to a missing resource, or a resource that cannot be parsed
// while deciding membership, is a Warning and never an error: real
// metastores have segments naming dictionaries that are gone, cubes in no
// project, hand-made "*.json.bad" copies and duplicated uuids.
//
// # Kylin 2.x to 4.x and KE 3.x (Layout4)
//
// The system scope is every resource.
//
// A cube scope C holds "/UUID", "/cube/C.json", the descriptor
// "/cube_desc/D.json" the cube names in "descriptor", the model
// "/model_desc/M.json" the descriptor names in "model_name", the project file
// "/project/P.json" of the project whose "realizations" list C with type
// CUBE (none when no project lists it; the first by name, with a warning,
// when several do), and every table the model uses (its "fact_table", and
// the "table" of each "join_tables" entry of 2.x models or "lookups" entry of
// older ones). A table DB.T is "/table/DB.T--P.json" when the project is
// known and that resource exists, and the legacy "/table/DB.T.json"
// otherwise; its "/table_exd/" resource follows the same rule, chosen on its
// own, and is optional. Nothing else, unless Options.WithSegments asks for
// the resources the cube's segments reference: the dictionaries (values of
// a segment's "dictionaries"), the table snapshots (values of "snapshots")
// and the statistics "/cube_statistics/C/SEGMENT_UUID.seq" (a missing one is
// a warning, except the statistics of a segment never built, status NEW).
//
// A project scope P holds "/UUID", "/project/P.json" and:
//   - every cube and hybrid of its "realizations" ("/cube/X.json",
//     "/hybrid/X.json"), with the cubes a hybrid lists, each with the
//     resources of its cube scope, the segment resources included (a
//     dictionary shared by cubes of several projects belongs to each);
//   - every model of "models" and every table of "tables" (project form
//     first, then legacy), with its table_exd, used by a cube or not, but
//     never another project's "/table/DB.T--Q.json";
//   - "/acl/UUID" for the uuid of the project, of its cubes and of their and
//     its models; "/bad_query/P.json";
//   - the jobs of P, "/execute/ID" with "/execute_output/ID" and
//     "/execute_output/ID-NN": a job is of P if its "params" name P as
//     "projectName" or, lacking one, name one of P's cubes as "cubeName" or
//     one of their segments as "segmentId";
//   - "/kafka/T.json", "/streaming/T.json" and "/streaming_v2/T.json" of its
//     tables (those it lists and those its cubes use);
//   - KE's "/raw_table_desc/X.json" (X the cube's descriptor or the cube),
//     "/raw_table_instance/C.json", "/scheduler/*" entries whose "project"
//     is P, and "/model_stats/M.json" of its models;
//   - every "/user/*" and "/user_group/*" resource, and "/user_group" itself
//     (Kylin 3.x and 4.x keep every group in that one resource);
//   - the "/cube_stats_info/*" and "/history/*" resources with a key
//     component (or a last component without its extension) equal to P or
//     to one of its cubes.
//
// Saved queries ("/query/*") belong to the system scope only.
//
// # Kylin 5 (Layout5)
//
// A project scope P holds "/UUID", "/_global/project/P.json", everything
// under "/P/", every "/_global/user/*" and "/_global/user_group/*" resource,
// the legacy single file "/_global/user_group" (which older Kylin 5 releases
// kept every group in; every project scope holds it, as "/user_group" on
// Kylin 2.x-4.x), the project's ACL "/_global/acl/PROJECT_UUID", and the
// logical views "/_global/logical_view/NAME" whose "created_project" is P
// (a view that cannot be parsed is a warning if it mentions P). The field
// is Kylin's own: LogicalView (core-metadata,
// org.apache.kylin.metadata.view.LogicalView, KYLIN-5447) serialises its
// project as @JsonProperty("created_project") and its key as
// ResourceStore.VIEW_ROOT ("/_global/logical_view") + "/" + the upper-cased
// table name; Kylin 5.0 GA's LOGICAL_VIEW table fills its project column
// from the same field. Every other "/_global/" resource (resource groups,
// sys ACLs, other ACLs, upgrade and history source usage records,
// trash_record, views of no project) belongs to the system scope only.
//
// Kylin 5 has models, not cubes: a cube scope names a model (the commands
// say backup-model and restore-model). The name is the model's "alias",
// "P.alias" (needed when several projects use the alias), its uuid (the
// stem ID of its key "/P/model_desc/ID.json"), or "P.uuid" (the same model
// can be in several projects), tried in that order; a name that fits
// several models wraps ErrAmbiguousCube and lists their "P.alias" names, an
// unknown one is a *NotFoundError with the closest names. The scope holds:
//   - "/UUID" and the project file "/_global/project/P.json";
//   - the model "/P/model_desc/ID.json", its "/P/index_plan/ID.json" and
//     "/P/dataflow/ID.json" (a missing one is a warning: Kylin keeps the
//     three one to one);
//   - the tables the model uses, "/P/table/DB.T.json" (its "fact_table" and
//     the "table" of each "join_tables" entry; a missing one is a warning),
//     and their "/P/table_exd/DB.T.json" when they exist.
//
// Options.WithSegments adds the built data of the model's segments: for
// each segment of the dataflow (the "id" of each entry of its "segments";
// NDataflow keeps its segments, NDataSegment, inline), the segment's
// details "/P/dataflow_details/ID/SEGMENT_ID.json" when it exists
// (NDataSegDetails, the segment's layouts: "layout_instances"). Kylin reads
// a segment's details by that key alone (NDataSegDetailsManager
// .getForSegment) and has none until a layout of the segment is built
// (updateDataflow creates them), so a missing one is no warning, and a
// details resource of a segment the dataflow does not list is never read
// by Kylin and left out (NDataflow.collectPrecalculationResource, which
// Kylin's build jobs use to copy a model's metadata, names the same
// resources: the dataflow and its segments' details). Without it the
// model's segments are only those its dataflow lists; a restore of such a
// snapshot leaves the target's segment details as they are. Kylin 5 keeps
// no dictionaries, table snapshots or statistics in the metastore. A model
// scope holds no "/_global/" resource but its project file, and no job
// ("/P/execute/*"), rule, recommendation or other resource of the project:
// those belong to the project scope.
//
// Result.ModelID is the model's ID. Retarget moves a model's keys to
// another project ("/P/..." to "/Q/..."): its resources name no project, so
// a model is restored into another project by its keys alone, and the
// target project's file is never replaced. ModelRefs and ModelIDs name
// models unambiguously ("P.UUID") for a restore that must tell two models
// of one alias apart.
//
// # Kylin 5's per-type layout (LayoutTyped)
//
// Kylin 5.0 GA and later (KYLIN-5945) keep one folder per metadata type,
// each resource named by its meta key: "/PROJECT/P.json", "/MODEL/UUID.json",
// "/TABLE_INFO/P.DB.T.json", "/LAYOUT_DETAILS/UUID-LAYOUT.json" (the
// structure of Kylin 5.0.2's own sample metastore, testdata/kylin5-typed).
// Each resource of a project names it in its JSON: the types whose tables
// have a project column (ACL, CC_MODEL_RELATION, COMPUTE_COLUMN, DATAFLOW,
// DATA_PARSER, FUSION_MODEL, INDEX_PLAN, INTERNAL_TABLE, JAR_INFO,
// JOB_STATS, KAFKA_CONFIG, LAYOUT, LAYOUT_DETAILS, MODEL, QUERY_RECORD,
// SEGMENT, SQL_BLACKLIST, STREAMING_JOB, TABLE_EXD, TABLE_INFO,
// TABLE_MODEL_RELATION) fill it from the field "project", LOGICAL_VIEW from
// "created_project" (Kylin's metadata/mapper classes).
//
// A project scope P holds "/PROJECT/P.json", every resource of those types
// whose field is P, every "/USER_INFO/*" and "/USER_GROUP/*" resource, and
// the project's ACL "/OBJECT_ACL/PROJECT_UUID.json". "/SYSTEM/UUID.json"
// (the metastore's identity, which a restore must not replace) and the
// other types (RESOURCE_GROUP, HISTORY_SOURCE_USAGE, USER_GLOBAL_ACL,
// SYSTEM, other OBJECT_ACL) belong to the system scope only.
//
// A cube scope names a model as on Kylin 5.0 beta (its "project" field is
// its project) and holds "/PROJECT/P.json", "/MODEL/ID.json",
// "/INDEX_PLAN/ID.json" and "/DATAFLOW/ID.json" (a missing one is a
// warning), its tables "/TABLE_INFO/P.DB.T.json" (a missing one is a
// warning) and their "/TABLE_EXD/P.DB.T.json" when they exist, the
// "/TABLE_MODEL_RELATION/*" and "/CC_MODEL_RELATION/*" whose "model_uuid"
// is ID and the computed columns "/COMPUTE_COLUMN/CC.json" these name by
// "cc_uuid" (5.0 GA keeps computed columns out of the model). With
// Options.WithSegments it adds, for each of the dataflow's
// "segment_uuids" S, "/SEGMENT/S.json" (a missing one is a warning) and
// its layouts "/LAYOUT/S.json" when built, and the model's
// "/LAYOUT_DETAILS/ID-*.json".
//
// A source that implements metastore.FieldLister (the JDBC store on the
// per-type tables, whose columns hold these fields) is asked for the keys
// whose field has the value; any other source (a folder, a snapshot) has
// every resource of those types read.
//
// # Cost
//
// Metastores hold 100,000 resources and more, so Resolve never reads them
// all: a cube scope reads the cube, its descriptor and model and the
// project files, and probes each other key; a project scope also lists the
// folders it needs ("/execute/", "/user/", "/table/", ...) and reads the
// jobs to learn their project: each job is scanned once, checked as
// json.Valid does while its params and steps are picked out, without
// allocating (execute.go), since a busy metastore holds hundreds of
// thousands. They are read one at a time (streamed by a metastore.Walker,
// or each read as the listing reaches it), and only the project's are
// kept, so that what a project scope holds grows with the project, not
// with the metastore. On the per-type layout without a
// metastore.FieldLister, a project scope reads the resources of every type
// that names a project, and a model scope its relations.
//
// # Helpers
//
// TypeOf names the type of a key, Retarget moves a project-qualified table
// key to another project, and MergeProject adds a cube, its model and its
// tables to a project document without re-serialising it, for restoring a
// cube into a project.
package scope
