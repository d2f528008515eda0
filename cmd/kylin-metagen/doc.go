// Command kylin-metagen writes deterministic synthetic Apache Kylin 2.x-4.x
// metastores in the folder layout (Kylin's FileResourceStore: the resource
// "/cube/x.json" is the file DIR/cube/x.json and the file's mtime is the
// resource timestamp), and applies realistic churn to them. Benchmarks of
// backup and restore use it to get metastores with hundreds of thousands of
// resources.
//
// Usage:
//
//	kylin-metagen generate --out DIR --resources N [--projects P] [--seed S] [--json]
//	kylin-metagen churn --dir DIR --fraction F [--seed S] [--json]
//
// # generate
//
// generate writes exactly N resources (N >= 200) into DIR, which must be
// empty or absent, and prints what it wrote: the count, the bytes, the
// count and bytes per resource type and a size histogram (--json prints the
// same as JSON). The same seed, N and P give byte-identical files with
// identical mtimes. P defaults to one project per ~4,000 resources.
//
// The deployment looks like a busy one:
//
//   - jobs, about 45%: /execute/<job> (ExecutablePO with its steps inline and
//     params.projectName, params.cubeName, params.segmentId, ...),
//     /execute_output/<job> and /execute_output/<job>-NN per step, with
//     logs; most succeeded, some failed, were discarded, or are still
//     queued or running;
//   - dictionaries, about 20%: /dict/<DB.TABLE>/<COLUMN>/<uuid>.dict, a
//     JSON header and a trie over the sorted values, mostly 1-100 KiB with
//     a tail up to a few MiB;
//   - table snapshots, about 5%: /table_snapshot/<DB.TABLE>/<uuid>.snapshot;
//   - cuboid statistics, one per segment: /cube_statistics/<cube>/<segment
//     uuid>.seq, a zlib record-compressed Hadoop SequenceFile;
//   - the rest: /cube, /cube_desc, /model_desc, /table/<DB.TABLE>--<project>.json,
//     /table_exd/<DB.TABLE>--<project>.json, /acl/<uuid> for every project,
//     cube and model, /user/<NAME> (a ManagedUser with a bcrypt-shaped
//     hash), /user_group/<NAME> (one resource per group, as Kyligence
//     Enterprise keeps them; Apache Kylin 3.x keeps all groups in the single
//     resource /user_group), /bad_query/<project>.json,
//     /project/<project>.json and /UUID.
//
// Every JSON resource is valid and the references agree: a project lists
// its cubes (realizations), models and tables; a cube names its cube_desc,
// which names its model; every segment's dictionaries and snapshots exist;
// every job names an existing project and cube. Timestamps fall in
// 2023-2024, and a JSON entity's last_modified equals its file's mtime.
//
// # churn
//
// churn applies one round of changes touching about F of the resources
// (0.01 = 1%) of a metastore that generate wrote: roughly 60% modified, 30%
// added and 10% deleted. Cubes gain segments with new dictionaries,
// snapshots, statistics and a build job; old segments are merged or
// dropped and the dictionaries, snapshots and statistics nobody references
// any more are deleted; queued and running jobs progress; old jobs are
// purged with their outputs; cube descs, projects, table_exd and users are
// edited, ACL entries granted and revoked, model filters changed. Changed
// files get timestamps later than any in DIR; files churn does not touch
// are not rewritten, so their mtime and ctime stay. The result depends only
// on DIR's content and the seed; repeated rounds with the same seed differ
// because the content does. churn prints a one-line summary (--json: a
// JSON object) with the added, modified and deleted counts.
//
// The mix holds for small fractions. A large fraction of a small metastore
// runs out of resources to modify, and the other kinds of change make up
// the count.
//
// # Exit status
//
// 0 on success, 1 when writing or reading fails, 2 for a usage error (an
// unknown command or flag, a missing or invalid value, an --out that is
// not an empty directory).
package main
