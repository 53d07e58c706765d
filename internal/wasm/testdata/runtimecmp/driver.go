package runtimecmp

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/samyfodil/wazy"
	wyapi "github.com/samyfodil/wazy/api"
	wywasi "github.com/samyfodil/wazy/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero"
	wzapi "github.com/tetratelabs/wazero/api"
	wzwasi "github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// plugin is one configured instance of a plugin, driven through the ABI
// of docs/ABI.md, plainly: no pool, no streaming, one call per chunk.
type plugin struct {
	call  func(ctx context.Context, name string, arg uint64) (uint64, error)
	write func(ptr uint32, b []byte) bool
	out   *[]byte
}

// send puts data in the plugin's buffer and calls fn(len(data)).
func (p *plugin) send(ctx context.Context, fn string, data []byte) error {
	ptr, err := p.call(ctx, "plugin_buffer", uint64(len(data)))
	if err != nil {
		return err
	}
	if !p.write(uint32(ptr), data) {
		return errors.New("buffer outside memory")
	}
	st, err := p.call(ctx, fn, uint64(len(data)))
	if err == nil && st != 0 {
		err = fmt.Errorf("%s: status %d", fn, st)
	}
	return err
}

func (p *plugin) configure(ctx context.Context, config []byte) error {
	if v, err := p.call(ctx, "plugin_abi_version", 0); err != nil || v != 1 {
		return fmt.Errorf("abi version %d, %v", v, err)
	}
	return p.send(ctx, "plugin_configure", config)
}

// runChain sends in through the plugins, chunk by chunk of whole lines.
func runChain(ctx context.Context, chain []*plugin, in []byte, chunk int) (int, error) {
	total := 0
	for _, p := range chain {
		*p.out = (*p.out)[:0]
		if err := p.send(ctx, "plugin_begin", []byte("in.txt")); err != nil {
			return 0, err
		}
	}
	feed := func(data []byte) error {
		for _, p := range chain {
			*p.out = (*p.out)[:0]
			if err := p.send(ctx, "plugin_chunk", data); err != nil {
				return err
			}
			data = *p.out
			if len(data) == 0 {
				return nil
			}
		}
		total += len(data)
		return nil
	}
	for len(in) > 0 {
		n := min(chunk, len(in))
		if i := bytes.LastIndexByte(in[:n], '\n'); i >= 0 {
			n = i + 1
		}
		if err := feed(in[:n]); err != nil {
			return 0, err
		}
		in = in[n:]
	}
	for _, p := range chain {
		if _, err := p.call(ctx, "plugin_end", 0); err != nil {
			return 0, err
		}
	}
	return total, nil
}

// loadWazero loads a plugin with wazero v1.12.0; closeOnDone sets
// WithCloseOnContextDone, the only way wazero can stop a loop.
func loadWazero(ctx context.Context, bin, config []byte, closeOnDone bool) (*plugin, func(), error) {
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCloseOnContextDone(closeOnDone))
	wzwasi.MustInstantiate(ctx, rt)
	out := new([]byte)
	emit := wzapi.GoModuleFunc(func(_ context.Context, m wzapi.Module, s []uint64) {
		b, _ := m.Memory().Read(uint32(s[0]), uint32(s[1]))
		*out = append(*out, b...)
	})
	nop := wzapi.GoModuleFunc(func(context.Context, wzapi.Module, []uint64) {})
	i32 := wzapi.ValueTypeI32
	if _, err := rt.NewHostModuleBuilder("host").
		NewFunctionBuilder().WithGoModuleFunction(emit, []wzapi.ValueType{i32, i32}, nil).Export("emit").
		NewFunctionBuilder().WithGoModuleFunction(nop, []wzapi.ValueType{i32, i32, i32}, nil).Export("log").
		NewFunctionBuilder().WithGoModuleFunction(nop, []wzapi.ValueType{i32, i32}, nil).Export("fail").
		Instantiate(ctx); err != nil {
		return nil, nil, err
	}
	mod, err := rt.InstantiateWithConfig(ctx, bin, wazero.NewModuleConfig().WithStartFunctions("_initialize"))
	if err != nil {
		return nil, nil, err
	}
	stack := make([]uint64, 1)
	p := &plugin{out: out, write: mod.Memory().Write}
	p.call = func(ctx context.Context, name string, arg uint64) (uint64, error) {
		stack[0] = arg
		err := mod.ExportedFunction(name).CallWithStack(ctx, stack)
		return stack[0], err
	}
	if err := p.configure(ctx, config); err != nil {
		return nil, nil, err
	}
	return p, func() { _ = rt.Close(ctx) }, nil
}

// loadWazy loads a plugin with wazy, where every loop can be stopped.
func loadWazy(ctx context.Context, bin, config []byte) (*plugin, func(), error) {
	rt := wazy.NewRuntime(ctx)
	wywasi.MustInstantiate(ctx, rt)
	out := new([]byte)
	emit := wyapi.GoModuleFunc(func(_ context.Context, m wyapi.Module, s []uint64) {
		b, _ := m.Memory().Read(uint32(s[0]), uint32(s[1]))
		*out = append(*out, b...)
	})
	nop := wyapi.GoModuleFunc(func(context.Context, wyapi.Module, []uint64) {})
	i32 := wyapi.ValueTypeI32
	if _, err := rt.NewHostModuleBuilder("host").
		NewFunctionBuilder().WithGoModuleFunction(emit, []wyapi.ValueType{i32, i32}, nil).Export("emit").
		NewFunctionBuilder().WithGoModuleFunction(nop, []wyapi.ValueType{i32, i32, i32}, nil).Export("log").
		NewFunctionBuilder().WithGoModuleFunction(nop, []wyapi.ValueType{i32, i32}, nil).Export("fail").
		Instantiate(ctx); err != nil {
		return nil, nil, err
	}
	mod, err := rt.InstantiateWithConfig(ctx, bin, wazy.NewModuleConfig().WithStartFunctions("_initialize"))
	if err != nil {
		return nil, nil, err
	}
	stack := make([]uint64, 1)
	p := &plugin{out: out, write: mod.Memory().Write}
	p.call = func(ctx context.Context, name string, arg uint64) (uint64, error) {
		stack[0] = arg
		err := mod.ExportedFunction(name).CallWithStack(ctx, stack)
		return stack[0], err
	}
	if err := p.configure(ctx, config); err != nil {
		return nil, nil, err
	}
	return p, func() { _ = rt.Close(ctx) }, nil
}
