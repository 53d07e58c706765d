package web

import (
	"errors"
	"fmt"
	"github.com/filehost/host/host"
	"io"
	"mime"
	"net"
	"net/http"
	"net/textproto"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/filehost/host/internal/watch"
)

// maxNameBytes is the longest file name most filesystems take.
const maxNameBytes = 255

// multipartSlack is what a multipart body may carry beyond its files:
// boundaries, part headers, the CSRF field.
const multipartSlack = 1 << 20

type uploaded struct {
	Name   string `json:"name"` // as stored in unprocessed/, after sanitising and renaming on a clash
	Size   int64  `json:"size"`
	Folder string `json:"folder"` // the watched folder it went to
}

// handleUpload stores each file part of a multipart/form-data POST in a
// watched folder's unprocessed/ (Backend.Deposit), streaming: the watcher
// never sees half a file and no existing file is overwritten. A "folder"
// field before the files chooses the folder; the first is the default.
//
// Uploads are bounded three ways, so slow or many clients cannot take the
// host's file descriptors: at most Options.MaxUploads at once (more get
// 503), each cut off after Options.UploadIdle without a byte (408), and
// each file at most Options.MaxUpload bytes (413).
func (s *Server) handleUpload(w http.ResponseWriter, r *http.Request) {
	if err := s.checkOrigin(r); err != nil {
		s.fail(w, r, err)
		return
	}
	select {
	case s.uploads <- struct{}{}:
		defer func() { <-s.uploads }()
	default:
		w.Header().Set("Retry-After", "5")
		s.fail(w, r, errorf(kindUnavailable, "%d uploads are already being received; try again shortly", s.opts.MaxUploads))
		return
	}
	csrf := s.csrfExempt(r)
	limit := s.opts.MaxUpload
	if r.ContentLength > limit+multipartSlack {
		s.fail(w, r, errorf(kindTooLarge, "upload larger than the limit of %d bytes", limit))
		return
	}
	rc := http.NewResponseController(w)
	r.Body = &idleReader{r: http.MaxBytesReader(w, r.Body, limit+multipartSlack), rc: rc, idle: s.opts.UploadIdle}
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "multipart/form-data" {
		s.fail(w, r, errorf(kindInvalid, "want a multipart/form-data body with one or more \"file\" parts"))
		return
	}
	mr, err := r.MultipartReader()
	if err != nil {
		s.fail(w, r, errorf(kindInvalid, "bad multipart body: %v", err))
		return
	}
	folders := s.b.Folders()
	if len(folders) == 0 {
		s.fail(w, r, errorf(kindUnavailable, "no watched folder to upload to"))
		return
	}
	folder := folders[0]

	var stored []uploaded
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			s.uploadFailed(w, r, uploadErr(err))
			return
		}
		switch part.FormName() {
		case "csrf":
			v, _ := io.ReadAll(io.LimitReader(part, 256))
			csrf = csrf || s.csrfOK(string(v))
		case "folder":
			v, _ := io.ReadAll(io.LimitReader(part, 4096))
			if !slices.Contains(folders, string(v)) {
				s.fail(w, r, errorf(kindInvalid, "folder %q is not a watched folder", v))
				return
			}
			if len(stored) > 0 {
				s.fail(w, r, errorf(kindInvalid, "the folder field must come before the files"))
				return
			}
			folder = string(v)
		case "file":
			if !csrf {
				s.fail(w, r, errCSRF)
				return
			}
			// FileName applies filepath.Base; sanitise the raw value
			// ourselves so refusals say what was sent.
			_, params, _ := mime.ParseMediaType(part.Header.Get("Content-Disposition"))
			raw := params["filename"]
			if raw == "" && part.FileName() == "" {
				continue // an empty file input
			}
			name, err := SanitizeName(raw)
			if err != nil {
				s.fail(w, r, &httpError{Kind: kindInvalid, Message: err.Error(), Err: err})
				return
			}
			// Counted here: the watcher may take the file the moment it
			// is linked.
			body := &countingReader{r: part}
			path, err := s.b.Deposit(folder, name, body, limit)
			if err != nil {
				s.uploadFailed(w, r, uploadErr(err))
				return
			}
			u := uploaded{Name: filepath.Base(path), Size: body.n, Folder: folder}
			s.logger.Info("file uploaded from the dashboard", "folder", folder, "name", u.Name, "size", u.Size)
			stored = append(stored, u)
		}
		_ = part.Close()
	}
	if len(stored) == 0 {
		s.fail(w, r, errorf(kindInvalid, "no file in the upload: send one or more parts named \"file\""))
		return
	}
	if wantsHTML(r) {
		http.Redirect(w, r, "/#queue", http.StatusSeeOther)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"files": stored})
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// uploadFailed answers a request whose body could not be read to its
// end: the connection cannot serve another request.
func (s *Server) uploadFailed(w http.ResponseWriter, r *http.Request, err error) {
	w.Header().Set("Connection", "close")
	s.fail(w, r, err)
}

// idleReader cuts a request body off when no byte arrives for idle: each
// read gets a fresh deadline, so a slow but steady upload goes on, and a
// stalled one releases its connection.
type idleReader struct {
	r    io.ReadCloser
	rc   *http.ResponseController
	idle time.Duration
}

func (b *idleReader) Read(p []byte) (int, error) {
	_ = b.rc.SetReadDeadline(time.Now().Add(b.idle)) // Unsupported under httptest.ResponseRecorder.
	return b.r.Read(p)
}

func (b *idleReader) Close() error { return b.r.Close() }

// uploadErr classifies what went wrong while reading an upload: the
// client's fault (cut short, malformed, too slow, too large) or ours.
func uploadErr(err error) error {
	var tooBig *http.MaxBytesError
	var e *httpError
	var netErr net.Error
	switch {
	case errors.As(err, &tooBig), errors.As(err, &e):
		return err
	case errors.Is(err, host.ErrTooLarge):
		return &httpError{Kind: kindTooLarge, Message: err.Error(), Err: err}
	case errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return &httpError{Kind: kindTimeout, Message: "upload stalled: nothing received for too long", Err: err}
	case errors.Is(err, io.ErrUnexpectedEOF), isMalformed(err):
		return &httpError{Kind: kindInvalid, Message: "upload cut short or malformed", Err: err}
	}
	return err
}

// isMalformed reports an error of the multipart or MIME header parser:
// bytes the client sent that do not parse (a NUL or control byte in a
// part's header, a bad boundary).
func isMalformed(err error) bool {
	var protoErr textproto.ProtocolError
	msg := err.Error()
	return errors.As(err, &protoErr) || strings.Contains(msg, "multipart") || strings.Contains(msg, "malformed MIME header")
}

// SanitizeName turns a client's file name into a name safe to create in
// the upload folder, or says why it cannot. It keeps the last path
// element (browsers send only that anyway), drops leading dots so the
// file is not hidden, replaces control characters and invalid UTF-8, and
// shortens the name to 255 bytes. It refuses names with NUL, names that
// are empty or only dots, and temporary names the watcher would never
// take.
func SanitizeName(raw string) (string, error) {
	if strings.ContainsRune(raw, 0) {
		return "", fmt.Errorf("file name %q contains NUL", raw)
	}
	name := strings.ReplaceAll(raw, `\`, "/")
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	name = strings.ToValidUTF8(name, "_")
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return '_'
		}
		return r
	}, name)
	name = strings.TrimSpace(name)
	name = strings.TrimLeft(name, ".")
	if name == "" {
		return "", fmt.Errorf("file name %q is empty once made safe (it names a folder, not a file)", raw)
	}
	name = shorten(name, maxNameBytes)
	if watch.Ignored(name) {
		return "", fmt.Errorf("file name %q ends like a temporary file that the watcher never takes; rename it", name)
	}
	if !filepath.IsLocal(name) || strings.ContainsRune(name, '/') {
		return "", fmt.Errorf("file name %q is not a plain name", raw) // Cannot happen: belt and braces.
	}
	return name, nil
}

// shorten cuts name to n bytes on a rune boundary, keeping its extension
// when it is short.
func shorten(name string, n int) string {
	if len(name) <= n {
		return name
	}
	ext := filepath.Ext(name)
	if len(ext) > 16 || ext == name {
		ext = ""
	}
	stem := name[:len(name)-len(ext)]
	cut := n - len(ext)
	for cut > 0 && !utf8.RuneStart(stem[cut]) {
		cut--
	}
	return stem[:cut] + ext
}
