package web

import (
	"errors"
	"fmt"
	"github.com/filehost/host/internal/folder"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/filehost/host/internal/watch"
)

// uploadPrefix starts the temporary names of uploads being received.
// Dotfiles ending in .part are never taken by the watcher, so it sees a
// file only once it is whole, under its real name.
const uploadPrefix = ".upload-"

// maxNameBytes is the longest file name most filesystems take.
const maxNameBytes = 255

// multipartSlack is what a multipart body may carry beyond its files:
// boundaries, part headers, the CSRF field.
const multipartSlack = 1 << 20

type uploaded struct {
	Name string `json:"name"` // as stored in unprocessed/, after sanitising and renaming on a clash
	Size int64  `json:"size"`
}

// handleUpload stores each file part of a multipart/form-data POST in the
// upload folder. It streams: a part goes to a temporary dotfile, is synced,
// then linked under a free name, so the watcher never sees half a file
// and no existing file is overwritten.
func (s *Server) handleUpload(w http.ResponseWriter, r *http.Request) {
	if err := s.checkOrigin(r); err != nil {
		s.fail(w, r, err)
		return
	}
	csrf := s.csrfExempt(r)
	limit := s.opts.MaxUpload
	if r.ContentLength > limit+multipartSlack {
		s.fail(w, r, errorf(kindTooLarge, "upload larger than the limit of %d bytes", limit))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit+multipartSlack)
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "multipart/form-data" {
		s.fail(w, r, errorf(kindInvalid, "want a multipart/form-data body with one or more \"file\" parts"))
		return
	}
	mr, err := r.MultipartReader()
	if err != nil {
		s.fail(w, r, errorf(kindInvalid, "bad multipart body: %v", err))
		return
	}
	root, err := os.OpenRoot(s.b.UploadDir())
	if err != nil {
		s.fail(w, r, fmt.Errorf("upload folder: %w", err))
		return
	}
	defer root.Close()

	var stored []uploaded
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			s.fail(w, r, uploadErr(err))
			return
		}
		switch part.FormName() {
		case "csrf":
			v, _ := io.ReadAll(io.LimitReader(part, 256))
			csrf = csrf || s.csrfOK(string(v))
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
			u, err := s.store(root, name, part, limit)
			if err != nil {
				s.fail(w, r, uploadErr(err))
				return
			}
			s.logger.Info("file uploaded from the dashboard", "name", u.Name, "size", u.Size)
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

func uploadErr(err error) error {
	var tooBig *http.MaxBytesError
	var e *httpError
	if errors.As(err, &tooBig) || errors.As(err, &e) {
		return err
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || strings.Contains(err.Error(), "multipart") {
		return &httpError{Kind: kindInvalid, Message: "upload cut short or malformed", Err: err}
	}
	return err
}

// store writes one part to a temporary file in root and links it under
// name or a free variant of it.
func (s *Server) store(root *os.Root, name string, r io.Reader, limit int64) (uploaded, error) {
	tmp := uploadPrefix + randomHex(8) + ".part"
	f, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return uploaded{}, fmt.Errorf("create %s: %w", tmp, err)
	}
	defer root.Remove(tmp) // Linked under the real name, or given up.
	n, err := io.Copy(f, io.LimitReader(r, limit+1))
	if err == nil && n > limit {
		err = errorf(kindTooLarge, "%s is larger than the upload limit of %d bytes", name, limit)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return uploaded{}, err
	}
	final, err := linkFree(root, tmp, name)
	if err != nil {
		return uploaded{}, err
	}
	if d, err := root.Open("."); err == nil { // Make the new name durable.
		_ = d.Sync()
		_ = d.Close()
	}
	return uploaded{Name: final, Size: n}, nil
}

// linkFree links tmp to name, or to name-1, name-2... when taken; link(2)
// never replaces a file, even one created a moment ago by someone else.
// Where links are not supported it falls back to a checked rename.
func linkFree(root *os.Root, tmp, name string) (string, error) {
	for i := 0; i < 10000; i++ {
		dst := folder.Variant(name, i)
		err := root.Link(tmp, dst)
		if err == nil {
			return dst, nil
		}
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if !errors.Is(err, errors.ErrUnsupported) && !isNoLink(err) {
			return "", fmt.Errorf("link %s: %w", dst, err)
		}
		if _, err := root.Lstat(dst); err == nil {
			continue
		}
		if err := root.Rename(tmp, dst); err != nil {
			return "", fmt.Errorf("rename to %s: %w", dst, err)
		}
		return dst, nil
	}
	return "", fmt.Errorf("no free name for %s", name)
}

// isNoLink reports a filesystem without hard links.
func isNoLink(err error) bool {
	return errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.ENOTSUP) || errors.Is(err, syscall.EMLINK)
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

// removeStaleUploads deletes temporary uploads an earlier run left behind
// when it stopped mid-upload. The folder lock means no other host is
// writing here.
func (s *Server) removeStaleUploads() {
	dir := s.b.UploadDir()
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, uploadPrefix) || !strings.HasSuffix(name, ".part") {
			continue
		}
		if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > time.Minute {
			if err := os.Remove(filepath.Join(dir, name)); err == nil {
				s.logger.Info("removed an unfinished upload", "file", name)
			}
		}
	}
}
