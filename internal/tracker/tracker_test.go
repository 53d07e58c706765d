package tracker

import (
	"errors"
	"fmt"
	"strings"
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
	// Both finished in the last second: the failed file counts too.
	tp := tr.Throughput(0)
	if n := len(tp); n != 3600 || tp[n-1].Files != 2 || tp[n-1].Bytes != 10 || tp[n-2].Files != 0 {
		t.Errorf("throughput tail = %+v", tp[n-3:])
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

// finish runs a new file to its end at the tracker's clock.
func finish(tr *Tracker, name, pipeline string, size int64, err error) uint64 {
	id := tr.Queue("w", name, size)
	tr.Start(id, pipeline, size, 1)
	tr.Finish(id, Result{BytesIn: size, BytesOut: size, Err: err})
	return id
}

func TestFailedBytesCounted(t *testing.T) {
	tr := New(10)
	finish(tr, "ok", "p", 100, nil)
	finish(tr, "bad", "p", 40, errors.New("x"))
	tot := tr.Snapshot().Totals
	if tot.BytesIn != 140 || tot.InFailed != 1 {
		t.Errorf("totals %+v: want bytes_in 140 (the failed file's bytes too), in_failed 1", tot)
	}
	pf := tr.Pipelines()
	if len(pf) != 1 || pf[0].Files != 2 || pf[0].Failed != 1 || pf[0].BytesIn != 140 {
		t.Errorf("pipelines = %+v", pf)
	}
}

func TestRestore(t *testing.T) {
	tr := New(4)
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	live := finish(tr, "live.txt", "p", 1, nil)
	var recs []File
	for i, name := range []string{"p1", "p2", "p3", "p4"} {
		recs = append(recs, File{Folder: "w", Name: name, State: Processed, Finished: base.Add(time.Duration(i) * time.Minute)})
	}
	recs = append(recs, File{Folder: "w", Name: "f1", State: Failed, Error: "boom", Finished: base.Add(90 * time.Second)},
		File{Name: "odd", State: Queued})
	tr.Restore(recs)
	// Room for 3 besides the live record: the newest three restored.
	all, n := tr.Files("", 0, 0)
	var names []string
	for _, f := range all {
		names = append(names, f.Name)
	}
	if n != 4 || strings.Join(names, " ") != "live.txt p4 p3 f1" {
		t.Errorf("history %v (%d), want live.txt p4 p3 f1", names, n)
	}
	s := tr.Snapshot()
	if s.Totals.Processed != 1 || s.Totals.Failed != 0 || s.Totals.InFailed != 1 || s.Totals.Restored != 3 {
		t.Errorf("totals %+v", s.Totals)
	}
	if s.Last == nil || s.Last.ID != live {
		t.Errorf("last = %+v, want the live file", s.Last)
	}
	failed, _ := tr.Files(Failed, 0, 0)
	if len(failed) != 1 || !failed[0].Rebuilt || failed[0].Error != "boom" {
		t.Fatalf("failed = %+v", failed)
	}
	// Forgetting it (deleted from failed/) takes it out of every count.
	if !tr.Forget(failed[0].ID) || tr.Forget(failed[0].ID) {
		t.Error("Forget: want true once, then false")
	}
	if s := tr.Snapshot(); s.Totals.InFailed != 0 {
		t.Errorf("in_failed %d after Forget", s.Totals.InFailed)
	}
	if _, n := tr.Files(Failed, 0, 0); n != 0 {
		t.Errorf("%d failed after Forget", n)
	}

	// On an empty tracker, the newest restored result is the last one.
	tr2 := New(10)
	tr2.Restore(recs[:2])
	if l := tr2.Snapshot().Last; l == nil || l.Name != "p2" {
		t.Errorf("last = %+v, want p2", l)
	}
}

func TestQuery(t *testing.T) {
	tr := New(100)
	finish(tr, "Report-A.csv", "csv", 1, nil)
	finish(tr, "report-b.csv", "csv", 1, errors.New("x"))
	finish(tr, "notes.txt", "text", 1, nil)
	tr.Queue("w", "report-c.csv", 1)
	files, n := tr.Query(Filter{Name: "REPORT"}, 0, 2)
	if n != 3 || len(files) != 2 || files[0].Name != "report-c.csv" || files[1].Name != "report-b.csv" {
		t.Errorf("name filter: %d %+v", n, files)
	}
	files, n = tr.Query(Filter{Name: "report", State: Processed, Pipeline: "csv"}, 0, 0)
	if n != 1 || files[0].Name != "Report-A.csv" {
		t.Errorf("name+state+pipeline: %d %+v", n, files)
	}
	if files, n := tr.Query(Filter{Name: "report"}, 2, 10); n != 3 || len(files) != 1 || files[0].Name != "Report-A.csv" {
		t.Errorf("page 2: %d %+v", n, files)
	}
}

func TestViewOneMoment(t *testing.T) {
	tr := New(100)
	for i := range 30 {
		tr.Queue("w", fmt.Sprint("q", i), 1)
	}
	a := tr.Queue("w", "p", 1)
	tr.Start(a, "x", 1, 1)
	finish(tr, "done", "x", 5, nil)
	finish(tr, "bad", "x", 5, errors.New("x"))
	v := tr.View(Limits{Queue: 5, Processing: 10, Recent: 10, Failed: 10})
	if v.Totals.Queued != 30 || len(v.Queue) != 5 || v.Queue[0].Name != "q0" || v.Queue[4].Name != "q4" {
		t.Errorf("queue: %d in all, shown %+v; want the oldest five", v.Totals.Queued, v.Queue)
	}
	if len(v.Processing) != 1 || len(v.Recent) != 1 || len(v.Failed) != 1 || v.Last == nil || v.Last.Name != "done" {
		t.Errorf("view = %+v", v)
	}
	if v.Seq != tr.Snapshot().Seq {
		t.Errorf("seq %d, tracker at %d", v.Seq, tr.Snapshot().Seq)
	}
}

func TestRateSlidingWindow(t *testing.T) {
	tr := New(100000)
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tr.SetClock(func() time.Time { return clock })
	// 400 files a second for 20 seconds, in 10 ms steps.
	for range 2000 {
		for range 4 {
			finish(tr, "f", "p", 1000, nil)
		}
		clock = clock.Add(10 * time.Millisecond)
	}
	// Just after a second starts, and mid-second, the rate stays near 400:
	// the current second counts for the part of it gone by.
	for _, at := range []time.Duration{time.Millisecond, 500 * time.Millisecond} {
		clock = clock.Truncate(time.Second).Add(at)
		r := tr.View(Limits{}).Rate
		if r.Files < 370 || r.Files > 401 {
			t.Errorf("at +%v: %.1f files/s, want about 400", at, r.Files)
		}
		if r.Bytes < 370e3 || r.Bytes > 401e3 {
			t.Errorf("at +%v: %.0f bytes/s", at, r.Bytes)
		}
	}
	// Idle for the whole window: zero.
	clock = clock.Add(RateWindow + time.Second)
	if r := tr.View(Limits{}).Rate; r.Files != 0 {
		t.Errorf("idle: %.1f files/s", r.Files)
	}
}
