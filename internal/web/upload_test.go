package web

import (
	"bytes"
	"mime"
	"mime/multipart"
	"net/textproto"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/filehost/host/internal/watch"
)

type part struct {
	field, filename, content string
}

// multipartBody encodes parts in order; filenames go through
// mime.FormatMediaType, so any byte can be sent.
func multipartBody(t testing.TB, parts ...part) (body, contentType string) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for _, p := range parts {
		params := map[string]string{"name": p.field}
		if p.field == "file" {
			params["filename"] = p.filename
		}
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", mime.FormatMediaType("form-data", params))
		pw, err := w.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		pw.Write([]byte(p.content))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.String(), w.FormDataContentType()
}

func (ts *testServer) upload(t testing.TB, headers []string, parts ...part) (int, map[string]any) {
	t.Helper()
	body, ct := multipartBody(t, parts...)
	resp := ts.do(t, "POST", "/api/upload", body, append([]string{"Content-Type", ct, "X-CSRF-Token", ts.csrf}, headers...)...)
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		return resp.StatusCode, nil
	}
	return resp.StatusCode, decode[map[string]any](t, resp)
}

// entries lists a folder, failing the test on error.
func entries(t testing.TB, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func TestUploadNames(t *testing.T) {
	long := strings.Repeat("é", 150) + ".txt" // 304 bytes
	tests := []struct {
		name string
		want string // stored name; "" means refused with 400
	}{
		{"report.txt", "report.txt"},
		{"../../etc/passwd", "passwd"},
		{"/etc/passwd", "passwd"},
		{`..\..\windows\win.ini`, "win.ini"},
		{"a/b/../../../c.txt", "c.txt"},
		{"a\x00b.txt", ""},
		{"", ""},
		{".", ""},
		{"..", ""},
		{"../", ""},
		{"/", ""},
		{"...", ""},
		{" ", ""},
		{".bashrc", "bashrc"},
		{"new\nline\r.txt", "new_line_.txt"},
		{"tab\there.txt", "tab_here.txt"},
		{"\xff\xfe.txt", "_.txt"},
		{"ünïcödé.txt", "ünïcödé.txt"},
		{hostile, hostile},
		{"half.part", ""},
		{"editor.swp", ""},
		{"backup~", ""},
		{long, strings.Repeat("é", 125) + ".txt"}, // 254 bytes: no half rune
	}
	b := newFakeBackend(t)
	ts := newTestServer(t, b, Options{})
	for _, tt := range tests {
		t.Run(strings.ToValidUTF8(tt.name, "?"), func(t *testing.T) {
			code, body := ts.upload(t, nil, part{"file", tt.name, "data"})
			if tt.want == "" {
				if code != 400 {
					t.Fatalf("status %d (%v), want 400", code, body)
				}
				return
			}
			if code != 201 {
				t.Fatalf("status %d (%v), want 201", code, body)
			}
			got := body["files"].([]any)[0].(map[string]any)["name"].(string)
			if got != tt.want {
				t.Fatalf("stored as %q, want %q", got, tt.want)
			}
			if data, err := b.uploaded(got); err != nil || data != "data" {
				t.Fatalf("stored file: %q, %v", data, err)
			}
			if len(got) > maxNameBytes || !utf8.ValidString(got) {
				t.Errorf("name %q: %d bytes", got, len(got))
			}
			if err := os.Remove(filepath.Join(b.UploadDir(), got)); err != nil { // So the next case does not clash.
				t.Fatal(err)
			}
		})
	}
	// Nothing outside the upload folder, no temporary file left.
	if got := entries(t, b.dir); !slices.Equal(got, []string{"failed", "processed", "unprocessed"}) {
		t.Errorf("watch folder holds %v", got)
	}
	for _, name := range entries(t, b.UploadDir()) {
		if strings.HasPrefix(name, ".") {
			t.Errorf("left behind %q", name)
		}
	}
}

func TestSanitizeName(t *testing.T) {
	long := strings.Repeat("x", 300) + ".csv"
	got, err := SanitizeName(long)
	if err != nil || len(got) != 255 || !strings.HasSuffix(got, ".csv") {
		t.Errorf("long name: %q (%d bytes), %v", got, len(got), err)
	}
}

func FuzzSanitizeName(f *testing.F) {
	for _, seed := range []string{"a.txt", "../../etc/passwd", "/abs", "a\x00b", "", ".", "..", `..\x`, "\xff", hostile, strings.Repeat("é", 200)} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		name, err := SanitizeName(raw)
		if err != nil {
			return
		}
		if name == "" || name == "." || name == ".." || strings.HasPrefix(name, ".") ||
			strings.ContainsAny(name, "/\\\x00") || !filepath.IsLocal(name) ||
			len(name) > maxNameBytes || !utf8.ValidString(name) || watch.Ignored(name) {
			t.Fatalf("SanitizeName(%q) = %q", raw, name)
		}
	})
}

func TestUploadClash(t *testing.T) {
	b := newFakeBackend(t)
	ts := newTestServer(t, b, Options{})
	if err := os.WriteFile(filepath.Join(b.UploadDir(), "a.txt"), []byte("first"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, body := ts.upload(t, nil, part{"file", "a.txt", "second"}, part{"file", "a.txt", "third"})
	if code != 201 {
		t.Fatalf("status %d: %v", code, body)
	}
	files := body["files"].([]any)
	if len(files) != 2 || files[0].(map[string]any)["name"] != "a-1.txt" || files[1].(map[string]any)["name"] != "a-2.txt" {
		t.Errorf("stored %v", files)
	}
	for name, want := range map[string]string{"a.txt": "first", "a-1.txt": "second", "a-2.txt": "third"} {
		if got, err := b.uploaded(name); got != want {
			t.Errorf("%s = %q, %v; want %q", name, got, err, want)
		}
	}
}

func TestUploadLimit(t *testing.T) {
	b := newFakeBackend(t)
	ts := newTestServer(t, b, Options{MaxUpload: 10})
	if code, body := ts.upload(t, nil, part{"file", "ten.txt", "0123456789"}); code != 201 {
		t.Fatalf("10 bytes: status %d, %v", code, body)
	}
	code, body := ts.upload(t, nil, part{"file", "eleven.txt", "0123456789A"})
	if code != 413 || body["code"] != "too_large" {
		t.Fatalf("11 bytes: status %d, %v", code, body)
	}
	big := strings.Repeat("x", multipartSlack+100)
	if code, _ := ts.upload(t, nil, part{"file", "big.txt", big}); code != 413 {
		t.Fatalf("%d bytes: status %d", len(big), code)
	}
	if got := entries(t, b.UploadDir()); !slices.Equal(got, []string{"ten.txt"}) {
		t.Errorf("upload folder holds %v, want only ten.txt", got)
	}
}

func TestUploadCSRF(t *testing.T) {
	b := newFakeBackend(t)
	ts := newTestServer(t, b, Options{})
	send := func(t *testing.T, headers []string, parts ...part) int {
		body, ct := multipartBody(t, parts...)
		return ts.do(t, "POST", "/api/upload", body, append([]string{"Content-Type", ct}, headers...)...).StatusCode
	}
	file := part{"file", "x.txt", "data"}
	if code := send(t, nil, file); code != 403 {
		t.Errorf("no token: %d", code)
	}
	if code := send(t, nil, file, part{field: "csrf", content: ts.csrf}); code != 403 {
		t.Errorf("token after the file: %d", code)
	}
	if code := send(t, nil, part{field: "csrf", content: "guess"}, file); code != 403 {
		t.Errorf("wrong token: %d", code)
	}
	if code := send(t, []string{"X-CSRF-Token", ts.csrf, "Sec-Fetch-Site", "cross-site"}, file); code != 403 {
		t.Errorf("cross-site: %d", code)
	}
	if got := entries(t, b.UploadDir()); len(got) != 0 {
		t.Fatalf("refused uploads stored %v", got)
	}
	if code := send(t, []string{"Accept", "text/html", "Origin", ts.url}, part{field: "csrf", content: ts.csrf}, file); code != 303 {
		t.Errorf("form with token: %d", code)
	}
	if code := send(t, []string{"X-CSRF-Token", ts.csrf, "Sec-Fetch-Site", "same-origin"}, file); code != 201 {
		t.Errorf("header token: %d", code)
	}
	if got := entries(t, b.UploadDir()); !slices.Equal(got, []string{"x-1.txt", "x.txt"}) {
		t.Errorf("stored %v", got)
	}
}

func TestUploadBadRequests(t *testing.T) {
	b := newFakeBackend(t)
	ts := newTestServer(t, b, Options{})
	if code := ts.do(t, "POST", "/api/upload", "name=x", "Content-Type", "application/x-www-form-urlencoded", "X-CSRF-Token", ts.csrf).StatusCode; code != 400 {
		t.Errorf("not multipart: %d", code)
	}
	if code, _ := ts.upload(t, nil, part{field: "other", content: "x"}); code != 400 {
		t.Errorf("no file part: %d", code)
	}
	body, ct := multipartBody(t, part{"file", "cut.txt", "data"})
	if code := ts.do(t, "POST", "/api/upload", body[:len(body)-20], "Content-Type", ct, "X-CSRF-Token", ts.csrf).StatusCode; code != 400 {
		t.Errorf("cut short: %d", code)
	}
	if got := entries(t, b.UploadDir()); len(got) != 0 {
		t.Errorf("stored %v", got)
	}
}
