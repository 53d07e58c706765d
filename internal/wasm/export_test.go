package wasm

import "log/slog"

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
