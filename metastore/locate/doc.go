// Package locate finds a Kylin metastore the way Kylin does and opens it:
// it reads kylin.metadata.url from kylin.properties ($KYLIN_CONF, else
// $KYLIN_HOME/conf, with kylin.properties.override applied on top), parses
// Kylin's metadata URL syntax (IDENTIFIER@SCHEME,key=value,...) and opens the
// matching backend: a plain path is a folder metastore (Kylin's
// FileResourceStore).
package locate
