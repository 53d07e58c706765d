//go:build !wasip1

package sdk

import (
	"bufio"
	"errors"
	"io"
)

// Run drives the registered handler over r the way the host does, writing
// the output to w and log messages nowhere. config is the plugin's settings
// as a JSON object ("" for none). It exists for tests and examples on the
// native platform; within the host the plugin is driven through the ABI.
func Run(r io.Reader, w io.Writer, name, config string) error {
	if err := p.doConfigure([]byte(config)); err != nil {
		return err
	}
	sink := &runSink{w: w}
	prev := setSink(sink)
	defer setSink(prev)
	if err := guard(func() error { return p.begin(name) }); err != nil {
		return err
	}
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A long line: gather it whole, as the host does.
			long := append([]byte(nil), line...)
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = br.ReadSlice('\n')
				long = append(long, line...)
			}
			line = long
		}
		if len(line) > 0 {
			if cerr := guard(func() error { return p.chunk(line) }); cerr != nil {
				return cerr
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if sink.err != nil {
			return sink.err
		}
	}
	if err := guard(p.end); err != nil {
		return err
	}
	return sink.err
}

type runSink struct {
	w   io.Writer
	err error
}

func (s *runSink) emit(b []byte) {
	if s.err == nil {
		_, s.err = s.w.Write(b)
	}
}
