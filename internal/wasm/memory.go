package wasm

// heapMemory is a linear memory in a Go slice that grows by copying, as
// the runtime's own does; used where no mapping can be reserved. Like
// mappedMemory it reserves its size from the memory budget.
type heapMemory struct {
	inst *instance
	buf  []byte
}

func (m *heapMemory) Reallocate(size uint64) []byte {
	if uint64(int(size)) != size || !m.inst.grow(size) {
		return nil
	}
	if n := int(size); n > cap(m.buf) {
		grown := make([]byte, n)
		copy(grown, m.buf)
		m.buf = grown
	}
	// Bytes past len were never handed out, so they are still zero.
	m.buf = m.buf[:size]
	return m.buf
}

func (m *heapMemory) Free() {
	m.buf = nil
	m.inst.freeMemory()
}

// grow reserves from the memory budget what a growth of the instance's
// memory to size bytes adds, and reports whether it may go ahead. A
// refusal is remembered, so the trap that follows (a Go plugin dies with
// "out of memory") is reported as the budget's doing.
//
// The first call, the memory's initial size at instantiation, always goes
// ahead, since the runtime cannot fail it gracefully: when it does not
// fit, newInstance closes the instance as soon as it is made. So the budget
// can be passed by at most one module's initial memory, for that moment.
func (inst *instance) grow(size uint64) bool {
	if !inst.allocated {
		inst.allocated = true
		if !inst.p.budget.force(size) {
			inst.denied = true
		}
		inst.reserved = size
		return true
	}
	if size <= inst.reserved {
		return true
	}
	if !inst.p.budget.reserve(size - inst.reserved) {
		inst.denied = true
		return false
	}
	inst.reserved = size
	return true
}

// freeMemory gives the instance's memory back to the budget.
func (inst *instance) freeMemory() {
	inst.p.budget.release(inst.reserved)
	inst.reserved = 0
}
