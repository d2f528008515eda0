// Command kylin-metagen writes deterministic synthetic Apache Kylin 2.x-4.x
// metastores and applies realistic churn to them (package internal/metagen
// does the work). Benchmarks of backup and restore use it to get
// metastores with hundreds of thousands of resources.
//
// Usage:
//
//	kylin-metagen generate --out DIR|URL --resources N [--projects P] [--seed S] [--shape default|jobs] [--create-schema 4|5] [--json]
//	kylin-metagen churn --dir DIR|URL --fraction F [--seed S] [--json]
//
// DIR is a folder metastore (Kylin's FileResourceStore: the resource
// "/cube/x.json" is the file DIR/cube/x.json and the file's mtime is the
// resource timestamp); URL is any metadata URL the metastore command
// accepts, such as a JDBC metastore in PostgreSQL, MySQL or MariaDB
// (kylin_metadata@jdbc,url=jdbc:postgresql://host:5432/kylin,username=u,password=p).
// A database is written in one transaction.
//
// # generate
//
// generate writes exactly N resources (N >= 200) into DIR, which must be
// empty or absent, or into a database metastore that holds no resource
// (with --create-schema 4 or 5 when its tables do not exist yet), and
// prints what it wrote: the count, the bytes, the count and bytes per
// resource type and a size histogram (--json prints the same as JSON). The
// same seed, N, P and shape give byte-identical resources with identical
// timestamps (a file's mtime). P defaults to one project per ~4,000
// resources. --shape jobs makes a job-heavy metastore, /execute and
// /execute_output holding about 30% of the resources each; the default
// shape keeps about 45% in the two together. See package internal/metagen
// for what a metastore holds.
//
// # churn
//
// churn applies one round of changes touching about F of the resources
// (0.01 = 1%) of a metastore that generate wrote: roughly 60% modified, 30%
// added and 10% deleted (jobs shape: 40%, 30%, 30%). Changed resources get
// timestamps later than any in the metastore; resources churn does not
// touch are not rewritten. The result depends only on the metastore's
// content and the seed. churn prints a one-line summary (--json: a JSON
// object) with the added, modified and deleted counts.
//
// # Exit status
//
// 0 on success, 1 when writing or reading fails, 2 for a usage error (an
// unknown command or flag, a missing or invalid value, an --out that is
// not an empty directory or a database that is not empty).
package main
