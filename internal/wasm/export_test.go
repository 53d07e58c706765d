package wasm

import (
	"bytes"
	"log/slog"
	"sync"
)

// NewInterpretingEngine returns a tiered engine with no cache folder whose
// background compiles never run: its plugins stay in the interpreter, the
// tier a cold start begins in, for the tests of that tier.
func NewInterpretingEngine(logger *slog.Logger) (*Engine, error) {
	e, err := NewEngine("", logger)
	if err != nil {
		return nil, err
	}
	e.SetTiered(true)
	e.bg.close()
	return e, nil
}

// SyncBuffer is a bytes.Buffer safe for a logger and a test at once.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
