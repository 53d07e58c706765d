package web

import (
	"bytes"
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/filehost/host/internal/tracker"
)

// The event stream. One goroutine (pump) holds the server's single
// tracker subscription: every 50 ms it drains what arrived (waking for
// each event would cost a thread wake-up per event, several per file),
// feeds the metrics and, while pages are open, gathers changes for a
// quarter of a second, keeping only the latest record of each file, then
// encodes the batch once and hands the same bytes to every stream. So the tracker's cost per event does not grow
// with the number of open dashboards, a busy host sends a few messages a
// second rather than one per event, and a slow browser never slows the
// host: its stream is dropped, and EventSource reconnects and reloads a
// snapshot.

const (
	// trackerBuffer is the pump's tracker subscription buffer. Should the
	// pump still fall behind, the tracker drops it; it subscribes again and
	// tells pages to resync.
	trackerBuffer = 4096
	// drainEvery is how often the pump takes the events that arrived: at
	// tens of thousands of events a second, well within trackerBuffer.
	drainEvery = 50 * time.Millisecond
	// batchEvery is how long changes gather before they are sent.
	batchEvery = 250 * time.Millisecond
	// clientBuffer is how many messages (batches, ticks) a stream may lag
	// before it is dropped: some seconds.
	clientBuffer = 64
	tickEvery    = time.Second
	writeTimeout = 10 * time.Second
)

// hub fans encoded messages out to open streams.
type hub struct {
	mu      sync.Mutex
	clients map[chan []byte]struct{}
}

func newHub() *hub { return &hub{clients: map[chan []byte]struct{}{}} }

func (h *hub) join() chan []byte {
	ch := make(chan []byte, clientBuffer)
	h.mu.Lock()
	h.clients[ch] = struct{}{}
	h.mu.Unlock()
	return ch
}

func (h *hub) leave(ch chan []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.clients[ch]; ok {
		delete(h.clients, ch)
		close(ch)
	}
}

func (h *hub) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.clients)
}

// broadcast sends msg to every stream; one that is full is closed.
func (h *hub) broadcast(msg []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.clients {
		select {
		case ch <- msg:
		default:
			delete(h.clients, ch)
			close(ch)
		}
	}
}

// pump runs from New to Close, on the subscription New made.
func (s *Server) pump(events <-chan tracker.Event, stop func()) {
	defer close(s.pumpDone)
	defer func() { stop() }()
	ticker := time.NewTicker(tickEvery)
	defer ticker.Stop()
	drain := time.NewTicker(drainEvery)
	defer drain.Stop()
	flush := time.NewTimer(batchEvery)
	flush.Stop()
	var (
		last    uint64          // seq of the last event received
		batch   []tracker.Event // latest event per file, in order of first change
		pending = map[uint64]int{}
	)
	handle := func(ev tracker.Event) {
		if last != 0 && ev.Seq > last+1 {
			s.metrics.missed.Add(float64(ev.Seq - last - 1))
		}
		last = ev.Seq
		s.metrics.observe(ev)
		if s.hub.count() == 0 {
			return
		}
		if i, ok := pending[ev.File.ID]; ok {
			batch[i] = ev
			return
		}
		if len(batch) == 0 {
			flush.Reset(batchEvery)
		}
		pending[ev.File.ID] = len(batch)
		batch = append(batch, ev)
	}
	for {
		select {
		case <-s.done:
			return
		case <-drain.C:
		drained:
			for {
				select {
				case ev, ok := <-events:
					if !ok {
						s.logger.Warn("dashboard fell behind the tracker; open pages will reload")
						events, stop = s.tracker.Subscribe(trackerBuffer)
						s.metrics.resubscribed.Inc()
						batch, pending = batch[:0], map[uint64]int{}
						s.hub.broadcast(message("resync", struct{}{}))
						break drained
					}
					handle(ev)
				default:
					break drained
				}
			}
		case <-flush.C:
			if len(batch) > 0 {
				s.hub.broadcast(message("files", batch))
				batch = batch[:0]
				clear(pending)
			}
		case <-ticker.C:
			if s.hub.count() > 0 {
				s.hub.broadcast(message("status", s.tick()))
			}
		}
	}
}

// message encodes one Server-Sent Event. JSON has no raw newlines, so the
// data fits on one line.
func message(event string, v any) []byte {
	var b bytes.Buffer
	b.WriteString("event: ")
	b.WriteString(event)
	b.WriteString("\ndata: ")
	if err := json.NewEncoder(&b).Encode(v); err != nil { // Encode adds the newline.
		b.WriteString("{}\n")
	}
	b.WriteString("\n")
	return b.Bytes()
}

// hello is the first event of every stream.
type hello struct {
	Version string    `json:"version"`
	Build   string    `json:"build"`
	Started time.Time `json:"started"`
	Seq     uint64    `json:"seq"`
}

// handleEvents streams events until the client leaves or the server
// closes: "hello" first, then "files" with the latest record of each file
// that changed, "status" every second, and "resync" when the page must
// reload its snapshot.
func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	ch := s.hub.join() // Before hello: nothing after it is missed.
	defer s.hub.leave(ch)

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // Tell nginx not to buffer.
	w.WriteHeader(http.StatusOK)
	first := append([]byte("retry: 2000\n\n"), message("hello", hello{
		Version: s.opts.Version,
		Build:   assetsVersion,
		Started: s.b.Started(),
		Seq:     s.tracker.Snapshot().Seq,
	})...)
	if !s.send(rc, w, first) {
		return
	}
	s.metrics.streams.Inc()
	defer s.metrics.streams.Dec()
	var batch []byte
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.done:
			return
		case msg, ok := <-ch:
			if !ok {
				return // Too slow: EventSource reconnects and resyncs.
			}
			// Write what is already waiting in one go.
			batch = append(batch[:0], msg...)
			for n := len(ch); n > 0 && len(batch) < 64<<10; n-- {
				m, ok := <-ch
				if !ok {
					break
				}
				batch = append(batch, m...)
			}
			if !s.send(rc, w, batch) {
				return
			}
		}
	}
}

func (s *Server) send(rc *http.ResponseController, w http.ResponseWriter, b []byte) bool {
	_ = rc.SetWriteDeadline(time.Now().Add(writeTimeout)) // Unsupported under httptest.ResponseRecorder.
	if _, err := w.Write(b); err != nil {
		return false
	}
	return rc.Flush() == nil
}
