package jdbc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Kylin 5.0 GA and later keep their metadata in one table per metadata type
// (KYLIN-5945, "Metadata refactor", August 2024): IDENTIFIER_project,
// IDENTIFIER_model, IDENTIFIER_dataflow, ... Each row is one resource: its
// meta_key (the name within its type), uuid, mvcc, ts and content (the JSON,
// compressed as Kylin 5 compresses), plus columns Kylin copies out of the
// JSON so that it can query them (project, alias, model_uuid, ...).
//
// This package shows such a metastore as resources keyed the way Kylin's own
// backups of it name their files (FileSystemMetadataStore.save, through
// RawResource.generateFilePath): "/TYPE/META_KEY.json", such as
// "/MODEL/7c67c5b0-....json" or "/TABLE_INFO/ssb.SSB.CUSTOMER.json". TYPE is
// the MetadataType enum's name, upper case, and the table is IDENTIFIER_ and
// the type in lower case (BasicSqlTable's constructor). Kylin forbids "/" in
// a meta_key (MetadataType.mergeKeyWithType).

// typedType is one metadata type of the per-type layout.
type typedType struct {
	// name is the MetadataType name: "MODEL".
	name string
	// cols are the columns Kylin fills from the JSON content, beyond the
	// common ones (id, meta_key, uuid, mvcc, ts, content, reserved_filed_*):
	// the RawResource subclass's @JsonProperty fields as its mapper
	// (metadata/mapper/*Mapper.updateAllColumns) writes them.
	cols []typedCol
	// modelFields are the JSON fields whose value is the resource's model
	// uuid (RawResource.getModelUuid and its overrides), first found wins;
	// the audit log's model_uuid column.
	modelFields []string
}

// typedCol is a column Kylin copies out of the JSON content.
type typedCol struct {
	column string // the column, lower case
	// field is the top-level JSON field; "a|b" takes b when a is missing.
	field string
}

// table returns the name of t's table for identifier id.
func (t *typedType) table(id string) string { return id + "_" + strings.ToLower(t.name) }

// project is the project column, filled from the JSON "project" field
// (RawResource subclasses with a project property; BasicMapper writes it to
// every table that has the column).
var project = typedCol{"project", "project"}

// typedTypes are the types of the per-type layout, in the order of Kylin's
// MetadataType enum (core-common, org.apache.kylin.common.persistence),
// without ALL (no table) and TMP_REC (only in backups, never in a
// database: MetadataMapperFactory skips it). The columns are those of
// Kylin 5.0.0 and 5.0.2 (metadata-jdbc-{mysql,postgresql}.properties,
// create.metadata.store.table): where they differ (table_info's
// table_identity in 5.0.0, db_name in 5.0.2), both are listed, and only
// the columns a database has are written.
var typedTypes = []*typedType{
	// A project's, a system resource's, a user's and a user group's name
	// is its meta_key (RootPersistentEntity.setResourceName, which Kylin
	// calls when it loads one): "@meta_key" stands for it where the JSON
	// lacks the field.
	{name: "PROJECT", cols: []typedCol{{"name", "name|@meta_key"}}},
	{name: "ACL", cols: []typedCol{project}},
	{name: "COMPUTE_COLUMN", cols: []typedCol{project, {"column_name", "columnName"}, {"table_identity", "tableIdentity"},
		{"table_alias", "tableAlias"}, {"expression", "expression"}, {"expression_md5", "expressionMD5"},
		{"inner_expression", "innerExpression"}, {"datatype", "datatype"}, {"reference_count", "referenceCount"},
		{"cc_comment", "comment"}}},
	{name: "DATAFLOW", cols: []typedCol{project}, modelFields: []string{"uuid"}},
	{name: "HISTORY_SOURCE_USAGE", cols: []typedCol{{"create_time", "create_time"}}},
	{name: "INDEX_PLAN", cols: []typedCol{project}, modelFields: []string{"uuid"}},
	{name: "JOB_STATS", cols: []typedCol{project, {"time_of_day", "date"}}},
	{name: "LAYOUT", cols: []typedCol{project, {"dataflow_id", "dataflow"}}, modelFields: []string{"dataflow"}},
	{name: "LAYOUT_DETAILS", cols: []typedCol{project, {"dataflow_id", "dataflow"}, {"layout_id", "layout"}}, modelFields: []string{"dataflow"}},
	{name: "MODEL", cols: []typedCol{project, {"alias", "alias"}}, modelFields: []string{"uuid"}},
	{name: "OBJECT_ACL"},
	{name: "RESOURCE_GROUP"},
	{name: "SEGMENT", cols: []typedCol{project, {"model_uuid", "model_uuid"}}, modelFields: []string{"model_uuid"}},
	{name: "INTERNAL_TABLE", cols: []typedCol{project, {"name", "name"}, {"db_name", "database"}, {"table_identity", "table_identity"}}},
	{name: "TABLE_INFO", cols: []typedCol{project, {"name", "name"}, {"db_name", "database"}, {"table_identity", "table_identity"}}},
	{name: "TABLE_EXD", cols: []typedCol{project, {"table_name", "table_name"}}},
	{name: "USER_GLOBAL_ACL", cols: []typedCol{{"username", "username"}}},
	{name: "USER_GROUP", cols: []typedCol{{"group_name", "group_name|@meta_key"}}},
	{name: "USER_INFO", cols: []typedCol{{"username", "username|@meta_key"}}},
	{name: "SQL_BLACKLIST", cols: []typedCol{project}},
	{name: "JAR_INFO", cols: []typedCol{project, {"jar_type", "jar_type"}, {"jar_name", "jar_name"}}},
	{name: "DATA_PARSER", cols: []typedCol{project, {"jar_name", "jar_name"}, {"class_name", "class_name"}}},
	// FusionModelRawResource: model_uuid in 5.0.0, getModelUuid() = uuid
	// in 5.0.2.
	{name: "FUSION_MODEL", cols: []typedCol{project, {"model_uuid", "model_uuid|uuid"}}, modelFields: []string{"model_uuid", "uuid"}},
	{name: "KAFKA_CONFIG", cols: []typedCol{project, {"db", "database"}, {"name", "name"}}},
	// LogicalViewRawResource maps the project column to "created_project".
	{name: "LOGICAL_VIEW", cols: []typedCol{{"project", "created_project"}}},
	{name: "STREAMING_JOB", cols: []typedCol{project, {"model_uuid", "model_id"}}, modelFields: []string{"model_id"}},
	{name: "QUERY_RECORD", cols: []typedCol{project}},
	{name: "SYSTEM", cols: []typedCol{{"name", "name|@meta_key"}}},
	{name: "CC_MODEL_RELATION", cols: []typedCol{project, {"cc_uuid", "cc_uuid"}, {"model_uuid", "model_uuid"}}, modelFields: []string{"model_uuid"}},
	{name: "TABLE_MODEL_RELATION", cols: []typedCol{project, {"table_identity", "table_identity"}, {"model_uuid", "model_uuid"}}, modelFields: []string{"model_uuid"}},
}

// typedByName finds a type by its MetadataType name.
func typedByName(name string) *typedType {
	for _, t := range typedTypes {
		if t.name == name {
			return t
		}
	}
	return nil
}

// Common columns of every per-type table (BasicSqlTable).
const (
	tcID      = "id"
	tcMetaKey = "meta_key"
	tcUUID    = "uuid"
	tcMVCC    = "mvcc"
	tcTS      = "ts"
	tcContent = "content"
)

// typedKey is the resource key of meta_key mk of type t: "/MODEL/mk.json".
func typedKey(t *typedType, mk string) string { return "/" + t.name + "/" + mk + ".json" }

// parseTypedKey splits a resource key of the per-type layout into its type
// and meta_key. ok is false for a key that is not "/TYPE/META_KEY.json" with
// a known TYPE and a non-empty META_KEY without "/".
func parseTypedKey(key string) (t *typedType, mk string, ok bool) {
	rest, found := strings.CutPrefix(key, "/")
	if !found {
		return nil, "", false
	}
	name, file, found := strings.Cut(rest, "/")
	if !found || strings.Contains(file, "/") {
		return nil, "", false
	}
	mk, found = strings.CutSuffix(file, ".json")
	if !found || mk == "" {
		return nil, "", false
	}
	if t = typedByName(name); t == nil {
		return nil, "", false
	}
	return t, mk, true
}

// jsonFields are the top-level fields of a JSON object, raw.
type jsonFields map[string]json.RawMessage

// parseFields reads the top-level fields of data, a JSON object.
func parseFields(data []byte) (jsonFields, error) {
	var f jsonFields
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, err
	}
	if f == nil {
		return nil, fmt.Errorf("the content is JSON null, not an object")
	}
	return f, nil
}

// value returns field name (or the first present of "a|b") as a column
// value: a string as itself, a number
// or boolean as its text (Jackson writes a long into a VARCHAR column as its
// digits: layout_details.layout_id), and nil for a missing field or null.
// An object or array is an error: no column Kylin fills holds one.
func (f jsonFields) value(name string) (any, error) {
	if a, b, ok := strings.Cut(name, "|"); ok {
		if v, err := f.value(a); err != nil || v != nil {
			return v, err
		}
		return f.value(b)
	}
	raw, ok := f[name]
	if !ok {
		return nil, nil
	}
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) == 0 || string(raw) == "null":
		return nil, nil
	case raw[0] == '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		return s, nil
	case raw[0] == '{' || raw[0] == '[':
		return nil, fmt.Errorf("field %q is a JSON %s, not a value", name, map[byte]string{'{': "object", '[': "array"}[raw[0]])
	case string(raw) == "true" || string(raw) == "false":
		return string(raw), nil
	}
	if _, err := strconv.ParseFloat(string(raw), 64); err != nil {
		return nil, fmt.Errorf("field %q: %v", name, err)
	}
	return string(raw), nil
}

// str returns field name as a string ("" when missing, null or not a
// value).
func (f jsonFields) str(name string) string {
	v, err := f.value(name)
	if err != nil || v == nil {
		return ""
	}
	return v.(string)
}
