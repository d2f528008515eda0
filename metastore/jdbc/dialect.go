package jdbc

import (
	"strconv"
	"strings"
)

// dialect hides the SQL differences between PostgreSQL and MySQL/MariaDB.
type dialect struct {
	driver Driver
}

func (d dialect) String() string {
	if d.driver == Postgres {
		return "PostgreSQL"
	}
	return "MySQL"
}

// quote quotes an identifier.
func (d dialect) quote(name string) string {
	if d.driver == Postgres {
		return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
	}
	return "`" + strings.ReplaceAll(name, "`", "``") + "`"
}

// args numbers placeholders: $1, $2... for PostgreSQL, ? for MySQL.
type args struct {
	d    dialect
	vals []any
}

// add appends v and returns its placeholder.
func (a *args) add(v any) string {
	a.vals = append(a.vals, v)
	if a.d.driver == Postgres {
		return "$" + strconv.Itoa(len(a.vals))
	}
	return "?"
}

// list appends every value and returns the placeholders separated by
// commas.
func (a *args) list(vs []string) string {
	var b strings.Builder
	for i, v := range vs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(a.add(v))
	}
	return b.String()
}

// bin is col as a value that compares and sorts byte by byte.
func (d dialect) bin(col string) string {
	if d.driver == Postgres {
		return col + ` COLLATE "C"`
	}
	return "CAST(" + col + " AS BINARY)"
}

// length is the length of col in bytes (NULL for NULL).
func (d dialect) length(col string) string {
	if d.driver == Postgres {
		return "octet_length(" + col + ")"
	}
	return "LENGTH(" + col + ")"
}

// isNull is a boolean-valued expression saying col is NULL (PostgreSQL
// boolean, MySQL 0 or 1: both scan into a bool).
func (d dialect) isNull(col string) string {
	return "(" + col + " IS NULL)"
}

// gzipped is a condition that holds when col is Kylin 5 compressed content:
// more than four bytes starting with "GZIP".
func (d dialect) gzipped(col string) string {
	if d.driver == Postgres {
		return "(octet_length(" + col + ") > 4 AND substring(" + col + " from 1 for 4) = '\\x475a4950'::bytea)"
	}
	return "(LENGTH(" + col + ") > 4 AND SUBSTRING(" + col + ", 1, 4) = X'475A4950')"
}

// escapeLike escapes s for a LIKE pattern with '!' as the escape character.
func escapeLike(s string) string {
	r := strings.NewReplacer("!", "!!", "%", "!%", "_", "!_")
	return r.Replace(s)
}

// prefixCond is the condition "col starts with prefix" (nothing for "/"),
// an index-friendly LIKE; callers check the prefix again byte for byte,
// since a MySQL collation may match more.
func (d dialect) prefixCond(a *args, col, prefix string) string {
	if prefix == "/" {
		return "1=1"
	}
	return col + " LIKE " + a.add(escapeLike(prefix)+"%") + " ESCAPE '!'"
}

// keyCond is the condition "col equals key", byte for byte.
func (d dialect) keyCond(a *args, col, key string) string {
	if d.driver == Postgres {
		return col + " = " + a.add(key)
	}
	return col + " = " + a.add(key) + " AND CAST(" + col + " AS BINARY) = " + a.add(key)
}

// keysCond is the condition "col is one of keys", byte for byte.
func (d dialect) keysCond(a *args, col string, keys []string) string {
	if d.driver == Postgres {
		return col + " IN (" + a.list(keys) + ")"
	}
	return col + " IN (" + a.list(keys) + ") AND CAST(" + col + " AS BINARY) IN (" + a.list(keys) + ")"
}

// logPrefixes are the key prefixes Kylin 2.5-4.x keep in IDENTIFIER_log
// (JDBCResourceStore.getMetaTableName: ResourceStore.BAD_QUERY_RESOURCE_ROOT,
// EXECUTE_OUTPUT_RESOURCE_ROOT, TEMP_STATMENT_RESOURCE_ROOT, compared with
// String.startsWith, without a trailing slash).
var logPrefixes = []string{"/bad_query", "/execute_output", "/temp_statement"}

// inLog reports whether Kylin 2.5-4.x keep key in IDENTIFIER_log.
func inLog(key string) bool {
	for _, p := range logPrefixes {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}

// inLogCond is the SQL form of inLog for col.
func (d dialect) inLogCond(col string) string {
	var parts []string
	for _, p := range logPrefixes {
		parts = append(parts, d.bin(col)+" LIKE '"+escapeLike(p)+"%' ESCAPE '!'")
	}
	return "(" + strings.Join(parts, " OR ") + ")"
}

// isJSONMetadata is Kylin 2.5-4.x's JDBCResourceStore.isJsonMetadata: keys
// whose content Kylin never pushes to HDFS.
func isJSONMetadata(key string) bool {
	k := strings.TrimSpace(key)
	return strings.HasSuffix(k, ".json") || strings.HasPrefix(k, "/execute") || strings.HasPrefix(k, "/execute_output")
}
