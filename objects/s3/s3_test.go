package s3

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/kylin-tools/metastore/objects/remotetest"
)

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		in, bucket, prefix, err string
	}{
		{in: "s3://bkt", bucket: "bkt"},
		{in: "s3://bkt/", bucket: "bkt"},
		{in: "s3://bkt/a/b/", bucket: "bkt", prefix: "a/b/"},
		{in: "S3://bkt/a//b", bucket: "bkt", prefix: "a/b/"},
		{in: "s3://key:secret@bkt/x", err: "credentials do not go in the URL"},
		{in: "s3:///x", err: "names no bucket"},
		{in: "http://bkt/x", err: "want s3://"},
	} {
		b, p, err := ParseURL(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: err = %v, want %q", tc.in, err, tc.err)
			}
			if err != nil && strings.Contains(err.Error(), "secret") {
				t.Errorf("%s: the error shows the secret: %v", tc.in, err)
			}
			continue
		}
		if err != nil || b != tc.bucket || p != tc.prefix {
			t.Errorf("%s = %q %q %v, want %q %q", tc.in, b, p, err, tc.bucket, tc.prefix)
		}
	}
}

// TestStoreOnVersityGW runs against a real S3 server: uploads, downloads,
// listing, and the conditional writes the refs index relies on (a second
// creation and a stale replacement are refused), then wrong credentials
// and a missing bucket.
func TestStoreOnVersityGW(t *testing.T) {
	srv := remotetest.StartS3(t)
	srv.Bucket("backups")
	ctx := context.Background()
	st, err := Open(ctx, "s3://backups/kylin/prod", Options{Getenv: srv.Getenv()})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.Get(ctx, "refs.json"); !errors.Is(err, ErrNotExist) {
		t.Fatalf("Get of a missing file: %v, want ErrNotExist", err)
	}
	data := bytes.Repeat([]byte("pack data "), 100000)
	if err := st.Upload(ctx, "packs/p1.pack", bytes.NewReader(data), int64(len(data)), nil); err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if n, err := st.Download(ctx, "packs/p1.pack", &got, nil); err != nil || n != int64(len(data)) || !bytes.Equal(got.Bytes(), data) {
		t.Fatalf("download: n=%d err=%v", n, err)
	}
	if n, err := st.Stat(ctx, "packs/p1.pack"); err != nil || n != int64(len(data)) {
		t.Fatalf("stat: %d %v", n, err)
	}
	// With a progress function, both directions report the bytes moved so
	// far, up to the whole file.
	var up, down int64
	if err := st.Upload(ctx, "progress/p2.pack", bytes.NewReader(data), int64(len(data)), func(n int64) { up = n }); err != nil || up != int64(len(data)) {
		t.Fatalf("upload with progress: last progress %d, want %d (err %v)", up, len(data), err)
	}
	if n, err := st.Download(ctx, "progress/p2.pack", io.Discard, func(n int64) { down = n }); err != nil || n != int64(len(data)) || down != n {
		t.Fatalf("download with progress: n=%d, last progress %d, err=%v; want %d", n, down, err, len(data))
	}
	if err := st.Remove(ctx, "progress/p2.pack"); err != nil {
		t.Fatal(err)
	}
	names, err := st.List(ctx, "packs/")
	if err != nil || len(names) != 1 || names[0] != "packs/p1.pack" {
		t.Fatalf("list = %q, %v", names, err)
	}

	e1, err := st.PutIf(ctx, "refs.json", []byte(`{"v":1}`), "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.PutIf(ctx, "refs.json", []byte(`{"v":"other"}`), ""); !errors.Is(err, ErrChanged) {
		t.Fatalf("second creation: %v, want ErrChanged", err)
	}
	e2, err := st.PutIf(ctx, "refs.json", []byte(`{"v":2}`), e1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.PutIf(ctx, "refs.json", []byte(`{"v":"stale"}`), e1); !errors.Is(err, ErrChanged) {
		t.Fatalf("stale replacement: %v, want ErrChanged", err)
	}
	b, etag, err := st.Get(ctx, "refs.json")
	if err != nil || string(b) != `{"v":2}` || strings.Trim(etag, `"`) != strings.Trim(e2, `"`) {
		t.Fatalf("refs.json = %s (etag %s, want %s), %v", b, etag, e2, err)
	}

	// Wrong credentials: a clear error without the secret.
	_, err = Open(ctx, "s3://backups/kylin", Options{Getenv: srv.Getenv("AWS_SECRET_ACCESS_KEY=wrong-secret-value")})
	if !errors.Is(err, ErrAuth) {
		t.Fatalf("wrong secret: %v, want ErrAuth", err)
	}
	if strings.Contains(err.Error(), "wrong-secret-value") || strings.Contains(err.Error(), srv.Secret) {
		t.Fatalf("error shows a secret: %v", err)
	}
	_, err = Open(ctx, "s3://nonesuch/kylin", Options{Getenv: srv.Getenv()})
	if !errors.Is(err, ErrNoBucket) {
		t.Fatalf("missing bucket: %v, want ErrNoBucket", err)
	}

	// A server that went away: an error within the timeout, not a hang.
	srv.Kill()
	start := time.Now()
	_, _, err = st.Get(ctx, "refs.json")
	if err == nil || time.Since(start) > 20*time.Second {
		t.Fatalf("Get from a dead server: %v after %s", err, time.Since(start))
	}
}
