// Package cli is the host command's command line, kept out of main so it
// can be run in tests with buffers and an exit code.
package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
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
	Input     string           `help:"Process this one file through the folder protocol (or to --output), then exit." short:"i" type:"path" env:"HOST_INPUT" xor:"mode"`
	Output    string           `help:"With --input: write the result to this path ('-' for stdout) and leave the input in place." short:"o" env:"HOST_OUTPUT"`
	Watch     bool             `help:"Watch the configured folders and process every file dropped into them, until interrupted." short:"w" env:"HOST_WATCH" xor:"mode"`
	Check     bool             `help:"Validate the config and load every plugin, then exit." env:"HOST_CHECK" xor:"mode"`
	Poll      time.Duration    `help:"With --watch: scan the folders this often instead of using file system events (for network filesystems), e.g. 2s." env:"HOST_POLL"`
	Addr      string           `help:"With --watch: the dashboard's address, overriding dashboard.addr (e.g. 127.0.0.1:5000; port 0 picks a free one)." name:"dashboard-addr" env:"HOST_DASHBOARD_ADDR"`
	LogLevel  string           `help:"Log level: debug, info, warn or error." default:"info" enum:"debug,info,warn,error" env:"HOST_LOG_LEVEL"`
	LogFormat string           `help:"Log format: text or json." default:"text" enum:"text,json" env:"HOST_LOG_FORMAT"`
	Version   kong.VersionFlag `help:"Print the version and exit."`
}

type exitCode int

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
		fmt.Fprintln(stderr, "host:", err)
		return exitConfig
	}
	if _, err := parser.Parse(args); err != nil {
		fmt.Fprintln(stderr, "host:", err)
		return exitConfig
	}
	if cli.Output != "" && cli.Input == "" {
		fmt.Fprintln(stderr, "host: --output needs --input")
		return exitConfig
	}
	if cli.Input == "" && !cli.Watch && !cli.Check {
		fmt.Fprintln(stderr, "host: nothing to do: give --input FILE, --watch or --check (see --help)")
		return exitConfig
	}
	logger := newLogger(stderr, cli.LogLevel, cli.LogFormat)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	cfg, err := host.LoadConfig(cli.Config)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitConfig
	}
	opts := host.Options{Logger: logger}
	switch {
	case cli.Watch:
		opts.Instances = cfg.Workers()
	case cli.Input != "":
		// One file: load only its pipeline (none if no pipeline matches,
		// and the file then fails for that reason).
		opts.Pipelines = []string{}
		if pc := cfg.PipelineFor(cfg.Watch[0], filepath.Base(cli.Input)); pc != nil {
			opts.Pipelines = append(opts.Pipelines, pc.Name)
		}
	}
	h, err := host.New(ctx, cfg, opts)
	if err != nil {
		fmt.Fprintln(stderr, "host:", err)
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
		return runInput(ctx, h, logger, cli.Input, cli.Output, stdout, stderr)
	default:
		return runWatch(ctx, h, logger, cli, stderr)
	}
}

func runInput(ctx context.Context, h *host.Host, logger *slog.Logger, input, output string, stdout, stderr io.Writer) int {
	if output == "" {
		out, res, err := h.ProcessFile(ctx, input)
		if err != nil {
			logger.Error("file failed", "file", input, "error", err)
			fmt.Fprintln(stderr, "host:", oneLine(err))
			return exitFailed
		}
		logger.Info("file processed", "file", input, "output", out, "pipeline", res.Pipeline,
			"bytes_in", res.BytesIn, "bytes_out", res.BytesOut, "duration", res.Duration)
		return exitOK
	}
	if output == "-" {
		if _, err := h.ProcessTo(ctx, input, stdout); err != nil {
			fmt.Fprintln(stderr, "host:", oneLine(err))
			return exitFailed
		}
		return exitOK
	}
	if err := writeOutput(ctx, h, input, output); err != nil {
		fmt.Fprintln(stderr, "host:", oneLine(err))
		return exitFailed
	}
	return exitOK
}

// writeOutput writes the result beside output under a temporary name and
// renames it into place only when complete.
func writeOutput(ctx context.Context, h *host.Host, input, output string) error {
	tmp, err := os.CreateTemp(filepath.Dir(output), ".host-tmp-*")
	if err != nil {
		return fmt.Errorf("output %s: %w", output, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := h.ProcessTo(ctx, input, tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("output %s: %w", output, err)
	}
	if err := os.Rename(tmp.Name(), output); err != nil {
		return fmt.Errorf("output %s: %w", output, err)
	}
	return nil
}

func runWatch(ctx context.Context, h *host.Host, logger *slog.Logger, cli CLI, stderr io.Writer) int {
	svc, err := host.NewService(h, host.ServiceOptions{Logger: logger, Poll: cli.Poll})
	if err != nil {
		fmt.Fprintln(stderr, "host:", err)
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
			fmt.Fprintln(stderr, "host: dashboard:", err)
			return exitConfig
		}
		defer srv.Close()
		logger.Info("dashboard", "url", "http://"+srv.Addr()+"/", "token", dash.Token != "")
	}
	if err := svc.Run(ctx); err != nil {
		fmt.Fprintln(stderr, "host:", oneLine(err))
		return exitFailed
	}
	return exitOK
}

// oneLine keeps an error on one line for the exit message.
func oneLine(err error) string {
	return strings.ReplaceAll(err.Error(), "\n", "; ")
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
