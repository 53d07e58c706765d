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
// each event would cost a thread wake-up per event, several per file) and
// feeds the metrics. While pages are open it sends them a "view": the
// state of every panel, taken at one moment under the tracker's lock
// (tracker.View), so the panels always agree with each other. A view goes
// out at most every viewEvery while files change, and every tickEvery
// regardless (rates and ages move).
//
// A view is encoded once and the same bytes go to every stream. Each
// stream holds at most the latest view not yet written: a newer one
// replaces it, since a view is whole and needs none before it. So a slow
// browser costs one pointer, never a queue, and never slows the host; one
// that cannot take a write within writeTimeout is dropped, and
// EventSource reconnects.

const (
	// trackerBuffer is the pump's tracker subscription buffer. Should the
	// pump still fall behind, the tracker drops it; it subscribes again
	// (metrics fed by events then undercount, as counted).
	trackerBuffer = 4096
	// drainEvery is how often the pump takes the events that arrived: at
	// tens of thousands of events a second, well within trackerBuffer.
	drainEvery = 50 * time.Millisecond
	// viewEvery is the shortest gap between two views.
	viewEvery = 500 * time.Millisecond
	// tickEvery is the longest gap between two views.
	tickEvery = time.Second
)

// writeTimeout bounds each write to a client (a view, a part of a
// download): one that takes nothing for this long is dropped.
const writeTimeout = 10 * time.Second

// hub hands the latest encoded view to open streams.
type hub struct {
	mu      sync.Mutex
	clients map[chan []byte]struct{}
	last    []byte // the last view broadcast; a new stream starts with it
	lastAt  time.Time
}

func newHub() *hub { return &hub{clients: map[chan []byte]struct{}{}} }

// join returns a stream's mailbox: it holds at most one message.
func (h *hub) join() chan []byte {
	ch := make(chan []byte, 1)
	h.mu.Lock()
	h.clients[ch] = struct{}{}
	h.mu.Unlock()
	return ch
}

func (h *hub) leave(ch chan []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.clients, ch)
}

// latest returns the last view broadcast if it is younger than maxAge.
func (h *hub) latest(maxAge time.Duration) []byte {
	h.mu.Lock()
	defer h.mu.Unlock()
	if time.Since(h.lastAt) > maxAge {
		return nil
	}
	return h.last
}

func (h *hub) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.clients)
}

// broadcast puts msg in every mailbox, replacing a message not yet taken.
// Only the pump broadcasts, so after the replaced message is taken out
// the send cannot fail.
func (h *hub) broadcast(msg []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.last, h.lastAt = msg, time.Now()
	for ch := range h.clients {
		select {
		case ch <- msg:
		default:
			select {
			case <-ch:
			default:
			}
			select {
			case ch <- msg:
			default:
			}
		}
	}
}

// pump runs from New to Close, on the subscription New made.
func (s *Server) pump(events <-chan tracker.Event, stop func()) {
	defer close(s.pumpDone)
	defer func() { stop() }()
	drain := time.NewTicker(drainEvery)
	defer drain.Stop()
	var (
		last    uint64    // seq of the last event received
		changed bool      // events arrived since the last view
		sent    time.Time // when the last view went out
	)
	for {
		select {
		case <-s.done:
			return
		case <-drain.C:
		}
	drained:
		for {
			select {
			case ev, ok := <-events:
				if !ok {
					s.logger.Warn("dashboard metrics fell behind the tracker; subscribing again")
					events, stop = s.tracker.Subscribe(trackerBuffer)
					s.metrics.resubscribed.Inc()
					changed = true
					break drained
				}
				if last != 0 && ev.Seq > last+1 {
					s.metrics.missed.Add(float64(ev.Seq - last - 1))
				}
				last = ev.Seq
				s.metrics.observe(ev)
				changed = true
			default:
				break drained
			}
		}
		now := time.Now()
		due := now.Sub(sent) >= tickEvery || (changed && now.Sub(sent) >= viewEvery)
		if due && s.hub.count() > 0 {
			s.hub.broadcast(message("view", s.view()))
			sent, changed = now, false
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
}

// handleEvents streams events until the client leaves or the server
// closes: "hello" first, then a "view" at once and whenever the state
// changes (see pump).
func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	ch := s.hub.join()
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
	})...)
	// Many pages connecting at once (after a restart) share the last view
	// rather than each encoding its own.
	v := s.hub.latest(tickEvery) // a newer one follows within the second
	if v == nil {
		v = message("view", s.view())
	}
	first = append(first, v...)
	if !s.send(rc, w, first) {
		return
	}
	s.metrics.streams.Inc()
	defer s.metrics.streams.Dec()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.done:
			return
		case msg := <-ch:
			if !s.send(rc, w, msg) {
				return
			}
		}
	}
}

func (s *Server) send(rc *http.ResponseController, w http.ResponseWriter, b []byte) bool {
	_ = rc.SetWriteDeadline(time.Now().Add(s.opts.writeTimeout)) // Unsupported under httptest.ResponseRecorder.
	if _, err := w.Write(b); err != nil {
		return false
	}
	return rc.Flush() == nil
}
