package scope

import "testing"

func TestBackupNames(t *testing.T) {
	for _, c := range []struct {
		path string
		kind BackupKind
		time string
	}{
		{"/b/meta_2024_05_06_07_08_09", BackupFolder4, "2024-05-06T07:08:09"},
		{"/kylin/meta_backups/2024-03-01-10-20-30_backup", BackupFolder5, "2024-03-01T10:20:30"},
		{"/kylin/_backup/2024-03-02-00-00-00_backup/metadata.zip", BackupZip5, "2024-03-02T00:00:00"},
		{"/kylin/_backup/2025-03-01-00-00-00_backup/core_meta", BackupUnknown, "2025-03-01T00:00:00"},
		{"/kylin/_backup/2025-03-01-00-00-00_backup/core_meta/metadata.zip", BackupZip5, "2025-03-01T00:00:00"},
		{"gc_test_model_metadata_2024_03_01_10_20_30_2E9F250330AB55F72847B74912729553.zip", BackupModelExport, "2024-03-01T10:20:30"},
		{"/x/metadata.zip", BackupZip5, ""},
		{"/x/2024-13-01-10-20-30_backup", BackupFolder5, ""}, // no 13th month
		{"/x/backup", BackupUnknown, ""},
		{"/x/model_metadata.zip", BackupUnknown, ""},
	} {
		if got := BackupKindOf(c.path); got != c.kind {
			t.Errorf("BackupKindOf(%s) = %q, want %q", c.path, got, c.kind)
		}
		got, ok := BackupTime(c.path)
		if got != c.time || ok != (c.time != "") {
			t.Errorf("BackupTime(%s) = %q, %v; want %q", c.path, got, ok, c.time)
		}
	}
	p, md5, ok := ModelExport("my_proj_model_metadata_2024_03_01_10_20_30_2e9f250330ab55f72847b74912729553.zip")
	if !ok || p != "my_proj" || md5 != "2E9F250330AB55F72847B74912729553" {
		t.Errorf("ModelExport = %q, %q, %v", p, md5, ok)
	}
}

func TestBackupMetadata(t *testing.T) {
	for key, want := range map[string]bool{
		"/_image": true, "/SYSTEM/_image.json": true, "/VERSION": true, "/kylin.properties": true, "/gc_test/.DS_Store": true,
		"/UUID": false, "/SYSTEM/UUID.json": false, "/_global/project/p.json": false, "/p/_image": false, "/p/kylin.properties": false,
	} {
		if _, got := BackupMetadata(key); got != want {
			t.Errorf("BackupMetadata(%s) = %v, want %v", key, got, want)
		}
	}
}
