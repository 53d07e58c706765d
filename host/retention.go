package host

import (
	"context"
	"time"

	"github.com/filehost/host/internal/folder"
)

// RetentionConfig deletes old results from processed/ and old failures
// from failed/ so that a long-running host does not fill its disk. It is
// off unless a policy sets a limit.
type RetentionConfig struct {
	// Every is how often the folders are swept.
	Every     Duration        `toml:"every"`
	Processed RetentionPolicy `toml:"processed"`
	Failed    RetentionPolicy `toml:"failed"`
}

// RetentionPolicy bounds one folder. Zero values mean no limit; the
// oldest files go first.
type RetentionPolicy struct {
	MaxAge   Duration `toml:"max_age"`
	MaxFiles int      `toml:"max_files"`
	MaxSize  ByteSize `toml:"max_size"`
}

// Off reports whether the policy keeps everything.
func (p RetentionPolicy) Off() bool { return p.MaxAge == 0 && p.MaxFiles == 0 && p.MaxSize == 0 }

func (k *checker) retention() {
	r := k.c.Retention
	for _, p := range []struct {
		key string
		p   RetentionPolicy
	}{{"retention.processed", r.Processed}, {"retention.failed", r.Failed}} {
		if p.p.MaxAge < 0 {
			k.bad(p.key+".max_age", "must not be negative")
		}
		if p.p.MaxFiles < 0 {
			k.bad(p.key+".max_files", "must not be negative")
		}
		if p.p.MaxSize < 0 {
			k.bad(p.key+".max_size", "must not be negative")
		}
	}
	if r.Every <= 0 {
		k.bad("retention.every", "must be more than 0s")
	}
}

// policy is p as the folder package takes it.
func (p RetentionPolicy) policy() folder.Policy {
	return folder.Policy{MaxAge: time.Duration(p.MaxAge), MaxFiles: p.MaxFiles, MaxSize: int64(p.MaxSize)}
}

// keepRetention sweeps every watched folder's processed/ and failed/ at
// once and then every retention.every, until ctx is done. It returns at
// once if retention is off.
func (s *Service) keepRetention(ctx context.Context) {
	r := s.cfg.Retention
	if r.Processed.Off() && r.Failed.Off() {
		return
	}
	sweep := func() {
		failed := 0
		for _, wd := range s.folders {
			res, fails, err := wd.folder.Sweep(r.Processed.policy(), r.Failed.policy(), s.clock.Now())
			if err != nil {
				s.logger.Warn("retention", "folder", wd.cfg.Dir, "error", err)
			}
			if res.Files+fails.Files > 0 {
				s.logger.Info("retention deleted old files", "folder", wd.cfg.Dir,
					"results", res.Files, "failed", fails.Files, "bytes", res.Bytes+fails.Bytes)
			}
			failed += fails.Files
		}
		if failed > 0 {
			s.forgetGoneFailed() // the dashboard's failed list follows
		}
	}
	sweep()
	s.every(ctx, time.Duration(r.Every), sweep)
}
