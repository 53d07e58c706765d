// Package cli is the host command's command line, kept out of main so it
// can be run in tests with buffers and an exit code.
package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"github.com/filehost/host/internal/folder"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/alecthomas/kong"

	"github.com/filehost/host/host"
	"github.com/filehost/host/internal/web"
)

// Exit statuses.
const (
	exitOK     = 0
	exitFailed = 1 // a file failed, or the host stopped on an error
	exitConfig = 2 // bad command line, config or plugin
)

// CLI is the command line. Every flag can also be set from the environment
// variable named in its help.
type CLI struct {
	Config    string           `help:"Config file; relative paths in it are relative to its folder." default:"config.toml" type:"path" env:"HOST_CONFIG"`
	Input     string           `help:"Process this one file, then exit. A file in a watched unprocessed/ goes through the folder protocol; any other file is left where it is and its result goes to processed/ (or --output). '-' reads standard input (needs --output)." short:"i" placeholder:"FILE" env:"HOST_INPUT" xor:"mode"`
	Output    string           `help:"With --input: write the result to this file, into this folder (a path ending in '/', or an existing folder), or to stdout ('-'); the input stays where it is." short:"o" placeholder:"PATH" env:"HOST_OUTPUT"`
	Pipeline  string           `help:"With --input: use this pipeline instead of choosing one by the file's name and content." short:"p" placeholder:"NAME" env:"HOST_PIPELINE"`
	Watch     bool             `help:"Watch the configured folders and process every file dropped into them, until interrupted." short:"w" env:"HOST_WATCH" xor:"mode"`
	Check     bool             `help:"Validate the config and load every plugin, then exit." env:"HOST_CHECK" xor:"mode"`
	Poll      time.Duration    `help:"With --watch: scan the folders this often instead of using file system events (for network filesystems), e.g. 2s." env:"HOST_POLL"`
	Addr      string           `help:"With --watch: the dashboard's address, overriding dashboard.addr (e.g. 127.0.0.1:5000; port 0 picks a free one)." name:"dashboard-addr" placeholder:"HOST:PORT" env:"HOST_DASHBOARD_ADDR"`
	LogLevel  string           `help:"Log level: debug, info, warn or error." default:"info" enum:"debug,info,warn,error" env:"HOST_LOG_LEVEL"`
	LogFormat string           `help:"Log format: text or json." default:"text" enum:"text,json" env:"HOST_LOG_FORMAT"`
	Version   kong.VersionFlag `help:"Print the version and exit."`
}

type exitCode int

// stdinName is the name standard input goes by: in logs, to plugins, and
// to the pipelines' globs, which it does not match unless one says so.
const stdinName = "stdin"

// Main runs the command line args and returns the exit status.
func Main(args []string, stdout, stderr io.Writer) (code int) {
	defer func() {
		if r := recover(); r != nil {
			c, ok := r.(exitCode)
			if !ok {
				panic(r)
			}
			code = int(c)
		}
	}()
	if len(args) > 0 && args[0] == "plugin" {
		return pluginMain(args[1:], os.Stdin, stdout, stderr) // plugin.go
	}
	var cli CLI
	parser, err := kong.New(&cli,
		kong.Name("host"),
		kong.Description("Run files through chains of WebAssembly plugins: one file with --input, or every file dropped into the watched folders with --watch. See README.md and docs/. Tools for plugin authors: host plugin --help."),
		kong.Writers(stdout, stderr),
		kong.Exit(func(c int) { panic(exitCode(c)) }),
		kong.Vars{"version": "host " + host.VersionString()},
		kong.UsageOnError(),
	)
	if err != nil {
		say(stderr, err)
		return exitConfig
	}
	if _, err := parser.Parse(args); err != nil {
		say(stderr, err)
		return exitConfig
	}
	if err := cli.validate(); err != nil {
		say(stderr, err)
		return exitConfig
	}
	logger := newLogger(stderr, cli.LogLevel, cli.LogFormat)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// SIGHUP reloads in watch mode; caught from the start so that an early
	// one does not end the process.
	hup := make(chan os.Signal, 1)
	if cli.Watch {
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
	}

	cfg, err := host.LoadConfig(cli.Config)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitConfig
	}
	if cli.Pipeline != "" && !hasPipeline(cfg, cli.Pipeline) {
		say(stderr, unknownPipeline(cfg, cli.Pipeline))
		return exitConfig
	}
	opts := host.Options{Logger: logger, Pipeline: cli.Pipeline}
	var in *input
	switch {
	case cli.Watch:
		opts.Instances = cfg.Workers()
		opts.Tiered = !cli.Check
	case cli.Input != "":
		if in, err = openInput(cli.Input); err != nil {
			say(stderr, err)
			return exitFailed
		}
		defer in.Close()
		// One file: load only its pipeline (none if no pipeline takes it,
		// and the file then fails for that reason).
		opts.Pipelines = []string{}
		if pc := pick(cfg, cli.Pipeline, in.name, in.head); pc != nil {
			opts.Pipelines = append(opts.Pipelines, pc.Name)
		}
	}
	h, err := host.New(ctx, cfg, opts)
	if err != nil {
		say(stderr, err)
		return exitConfig
	}
	defer h.Close()

	switch {
	case cli.Check:
		for _, p := range h.Plugins() {
			fmt.Fprintf(stdout, "plugin %-12s %s sha256:%s loaded in %s%s\n", p.Name(), p.Path(), p.SHA256()[:16], p.LoadTime().Round(1e5), metaText(p.Meta()))
		}
		fmt.Fprintf(stdout, "%s: ok (%d plugins, %d pipelines)\n", cfg.File, len(h.Plugins()), len(cfg.Pipeline))
		return exitOK
	case cli.Input != "":
		h.PruneCache() // its plugins loaded: their entries count as in use
		return runInput(ctx, h, logger, in, cli, stdout, stderr)
	default:
		return runWatch(ctx, h, logger, cli, stderr, hup)
	}
}

// validate checks the flags that go together, before any file is read.
func (cli *CLI) validate() error {
	switch {
	case cli.Output != "" && cli.Input == "":
		return errors.New("--output needs --input")
	case cli.Pipeline != "" && cli.Input == "":
		return errors.New("--pipeline needs --input (in watch mode, pipelines are chosen by [[watch]].pipelines)")
	case cli.Input == "-" && cli.Output == "":
		return errors.New("--input - reads standard input and needs --output (a file, a folder/ or '-' for stdout): it has no place in the watch folders")
	case cli.Input == "-" && isDirTarget(cli.Output):
		return fmt.Errorf("--output %s is a folder, and standard input has no name to give the result: name the output file", cli.Output)
	case cli.Input == "" && !cli.Watch && !cli.Check:
		return errors.New("nothing to do: give --input FILE, --watch or --check (see --help)")
	case cli.Addr != "":
		if err := host.CheckAddr(cli.Addr); err != nil {
			return fmt.Errorf("--dashboard-addr: %w", err)
		}
	}
	return nil
}

func hasPipeline(cfg host.Config, name string) bool {
	for _, p := range cfg.Pipeline {
		if p.Name == name {
			return true
		}
	}
	return false
}

func unknownPipeline(cfg host.Config, name string) error {
	var names []string
	for _, p := range cfg.Pipeline {
		names = append(names, p.Name)
	}
	return fmt.Errorf("--pipeline %s: no such pipeline in %s (it has: %s)", name, cfg.File, strings.Join(names, ", "))
}

// pick chooses the pipeline for one input: the forced one, or the first
// watched folder's choice by name and content.
func pick(cfg host.Config, forced, name string, head []byte) *host.PipelineConfig {
	if forced != "" {
		for i := range cfg.Pipeline {
			if cfg.Pipeline[i].Name == forced {
				return &cfg.Pipeline[i]
			}
		}
	}
	return cfg.PipelineFor(cfg.Watch[0], name, head)
}

// input is the one file of --input, or standard input, with its first
// bytes read for choosing a pipeline.
type input struct {
	path string // as given; "-" for standard input
	name string // base name, or stdinName
	r    *bufio.Reader
	head []byte
	f    *os.File
}

func openInput(path string) (*input, error) {
	in := &input{path: path, name: stdinName, f: os.Stdin}
	if path != "-" {
		fi, err := os.Stat(path)
		switch {
		case errors.Is(err, os.ErrNotExist):
			return nil, fmt.Errorf("input %s: no such file", path)
		case err != nil:
			return nil, fmt.Errorf("input %s: %w", path, err)
		case fi.IsDir():
			return nil, fmt.Errorf("input %s: is a directory, not a file", path)
		case !fi.Mode().IsRegular():
			return nil, fmt.Errorf("input %s: not a regular file", path)
		}
		in.name = filepath.Base(path)
		// The head is read from its own descriptor: without --output the
		// file goes to the folder protocol, which opens it itself.
		in.head = host.ReadHead(path)
		return in, nil
	}
	in.r = bufio.NewReaderSize(os.Stdin, host.HeadSize)
	in.head, _ = in.r.Peek(host.HeadSize) // short at end of input; an error shows on the first read
	return in, nil
}

// reader opens the input for streaming.
func (in *input) reader() (io.Reader, error) {
	if in.r != nil {
		return in.r, nil
	}
	f, err := os.Open(in.path)
	if err != nil {
		return nil, fmt.Errorf("input %s: %w", in.path, err)
	}
	in.f = f
	return f, nil
}

func (in *input) Close() {
	if in.f != nil && in.f != os.Stdin {
		in.f.Close()
	}
}

func runInput(ctx context.Context, h *host.Host, logger *slog.Logger, in *input, cli CLI, stdout, stderr io.Writer) int {
	if cli.Output == "" {
		out, res, err := h.ProcessFile(ctx, in.path)
		if err != nil {
			logger.Error("file failed", "file", in.path, "error", err)
			say(stderr, err)
			return exitFailed
		}
		logger.Info("file processed", "file", in.path, "output", out, "pipeline", res.Pipeline,
			"bytes_in", res.BytesIn, "bytes_out", res.BytesOut, "duration", res.Duration)
		return exitOK
	}
	if err := writeOutput(ctx, h, in, cli, stdout); err != nil {
		say(stderr, err)
		return exitFailed
	}
	return exitOK
}

// isDirTarget reports whether --output names a folder to put the result
// in: a path ending in a separator, or an existing folder.
func isDirTarget(output string) bool {
	if output == "-" {
		return false
	}
	if strings.HasSuffix(output, "/") || strings.HasSuffix(output, string(filepath.Separator)) {
		return true
	}
	fi, err := os.Stat(output)
	return err == nil && fi.IsDir()
}

// writeOutput streams the input through its pipeline to --output. A file
// is written beside its final name under a temporary one and renamed into
// place only when complete, so a failure leaves nothing behind.
func writeOutput(ctx context.Context, h *host.Host, in *input, cli CLI, stdout io.Writer) error {
	cfg := h.Config()
	pc := pick(cfg, cli.Pipeline, in.name, in.head)
	if pc == nil {
		return &host.FileError{File: in.path, Err: cfg.NoPipeline(cfg.Watch[0], in.name, in.head)}
	}
	r, err := in.reader()
	if err != nil {
		return err
	}
	process := func(w io.Writer) error {
		if _, err := h.Process(ctx, pc.Name, in.name, r, w); err != nil {
			return &host.FileError{File: in.path, Pipeline: pc.Name, Err: err}
		}
		return nil
	}
	if cli.Output == "-" {
		return process(stdout)
	}
	output := cli.Output
	if isDirTarget(output) {
		fi, err := os.Stat(output)
		if err != nil || !fi.IsDir() {
			return fmt.Errorf("output folder %s does not exist", output)
		}
		// The name the result would have in processed/, without its subfolder.
		output = filepath.Join(output, filepath.Base(pc.ResultName(in.name)))
	}
	err = folder.WriteFile(output, 0o644, process)
	var ferr *host.FileError
	if err != nil && !errors.As(err, &ferr) {
		return fmt.Errorf("output %s: %w", output, err)
	}
	return err
}

func runWatch(ctx context.Context, h *host.Host, logger *slog.Logger, cli CLI, stderr io.Writer, hup <-chan os.Signal) int {
	svc, err := host.NewService(h, host.ServiceOptions{Logger: logger, Poll: cli.Poll})
	if err != nil {
		say(stderr, err)
		return exitConfig
	}
	defer svc.Close()
	if dash := h.Config().Web; dash.Enabled {
		if cli.Addr != "" {
			dash.Addr = cli.Addr
		}
		if tok := os.Getenv("HOST_DASHBOARD_TOKEN"); tok != "" {
			dash.Token = tok
		}
		srv := web.New(svc, web.Options{
			Addr:      dash.Addr,
			Token:     dash.Token,
			MaxUpload: int64(dash.MaxUpload),
			Version:   host.VersionString(),
			Logger:    logger.With("component", "dashboard"),
		})
		if err := srv.Open(); err != nil {
			if errors.Is(err, syscall.EADDRINUSE) {
				err = fmt.Errorf("%w; another program (or host) listens on %s: pick another address with --dashboard-addr (port 0 picks a free one) or dashboard.addr", err, dash.Addr)
			}
			say(stderr, err)
			return exitConfig
		}
		defer srv.Close()
		logger.Info("dashboard", "url", "http://"+srv.Addr()+"/", "token", dash.Token != "")
		if dash.Token == "" && !loopback(srv.Addr()) {
			logger.Warn("the dashboard is reachable from other machines without a token: set HOST_DASHBOARD_TOKEN", "addr", srv.Addr())
		}
	}
	go reloadOnHangup(ctx, svc, hup)
	if err := svc.Run(ctx); err != nil {
		say(stderr, err)
		return exitFailed
	}
	return exitOK
}

// reloadOnHangup reloads the configuration on each SIGHUP (systemd's
// ExecReload) until ctx is done. A SIGHUP during a reload is one more
// reload after it; several during one reload coalesce (hup holds one).
func reloadOnHangup(ctx context.Context, svc *host.Service, hup <-chan os.Signal) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			_ = svc.ReloadWait(ctx) // logged, and shown on the dashboard
		}
	}
}

// loopback reports whether a listen address is on the loopback interface.
func loopback(addr string) bool {
	h, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(h)
	return h == "localhost" || (ip != nil && ip.IsLoopback())
}

// say prints err as the one-line exit message "host: ...", without
// doubling a "host: " the error already carries.
func say(stderr io.Writer, err error) {
	msg := strings.ReplaceAll(err.Error(), "\n", "; ")
	fmt.Fprintln(stderr, "host: "+strings.TrimPrefix(msg, "host: "))
}

func newLogger(w io.Writer, level, format string) *slog.Logger {
	var lv slog.Level
	_ = lv.UnmarshalText([]byte(level))
	opts := &slog.HandlerOptions{Level: lv}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
