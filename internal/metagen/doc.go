// Package metagen writes deterministic synthetic Apache Kylin 2.x-4.x
// metastores and applies realistic churn to them, through a metastore.Sink:
// a folder (Kylin's FileResourceStore: the resource "/cube/x.json" is the
// file DIR/cube/x.json and the file's mtime is the resource timestamp), a
// database of Kylin 4 or 5 schema, or a memory store in tests. Benchmarks
// of backup and restore use it (through cmd/kylin-metagen) to get
// metastores with hundreds of thousands of resources, and tests use it for
// realistic small ones.
//
// # Generate
//
// Generate writes exactly Options.Resources resources (at least
// MinResources) and returns what it wrote: the count, the bytes, the count
// and bytes per resource type and a size histogram. The same seed, count,
// projects and shape give byte-identical resources with identical
// timestamps, whatever the number of workers. The number of projects
// defaults to one per ~4,000 resources.
//
// The deployment looks like a busy one. In the default shape:
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
// The jobs shape (ShapeJobs) is a deployment whose job history dominates,
// as on a busy Kylin between two runs of its cleanup job: /execute and
// /execute_output hold about 30% of the resources each, two flat folders of
// tens of thousands of entries. Every job keeps one resource per step in
// both folders (/execute/<job>-NN, the step's ExecutablePO as the job lists
// it in "tasks", beside /execute_output/<job>-NN); the other kinds of
// resource keep their proportions among the remaining 40%.
//
// Every JSON resource is valid and the references agree: a project lists
// its cubes (realizations), models and tables; a cube names its cube_desc,
// which names its model; every segment's dictionaries and snapshots exist;
// every job names an existing project and cube. Timestamps fall in
// 2023-2024, and a JSON entity's last_modified equals its timestamp.
//
// # Churn
//
// Churn applies one round of changes touching about ChurnOptions.Fraction
// of the resources (0.01 = 1%) of a metastore that Generate wrote: roughly
// 60% modified, 30% added and 10% deleted (in the jobs shape, which it
// recognises by the /execute/<job>-NN entries, 40% modified, 30% added and
// 30% deleted: the scheduler adds jobs about as fast as the cleanup job
// deletes them). Cubes gain segments with new dictionaries, snapshots,
// statistics and a build job; old segments are merged or dropped and the
// dictionaries, snapshots and statistics nobody references any more are
// deleted; queued and running jobs progress; new jobs are submitted with
// the outputs of their steps; the oldest finished jobs are purged with
// their outputs; cube descs, projects, table_exd and users are edited, ACL
// entries granted and revoked, model filters changed. Changed resources get
// timestamps later than any in the metastore; resources churn does not
// touch are not rewritten (a file's mtime and ctime stay). The result
// depends only on the metastore's content and the seed; repeated rounds
// with the same seed differ because the content does.
//
// The mix holds for small fractions. A large fraction of a small metastore
// runs out of resources to modify, and the other kinds of change make up
// the count.
package metagen
