//go:build gc

#include "textflag.h"

// func indexNL(b []byte) int
//
// R0 is the address being tested, R1 the end of b, R2 its start. Eight
// bytes at a time: in w, the bytes that are '\n' become zero, and
// (w-ones) &^ w & 0x80...80 sets the top bit of every zero byte, and
// maybe of bytes above one (a borrow), never below the first, so its
// lowest set bit is the first '\n'. Then byte by byte for the last
// seven or fewer.
TEXT ·indexNL(SB), NOSPLIT, $0-32
	I64Load b_base+0(FP)
	Tee R2
	Set R0
	Get R2
	I64Load b_len+8(FP)
	I64Add
	Set R1

	Block
		Loop
			// Fewer than eight bytes left: to the byte loop.
			Get R1
			Get R0
			I64Sub
			I64Const $8
			I64LtU
			BrIf $1

			Get R0
			I32WrapI64
			I64Load $0
			I64Const $0x0a0a0a0a0a0a0a0a
			I64Xor
			Tee R3
			I64Const $0x0101010101010101
			I64Sub
			Get R3
			I64Const $-1
			I64Xor
			I64And
			I64Const $-9187201950435737472 // 0x8080808080808080
			I64And
			Tee R4
			I64Eqz
			If
				Get R0
				I64Const $8
				I64Add
				Set R0
				Br $1 // the next word
			End

			Get SP
			Get R0
			Get R2
			I64Sub
			Get R4
			I64Ctz
			I64Const $3
			I64ShrU
			I64Add
			I64Store ret+24(FP)
			RET
		End
	End

	Block
		Loop
			Get R0
			Get R1
			I64GeU
			BrIf $1 // not found

			Get R0
			I32WrapI64
			I64Load8U $0
			I64Const $10
			I64Eq
			If
				Get SP
				Get R0
				Get R2
				I64Sub
				I64Store ret+24(FP)
				RET
			End

			Get R0
			I64Const $1
			I64Add
			Set R0
			Br $0
		End
	End

	Get SP
	I64Const $-1
	I64Store ret+24(FP)
	RET
