package tracker

import (
	"errors"
	"testing"
	"time"
)

func TestLifecycle(t *testing.T) {
	tr := New(3)
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tr.now = func() time.Time { return clock }
	events, stop := tr.Subscribe(100)
	defer stop()

	a := tr.Queue("w", "a.txt", 10)
	b := tr.Queue("w", "b.txt", 20)
	if s := tr.Snapshot(); s.Totals.Queued != 2 {
		t.Fatalf("queued = %d", s.Totals.Queued)
	}
	tr.Start(a, "text", 10, 1)
	tr.Progress(a, 5)
	clock = clock.Add(time.Second)
	tr.Finish(a, Result{Output: "processed/a.txt", BytesIn: 10, BytesOut: 12, Stages: []Stage{{Plugin: "upper", BytesIn: 10, BytesOut: 12, Duration: time.Millisecond}}})
	tr.Start(b, "text", 20, 1)
	tr.Finish(b, Result{Err: errors.New("boom"), Plugin: "upper", Stages: []Stage{{Plugin: "upper", Duration: 3 * time.Millisecond}}})

	s := tr.Snapshot()
	if s.Totals.Queued != 0 || s.Totals.Processing != 0 || s.Totals.Processed != 1 || s.Totals.Failed != 1 || s.Totals.BytesIn != 10 {
		t.Errorf("totals = %+v", s.Totals)
	}
	if s.Last == nil || s.Last.Name != "a.txt" || s.Last.Duration(clock) != time.Second {
		t.Errorf("last = %+v", s.Last)
	}
	f, ok := tr.Get(b)
	if !ok || f.State != Failed || f.Error != "boom" || f.Plugin != "upper" {
		t.Errorf("b = %+v", f)
	}
	p := tr.Plugins()
	if len(p) != 1 || p[0].Files != 2 || p[0].Errors != 1 || p[0].P50 != time.Millisecond || p[0].P95 != time.Millisecond {
		t.Errorf("plugins = %+v", p)
	}
	var states []State
	for len(events) > 0 {
		states = append(states, (<-events).File.State)
	}
	want := []State{Queued, Queued, Processing, Processing, Processed, Processing, Failed}
	if len(states) != len(want) {
		t.Fatalf("events %v, want %v", states, want)
	}
	for i := range want {
		if states[i] != want[i] {
			t.Fatalf("events %v, want %v", states, want)
		}
	}
	tp := tr.Throughput()
	if len(tp) != 900 || tp[899].Files != 1 || tp[899].Bytes != 10 || tp[898].Files != 0 {
		t.Errorf("throughput tail = %+v", tp[897:])
	}
}

func TestHistoryBounded(t *testing.T) {
	tr := New(100)
	var first uint64
	for i := 0; i < 10000; i++ {
		id := tr.Queue("w", "f", 1)
		if i == 0 {
			first = id
		}
		tr.Start(id, "p", 1, 1)
		tr.Finish(id, Result{BytesIn: 1})
	}
	files, total := tr.Files(Processed, 0, 10)
	if total != 100 || len(files) != 10 || files[0].ID != 10000 {
		t.Errorf("total %d, first %+v", total, files[0])
	}
	if _, ok := tr.Get(first); ok {
		t.Error("evicted file still kept")
	}
	if s := tr.Snapshot(); s.Totals.Processed != 10000 {
		t.Errorf("processed total = %d", s.Totals.Processed)
	}
	if len(tr.byID) != 100 {
		t.Errorf("index holds %d records", len(tr.byID))
	}
}

func TestSlowSubscriberDropped(t *testing.T) {
	tr := New(10)
	ch, stop := tr.Subscribe(1)
	tr.Queue("w", "a", 1)
	tr.Queue("w", "b", 1) // buffer full: dropped
	<-ch
	if _, ok := <-ch; ok {
		t.Error("channel still open")
	}
	if tr.Subscribers() != 0 {
		t.Error("subscriber kept")
	}
	stop() // safe after the drop
}

func TestRemoveAndPaging(t *testing.T) {
	tr := New(10)
	ids := []uint64{tr.Queue("w", "a", 1), tr.Queue("w", "b", 1), tr.Queue("w", "c", 1)}
	tr.Remove(ids[1])
	files, total := tr.Files(Queued, 1, 5)
	if total != 2 || len(files) != 1 || files[0].Name != "c" {
		t.Errorf("files %+v total %d", files, total)
	}
	if s := tr.Snapshot(); s.Totals.Queued != 2 {
		t.Errorf("queued = %d", s.Totals.Queued)
	}
}

func TestFilesPaging(t *testing.T) {
	tr := New(50)
	for i := 0; i < 100; i++ {
		id := tr.Queue("w", "f", 1)
		tr.Start(id, "p", 1, 1)
		var err error
		if i%3 == 0 {
			err = errors.New("x")
		}
		tr.Finish(id, Result{Err: err})
	}
	q := tr.Queue("w", "waiting", 1)
	// History keeps ids 51..100; of those, failed are the multiples of 3 minus 1 (i%3==0 -> id=i+1).
	failed, nf := tr.Files(Failed, 0, 0)
	processed, np := tr.Files(Processed, 0, 0)
	if nf != len(failed) || np != len(processed) || nf+np != 50 || nf != 17 {
		t.Fatalf("failed %d/%d, processed %d/%d", len(failed), nf, len(processed), np)
	}
	page, n := tr.Files(Failed, 5, 3)
	if n != 17 || len(page) != 3 || page[0].ID != failed[5].ID || page[2].ID != failed[7].ID {
		t.Errorf("page = %v, total %d", page, n)
	}
	all, n := tr.Files("", 0, 2)
	if n != 51 || len(all) != 2 || all[0].ID != q || all[1].ID != 100 {
		t.Errorf("all = %+v, total %d", all, n)
	}
	if page, n := tr.Files(Processed, 100, 10); len(page) != 0 || n != 33 {
		t.Errorf("past the end: %d, %d", len(page), n)
	}
}
