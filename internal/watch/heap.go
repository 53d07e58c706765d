package watch

import "time"

// older orders files by modification time, then name: the order in which
// Next hands them out.
func older(a, b File) bool {
	return olderThan(a.ModTime, a.Name, b.ModTime, b.Name)
}

func olderThan(at time.Time, an string, bt time.Time, bn string) bool {
	if !at.Equal(bt) {
		return at.Before(bt)
	}
	return an < bn
}

// readyHeap is a container/heap of the ready entries, oldest on top. Each
// entry knows its index, so one that changes can be taken out.
type readyHeap []*entry

func (h readyHeap) Len() int { return len(h) }
func (h readyHeap) Less(i, j int) bool {
	return olderThan(h[i].mtime, h[i].name, h[j].mtime, h[j].name)
}
func (h readyHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}
func (h *readyHeap) Push(x any) {
	e := x.(*entry)
	e.index = len(*h)
	*h = append(*h, e)
}
func (h *readyHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	e.index = -1
	return e
}

// newestFirst is a container/heap of files, newest on top: a scan keeps
// the oldest files by evicting the top when it is full.
type newestFirst []File

func (h newestFirst) Len() int           { return len(h) }
func (h newestFirst) Less(i, j int) bool { return older(h[j], h[i]) }
func (h newestFirst) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *newestFirst) Push(x any)        { *h = append(*h, x.(File)) }
func (h *newestFirst) Pop() any {
	old := *h
	f := old[len(old)-1]
	*h = old[:len(old)-1]
	return f
}
