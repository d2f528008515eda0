package scope

// ModifierFields returns the fields Kylin keeps inside a resource about who
// changed it and when, in order: "owner" and "last_modified" (Kylin),
// "last_modifier", "last_modified_user", "modifier", "creator",
// "create_user" (Kyligence Enterprise), "config_last_modifier" and
// "config_last_modified" (Kylin 5 models). They are top-level fields of a
// JSON resource, and of the header of a dictionary or table snapshot (see
// ReadBinaryHeader).
func ModifierFields() []string {
	return []string{"owner", "last_modified", "last_modifier", "last_modified_user", "modifier",
		"creator", "create_user", "config_last_modifier", "config_last_modified"}
}

// IsTimeField reports whether a modifier field holds a time, in
// milliseconds since the epoch: "last_modified", "config_last_modified".
func IsTimeField(field string) bool {
	return field == "last_modified" || field == "config_last_modified"
}

// SaveFields returns the fields that Kylin and Kyligence rewrite on every
// save of a resource, so that they differ between any two versions without
// a change of meaning: "last_modified" (time of the save), "mvcc" (KE and
// Kylin 5's write counter) and "version" (the metadata format version,
// which every resource takes on after an upgrade). A diff ignores them by
// default.
func SaveFields() []string { return []string{"last_modified", "mvcc", "version"} }

// IdentityKeys returns the keys that name the elements of Kylin's arrays of
// objects, in the order a diff tries them: "name", "id", "uuid", "column",
// "table", "realization", then the pairs "name"+"column", "table"+"column"
// and "name"+"table" (segments and measures have a name, dimensions a name
// and a column, realizations a realization, lookups a table, ...).
func IdentityKeys() [][]string {
	return [][]string{
		{"name"}, {"id"}, {"uuid"}, {"column"}, {"table"}, {"realization"},
		{"name", "column"}, {"table", "column"}, {"name", "table"},
	}
}
