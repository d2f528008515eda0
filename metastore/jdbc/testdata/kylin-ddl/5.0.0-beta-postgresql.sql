-- The tables Apache Kylin 5.0.0-beta creates in a postgresql metastore database, {{ID}} being the
-- identifier before @jdbc in kylin.metadata.url. Generated from Kylin's
-- src/core-common/src/main/resources/metadata-jdbc-postgresql.properties (kylin5 branch 8118afb4 (Kylin 5.0.0-beta))
-- with the arguments Kylin formats them with (JdbcMetadataStore.createIfNotExist,
-- JdbcAuditLogStore.createIfNotExist, JdbcEpochStore.createIfNotExist); one statement
-- per paragraph. Apache License 2.0, see testdata/NOTICE at the repository root.

create table if not exists {{ID}} ( META_TABLE_KEY varchar(255) primary key COLLATE "C", META_TABLE_CONTENT bytea, META_TABLE_TS bigint, META_TABLE_MVCC bigint );

create table if not exists {{ID}}_audit_log ( id bigserial primary key, meta_key varchar(255) COLLATE "C", meta_content bytea, meta_ts bigint, meta_mvcc bigint, unit_id varchar(50), operator varchar(200), instance varchar(100) );

create index if not exists {{ID}}_audit_log_meta_key_meta_mvcc_index on {{ID}}_audit_log (meta_key, meta_mvcc);

create table if not exists {{ID}}_epoch ( epoch_id int null, epoch_target varchar(255), current_epoch_owner varchar(2000) null, last_epoch_renew_time bigint null, server_mode varchar(10) null, maintenance_mode_reason varchar(5000) null, mvcc bigint null, reserved_field_1 VARCHAR(50), reserved_field_2 bytea, reserved_field_3 bytea, primary key(epoch_target) );

