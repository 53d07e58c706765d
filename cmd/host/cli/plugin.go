package cli

import (
	"bufio"
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"text/template"

	"github.com/BurntSushi/toml"
	"github.com/alecthomas/kong"

	"github.com/filehost/host/host"
	"github.com/filehost/host/internal/wasm"
	csdk "github.com/filehost/host/sdk/c"
)

// pluginCLI is `host plugin ...`, the tools for plugin authors
// (docs/PLUGINS.md).
type pluginCLI struct {
	New     newCmd     `cmd:"" help:"Create NAME/, a plugin folder with a test that builds as it is, in Go or C."`
	Run     runCmd     `cmd:"" help:"Run one plugin as a filter: standard input through FILE.wasm to standard output, its log on standard error, with the limits of a pipeline."`
	Inspect inspectCmd `cmd:"" help:"Show a .wasm file's ABI version, imports, exports, memory and table limits, size, sha256, and the metadata the plugin declares."`
}

type newCmd struct {
	Name string `arg:"" help:"The plugin's name: letters, digits, '_' and '-', starting with a letter."`
	Lang string `help:"The language: go or c." default:"go" enum:"go,c"`
	Dir  string `help:"The folder to create NAME/ in." default:"." type:"path"`
	SDK  string `name:"sdk" help:"Go only: the Go SDK's folder, the sdk/ of the host's source, for go.mod's replace line. By default ../sdk beside the host binary (as make build puts it)." type:"path" env:"HOST_SDK"`
}

type runCmd struct {
	File      string   `arg:"" help:"The plugin's .wasm file." type:"existingfile"`
	Set       []string `help:"A setting, as in [plugins.NAME.config]: the value is read as TOML (true, 3, [\"a\"], \"text\") or else taken as text. Repeatable." short:"s" sep:"none" placeholder:"KEY=VALUE"`
	Name      string   `help:"The file name the plugin is given." default:"stdin"`
	Timeout   string   `help:"Time limit per file, as timeout in [plugins.NAME] (e.g. 5s)."`
	MaxMemory string   `help:"Cap on the plugin's memory, as max_memory in [plugins.NAME] (default 1GiB)." name:"max-memory"`
	LogLevel  string   `help:"Log level: debug, info, warn or error." default:"debug" enum:"debug,info,warn,error"`
}

type inspectCmd struct {
	File string `arg:"" help:"The .wasm file." type:"existingfile"`
	JSON bool   `help:"Print the inspection as JSON."`
}

// pluginMain runs `host plugin ARGS...`.
func pluginMain(args []string, stdin io.Reader, stdout, stderr io.Writer) (code int) {
	defer func() {
		if r := recover(); r != nil {
			c, ok := r.(exitCode)
			if !ok {
				panic(r)
			}
			code = int(c)
		}
	}()
	var cli pluginCLI
	parser, err := kong.New(&cli,
		kong.Name("host plugin"),
		kong.Description("Tools for plugin authors: create a plugin, run one as a filter, inspect a .wasm file. See docs/PLUGINS.md."),
		kong.Writers(stdout, stderr),
		kong.Exit(func(c int) { panic(exitCode(c)) }),
		kong.UsageOnError(),
	)
	if err != nil {
		fmt.Fprintln(stderr, "host plugin:", err)
		return exitConfig
	}
	kctx, err := parser.Parse(args)
	if err != nil {
		fmt.Fprintln(stderr, "host plugin:", err)
		return exitConfig
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch kctx.Command() {
	case "new <name>":
		return cli.New.run(stdout, stderr)
	case "run <file>":
		return cli.Run.run(ctx, stdin, stdout, stderr)
	default:
		return cli.Inspect.run(ctx, stdout, stderr)
	}
}

// ---- host plugin new ----

//go:embed templates
var templates embed.FS

var pluginNameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]*$`)

// sdkModule is the Go SDK's module path, which go.mod's replace names.
const sdkModule = "github.com/filehost/host/sdk"

func (c *newCmd) run(stdout, stderr io.Writer) int {
	if !pluginNameRE.MatchString(c.Name) {
		fmt.Fprintf(stderr, "host plugin new: bad name %q: use letters, digits, '_' and '-', starting with a letter\n", c.Name)
		return exitConfig
	}
	dir := filepath.Join(c.Dir, c.Name)
	if _, err := os.Lstat(dir); err == nil {
		fmt.Fprintf(stderr, "host plugin new: %s already exists; nothing written\n", dir)
		return exitConfig
	}
	data := struct{ Name, SDK string }{Name: c.Name}
	files := map[string]string{} // path in dir: template, or "" for the C header
	switch c.Lang {
	case "go":
		sdk, err := findSDK(c.SDK)
		if err != nil {
			fmt.Fprintln(stderr, "host plugin new:", err)
			return exitConfig
		}
		data.SDK = sdk
		files["go.mod"] = "templates/go/go.mod.tmpl"
		files["main.go"] = "templates/go/main.go.tmpl"
		files["main_test.go"] = "templates/go/main_test.go.tmpl"
		files["Makefile"] = "templates/go/Makefile.tmpl"
	case "c":
		files[c.Name+".c"] = "templates/c/main.c.tmpl"
		files["hostplugin.h"] = ""
		files["Makefile"] = "templates/c/Makefile.tmpl"
		for _, t := range []string{"default.in", "default.want", "setting.in", "setting.set", "setting.want"} {
			files[filepath.Join("testdata", t)] = "templates/c/" + t
		}
	}
	if err := writeTree(dir, files, data); err != nil {
		_ = os.RemoveAll(dir) // Don't leave half a folder.
		fmt.Fprintln(stderr, "host plugin new:", err)
		return exitFailed
	}
	fmt.Fprintf(stdout, "created %s/, a %s plugin:\n", dir, map[string]string{"go": "Go", "c": "C"}[c.Lang])
	for _, name := range sortedKeys(files) {
		fmt.Fprintf(stdout, "  %s\n", filepath.Join(dir, name))
	}
	fmt.Fprintf(stdout, "next:\n  cd %s\n  make test   # the plugin's tests\n  make        # builds %s.wasm\n  host plugin run %s.wasm < some.txt\n", dir, c.Name, c.Name)
	if c.Lang == "c" {
		fmt.Fprintln(stdout, "(make test runs the plugin through `host plugin run`: set HOST=path/to/host if host is not on PATH)")
	}
	return exitOK
}

func writeTree(dir string, files map[string]string, data any) error {
	for name, tmpl := range files {
		var text []byte
		if tmpl == "" {
			text = []byte(csdk.Header)
		} else {
			src, err := fs.ReadFile(templates, tmpl)
			if err != nil {
				return err
			}
			t, err := template.New(name).Delims("{{", "}}").Parse(string(src))
			if err != nil {
				return err
			}
			var b bytes.Buffer
			if err := t.Execute(&b, data); err != nil {
				return err
			}
			text = b.Bytes()
		}
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, text, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// findSDK returns the absolute path of the Go SDK's folder: the one given,
// or ../sdk beside the running binary, and checks that it is the SDK.
func findSDK(given string) (string, error) {
	var tried []string
	candidates := []string{given}
	if given == "" {
		candidates = nil
		if exe, err := os.Executable(); err == nil {
			if exe, err = filepath.EvalSymlinks(exe); err == nil {
				candidates = append(candidates, filepath.Join(filepath.Dir(exe), "..", "sdk"))
			}
		}
	}
	for _, dir := range candidates {
		abs, err := filepath.Abs(dir)
		if err != nil {
			continue
		}
		mod, err := os.ReadFile(filepath.Join(abs, "go.mod"))
		if err == nil && modulePath(mod) == sdkModule {
			return abs, nil
		}
		tried = append(tried, abs)
		if given != "" {
			return "", fmt.Errorf("--sdk %s: not the Go SDK (want a folder whose go.mod is module %s)", given, sdkModule)
		}
	}
	return "", fmt.Errorf("cannot find the Go SDK (looked in %s): pass --sdk PATH or set HOST_SDK to the sdk/ folder of the host's source", strings.Join(tried, ", "))
}

func modulePath(gomod []byte) string {
	for _, line := range strings.Split(string(gomod), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "module" {
			return strings.Trim(f[1], `"`)
		}
	}
	return ""
}

// ---- host plugin run ----

// flat keeps an error on one line.
func flat(err error) string { return strings.ReplaceAll(err.Error(), "\n", "; ") }

func (c *runCmd) run(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer) int {
	cfg, err := c.config()
	if err != nil {
		fmt.Fprintln(stderr, "host plugin run:", flat(err))
		return exitConfig
	}
	logger := newLogger(stderr, c.LogLevel, "text")
	// The host's own loading and chain, so the limits, sandbox and errors
	// are those of a pipeline of one plugin.
	h, err := host.New(ctx, cfg, host.Options{Logger: logger})
	if err != nil {
		fmt.Fprintln(stderr, "host plugin run:", flat(err))
		return exitConfig
	}
	defer h.Close()
	out := bufio.NewWriterSize(stdout, 64<<10)
	_, err = h.Process(ctx, "run", c.Name, stdin, out)
	if ferr := out.Flush(); err == nil && ferr != nil {
		err = fmt.Errorf("standard output: %w", ferr)
	}
	if err != nil {
		fmt.Fprintln(stderr, "host plugin run:", flat(err))
		return exitFailed
	}
	return exitOK
}

// config is the configuration a config.toml with one plugin entry and a
// one-plugin pipeline would give, read by the same code, so every default
// and check is the same.
func (c *runCmd) config() (host.Config, error) {
	abs, err := filepath.Abs(c.File)
	if err != nil {
		return host.Config{}, err
	}
	name := nonNameRE.ReplaceAllString(strings.TrimSuffix(filepath.Base(abs), ".wasm"), "_")
	if name == "" || !pluginNameRE.MatchString(name[:1]) {
		name = "plugin" + name
	}
	settings := map[string]any{}
	for _, kv := range c.Set {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return host.Config{}, fmt.Errorf("--set %q: want KEY=VALUE", kv)
		}
		settings[k] = settingValue(v)
	}
	entry := map[string]any{"path": abs, "config": settings}
	if c.Timeout != "" {
		entry["timeout"] = c.Timeout
	}
	if c.MaxMemory != "" {
		entry["max_memory"] = c.MaxMemory
	}
	doc := map[string]any{
		"cache_dir": "",
		"plugins":   map[string]any{name: entry},
		"pipeline":  []map[string]any{{"name": "run", "plugins": []string{name}}},
	}
	var src bytes.Buffer
	if err := toml.NewEncoder(&src).Encode(doc); err != nil {
		return host.Config{}, err
	}
	return host.ParseConfig("(host plugin run)", src.Bytes())
}

var nonNameRE = regexp.MustCompile(`[^A-Za-z0-9_.-]`)

// settingValue reads v as a TOML value if it is a boolean, number, array,
// inline table or quoted string, and as text otherwise: --set pattern=a.b
// needs no quotes, --set 'chars="123"' keeps digits text.
func settingValue(v string) any {
	var m map[string]any
	if _, err := toml.Decode("v = "+v, &m); err == nil {
		switch m["v"].(type) {
		case bool, int64, float64, string, []any, map[string]any:
			return m["v"]
		}
	}
	return v
}

// ---- host plugin inspect ----

func (c *inspectCmd) run(ctx context.Context, stdout, stderr io.Writer) int {
	bin, err := os.ReadFile(c.File)
	if err != nil {
		fmt.Fprintln(stderr, "host plugin inspect:", err)
		return exitFailed
	}
	in, err := wasm.Inspect(ctx, bin)
	if err != nil {
		fmt.Fprintf(stderr, "host plugin inspect: %s: %v\n", c.File, err)
		return exitFailed
	}
	if c.JSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(struct {
			File string `json:"file"`
			*wasm.Inspection
		}{c.File, in})
	} else {
		printInspection(stdout, c.File, in)
	}
	if in.Problem != "" {
		return exitFailed
	}
	return exitOK
}

func printInspection(w io.Writer, file string, in *wasm.Inspection) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(k, format string, args ...any) { fmt.Fprintf(tw, "%s\t"+format+"\n", append([]any{k}, args...)...) }
	row("file", "%s", file)
	row("size", "%d bytes (%s)", in.Size, humanBytes(uint64(in.Size)))
	row("sha256", "%s", in.SHA256)
	if in.ABIVersion != 0 {
		row("abi version", "%d", in.ABIVersion)
	}
	if m := in.Meta; m != nil {
		row("name", "%s", orNone(m.Name))
		row("version", "%s", orNone(m.Version))
		row("description", "%s", orNone(m.Description))
		for i, s := range m.Settings {
			k := ""
			if i == 0 {
				k = "settings"
			}
			def := ""
			if s.Default != "" {
				def = " = " + s.Default
			}
			row(k, "%s (%s%s): %s", s.Name, orNone(s.Type), def, s.Description)
		}
	} else {
		row("metadata", "none (no plugin_meta export, or it returned 0)")
	}
	for _, m := range in.Memories {
		row("memory", "%s", boundsText(m, "pages", 65536))
	}
	for _, t := range in.Tables {
		row("table", "%s", boundsText(t, "elements", 0))
	}
	list := func(title string, xs []wasm.Extern) {
		for i, x := range xs {
			k := ""
			if i == 0 {
				k = title
			}
			name := x.Name
			if x.Module != "" {
				name = x.Module + "." + x.Name
			}
			row(k, "%s %s", name, x.Type)
		}
	}
	list("imports", in.Imports)
	list("exports", in.Exports)
	if len(in.Custom) > 0 {
		row("custom sections", "%s", strings.Join(in.Custom, ", "))
	}
	if in.Problem != "" {
		row("loads", "no: %s", in.Problem)
	} else {
		row("loads", "yes, up to plugin_configure, which depends on the settings (try host plugin run)")
	}
	_ = tw.Flush()
}

func boundsText(b wasm.Bounds, unit string, unitBytes uint64) string {
	s := ""
	if b.Elem != "" {
		s = b.Elem + " "
	}
	s += fmt.Sprintf("min %d %s", b.Min, unit)
	if unitBytes > 0 {
		s += " (" + humanBytes(b.Min*unitBytes) + ")"
	}
	if b.Max != nil {
		s += fmt.Sprintf(", max %d", *b.Max)
		if unitBytes > 0 {
			s += " (" + humanBytes(*b.Max*unitBytes) + ")"
		}
	} else {
		s += ", no max"
	}
	switch {
	case b.Import != "":
		s += ", imported from " + b.Import
	case b.Export != "":
		s += fmt.Sprintf(", exported as %q", b.Export)
	}
	return s
}

func humanBytes(n uint64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// metaText is a plugin's metadata on one line, for host --check:
// " (NAME VERSION: DESCRIPTION Settings: A, B.)", parts left out when
// not declared.
func metaText(m *wasm.Meta) string {
	if m == nil {
		return ""
	}
	s := strings.TrimSpace(m.Name + " " + m.Version)
	if m.Description != "" {
		if s != "" {
			s += ": "
		}
		s += m.Description
	}
	if len(m.Settings) > 0 {
		names := make([]string, len(m.Settings))
		for i, st := range m.Settings {
			names[i] = st.Name
		}
		if s != "" {
			s += " "
		}
		s += "Settings: " + strings.Join(names, ", ") + "."
	}
	if s == "" {
		return ""
	}
	return " (" + s + ")"
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
