package scope

import (
	"path"
	"regexp"
	"strings"
	"time"
)

// Kylin's own backups, which a snapshot can be imported from (the rules
// below come from Kylin's sources, named at each):
//
//   - Kylin 2.x-4.x: metastore.sh backup (ResourceTool download) writes a
//     folder meta_YYYY_MM_DD_HH_MM_SS holding the resources at their keys,
//     each file's mtime its timestamp.
//   - Kylin 5.0 beta: metastore.sh backup (MetadataTool -backup,
//     MetadataToolHelper.doBackup) writes a folder
//     YYYY-MM-DD-HH-mm-ss_backup (HelperConstants.DATE_TIME_FORMATTER)
//     holding "UUID", "_image" (JSON {"offset":N}, the audit log id the
//     backup is consistent with: ImageDesc), "_global/..." and one folder
//     per project, each file's mtime its timestamp (FileMetadataStore);
//     "_global/trash_record" is deleted from it. On an HDFS-like working
//     directory the same resources go into one "metadata.zip" in that
//     folder instead (HDFSMetadataStore, zip=1), each entry named by its
//     key with the leading slash, its time the timestamp.
//   - Kylin 5.0 GA and later (KYLIN-5945): the folder holds "core_meta/"
//     (Constants.CORE_META_DIR), and in it the per-type layout,
//     "SYSTEM/_image.json", "SYSTEM/UUID.json", "MODEL/UUID.json", ...
//     (FileSystemMetadataStore.save), plus "kylin.properties", Kylin's whole
//     configuration (dumpKylinConfigToFile), or a "metadata.zip" of the
//     same keys without the leading slash.
//   - Kylin 5 model export (the UI's Export Model: NMetaStoreController,
//     MetaStoreService.getCompressedModelMetadata): a zip named
//     PROJECT_model_metadata_YYYY_MM_DD_HH_mm_ss_MD5.zip, MD5 the hex MD5 of
//     the zip itself, holding "/P/model_desc/ID.json", "/P/index_plan/ID.json"
//     and the tables the models use ("/P/table/DB.T.json"), optionally their
//     recommendations "/P/rec/ID.json", and "/VERSION" (the exporting Kylin's
//     version, "unknown" without one) and "/UUID"; the entries carry the
//     export's time. It holds only models: never the whole system.

// backupMetadata are the keys of Kylin backups that are the backup's own
// metadata, not resources of the metastore, and why.
var backupMetadata = map[string]string{
	"/_image":              "the audit log id the backup is consistent with (Kylin 5's ImageDesc), not a resource",
	"/SYSTEM/_image.json":  "the audit log id the backup is consistent with (Kylin 5's ImageDesc), not a resource",
	"/VERSION":             "the version of the Kylin that exported the models (MetaStoreService), not a resource",
	"/SYSTEM/VERSION.json": "the version of the Kylin that exported the models (MetaStoreService), not a resource",
	"/kylin.properties":    "Kylin's configuration, dumped beside a Kylin 5 backup (FileSystemMetadataStore.dumpKylinConfigToFile): not a resource, and it may hold passwords",
}

// BackupMetadata reports whether key, in a Kylin backup folder or zip, is
// the backup's own metadata rather than a resource of the metastore, and
// says what it is. ".DS_Store" files (macOS Finder's, which Kylin's
// MetadataChecker ignores) are such keys too.
func BackupMetadata(key string) (string, bool) {
	if why, ok := backupMetadata[key]; ok {
		return why, true
	}
	if path.Base(key) == ".DS_Store" {
		return "a macOS Finder file (Kylin's MetadataChecker ignores it), not a resource", true
	}
	return "", false
}

// BackupKind is the format of a Kylin backup folder or zip.
type BackupKind string

// The formats of Kylin backups (see the comment above).
const (
	BackupUnknown     BackupKind = ""
	BackupFolder4     BackupKind = "kylin4-backup"       // meta_YYYY_MM_DD_HH_MM_SS/
	BackupFolder5     BackupKind = "kylin5-backup"       // YYYY-MM-DD-HH-mm-ss_backup/
	BackupZip5        BackupKind = "kylin5-backup-zip"   // .../metadata.zip
	BackupModelExport BackupKind = "kylin5-model-export" // P_model_metadata_..._MD5.zip
)

var (
	folder4RE     = regexp.MustCompile(`^meta_(\d{4}_\d{2}_\d{2}_\d{2}_\d{2}_\d{2})$`)
	folder5RE     = regexp.MustCompile(`^(\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2})_backup$`)
	modelExportRE = regexp.MustCompile(`^(.*)_model_metadata_(\d{4}_\d{2}_\d{2}_\d{2}_\d{2}_\d{2})_([0-9A-Fa-f]{32})\.zip$`)
)

// ModelExport reads a Kylin 5 model export's file name:
// PROJECT_model_metadata_YYYY_MM_DD_HH_mm_ss_MD5.zip (NMetaStoreController,
// the project lower-cased). ok is false for any other name.
func ModelExport(name string) (project, md5 string, ok bool) {
	m := modelExportRE.FindStringSubmatch(name)
	if m == nil {
		return "", "", false
	}
	return m[1], strings.ToUpper(m[3]), true
}

// BackupKindOf returns the format a backup's path names: the folder names
// and file names of the comment above. A metadata.zip, or a core_meta
// folder, is named by its parent.
func BackupKindOf(p string) BackupKind {
	base := path.Base(p)
	switch {
	case folder4RE.MatchString(base):
		return BackupFolder4
	case folder5RE.MatchString(base):
		return BackupFolder5
	case modelExportRE.MatchString(base):
		return BackupModelExport
	case base == "metadata.zip":
		return BackupZip5
	}
	return BackupUnknown
}

// BackupTime returns the wall-clock time in a backup's name (the Kylin
// host's, in a zone nobody recorded) as 2006-01-02T15:04:05: the folder's
// name, the parent folder's for a metadata.zip or a core_meta folder
// (…/YYYY-MM-DD-HH-mm-ss_backup/core_meta/metadata.zip), or a model
// export's name. ok is false when the name holds no time.
func BackupTime(p string) (string, bool) {
	p = strings.TrimSuffix(path.Clean(p), "/")
	for i := 0; i < 3; i++ {
		base := path.Base(p)
		var layout, s string
		if m := folder4RE.FindStringSubmatch(base); m != nil {
			layout, s = "2006_01_02_15_04_05", m[1]
		} else if m := folder5RE.FindStringSubmatch(base); m != nil {
			layout, s = "2006-01-02-15-04-05", m[1]
		} else if m := modelExportRE.FindStringSubmatch(base); m != nil {
			layout, s = "2006_01_02_15_04_05", m[2]
		}
		if layout != "" {
			t, err := time.Parse(layout, s)
			if err != nil {
				return "", false
			}
			return t.Format("2006-01-02T15:04:05"), true
		}
		if base != "metadata.zip" && base != "core_meta" {
			return "", false
		}
		p = path.Dir(p)
	}
	return "", false
}
