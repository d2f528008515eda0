// Package api holds what the metastore command answers, whoever asks: the
// requests of the verbs that read or write snapshots (backup, log, show, ls,
// diff, history, restore), carried out through package snapshot exactly
// once, and the JSON documents that describe their results.
//
// The command line prints those documents with --json (and renders the same
// results as text); the web console (metastore serve) answers its /api/v1
// requests with the very same documents, and renders its pages from the same
// results. The documents' shape is the one the README documents ("Diff JSON
// schema" and the /api/v1 section).
//
// An Env says where the metastore and the repository are; it is built from
// the command's global flags.
package api
