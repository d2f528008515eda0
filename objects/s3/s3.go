// Package s3 stores files in an S3-compatible bucket under a prefix
// (s3://BUCKET/PREFIX), with minio-go: whole-file uploads and downloads,
// listing, and the conditional writes (If-None-Match: * to create,
// If-Match: ETAG to replace) that let several writers update one small file
// without losing each other's changes.
//
// It knows nothing of git; the caller decides what the files hold. Settings
// come from the standard AWS environment and files:
//
//   - credentials: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
//     AWS_SESSION_TOKEN, else the profile AWS_PROFILE (or "default") of
//     ~/.aws/credentials and ~/.aws/config (AWS_SHARED_CREDENTIALS_FILE,
//     AWS_CONFIG_FILE name other files);
//   - endpoint: AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL (for any
//     S3-compatible server, e.g. http://127.0.0.1:7070), else the profile's
//     endpoint_url, else Amazon S3;
//   - region: AWS_REGION or AWS_DEFAULT_REGION, else the profile's region.
//
// minio-go rather than the AWS SDK v2: one module (the SDK takes a dozen:
// config, credentials, s3, smithy, ...), S3-compatible servers are its first
// use, it sets If-Match and If-None-Match on PutObject, and it reads the
// same AWS environment and files. Instance roles (EC2 metadata) are not
// consulted, so a machine without credentials fails at once instead of
// waiting for a metadata service.
package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/kylin-tools/metastore/objects/internal/iocount"
	"github.com/kylin-tools/metastore/objects/internal/scrub"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"gopkg.in/ini.v1"
)

// Errors of this package, wrapped with details; check them with errors.Is.
var (
	// ErrNotExist means a file does not exist.
	ErrNotExist = errors.New("no such file in the bucket")
	// ErrChanged means a conditional write found the file changed (or, for
	// a creation, already there).
	ErrChanged = errors.New("file changed concurrently")
	// ErrNoBucket means the bucket does not exist.
	ErrNoBucket = errors.New("bucket does not exist")
	// ErrAuth means the server refused the credentials.
	ErrAuth = errors.New("access denied")
	// ErrURL means a URL is not an s3:// URL this package can use.
	ErrURL = errors.New("not a usable s3 URL")
)

// DefaultTimeout bounds connecting and any silence of the server unless
// Options say otherwise.
const DefaultTimeout = 2 * time.Minute

// Options configure a Store.
type Options struct {
	// Getenv reads the environment; os.Getenv if nil.
	Getenv func(string) string
	// Timeout bounds connecting and any silence of the server in the
	// middle of a request; DefaultTimeout if zero.
	Timeout time.Duration
}

// Store is a bucket and a prefix in it.
type Store struct {
	c       *minio.Client
	bucket  string
	prefix  string // "" or ending in "/"
	display string
	secrets []string
}

// IsURL reports whether raw is an s3:// URL.
func IsURL(raw string) bool { return strings.HasPrefix(strings.ToLower(raw), "s3://") }

// ParseURL splits s3://BUCKET/PREFIX. User information (credentials) in
// the URL is refused: they belong in the environment.
func ParseURL(raw string) (bucket, prefix string, err error) {
	u, err := url.Parse(raw)
	if err != nil || !strings.EqualFold(u.Scheme, "s3") {
		return "", "", fmt.Errorf("%w: %q (want s3://BUCKET/PREFIX)", ErrURL, redact(raw))
	}
	if u.User != nil {
		return "", "", fmt.Errorf("%w: %s: credentials do not go in the URL (use AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE)", ErrURL, redact(raw))
	}
	if u.Host == "" {
		return "", "", fmt.Errorf("%w: %q names no bucket (want s3://BUCKET/PREFIX)", ErrURL, raw)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", "", fmt.Errorf("%w: %q: no query or fragment allowed", ErrURL, raw)
	}
	p := strings.Trim(path.Clean("/"+u.Path), "/")
	if p != "" {
		p += "/"
	}
	return u.Host, p, nil
}

func redact(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.User != nil {
		u.User = nil
		return u.String()
	}
	return raw
}

// Open connects to the bucket of the s3:// URL raw and checks that it
// exists. It fails with ErrNoBucket, ErrAuth, or a network error.
func Open(ctx context.Context, raw string, opt Options) (*Store, error) {
	if opt.Getenv == nil {
		opt.Getenv = os.Getenv
	}
	if opt.Timeout <= 0 {
		opt.Timeout = DefaultTimeout
	}
	bucket, prefix, err := ParseURL(raw)
	if err != nil {
		return nil, err
	}
	getenv := opt.Getenv
	profile := getenv("AWS_PROFILE")
	cfg := profileConfig(getenv, profile)
	endpoint := firstOf(getenv("AWS_ENDPOINT_URL_S3"), getenv("AWS_ENDPOINT_URL"), cfg["endpoint_url"], "https://s3.amazonaws.com")
	eu, err := url.Parse(endpoint)
	if err != nil || eu.Host == "" || (eu.Scheme != "http" && eu.Scheme != "https") {
		return nil, fmt.Errorf("%w: endpoint %q (AWS_ENDPOINT_URL) is not an http(s) URL", ErrURL, endpoint)
	}
	region := firstOf(getenv("AWS_REGION"), getenv("AWS_DEFAULT_REGION"), cfg["region"])
	if region == "" && !strings.HasSuffix(eu.Hostname(), "amazonaws.com") {
		region = "us-east-1"
	}
	s := &Store{bucket: bucket, prefix: prefix, display: "s3://" + bucket + "/" + prefix}
	var creds *credentials.Credentials
	if id, secret := getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY"); id != "" || secret != "" {
		creds = credentials.NewStaticV4(id, secret, getenv("AWS_SESSION_TOKEN"))
		s.secrets = append(s.secrets, secret, getenv("AWS_SESSION_TOKEN"))
	} else {
		creds = credentials.New(&credentials.FileAWSCredentials{Profile: profile})
		if v, err := creds.GetWithContext(nil); err == nil {
			s.secrets = append(s.secrets, v.SecretAccessKey, v.SessionToken)
		}
	}
	c, err := minio.New(eu.Host, &minio.Options{
		Creds:      creds,
		Secure:     eu.Scheme == "https",
		Region:     region,
		Transport:  newTransport(opt.Timeout),
		MaxRetries: 3,
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.display, err)
	}
	s.c = c
	ok, err := c.BucketExists(ctx, bucket)
	if err != nil {
		return nil, s.fail("open bucket", err)
	}
	if !ok {
		return nil, fmt.Errorf("%s: %w (create it first)", s.display, ErrNoBucket)
	}
	return s, nil
}

// String returns the store's URL.
func (s *Store) String() string { return s.display }

func (s *Store) key(name string) string { return s.prefix + name }

// Get reads a small file whole and returns it with its ETag.
func (s *Store) Get(ctx context.Context, name string) ([]byte, string, error) {
	for attempt := 0; ; attempt++ {
		data, etag, err := s.get(ctx, name)
		// The file replaced while it was read (the client reads a second
		// part with If-Match): read it again.
		if err != nil && minio.ToErrorResponse(err).StatusCode == http.StatusPreconditionFailed && attempt < 5 {
			continue
		}
		if err != nil {
			return nil, "", s.fail("read "+name, err)
		}
		return data, etag, nil
	}
}

func (s *Store) get(ctx context.Context, name string) ([]byte, string, error) {
	o, err := s.c.GetObject(ctx, s.bucket, s.key(name), minio.GetObjectOptions{})
	if err != nil {
		return nil, "", err
	}
	defer o.Close()
	// Read first: the object's information then comes from the same
	// response, so the ETag is the one of these bytes.
	data, err := io.ReadAll(o)
	if err != nil {
		return nil, "", err
	}
	st, err := o.Stat()
	if err != nil {
		return nil, "", err
	}
	return data, st.ETag, nil
}

// Download copies a file to w; progress, if not nil, gets the bytes copied
// so far.
func (s *Store) Download(ctx context.Context, name string, w io.Writer, progress func(int64)) (int64, error) {
	o, err := s.c.GetObject(ctx, s.bucket, s.key(name), minio.GetObjectOptions{})
	if err != nil {
		return 0, s.fail("download "+name, err)
	}
	defer o.Close()
	var r io.Reader = o
	if progress != nil {
		r = &iocount.Reader{R: o, Progress: progress}
	}
	n, err := io.CopyBuffer(w, r, make([]byte, 1<<20))
	if err != nil {
		return n, s.fail("download "+name, err)
	}
	return n, nil
}

// Upload stores size bytes from r as the file name, replacing any file of
// that name. A file is visible whole or not at all.
func (s *Store) Upload(ctx context.Context, name string, r io.Reader, size int64, progress func(int64)) error {
	if progress != nil {
		r = &iocount.Reader{R: r, Progress: progress}
	}
	_, err := s.c.PutObject(ctx, s.bucket, s.key(name), r, size, minio.PutObjectOptions{
		ContentType: "application/octet-stream",
		PartSize:    64 << 20,
	})
	if err != nil {
		return s.fail("upload "+name, err)
	}
	return nil
}

// PutIf writes data as the file name if the file still has the ETag etag,
// or, with etag "", if there is no such file yet (If-Match / If-None-Match:
// *). It returns the new ETag, or fails with ErrChanged.
func (s *Store) PutIf(ctx context.Context, name string, data []byte, etag string) (string, error) {
	opts := minio.PutObjectOptions{ContentType: "application/json", DisableMultipart: true}
	if etag == "" {
		opts.SetMatchETagExcept("*")
	} else {
		opts.SetMatchETag(strings.Trim(etag, `"`))
	}
	info, err := s.c.PutObject(ctx, s.bucket, s.key(name), bytes.NewReader(data), int64(len(data)), opts)
	if err != nil {
		resp := minio.ToErrorResponse(err)
		if resp.StatusCode == http.StatusPreconditionFailed || resp.StatusCode == http.StatusConflict ||
			resp.Code == "PreconditionFailed" || resp.Code == "ConditionalRequestConflict" {
			return "", fmt.Errorf("%s%s: %w", s.display, name, ErrChanged)
		}
		return "", s.fail("write "+name, err)
	}
	return info.ETag, nil
}

// Stat returns a file's size.
func (s *Store) Stat(ctx context.Context, name string) (int64, error) {
	st, err := s.c.StatObject(ctx, s.bucket, s.key(name), minio.StatObjectOptions{})
	if err != nil {
		return 0, s.fail("look up "+name, err)
	}
	return st.Size, nil
}

// List returns the names of the files under dir ("packs/"), relative to
// the store's prefix, sorted.
func (s *Store) List(ctx context.Context, dir string) ([]string, error) {
	var out []string
	for o := range s.c.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.key(dir), Recursive: true}) {
		if o.Err != nil {
			return nil, s.fail("list "+dir, o.Err)
		}
		out = append(out, strings.TrimPrefix(o.Key, s.prefix))
	}
	return out, nil
}

// Remove deletes a file (used for temporary files only).
func (s *Store) Remove(ctx context.Context, name string) error {
	if err := s.c.RemoveObject(ctx, s.bucket, s.key(name), minio.RemoveObjectOptions{}); err != nil {
		return s.fail("remove "+name, err)
	}
	return nil
}

// fail translates a minio-go error, without any secret in it.
func (s *Store) fail(what string, err error) error {
	resp := minio.ToErrorResponse(err)
	var out error
	switch {
	case resp.Code == "NoSuchKey" || (resp.StatusCode == http.StatusNotFound && resp.Code != "NoSuchBucket"):
		out = fmt.Errorf("%s: %s: %w", s.display, what, ErrNotExist)
	case resp.Code == "NoSuchBucket":
		out = fmt.Errorf("%s: %w (create it first)", s.display, ErrNoBucket)
	case resp.Code == "AccessDenied" || resp.Code == "InvalidAccessKeyId" || resp.Code == "SignatureDoesNotMatch" ||
		resp.Code == "ExpiredToken" || resp.Code == "InvalidToken" || resp.StatusCode == http.StatusForbidden:
		out = fmt.Errorf("%s: %s: %w (%s): check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or the profile AWS_PROFILE", s.display, what, ErrAuth, resp.Code)
	default:
		out = fmt.Errorf("%s: %s: %w", s.display, what, err)
	}
	return scrub.Secrets(out, s.secrets)
}

func firstOf(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// profileConfig reads the AWS config file's settings for a profile
// ("default" if empty): region, endpoint_url.
func profileConfig(getenv func(string) string, profile string) map[string]string {
	file := getenv("AWS_CONFIG_FILE")
	if file == "" {
		home := getenv("HOME")
		if home == "" {
			home, _ = os.UserHomeDir()
		}
		if home == "" {
			return nil
		}
		file = filepath.Join(home, ".aws", "config")
	}
	f, err := ini.Load(file)
	if err != nil {
		return nil
	}
	names := []string{"profile " + profile}
	if profile == "" || profile == "default" {
		names = []string{"default", "profile default"}
	}
	for _, n := range names {
		if sec, err := f.GetSection(n); err == nil {
			out := map[string]string{}
			for _, k := range []string{"region", "endpoint_url"} {
				if sec.HasKey(k) {
					out[k] = sec.Key(k).String()
				}
			}
			return out
		}
	}
	return nil
}

// newTransport bounds connecting and any silence of the server: every read
// and write on a connection must progress within timeout.
func newTransport(timeout time.Duration) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	d := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
	t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &stallConn{Conn: c, timeout: timeout}, nil
	}
	t.TLSHandshakeTimeout = timeout
	t.ResponseHeaderTimeout = timeout
	return t
}

// stallConn fails a read or write that makes no progress for timeout.
type stallConn struct {
	net.Conn
	timeout time.Duration
}

func (c *stallConn) Read(p []byte) (int, error) {
	c.Conn.SetReadDeadline(time.Now().Add(c.timeout))
	return c.Conn.Read(p)
}

// Write extends the read deadline too: while a request body is sent, the
// transport is already waiting to read the response.
func (c *stallConn) Write(p []byte) (int, error) {
	c.Conn.SetDeadline(time.Now().Add(c.timeout))
	return c.Conn.Write(p)
}
