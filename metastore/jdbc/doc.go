// Package jdbc is a metastore kept in a relational database, the way Kylin's
// JDBC metastores keep it: PostgreSQL through jackc/pgx, MySQL and MariaDB
// through go-sql-driver/mysql, both behind database/sql.
//
// A Config names the database as Kylin's kylin.metadata.url does
// (IDENTIFIER@jdbc,url=jdbc:mysql://host:3306/kylin,username=u,password=p):
// ConfigFromParams builds one from the parameters of such a URL, Open
// connects, finds the metastore's tables and returns a Store.
//
// # Schemas
//
// Open detects which of Kylin's layouts the database holds, from the
// tables and columns information_schema lists in the connection's current
// schema (PostgreSQL) or database (MySQL):
//
//   - Kylin 5.0 GA and later (KYLIN-5945, SchemaTyped): one table per
//     metadata type, IDENTIFIER_project, IDENTIFIER_model, ..., each with
//     meta_key, uuid, mvcc, ts and content and the columns Kylin copies out
//     of the JSON. Its resources are keyed "/TYPE/META_KEY.json", as
//     Kylin's backups name their files; writes fill the copied columns from
//     the content as Kylin's mappers do (typed.go). A database that also
//     holds a Kylin 5.0 beta table IDENTIFIER with rows is refused.
//   - Kylin 5.0 alpha and beta (Schema5): the table IDENTIFIER with the
//     columns META_TABLE_KEY, META_TABLE_CONTENT, META_TABLE_TS and
//     META_TABLE_MVCC (JdbcMetadataStore of the kylin5 branch).
//   - Kylin 2.5 to 4.x and Kyligence Enterprise 3.x: the tables IDENTIFIER
//     and IDENTIFIER_log, each with META_TABLE_KEY, META_TABLE_TS and
//     META_TABLE_CONTENT but no META_TABLE_MVCC (Kylin's JDBCResourceStore).
//     Resources whose key starts with /bad_query, /execute_output or
//     /temp_statement live in IDENTIFIER_log, all others in IDENTIFIER;
//     reads, listings and walks cover both tables.
//
// Table and column names are matched without regard to case, as Kylin
// creates them unquoted (PostgreSQL folds them to lower case). A database
// with neither layout is refused with an error wrapping ErrNoMetastore that
// names the database and the tables looked for, unless Config.CreateSchema
// asks Open to create the tables of one layout (for a restore into a fresh
// database). Config.Schema makes Open refuse a database holding the other
// layout.
//
// # Content
//
// A Resource holds the bytes as Kylin means them:
//
//   - Kylin 5 stores content as the four bytes "GZIP" followed by a zlib
//     stream when kylin.metadata.compress.enabled is on (its
//     CompressionUtils). Content of more than four bytes starting with
//     "GZIP" is inflated on read. A write compresses when the row it
//     replaces is compressed, and a new row when the table's rows are (a
//     sample of them at Open; an empty table counts as compressed, Kylin 5's
//     default); content that itself starts with "GZIP" is always compressed,
//     so that it reads back as written. A walk hands each compressed row's
//     zlib stream on beside its content (metastore.Resource.Zlib), for a
//     backup to store as it is. A write sets META_TABLE_MVCC to the
//     row's current value plus one, or 0 for a new row, never to a value of
//     the snapshot being restored.
//   - Kylin 2.5 to 4.x push content larger than kylin.metadata.jdbc.max-cell-size,
//     and dictionaries, table snapshots and cuboid statistics written as
//     "big resources", out to HDFS, at
//     <kylin.env.hdfs-working-dir>/<identifier>/resources-jdbc<key>, and leave
//     a row whose content is NULL or empty. Such a row (NULL content, or
//     empty content for a key that is not JSON metadata in Kylin's sense:
//     ending in .json or under /execute or /execute_output) is read from
//     Config.HDFSRoot, a local copy of that folder, when one is given; without
//     it, or when the file is missing there, Read returns an error wrapping
//     metastore.ErrContentElsewhere that names the HDFS path, and Walk passes
//     the same error for it. Writing an empty resource under such a key
//     writes the empty row Kylin writes; with an HDFSRoot it also writes the
//     empty file there, so that it reads back empty.
//
// # Running Kylin 5 clusters
//
// Kylin 5 nodes replay an audit log, IDENTIFIER_audit_log (5.0 beta) or
// IDENTIFIER_audit_log_v2 (5.0 GA and later), to follow each other's
// writes. When the database has one, every transaction writes, before it
// commits, the rows the nodes replay for what it changed (audit.go). Kylin
// 5.0 beta also has a maintenance mode, kept in its epoch table
// IDENTIFIER_epoch: EnterMaintenance takes it as Kylin's MaintainModeTool
// does and Maintenance.Release gives it back; a lease renewed while the
// process lives and a guardian process (RunGuardian) give it back when the
// process is killed (epoch.go, guardian.go).
//
// # Transactions and views
//
// Store is metastore.Transactional: Begin starts one database transaction,
// on one connection, that commits entirely or not at all; a transaction
// whose context is canceled, whose connection dies or whose process is
// killed leaves the database as it was. Plain Write and Delete each run in
// their own short transaction.
//
// A transaction sends its writes in batches (up to 1,000 rows or 8 MiB;
// in MySQL at most half of max_allowed_packet), one batch while the next one
// fills, at the speed of the databases' bulk loads. A batch first asks
// which of its keys have a row. New rows then go in bulk: PostgreSQL's COPY
// ... FROM STDIN in binary format, streamed from the batch; in MySQL one
// plain multi-row INSERT, which a key the column's collation takes for
// another one fails (ErrKeyCollision) instead of overwriting. Rows that
// replace others are upserts: in PostgreSQL COPY into a temporary table
// (dropped at the commit) and one INSERT ... SELECT ... ON CONFLICT DO
// UPDATE; in MySQL INSERT ... ON DUPLICATE KEY UPDATE, then a check that no
// other key's row was overwritten. In the Kylin 5 layout, content is
// compressed on several goroutines while its batch fills.
//
// Store is a metastore.Viewer: View opens a read-only REPEATABLE READ
// transaction on one connection (MySQL: START TRANSACTION WITH CONSISTENT
// SNAPSHOT, READ ONLY), so that everything read through it comes from one
// point in time, whatever Kylin writes meanwhile. A View is safe for
// concurrent use; its calls take turns on the single connection.
//
// A walk of the Kylin 5 layout inflates content on several goroutines
// while the rows are read, and calls its function in key order on the
// caller's goroutine. WalkChanges (metastore.ChangeWalker) gives each
// Kylin 5 row the SHA-256 of its stored bytes first, and does not inflate
// the rows its caller knows by it: a backup with a change cache. In tables
// whose key collation compares bytes
// (PostgreSQL's "C", MySQL collations of code points without padding:
// those Open creates), listings and walks read the primary key's index in
// order rather than have the server sort the table, content and all,
// before the first row; in a View of the Kylin 2.5-4.x layout, when every
// row is in the table Kylin keeps its key in, they read each table's key
// ranges one after the other.
//
// Listings and walks are in byte order of key (ORDER BY ... COLLATE "C" in
// PostgreSQL, by the binary value of the key in MySQL), and prefixes are
// matched byte for byte: "_" and "%" are no wildcards, and a key column
// whose MySQL collation ignores case still tells /Cube from /cube. A write
// that such a collation would merge with another key fails with an error
// wrapping ErrKeyCollision instead of overwriting the other resource.
//
// # Errors and passwords
//
// Database errors are translated at this package's boundary into errors
// wrapping ErrUnreachable (the server is down or cannot be reached), ErrAuth
// (wrong user name or password), ErrNoDatabase, ErrNoMetastore (tables or
// columns missing), ErrPacketTooLarge (MySQL's max_allowed_packet, naming the
// resource and its size, checked before anything is sent), ErrKeyTooLong (a
// key wider than META_TABLE_KEY), ErrKeyCollision or ErrDatabase (anything
// else), with the server's message; a context's error stays detectable with
// errors.Is. The password is never part of an error, of Describe's result or of
// anything the package logs: Describe masks it as ***. Kylin's encrypted
// passwords are accepted (passwordEncrypted=true and Kylin 5's
// password=ENC('...')); see DecryptPassword.
package jdbc
